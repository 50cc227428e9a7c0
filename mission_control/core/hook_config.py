"""How agents are told to report to us through their own hook mechanisms (pure).

Given through the agent's launch options only — the user's own settings files are
never edited:
  * Claude Code: `claude --settings FILE`, FILE holding `hooks` whose command is
    `mission-control hook ...` (the event arrives as JSON on its stdin);
  * Codex: `codex -c notify=[...]`, a program it runs with one JSON argument when a turn completes.
"""

from __future__ import annotations

import json
import shlex

CLAUDE_EVENTS = ("Notification", "PermissionRequest", "Stop", "SessionStart", "UserPromptSubmit", "PreToolUse")
"""Claude Code hook events recorded in the state store."""
KEPT_FIELDS = (
    "hook_event_name", "message", "notification_type", "session_id", "transcript_path", "cwd", "tool_name", "type",
    "thread-id", "turn-id",
)
"""Payload fields kept in the store (prompts and answers are not kept)."""


def hook_argv(python: str, state_dir: str, agent: str, event: str | None = None) -> list[str]:
    argv = [python, "-m", "mission_control", "hook", "--state-dir", state_dir, "--agent", agent]
    if event:
        argv += ["--event", event]
    return argv


def claude_settings(argv: list[str]) -> dict:
    """The `--settings` document: every event runs `argv` (through Claude's shell, so quoted)."""
    command = " ".join(shlex.quote(a) for a in argv)
    entry = [{"hooks": [{"type": "command", "command": command, "timeout": 10}]}]
    hooks = {event: entry for event in CLAUDE_EVENTS}
    hooks["PreToolUse"] = [{"matcher": "*", **entry[0]}]
    return {"hooks": hooks}


def codex_notify_option(argv: list[str]) -> list[str]:
    """`-c notify=[...]` as two argv words (the value is a TOML array of strings)."""
    return ["-c", "notify=" + json.dumps(argv)]


def kept(payload: dict) -> dict:
    """The parts of a hook payload worth keeping (short strings only)."""
    out = {}
    for key in KEPT_FIELDS:
        value = payload.get(key)
        if isinstance(value, str):
            out[key] = value[:300]
    msgs = payload.get("input-messages")
    if isinstance(msgs, list) and msgs and isinstance(msgs[0], str):
        out["first_input"] = msgs[0][:80]
    return out


def event_name(payload: dict, given: str | None) -> str:
    """`Stop`, `Notification`... for Claude; `notify` for Codex's turn-complete program."""
    if given:
        return given
    name = payload.get("hook_event_name")
    if isinstance(name, str) and name:
        return name
    if payload.get("type") == "agent-turn-complete":
        return "notify"
    return "unknown"


def is_codex_title_turn(payload: dict) -> bool:
    """Codex also runs a hidden turn to title the session; it says nothing about the agent."""
    first = kept(payload).get("first_input", "")
    return first.startswith("Generate a concise")
