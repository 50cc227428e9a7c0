"""Reading what a WAITING agent asks, and how a choice is sent: `core/prompts.py` with each
kind's `[[prompt]]` tables, on the real screens in tests/data/screens.

Every WAITING fixture of manifest.toml is listed in tests/data/screens/prompts.toml, either
as a `[[prompt]]` (the question, options, highlighted option, how a choice is sent, which
option `y` and `n` pick) or as `[[unanswerable]]` with why it is answered in the pane only.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mission_control.core.prompts import (
    Keystrokes, PromptError, builtin_prompt_rules, choose, keystrokes, offered, parse_prompt_rules, read_prompt,
)
from mission_control.core.rules import RuleError

SCREENS = Path(__file__).resolve().parent / "data" / "screens"
MANIFEST: list[dict[str, Any]] = tomllib.loads((SCREENS / "manifest.toml").read_text(encoding="utf-8"))["screen"]
EXPECTED = tomllib.loads((SCREENS / "prompts.toml").read_text(encoding="utf-8"))
PROMPTS: list[dict[str, Any]] = EXPECTED["prompt"]
UNANSWERABLE: list[dict[str, Any]] = EXPECTED["unanswerable"]
KIND_OF = {e["file"]: e["kind"] for e in MANIFEST}


def screen(file: str) -> str:
    return (SCREENS / file).read_text(encoding="utf-8")


def test_every_waiting_fixture_is_read_or_said_why_not() -> None:
    waiting = {e["file"] for e in MANIFEST if e["status"] == "WAITING"}
    listed = [e["file"] for e in PROMPTS + UNANSWERABLE]
    assert len(listed) == len(set(listed)), "a screen is listed twice in prompts.toml"
    assert set(listed) == waiting, f"unlisted: {sorted(waiting - set(listed))}; not WAITING: {sorted(set(listed) - waiting)}"
    assert all(e["why"].strip() for e in UNANSWERABLE)
    assert len(PROMPTS) >= 2 * len(UNANSWERABLE), "most real prompts are answerable"


@pytest.mark.parametrize("want", PROMPTS, ids=[e["file"] for e in PROMPTS])
def test_prompt_fixture(want: dict[str, Any]) -> None:
    got = read_prompt(KIND_OF[want["file"]], screen(want["file"]))
    assert got is not None, f"{want['file']}: no prompt read"
    assert got.question == want["question"]
    assert [o.label for o in got.options] == want["options"]
    assert [o.number for o in got.options] == list(range(1, len(want["options"]) + 1))
    assert got.selected == want.get("selected")
    assert got.send == want["send"]
    assert (got.yes, got.no) == (want.get("yes"), want.get("no"))
    assert [o.number for o in got.options if o.needs_text] == want.get("needs_text", [])
    if got.send == "none":
        assert got.why and not got.answerable


@pytest.mark.parametrize("want", UNANSWERABLE, ids=[e["file"] for e in UNANSWERABLE])
def test_unanswerable_fixture_reads_no_prompt(want: dict[str, Any]) -> None:
    got = read_prompt(KIND_OF[want["file"]], screen(want["file"]))
    assert got is None, f"{want['file']} now reads as {got}: move it to [[prompt]] in prompts.toml"


RULES_DIR = resources.files("mission_control").joinpath("rules")
SYNTHETIC = [("shell", "$ ./deploy.sh\nDeploy now? (y/n) "), ("shell", "Run the migration? (y/n)\n> ")]


def test_every_prompt_table_reads_a_real_or_synthetic_screen() -> None:
    used = set()
    for e in PROMPTS:
        used.add(read_prompt(KIND_OF[e["file"]], screen(e["file"])).source)
    for kind, text in SYNTHETIC:
        used.add(read_prompt(kind, text).source)
    tables = {r.source for p in RULES_DIR.iterdir() if p.name.endswith(".toml")
              for r in builtin_prompt_rules(p.name.removesuffix(".toml"))}
    assert tables and tables <= used, f"[[prompt]] tables reading no screen: {sorted(tables - used)}"


# --------------------------------------------------------------------- choosing


def prompt_of(file: str):
    p = read_prompt(KIND_OF[file], screen(file))
    assert p is not None
    return p


def test_choices_by_number_word_and_label() -> None:
    p = prompt_of("claude/permission-bash.txt")
    assert choose(p, "1").label == "Yes" and choose(p, "3").label == "No"
    assert choose(p, "y").number == 1 and choose(p, "YES").number == 1 and choose(p, " n ").number == 3
    assert choose(p, "no").number == 3
    assert choose(p, "Yes, and always allow access to fxrepo-n9q30q6o/ from this project").number == 2
    assert p.keys() == {"1": p.options[0], "2": p.options[1], "3": p.options[2], "y": p.options[0], "n": p.options[2]}
    assert offered(p) == "1 Yes · 2 Yes, and always allow access to fxrepo-n9q30q6o/ from this project · 3 No · y = 1 · n = 3"


@pytest.mark.parametrize("choice", ["4", "0", "maybe", "", "1; tmux kill-server", "y\n", "x" * 1_000_000, "1\x00"], ids=lambda c: repr(c[:16]))
def test_a_choice_it_does_not_offer_is_one_line_naming_what_it_does(choice: str) -> None:
    p = prompt_of("claude/permission-bash.txt")
    if choice == "y\n":  # surrounding white space is not part of a choice
        assert choose(p, choice).number == 1
        return
    with pytest.raises(PromptError) as err:
        choose(p, choice)
    assert "\n" not in str(err.value) and "1 Yes" in str(err.value) and "3 No" in str(err.value)
    assert len(str(err.value)) < 200


def test_no_yes_option_means_no_y_key() -> None:
    p = prompt_of("codex/trust-folder.txt")
    assert p.yes is None and "y" not in p.keys()
    with pytest.raises(PromptError, match="not one of its options: 1 Trust and continue · 2 Back"):
        choose(p, "y")


def test_arrows_from_the_highlighted_option_then_enter() -> None:
    p = prompt_of("claude/custom-api-key-prompt.txt")  # `❯ 2. No (recommended)` highlighted
    assert keystrokes(p, choose(p, "1")) == Keystrokes(moves=("Up",), check=1)
    assert keystrokes(p, choose(p, "2")) == Keystrokes(moves=(), check=2)
    q = prompt_of("gemini/permission-write-file.txt")
    assert keystrokes(q, choose(q, "n")) == Keystrokes(moves=("Down",) * 3, check=4)


def test_letters_typed_then_enter() -> None:
    p = prompt_of("aider/question-run-shell-command.txt")
    assert [(o.label, o.answer) for o in p.options] == [("Yes", "y"), ("No", "n"), ("Don't ask again", "d")]
    assert keystrokes(p, choose(p, "n")) == Keystrokes(text="n")
    assert keystrokes(p, choose(p, "3")) == Keystrokes(text="d")
    shell = read_prompt("shell", "Continue with the upgrade? [Y/n] ")
    assert shell is not None and shell.question == "Continue with the upgrade?"
    assert [(o.label, o.answer) for o in shell.options] == [("Yes", "y"), ("No", "n")]
    words = read_prompt("shell", "Really delete everything? (yes/no)")
    assert words is not None and keystrokes(words, choose(words, "y")) == Keystrokes(text="yes")


def test_options_that_open_a_text_entry_are_not_chosen() -> None:
    p = prompt_of("claude/ask-user-question.txt")
    assert [o.label for o in p.options if o.needs_text] == ["Type something.", "Chat about this"]
    assert set(p.keys()) == {"1", "2", "y", "n"}
    with pytest.raises(PromptError, match="asks you to type"):
        choose(p, "3")


def test_a_prompt_shown_only_is_not_answered_from_outside() -> None:
    p = prompt_of("opencode/question-tool.txt")
    with pytest.raises(PromptError, match="only in colour"):
        choose(p, "1")


def test_the_same_prompt_whichever_option_is_highlighted() -> None:
    """After ↓ the `❯` moved: still the same prompt (its identity is the question and the labels)."""
    text = screen("claude/ask-user-question.txt")
    moved = text.replace("❯ 1. Yes, delete it", "  1. Yes, delete it").replace("  2. No, keep it", "❯ 2. No, keep it")
    before, after = read_prompt("claude", text), read_prompt("claude", moved)
    assert before is not None and after is not None
    assert (before.selected, after.selected) == (1, 2) and before.same(after)
    other = read_prompt("claude", text.replace("Should I delete the old config", "Should I keep the old config"))
    assert other is not None and not other.same(before)


def test_an_old_answered_question_above_the_prompt_is_not_read() -> None:
    """aider keeps its answered questions on screen (`… [Yes]: y`): only the live last line counts."""
    assert read_prompt("aider", screen("aider/idle-question.txt")) is None
    assert read_prompt("shell", "Deploy now? (y/n) y\ndeploying…\n") is None


@pytest.mark.parametrize("text", [
    "Pick one? (y;kill-server/n) ",  # not a yes/no it knows
    "Go? (Y)es/(N)o/($(touch x))oops [Yes]:",
])
def test_hostile_choices_are_not_read_as_answers(text: str) -> None:
    p = read_prompt("aider", text) or read_prompt("shell", text)
    assert p is None or all(re.fullmatch(r"[a-z]{1,8}", o.answer) for o in p.options)


@pytest.mark.parametrize("table,message", [
    ({"pattern": "x", "colour": 1}, "unknown key 'colour'"),
    ({"pattern": "(?P<options>x)", "send": "telepathy"}, "send = 'telepathy'"),
    ({"pattern": "(?P<options>x)", "form": "grid"}, "form = 'grid'"),
    ({"pattern": "x"}, "no (?P<options>...) group"),
    ({"pattern": "(?P<options>x", }, "pattern"),
    ({"pattern": "(?P<options>x)", "send": "none"}, "needs a `why`"),
    ({"pattern": "(?P<options>x)", "lines": -1}, "lines must be"),
])
def test_bad_prompt_tables_are_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_prompt_rules("rules/x.toml", [table])
    assert message in str(err.value) and "\n" not in str(err.value) and "rules/x.toml#prompt[0]" in str(err.value)
