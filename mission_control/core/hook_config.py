"""How agents are told to report to us through their own hook mechanisms (pure).

Given through the agent's launch options only — the user's own settings files are
never edited. Every hook runs our appender (`mission_control/programs/hook_appender.py`, see
`appender_argv`), which appends one line to the agent's events file and returns at once;
the supervisor reads that file each tick.

  * Claude Code: `claude --settings FILE`, FILE holding `hooks` for `CLAUDE_EVENTS`, each
    running the appender with its event's name (the payload arrives as JSON on stdin).
    Checked against 2.1.197 (the screens' pinned version) and 2.1.332 (the newest on npm):
    both accept every event here (and `PostCompact`, `PermissionDenied`, `Elicitation`, ...);
    2.1.332 skips an event name it does not know with a warning and keeps the rest, 2.1.197
    ignores it silently. `Notification` carries `notification_type` (`permission_prompt`,
    `idle_prompt` about 60 s after a turn ends, `elicitation_dialog`, `auth_success`);
    `StopFailure` carries `error` (`rate_limit`, `server_error`, ...) and the API error text
    in `last_assistant_message`; `SessionEnd` carries `reason` (`clear`, `logout`,
    `prompt_input_exit`, `other`). What each event means for the status: `core/status.py`
    `hook_meaning`.
  * Codex: `codex -c notify=[...]`, a program it runs with one JSON argument when a turn
    completes (`agent-turn-complete`). Codex 0.169 and 0.171 also have a hooks engine
    (`PreToolUse`, `PermissionRequest`, `PostToolUse`, `UserPromptSubmit`, `Stop`, ... in
    `hooks.json` or `[hooks]` tables), but hooks that are not managed by an administrator
    "need review before they can run": a person must trust them in Codex's `/hooks` screen
    first, which a launch option cannot do without editing the user's Codex config (tried with
    0.171 `codex exec -c 'hooks.PreToolUse=[...]' -c 'hooks.Stop=[...]' -c notify=[...]`
    against the loopback fake model: only `notify` ran). Written into its `config.toml`
    instead, they stop every start on a `Hooks need review` dialog (`1. Review hooks` /
    `2. Trust all and continue` / `3. Continue without trusting`) until a person answers it
    (tests/data/timelines/codex: recorded with them registered and trusted by hand). It asks
    whenever hooks are "new or changed", and each agent's hook command names its own events
    file, so every new agent would start on that dialog. So Codex gets `notify` only — no `CODEX_EVENTS` — and its
    WAITING comes from the screen rules (`rules/codex.toml`), which know the review dialog and
    the `Meet GPT-6 Sol` announcement it shows at every start as WAITING too.
"""

from __future__ import annotations

import json
import shlex


CLAUDE_EVENTS = (
    "SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "Notification", "PostToolUse",
    "PostToolUseFailure", "PreCompact", "Stop", "StopFailure", "SessionEnd",
)
"""Claude Code hook events we register (all exist in 2.1.197 and 2.1.332)."""
HOOK_TIMEOUT = 5
"""Seconds Claude Code gives our hook (it returns in milliseconds; this only bounds a wedged disk)."""


def appender_argv(python: str, appender: str, events_file: str, event: str) -> list[str]:
    """The command a hook runs: the appender, isolated and without site imports (a fast start)."""
    return [python, "-I", "-S", appender, events_file, event]


def claude_settings(python: str, appender: str, events_file: str) -> dict:
    """The `--settings` document: each event runs the appender with its own name (through
    Claude's shell, so quoted)."""
    hooks: dict[str, list] = {}
    for event in CLAUDE_EVENTS:
        command = " ".join(shlex.quote(a) for a in appender_argv(python, appender, events_file, event))
        entry: dict = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT}]}
        if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"):
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def codex_notify_option(argv: list[str]) -> list[str]:
    """`-c notify=[...]` as two argv words (the value is a TOML array of strings)."""
    return ["-c", "notify=" + json.dumps(argv)]


def hook_argv(python: str, state_dir: str, agent: str, event: str | None = None) -> list[str]:
    """The old hook command, `mission-control hook` (a full CLI start that writes the store):
    still accepted from agents launched by older versions, no longer given to new ones."""
    argv = [python, "-m", "mission_control", "hook", "--state-dir", state_dir, "--agent", agent]
    if event:
        argv += ["--event", event]
    return argv


def event_name(data: dict, given: str | None) -> str:
    """`Stop`, `Notification`... for Claude; `notify` for Codex's turn-complete program."""
    if given:
        return given
    name = data.get("hook_event_name")
    if isinstance(name, str) and name:
        return name
    if data.get("type") == "agent-turn-complete":
        return "notify"
    return "unknown"


def read_event_line(text: str) -> tuple[str, dict, float] | None:
    """One line of an agent's events file (`hook_appender.line`) as (event, kept fields, time):
    None for a torn or foreign line, and for Codex's hidden title turn (it says nothing about
    the agent). How the supervisor reads every hook; the timeline replay reads them the same way."""
    try:
        entry = json.loads(text)
        at, given, data = float(entry["at"]), entry.get("event"), entry.get("data")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    if at != at or at in (float("inf"), float("-inf")):
        return None  # NaN or infinite: no time at all
    data = data if isinstance(data, dict) else {}
    if is_codex_title_turn(data):
        return None
    return event_name(data, given if isinstance(given, str) else None)[:64], data, at


def is_codex_title_turn(data: dict) -> bool:
    """Codex also runs a hidden turn to title the session; it says nothing about the agent
    (`data`: the kept fields, see `hook_appender.keep`)."""
    first = data.get("first_input", "")
    return isinstance(first, str) and first.startswith("Generate a concise")
