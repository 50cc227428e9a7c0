"""The detection rules against real screens: every fixture in tests/data/screens
through the real `classify()` with its kind's `rules_for(kind)`.

How one captured screen is modelled as an observation:

* A live pane is a one-shot poll, the way `mission-control status` polls without a
  supervisor: a fresh `Memory`, `Settings(hold_ticks=1)`, the pane alive, no CPU
  figure, 10 s after launch (under `start_timeout`, so a screen no rule recognises
  stays STARTING instead of turning into "never got going").
* EXITED screens show the pane's shell prompt because the capture started each CLI from
  a shell. Under mission-control the launcher execs the CLI itself in a pane with
  `remain-on-exit on`, so when the CLI quits the supervisor sees a dead pane with an exit
  status (`#{pane_dead}`, `#{pane_dead_status}`), never a shell prompt: they are
  modelled as `pane_dead=True`. The capture did not record the exit status, so it is 0.
  No rule reads EXITED from text.
* Some states cannot be told from one frame: codex and aider stream an answer with no
  busy marker at all (codex even keeps its idle composer drawn). Such entries carry
  `needs = "activity"` and `growing = "<the line that was growing>"` in the manifest;
  they are classified from two frames, the fixture and the same screen a tick earlier
  with that line one word shorter. The test also checks that one frame alone is NOT
  enough, so the mark is dropped once a rule learns to tell them apart.

For WAITING and STUCK the reason must contain the entry's `reason_has`.

Rules no fixture exercises are exercised by SYNTHETIC screens below, each built from
the CLI's documented or reported text (the source is named with each case); the
rule-coverage test fails on a rule that matches nothing, so dead rules get noticed.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mission_control.core.kinds import KINDS
from mission_control.core.model import Status
from mission_control.core.rules import builtin_file, parse_file, rules_for
from mission_control.core.status import Memory, Observation, Settings, Verdict, classify, tail_lines

SCREENS = Path(__file__).resolve().parent / "data" / "screens"
MANIFEST: list[dict[str, Any]] = tomllib.loads((SCREENS / "manifest.toml").read_text(encoding="utf-8"))["screen"]
T0 = 1_000_000.0
AGE = 10.0
ONE_SHOT = Settings(hold_ticks=1)
NEEDS_A_HUMAN = (Status.WAITING, Status.STUCK)


def fixture_text(entry: dict[str, Any]) -> str:
    return (SCREENS / entry["file"]).read_text(encoding="utf-8")


def one_shot(kind: str, screen: str, *, dead: bool = False) -> Verdict:
    """One poll of a live pane (or of the dead pane an exited CLI leaves)."""
    obs = Observation(now=T0 + AGE, started_at=T0, screen=screen, pane_dead=dead, exit_status=0 if dead else None)
    return classify(obs, Memory(), rules_for(kind), ONE_SHOT)[0]


def two_frames(kind: str, before: str, after: str) -> Verdict:
    """Two polls two seconds apart."""
    _, mem = classify(Observation(now=T0 + AGE, started_at=T0, screen=before), Memory(), rules_for(kind), ONE_SHOT)
    verdict, _ = classify(Observation(now=T0 + AGE + 2, started_at=T0, screen=after), mem, rules_for(kind), ONE_SHOT)
    return verdict


def earlier_frame(screen: str, growing: str) -> str:
    """The same screen a tick earlier: the growing line one word shorter."""
    assert screen.count(growing) == 1, f"{growing!r} must occur once in the screen"
    assert " " in growing.strip(), "the growing line needs a word to drop"
    return screen.replace(growing, growing.rstrip().rsplit(" ", 1)[0])


def describe(v: Verdict) -> str:
    return f"{v.status.value} ({v.reason!r}; {v.evidence})"


# --------------------------------------------------------------------- the fixtures


def test_manifest_lists_every_screen_once() -> None:
    listed = [e["file"] for e in MANIFEST]
    on_disk = {p.relative_to(SCREENS).as_posix() for p in SCREENS.glob("*/*.txt")}
    assert len(listed) == len(set(listed)), "a screen is listed twice"
    assert set(listed) == on_disk, f"unlisted: {sorted(on_disk - set(listed))}, missing: {sorted(set(listed) - on_disk)}"
    for e in MANIFEST:
        assert e["kind"] == e["file"].split("/")[0] and e["kind"] in KINDS, e["file"]
        assert e["status"] in Status.__members__, e["file"]
        assert e.get("needs") in (None, "activity"), e["file"]


def test_the_fixtures_cover_enough_screens_and_kinds() -> None:
    assert len(MANIFEST) >= 40
    assert len({e["kind"] for e in MANIFEST}) >= 4


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_fixture_screen(entry: dict[str, Any]) -> None:
    kind, want, screen = entry["kind"], Status(entry["status"]), fixture_text(entry)
    if want is Status.EXITED:
        verdict = one_shot(kind, screen, dead=True)
    elif entry.get("needs") == "activity":
        alone = one_shot(kind, screen)
        assert alone.status is not want, (
            f"{entry['file']}: one frame now reads {describe(alone)}: drop `needs = \"activity\"` from the manifest"
        )
        verdict = two_frames(kind, earlier_frame(screen, entry["growing"]), screen)
    else:
        verdict = one_shot(kind, screen)
    assert verdict.status is want, f"{entry['file']}: got {describe(verdict)}, expected {want.value}: {entry['reason']}"
    if want in NEEDS_A_HUMAN:
        assert "reason_has" in entry, f"{entry['file']}: give WAITING/STUCK entries a `reason_has` in the manifest"
        assert entry["reason_has"] in verdict.reason, f"{entry['file']}: reason {verdict.reason!r} lacks {entry['reason_has']!r}"


def taller(screen: str, extra: int = 40) -> str:
    """The same screen in a taller pane: a full-screen TUI pads its longest blank stretch (the
    space between the conversation and the input box) with more blank lines."""
    lines = screen.split("\n")
    best, start, run = (0, 0), 0, 0
    for i, line in enumerate(lines):
        if line.strip():
            run = 0
            continue
        if run == 0:
            start = i
        run += 1
        if run > best[0]:
            best = (run, start)
    if best[0] < 2:
        return screen
    at = best[1]
    return "\n".join(lines[:at] + [""] * extra + lines[at:])


FULL_SCREEN = [e for e in MANIFEST if e["kind"] in ("opencode", "gemini") and e["status"] != "EXITED" and not e.get("needs")]


@pytest.mark.parametrize("entry", FULL_SCREEN, ids=[e["file"] for e in FULL_SCREEN])
def test_full_screen_fixtures_read_the_same_in_a_taller_pane(entry: dict[str, Any]) -> None:
    """Rules count non-blank lines: a full-screen TUI's rule matches wherever its text stands."""
    screen = fixture_text(entry)
    tall = taller(screen)
    assert tall.count("\n") >= screen.count("\n") + 40 or tall == screen
    want, got = one_shot(entry["kind"], screen), one_shot(entry["kind"], tall)
    assert (got.status, got.reason) == (want.status, want.reason), f"{entry['file']}: {describe(want)} became {describe(got)}"


# --------------------------------------------------------------------- synthetic screens

RULE = "─" * 120
LOW, HIGH = "▄" * 120, "▀" * 120


def claude(turn: str, *, footer: str = "  ? for shortcuts · ← for agents") -> str:
    return f"{turn}\n\n{RULE}\n❯\xa0\n{RULE}\n{footer}\n"


def codex(turn: str) -> str:
    return f"{turn}\n\n\n› Ask Codex to do anything\n\n  GPT-5.5 default · /tmp/repo\n  ← for agents · ? for shortcuts\n"


def gemini(prompt: str, body: str) -> str:
    return (
        f"{LOW}\n > {prompt}\n{HIGH}\n{body}\n\n\n{' ' * 104}? for shortcuts\n{RULE}\n Shift+Tab to accept edits\n"
        f"{LOW}\n >   Type your message or @path/to/file\n{HIGH}\n"
        " workspace (/directory)            branch        sandbox             /model\n"
        " /tmp/repo                         main          no sandbox            Auto\n"
    )


def opencode(prompt: str, block: str) -> str:
    return (
        f"  ┃\n  ┃  {prompt}\n  ┃\n\n  ┃\n  ┃  {block}\n  ┃\n\n     ▣  Build · GPT 4o mini\n\n"
        f"  ┃\n  ┃\n  ┃\n  ┃  Build · GPT 4o mini OpenAI\n  ╹{'▀' * 117}\n"
        f"   /tmp/repo{' ' * 80}1.2K  ctrl+p commands\n"
    )


def aider(prompt: str, body: str, *, end: str = "") -> str:
    return f"{RULE}\nhello.py\ndiff> {prompt}\n\n{body}\n{end}"


OLLAMA_BANNER = "ollama agent · model qwen2.5-coder:7b · http://127.0.0.1:11434\nworking in /tmp/repo\n"

# (name, kind, screen, expected status, reason contains, where the text comes from)
SYNTHETIC: list[tuple[str, str, str, Status, str, str]] = [
    # --- claude
    ("claude connection error while retrying", "claude",
     claude("❯ hi\n  ⎿  API Error (Connection error.) · Retrying in 1 seconds… (attempt 1/10)\n    ⎿  TypeError (fetch failed)",
            footer="  esc to interrupt · ← for agents"),
     Status.STUCK, "cannot reach a service", "anthropics/claude-code#6596 (1.0.90)"),
    ("claude connection error after its retries", "claude",
     claude("❯ hi\n  ⎿  API Error: Connection error."),
     Status.STUCK, "cannot reach a service", "the line 1.0 prints after attempt 10/10, anthropics/claude-code#6596"),
    ("claude out of credits", "claude",
     claude("❯ whoami\n  ⎿  Credit balance too low · Add funds: https://platform.claude.com/settings/billing"),
     Status.STUCK, "out of credits", "anthropics/claude-code#46277"),
    ("claude subscription limit", "claude",
     claude("❯ go on\n  ⎿  You've hit your session limit · resets 12:50am (America/Los_Angeles)"),
     Status.STUCK, "rate limit or quota", "anthropics/claude-code#74079"),
    ("claude tool output with error words, still busy", "claude",
     claude("❯ fix the flaky test\n\n● Bash(pytest -q tests/test_client.py)\n"
            "  ⎿  FAILED tests/test_client.py::test_retry - HTTPError: 429 Too Many Requests (rate limit)\n\n"
            "✶ Pondering… (12s · ↓ 310 tokens)", footer="  esc to interrupt · ← for agents"),
     Status.WORKING, "working", "why claude.toml has `common = false`: a test's output is not Claude's own error"),
    ("claude prompt and answer about an error, done", "claude",
     claude("❯ handle the 401 Unauthorized from the API\n\n● Done: the client now refreshes its token on a 401.\n\n✻ Worked for 9s"),
     Status.IDLE, "at its prompt", "the prompt's own words are not the turn's output (`turn`)"),
    # --- codex
    ("codex reconnecting", "codex",
     codex("› summarise the README\n\n\nReconnecting... 4/5 (21s • esc to interrupt)"),
     Status.STUCK, "retrying", "openai/codex#19121 (0.114.0)"),
    ("codex stream disconnected", "codex",
     codex("› summarise the README\n\n\n■ stream disconnected before completion: error sending request for url\n"
           "(https://chatgpt.com/backend-api/codex/responses)"),
     Status.STUCK, "cannot reach a service", "openai/codex#14877 (0.114.0)"),
    # --- gemini
    ("gemini quota", "gemini",
     gemini("Write a para about Gemini CLI",
            '✕ [API Error: {"error":{"message":"{\\n  \\"error\\": {\\n    \\"code\\": 429,\\n    \\"message\\": \\"Resource has\n'
            '  been exhausted (e.g. check quota).\\",\\n    \\"status\\": \\"RESOURCE_EXHAUSTED\\"\\n\n'
            '  }\\n}\\n","code":429,"status":"Too Many Requests"}}]\n'
            "  Please wait and try again later. To increase your limits, request a quota increase through AI Studio, or\n"
            "  switch to another /auth method"),
     Status.STUCK, "rate limit or quota", "google-gemini/gemini-cli#1800"),
    ("gemini model not found", "gemini",
     gemini("hi", '✕ [API Error: {"error":{"code":404,"message":"models/gemini-9-pro is not found for API version v1beta, or is\n'
                  '  not supported for generateContent.","status":"NOT_FOUND"}}]'),
     Status.STUCK, "model not found: gemini-9-pro", "Google API 404 body (as in the fixture's 400 layout)"),
    ("gemini other 404", "gemini",
     gemini("hi", '✕ [API Error: {"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}]'),
     Status.STUCK, "model not found", "Google API 404 body without a model name"),
    ("gemini overloaded", "gemini",
     gemini("hi", '✕ [API Error: {"error":{"code":503,"message":"The model is overloaded. Please try again\n'
                  '  later.","status":"UNAVAILABLE"}}]'),
     Status.STUCK, "overloaded", "Google API 503 body"),
    ("gemini server error", "gemini",
     gemini("hi", '✕ [API Error: {"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}]'),
     Status.STUCK, "server error", "Google API 500 body"),
    ("gemini offline", "gemini",
     gemini("hi", "✕ [API Error: exception TypeError: fetch failed sending request]"),
     Status.STUCK, "cannot reach a service", "gemini-cli without network or proxy (seen in user write-ups)"),
    # --- opencode
    ("opencode out of quota", "opencode",
     opencode("summarise the README", "You exceeded your current quota, please check your plan and billing details."),
     Status.STUCK, "rate limit or quota", "OpenAI's insufficient_quota message, shown like the fixture's 401"),
    # --- aider
    ("aider server error", "aider",
     aider("hi", "litellm.InternalServerError: InternalServerError: OpenAIException - Internal server error\n"
                 "The API provider's servers are down or overloaded.\nRetrying in 0.2 seconds..."),
     Status.STUCK, "server error", "aider's litellm exception lines (as in the 503 fixture)"),
    ("aider connection error", "aider",
     aider("print hello", "litellm.APIError: APIError: OpenAIException - Connection error.\nRetrying in 0.2 seconds...\n"
                          "litellm.APIError: APIError: OpenAIException - Connection error.\nRetrying in 0.5 seconds..."),
     Status.STUCK, "cannot reach a service", "Aider-AI/aider#2812 (0.70.0)"),
    ("aider timeout", "aider",
     aider("hi", "litellm.Timeout: Connection timed out after 600.0 seconds.\n"
                 "The API provider timed out without returning a response. They may be down or overloaded.\n"
                 "Retrying in 0.2 seconds..."),
     Status.STUCK, "timed out", "aider's message for litellm.Timeout"),
    ("aider recovered after a retry", "aider",
     aider("hi", "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached\n"
                 "The API provider has rate limited you. Try again later or check your quotas.\nRetrying in 0.2 seconds...\n"
                 "Hello! The README describes a small package.\n\n\nTokens: 2.1k sent, 9 received. Cost: $0.00032 message, $0.00032 session.",
           end=f"{RULE}\nhello.py\ndiff> "),
     Status.IDLE, "at its prompt", "a finished reply (`Tokens:`) after the error: the error is over"),
    ("aider interrupted while retrying", "aider",
     aider("hi", "litellm.ServiceUnavailableError: ServiceUnavailableError: OpenAIException - The server is overloaded.\n"
                 "The API provider's servers are down or overloaded.\nRetrying in 0.5 seconds...\n^C\n\n\n^C again to exit",
           end=f"{RULE}\nhello.py\ndiff> "),
     Status.IDLE, "at its prompt", "Ctrl-C ends the turn, as in the exited-ctrl-c fixture"),
    # --- ollama (our own agent: mission_control/programs/ollama_agent/loop.py's output)
    ("ollama thinking", "ollama",
     OLLAMA_BANNER + "task: add a hello function\n● thinking…\nI'll look at the files first.\n→ list_files . (3 files)\n● thinking…\n",
     Status.WORKING, "working", "loop.py: `● thinking…` per model call, `→ …` per tool"),
    ("ollama done", "ollama",
     OLLAMA_BANNER + "task: add a hello function\n● thinking…\nAdded hello() to app.py.\n"
     "✓ done: Added hello() to app.py.  (3 model calls, 1200 tokens in, 80 out)\n› ",
     Status.IDLE, "at its prompt", "loop.py: `✓ done: …` then the `› ` prompt"),
    ("ollama asks", "ollama",
     OLLAMA_BANNER + "› clean up the config files\n● thinking…\nI found two config files. Should I delete config.old.toml?\n"
     "✓ done: I found two config files. Should I delete config.old.toml?  (1 model call, 900 tokens in, 20 out)\n› ",
     Status.WAITING, "asks a question", "loop.py: the answer, `✓ done: …`, the prompt"),
    ("ollama stuck", "ollama",
     OLLAMA_BANNER + "task: add a hello function\n● thinking…\n"
     "STUCK: cannot reach Ollama at http://127.0.0.1:11434: [Errno 111] Connection refused (start it with `ollama serve` or set OLLAMA_HOST)\n"
     "type `continue` and Enter to retry (or an instruction); Ctrl-D quits\n› ",
     Status.STUCK, "cannot reach Ollama", "loop.py/_stuck: a printed `STUCK: …` line (status.py, before any rule)"),
    ("ollama retrying after stuck", "ollama",
     OLLAMA_BANNER + "task: add a hello function\n● thinking…\nSTUCK: cannot reach Ollama at http://127.0.0.1:11434\n"
     "type `continue` and Enter to retry (or an instruction); Ctrl-D quits\n› continue\n● thinking…\n",
     Status.WORKING, "working", "an old `STUCK:` above the person's new line belongs to the last turn"),
    ("ollama interrupted", "ollama",
     OLLAMA_BANNER + "task: add a hello function\n● thinking…\nI am looking\n\n⏹ interrupted\n› ",
     Status.IDLE, "at its prompt", "loop.py: Ctrl-C in a turn"),
    # --- shell (rules/common.toml + rules/shell.toml)
    ("codex numbered choice, option 2 chosen", "codex",
     "  Pick a plan\n\n  1. Keep going\n› 2. Stop here\n\n  enter confirm · esc skip\n",
     Status.WAITING, "choose an option: Keep going",
     "the shape of Codex 0.171's start dialogs with the `›` moved off option 1 (screens/codex/hooks-need-review-trust-selected.txt)"),
    ("shell yes/no", "shell", "Deploy now? (y/n) ", Status.WAITING, "yes/no question", "common.toml"),
    ("shell password", "shell", "[sudo] checking\nPassword: ", Status.WAITING, "asks for a secret", "common.toml"),
    ("shell press enter", "shell", "Installed.\nPress Enter to continue", Status.WAITING, "press Enter", "common.toml"),
    ("shell missing variable", "shell", "Error: missing environment variable NOTIFICATION_KEY\n",
     Status.STUCK, "missing NOTIFICATION_KEY", "common.toml"),
    ("shell variable not set", "shell", "Error: NOTIFICATION_KEY is not set\n", Status.STUCK, "missing NOTIFICATION_KEY", "common.toml"),
    ("shell KeyError", "shell", "Traceback (most recent call last):\nKeyError: 'OPENAI_API_KEY'\n",
     Status.STUCK, "missing OPENAI_API_KEY", "common.toml"),
    ("shell rate limit", "shell", "API error 429: Too Many Requests\n", Status.STUCK, "rate limit or quota", "common.toml"),
    ("shell relaying claude's subscription limit", "shell", "You've hit your limit · resets 4:50am (Europe/Rome)\n$ ",
     Status.STUCK, "rate limit or quota", "a wrapper printing what Claude Code said (issue 21)"),
    ("shell relaying an old limit message", "shell", "Your limit will reset at 9am\n> ",
     Status.STUCK, "rate limit or quota", "Claude Code 1.x's `Your limit will reset at 9am`, relayed (issue 21)"),
    ("shell auth", "shell", "Error: invalid api key\n", Status.STUCK, "authentication failed", "common.toml"),
    ("shell unreachable", "shell", "curl: (7) Failed to connect to localhost port 5432: Connection refused\n",
     Status.STUCK, "cannot reach a service", "common.toml"),
    ("shell spinner", "shell", "⠋ building wheels\n", Status.WORKING, "spinner", "common.toml"),
    ("shell prompt", "shell", "done\n$ ", Status.IDLE, "at its prompt", "shell.toml"),
]


@pytest.mark.parametrize("name,kind,screen,status,reason_has,source", SYNTHETIC, ids=[c[0] for c in SYNTHETIC])
def test_synthetic_screen(name: str, kind: str, screen: str, status: Status, reason_has: str, source: str) -> None:
    verdict = one_shot(kind, screen)
    assert verdict.status is status, f"{name} ({source}): got {describe(verdict)}"
    assert reason_has in verdict.reason, f"{name}: reason {verdict.reason!r} lacks {reason_has!r}"


# --------------------------------------------------------------------- the rule files

RULES_DIR = resources.files("mission_control").joinpath("rules")
RULE_FILES = sorted(p.name.removesuffix(".toml") for p in RULES_DIR.iterdir() if p.name.endswith(".toml"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_its_own_rules_file(kind: str) -> None:
    own = builtin_file(kind)
    assert own is not None, f"mission_control/rules/{kind}.toml is missing"
    assert any(r.state == "IDLE" for r in own.rules), f"rules/{kind}.toml does not say what its prompt looks like"


def _screens_read_with(name: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) of every fixture and synthetic screen the file's rules are read on."""
    kinds = {name} if name != "common" else {k for k in KINDS if (builtin_file(k) is None or builtin_file(k).common)}
    out = [(e["kind"], tail_lines(fixture_text(e))) for e in MANIFEST if e["kind"] in kinds]
    out += [(kind, tail_lines(screen)) for _, kind, screen, *_ in SYNTHETIC if kind in kinds]
    return out


@pytest.mark.parametrize("name", RULE_FILES)
def test_every_rule_compiles_and_matches_a_screen(name: str) -> None:
    text = RULES_DIR.joinpath(f"{name}.toml").read_text(encoding="utf-8")
    parsed = parse_file(f"rules/{name}.toml", text)  # raises on a bad key, state or pattern
    screens = _screens_read_with(name)
    assert screens, f"no fixture or synthetic screen is read with rules/{name}.toml"
    dead = [
        f"{r.source} ({r.state}: {r.reason})"
        for r in parsed.rules
        if not any(r.match(rules_for(kind).current(lines)) is not None for kind, lines in screens)
    ]
    assert not dead, f"rules matching no fixture or synthetic screen: {dead}"
    if parsed.turn is not None:
        assert any(parsed.turn.search("\n".join(lines)) for _, lines in screens), f"rules/{name}.toml: `turn` matches nothing"


def test_agent_kinds_do_without_the_generic_guesses() -> None:
    """Agents' own rules are complete; common.toml's free-text guesses are for plain commands."""
    for kind in KINDS:
        sources = {r.source.split("#")[0] for r in rules_for(kind).rules}
        uses_common = "rules/common.toml" in sources
        assert uses_common is (kind == "shell"), (kind, sorted(sources))


def test_turn_patterns_never_take_the_input_line() -> None:
    """A half-typed prompt is not a submitted one: the input area stays in the current turn."""
    for entry in MANIFEST:
        if "half-typed" not in entry["file"]:
            continue
        lines = tail_lines(fixture_text(entry))
        current = rules_for(entry["kind"]).current(lines)
        assert any("Please summarise the README and list the fi" in line for line in current), entry["file"]


def test_reasons_name_the_missing_variable() -> None:
    by_file = {e["file"]: e for e in MANIFEST}
    assert one_shot("codex", fixture_text(by_file["codex/error-missing-env-key.txt"])).reason == "missing FAKE_OPENAI_KEY"
    assert one_shot("aider", fixture_text(by_file["aider/startup-missing-api-key.txt"])).reason == "missing OPENAI_API_KEY"


@pytest.mark.parametrize("file", ["claude/ask-user-question.txt", "claude/ask-user-question-2.1.332.txt"])
def test_a_claude_question_with_another_option_chosen_is_still_waiting(file: str) -> None:
    """The `❯` follows the chosen option: after ↓ the screen reads `  1. Yes…` / `❯ 2. No…`
    (neither line is a submitted prompt)."""
    text = (SCREENS / file).read_text(encoding="utf-8")
    moved = text.replace("❯ 1. Yes, delete it", "  1. Yes, delete it").replace("  2. No, keep it", "❯ 2. No, keep it")
    assert moved.count("❯ 2. No, keep it") == 1 and "❯ 1." not in moved
    verdict = one_shot("claude", moved)
    assert verdict.status is Status.WAITING and verdict.reason == "asks: Should I delete the old config file config.old.toml?", describe(verdict)
