"""The fleet's event stream as people and scripts read it (issue 20 point 3): pure.

The store keeps one sequence (`seq`) over status changes, actions, task events and budget
events (`adapters/store.py`, the `events` table). Here an event (a dict from
`Store.events_since`) becomes one NDJSON line (`event_json`: epoch seconds as ISO 8601 UTC)
or one human line (`event_line`). Also what a resuming reader is told when retention dropped
events it had not read (`resume_note`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from mission_control.core.model import iso

KINDS = ("status", "action", "task", "budget")
"""Every kind of event, in the order `events --kind` lists them."""


def event_json(event: dict[str, Any]) -> str:
    """One line of NDJSON: the event with `at` as ISO 8601 UTC (no newline inside: JSON escapes it)."""
    return json.dumps({**event, "at": iso(event["at"])}, separators=(",", ":"), ensure_ascii=False)


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: Any) -> str:
    return f"${value:.2f}" if isinstance(value, (int, float)) else "?"


def event_line(event: dict[str, Any]) -> str:
    """One line for a person: seq, UTC time, kind, then what happened (callers make it inert)."""
    kind = event["kind"]
    if kind == "status":
        what = f"{event['agent']}: {event['old'] or '—'} -> {event['new']}" + (f" ({event['reason']})" if event["reason"] else "")
    elif kind == "action":
        target = f" {event['agent']}" if event["agent"] else ""
        what = f"{event['actor']} {event['action']}{target}: {event['outcome']}" + (f" — {event['detail']}" if event["detail"] else "")
    elif kind == "task":
        who = f" by {event['agent']}" if event["agent"] else ""
        what = f"{event['task']} {event['event']}{who} -> {event['state']}" + (f" — {event['detail']}" if event["detail"] else "")
    else:
        whose = event.get("agent") or "fleet"
        what = f"{whose} {event.get('state')}: {_money(event.get('cost_usd'))} of {_money(event.get('budget_usd'))}"
    return " ".join(f"{event['seq']:>6} {_clock(event['at'])} {kind:<6} {what}".splitlines())


def resume_note(since: int, pruned: int, latest: int) -> tuple[int, str | None]:
    """Where a reader resuming after `since` starts, and what it is told: retention dropped the
    events up to `pruned` (it cannot get them: it continues with the oldest kept), or `since` is past
    the store's latest event `latest` (another or a new store: it continues from there)."""
    if since > latest:
        return latest, (f"--since {since} is past this store's latest event ({latest}): a new or another store? "
                        f"following from {latest}")
    if since < pruned:
        return since, (f"events {since + 1}..{pruned} were dropped by the store's history retention "
                       f"before they were read: continuing with the oldest kept")
    return since, None
