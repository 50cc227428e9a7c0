"""The prompt an agent is waiting on, read from its screen: the question, its options as the
agent shows them, and how the agent takes a choice (pure: screen text in, a `Prompt` out).

What a kind's dialogs look like is data, kept with its detection rules: `[[prompt]]` tables in
`mission_control/rules/<kind>.toml` (and in `common.toml`, for the kinds that use it), each
checked against the real screens in `tests/data/screens/` (`tests/data/screens/prompts.toml`
says what each WAITING screen must read as, or why it cannot be answered from outside).

    [[prompt]]
    pattern = '(?P<question>...)\\n(?P<options>...)'   # searched like a rule's pattern (re.MULTILINE)
    form = "menu"        # menu: one option a line (numbered `1. Yes`, or not: numbered = false)
                         # inline: the choices inside the question line, `(Y)es/(N)o`, `(y/n)`
    send = "arrows"      # arrows: ↑/↓ from the highlighted option to the chosen one, checked, then Enter
                         # type: the option's letter or word, then Enter
                         # none: shown, not answered from outside (`why` says why)
    marker = "❯"         # menu: the characters that mark the highlighted option
    skip = 'Type something'  # menu: options that open a text entry (never chosen from outside)
    yes = '^(?:Yes|Allow once)\\b'   # which option `y` picks (default: the first `Yes…`)
    no = '^No\\b'                    # which option `n` picks (default: the first `No…`)
    lines = 30           # look only at the last N non-blank lines of the current turn
    why = "..."          # with send = "none"

The pattern's `options` group holds the option lines (menu) or the choices (`inline`); its
`question` group, when it has one, the question, else the question is found in the few lines
above the options (`_question_above`). The last match in the
region wins (the dialog nearest the bottom). Only the current turn is read (the kind's `turn`).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from mission_control.core.rules import RuleError, _builtin_text, _compile, last_lines, rules_for
from mission_control.core.status import tail_lines

FORMS = ("menu", "inline")
SENDS = ("arrows", "type", "none")
PROMPT_KEYS = ("pattern", "form", "send", "marker", "numbered", "skip", "yes", "no", "lines", "why")
DEFAULT_YES = r"^Yes\b"
DEFAULT_NO = r"^No\b"
QUESTION_LOOKBACK = 8
"""Non-blank lines above the options searched for the question when the pattern names none."""
BORDERS = "│┃║ \t"
"""Box sides around a dialog's lines (gemini, qwen, opencode): not part of what they say."""
_RULE_LINE = re.compile(r"^[\s─━═╌┄▀▄╭╮╰╯┌┐└┘│┃╹]{3,}$")
_BULLET_LINE = re.compile(r"^\s*[•●⏺✦⎿›❯>] \S")
_NUMBERED = re.compile(r"^(?P<n>[1-9][0-9]?)\.\s+(?P<label>\S.*)$")
_ANSWER = re.compile(r"^[A-Za-z]{1,8}$")
"""What a `type` prompt's answer may be: a letter or a short word (never text from the screen at large)."""


class PromptError(ValueError):
    """A choice that the prompt does not offer, or a prompt that cannot be answered; one line."""


@dataclass(frozen=True)
class Option:
    number: int
    """Its place in the list, from 1 (the number the agent shows, when it numbers them)."""
    label: str
    """What the agent calls it, as shown."""
    answer: str = ""
    """For `type` prompts: the letter or word typed to choose it."""
    needs_text: bool = False
    """Choosing it opens a text entry (`Type something.`): not chosen from outside."""


@dataclass(frozen=True)
class Prompt:
    question: str
    """The question, as shown (one line)."""
    options: tuple[Option, ...]
    send: str
    """How the agent takes a choice: `arrows`, `type` or `none` (see the module docstring)."""
    selected: int | None
    """The number of the highlighted option (menus drawing a marker), else None."""
    source: str
    """The `[[prompt]]` table it was read with (`rules/claude.toml#prompt[0]`)."""
    yes: int | None = None
    """The option `y` picks (None: none means yes)."""
    no: int | None = None
    """The option `n` picks."""
    why: str = ""
    """With `send = "none"`: why it is answered in the agent's pane only."""

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """Its identity: the question and the options' labels (not which one is highlighted)."""
        return self.question, tuple(o.label for o in self.options)

    def same(self, other: "Prompt | None") -> bool:
        return other is not None and self.key == other.key

    @property
    def answerable(self) -> bool:
        return self.send != "none" and any(not o.needs_text for o in self.options)

    def option(self, number: int) -> Option | None:
        return next((o for o in self.options if o.number == number), None)

    def keys(self) -> dict[str, Option]:
        """What each answer key sends: `1`…`9`, `y` and `n` -> the option (only those it offers)."""
        out = {str(o.number): o for o in self.options if o.number <= 9 and not o.needs_text}
        for key, number in (("y", self.yes), ("n", self.no)):
            option = self.option(number) if number is not None else None
            if option is not None and not option.needs_text:
                out[key] = option
        return out


@dataclass(frozen=True)
class PromptRule:
    pattern: re.Pattern[str]
    form: str
    send: str
    source: str
    marker: str = ""
    numbered: bool = True
    skip: re.Pattern[str] | None = None
    yes: re.Pattern[str] = field(default_factory=lambda: re.compile(DEFAULT_YES, re.IGNORECASE))
    no: re.Pattern[str] = field(default_factory=lambda: re.compile(DEFAULT_NO, re.IGNORECASE))
    lines: int = 30
    why: str = ""


def parse_prompt_rules(source: str, tables: Any) -> tuple[PromptRule, ...]:
    """The `[[prompt]]` tables of a rules file, checked: one line (RuleError) for a bad key or value."""
    if not isinstance(tables, list):
        raise RuleError(f"{source}: prompt must be [[prompt]] tables")
    out = []
    for i, entry in enumerate(tables):
        where = f"{source}#prompt[{i}]"
        if not isinstance(entry, dict):
            raise RuleError(f"{where}: must be a table")
        unknown = set(entry) - set(PROMPT_KEYS)
        if unknown:
            raise RuleError(f"{where}: unknown key {sorted(unknown)[0]!r} (keys: {', '.join(PROMPT_KEYS)})")
        form, send = entry.get("form", "menu"), entry.get("send", "arrows")
        if form not in FORMS:
            raise RuleError(f"{where}.form = {form!r}: use one of {', '.join(FORMS)}")
        if send not in SENDS:
            raise RuleError(f"{where}.send = {send!r}: use one of {', '.join(SENDS)}")
        pattern = _compile(f"{where}.pattern", entry.get("pattern"), re.MULTILINE)
        if "options" not in pattern.groupindex:
            raise RuleError(f"{where}.pattern has no (?P<options>...) group")
        lines = entry.get("lines", 30)
        if not isinstance(lines, int) or isinstance(lines, bool) or lines < 0:
            raise RuleError(f"{where}.lines must be a whole number >= 0")
        for key in ("marker", "why"):
            if not isinstance(entry.get(key, ""), str):
                raise RuleError(f"{where}.{key} must be a string")
        if not isinstance(entry.get("numbered", True), bool):
            raise RuleError(f"{where}.numbered must be true or false")
        if send == "none" and not entry.get("why"):
            raise RuleError(f"{where}: send = \"none\" needs a `why`")
        flags = re.IGNORECASE
        out.append(PromptRule(
            pattern, form, send, where, entry.get("marker", ""), entry.get("numbered", True),
            _compile(f"{where}.skip", entry["skip"], flags) if "skip" in entry else None,
            _compile(f"{where}.yes", entry.get("yes", DEFAULT_YES), flags),
            _compile(f"{where}.no", entry.get("no", DEFAULT_NO), flags),
            lines, entry.get("why", ""),
        ))
    return tuple(out)


def builtin_prompt_rules(name: str) -> tuple[PromptRule, ...]:
    """The `[[prompt]]` tables of the packaged `rules/<name>.toml` (none when it has none)."""
    text = _builtin_text(name)
    if text is None:
        return ()
    return parse_prompt_rules(f"rules/{name}.toml", tomllib.loads(text).get("prompt", []))


_CACHE: dict[str, tuple[PromptRule, ...]] = {}


def prompt_rules(kind: str) -> tuple[PromptRule, ...]:
    """The kind's own `[[prompt]]` tables, then the common ones when its rules use common.toml."""
    if kind not in _CACHE:
        own = builtin_prompt_rules(kind)
        uses_common = any(r.source.startswith("rules/common.toml") for r in rules_for(kind).rules)
        _CACHE[kind] = own + (builtin_prompt_rules("common") if uses_common else ())
    return _CACHE[kind]


# ------------------------------------------------------------------------------- reading


def _unboxed(line: str) -> str:
    return line.strip(BORDERS)


def _menu_options(rule: PromptRule, block: str) -> tuple[list[tuple[int, str]], int | None]:
    """(number, label) of each option in the block, and the highlighted one's number."""
    options: list[tuple[int, str]] = []
    selected = None
    for raw in block.split("\n"):
        line = _unboxed(raw)
        if not line:
            continue
        marked = bool(rule.marker) and line[0] in rule.marker
        if marked:
            line = line[1:].strip()
        if rule.numbered:
            m = _NUMBERED.match(line)
            if not m:
                continue  # a description under an option, a separator
            number = int(m.group("n"))
            if number != len(options) + 1:
                if options:
                    break  # the list ended
                continue
            label = m.group("label")
        else:
            number, label = len(options) + 1, line
        options.append((number, _unboxed(label)))
        if marked:
            selected = number
    return options, selected


def _inline_options(block: str) -> list[tuple[int, str, str]]:
    """(number, label, answer) of each choice in `(Y)es/(N)o/(D)on't ask again`, `(y/n)`, `[Y/n]`, `(yes/no)`."""
    out = []
    whole = re.fullmatch(r"\s*[(\[]([^()\[\]]*)[)\]]\s*", block)  # `(y/n)`, `[Y/n]`: the brackets go
    for part in (whole.group(1) if whole else block).split("/"):
        part = part.strip()
        m = re.fullmatch(r"\(([A-Za-z])\)(.*)", part)
        if m:
            answer, label = m.group(1).lower(), m.group(1) + m.group(2)
        else:
            answer = part.lower()
            label = {"y": "Yes", "n": "No"}.get(answer, part.capitalize())
        if not _ANSWER.match(answer):
            return []
        out.append((len(out) + 1, label.strip(), answer))
    return out


def _question_above(text: str, at: int) -> str:
    """The question for options starting at offset `at`, among the few non-blank lines above them
    (stopping at a rule or a transcript bullet): the topmost ending with `?`, else the topmost with
    a `?` in it, else the topmost (a dialog's title)."""
    above = text[:at].split("\n")
    seen: list[str] = []
    for raw in reversed(above[:-1] if above and not above[-1].strip(BORDERS) else above):
        line = _unboxed(raw)
        if not line:
            continue
        if _RULE_LINE.match(raw) or _BULLET_LINE.match(raw) or len(seen) >= QUESTION_LOOKBACK:
            break
        seen.append(line)
    asking = [line for line in seen if line.endswith("?")] or [line for line in seen if "?" in line]
    return asking[-1] if asking else (seen[-1] if seen else "")


def read_prompt(kind: str, screen: str, rules: tuple[PromptRule, ...] | None = None) -> Prompt | None:
    """The prompt on `screen` by the kind's `[[prompt]]` tables (or `rules`), None when none matches."""
    lines = rules_for(kind).current(tail_lines(screen))
    for rule in prompt_rules(kind) if rules is None else rules:
        text = "\n".join(last_lines(lines, rule.lines)) + "\n"
        match = None
        for match in rule.pattern.finditer(text):
            pass
        if match is None or not match.group("options"):
            continue
        prompt = _prompt(rule, text, match)
        if prompt is not None:
            return prompt
    return None


def _prompt(rule: PromptRule, text: str, match: re.Match[str]) -> Prompt | None:
    block = match.group("options")
    question = match.group("question") if "question" in rule.pattern.groupindex else None
    if question is None:
        question = _question_above(text, match.start("options"))
    question = " ".join(_unboxed(question).split())
    selected = None
    if rule.form == "inline":
        options = tuple(Option(n, label, answer) for n, label, answer in _inline_options(block))
    else:
        found, selected = _menu_options(rule, block)
        options = tuple(Option(n, label, needs_text=bool(rule.skip and rule.skip.search(label))) for n, label in found)
    if len(options) < 2:
        return None
    yes = next((o.number for o in options if rule.yes.search(o.label) or (o.answer and o.answer in ("y", "yes"))), None)
    no = next((o.number for o in options if rule.no.search(o.label) or (o.answer and o.answer in ("n", "no"))), None)
    return Prompt(question, options, rule.send, selected, rule.source, yes, no, rule.why)


# ------------------------------------------------------------------------------- answering

YES_WORDS = ("y", "yes")
NO_WORDS = ("n", "no")


def choose(prompt: Prompt, choice: str) -> Option:
    """The option `choice` names: its number (`1`…), `y`/`yes`, `n`/`no`, or its label; one line
    (PromptError) naming what it offers otherwise."""
    word = choice.strip().lower()
    option: Option | None = None
    if word.isdigit():
        option = prompt.option(int(word))
    elif word in YES_WORDS or word in NO_WORDS:
        number = prompt.yes if word in YES_WORDS else prompt.no
        option = prompt.option(number) if number is not None else None
    if option is None:
        option = next((o for o in prompt.options if o.label.lower() == word or (o.answer and o.answer == word)), None)
    if option is None:
        shown = choice if len(choice) <= 40 else choice[:40] + "…"
        raise PromptError(f"{shown!r} is not one of its options: {offered(prompt)}")
    if option.needs_text:
        raise PromptError(f"option {option.number} ({option.label}) asks you to type: answer it in the agent's pane")
    if prompt.send == "none":
        raise PromptError(f"it is answered in the agent's pane only: {prompt.why}")
    if prompt.send == "arrows" and prompt.selected is None:
        raise PromptError("its highlighted option cannot be told from the screen: answer it in the agent's pane")
    return option


def offered(prompt: Prompt) -> str:
    """`1 Yes · 2 No` (with `y`/`n` where they pick one), for messages and the key hints."""
    keys = prompt.keys()
    parts = [f"{o.number} {o.label}" for o in prompt.options if str(o.number) in keys]
    for key in ("y", "n"):
        if key in keys:
            parts.append(f"{key} = {keys[key].number}")
    return " · ".join(parts) or "none that can be chosen from outside"


@dataclass(frozen=True)
class Keystrokes:
    """How to send one choice: `moves` (tmux key names) and the highlighted option to check
    after them, or `text` to type; then `confirm`."""

    moves: tuple[str, ...] = ()
    check: int | None = None
    text: str = ""
    confirm: tuple[str, ...] = ("Enter",)


def keystrokes(prompt: Prompt, option: Option) -> Keystrokes:
    """The keys that choose `option` in `prompt` (what `choose` accepted)."""
    if prompt.send == "type":
        return Keystrokes(text=option.answer)
    if prompt.send == "arrows" and prompt.selected is not None:
        step = option.number - prompt.selected
        return Keystrokes(moves=("Down" if step > 0 else "Up",) * abs(step), check=option.number)
    raise PromptError(f"it is answered in the agent's pane only: {prompt.why or 'no way to send a choice'}")


# ------------------------------------------------------------------------------- the prompt seen elsewhere

EXPECTED_MAX = 64 * 1024
"""The most an expected prompt's JSON may hold (a dialog's question and labels are far less)."""


def expected_json(prompt: Prompt) -> str:
    """The prompt as a person saw it (its `key`: the question and the options' labels), as one JSON
    line: what a laptop sends the agent's host with `answer --expected` (issue 22), so the host types
    the choice only into that same prompt."""
    return json.dumps({"question": prompt.question, "options": [o.label for o in prompt.options]}, ensure_ascii=False)


def expected_from_json(text: str) -> Prompt:
    """What `expected_json` wrote, as a Prompt to compare with `Prompt.same`; one line (PromptError)
    when it is not that."""
    try:
        data = json.loads(text) if len(text) <= EXPECTED_MAX else None
    except ValueError:
        data = None
    labels = data.get("options") if isinstance(data, dict) else None
    question = data.get("question") if isinstance(data, dict) else None
    if not (isinstance(question, str) and isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise PromptError("the expected prompt is not {\"question\": TEXT, \"options\": [LABEL, ...]} JSON on stdin")
    return Prompt(question, tuple(Option(i + 1, label) for i, label in enumerate(labels)), "none", None, "expected")

