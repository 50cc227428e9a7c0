"""`mission-control hook`: the old command an agent's own hooks ran to tell us what it is doing.

It records the event in the fleet's state store and always exits 0. New agents are given the
much faster `hook_appender.py` instead (a full CLI start and a SQLite write cost several
hundred milliseconds, which the agent waits for); this stays for agents launched by older
versions and for scripts that call it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mission_control.adapters.store import Store
from mission_control.core.hook_config import event_name, is_codex_title_turn
from mission_control.programs.hook_appender import keep


def record_hook(state_dir: Path, agent: str, given_event: str | None, args: list[str], stdin_text: str | None) -> str | None:
    """Parse the payload (Codex: last argument; Claude: stdin) and store it. Returns the event name."""
    payload: dict = {}
    text = args[-1] if args else stdin_text
    if text:
        try:
            loaded = json.loads(text)
            payload = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            payload = {}
    event = event_name(payload, given_event)
    data = keep(event, payload)
    if is_codex_title_turn(data):
        return None
    Store(state_dir / "state.db").record_hook_event(agent, event, data, at=time.time())
    return event


def main(state_dir: str, agent: str, event: str | None, payload_args: list[str]) -> int:
    stdin_text = None
    if not payload_args and not sys.stdin.isatty():
        try:
            stdin_text = sys.stdin.read(1_000_000)
        except (OSError, ValueError):
            stdin_text = None
    try:
        record_hook(Path(state_dir), agent, event, payload_args, stdin_text)
    except Exception as exc:  # never fail the agent's hook
        print(f"mission-control hook: {exc}", file=sys.stderr)
    return 0
