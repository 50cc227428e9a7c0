"""Telling the person, wherever they are: what a notification says, how often, and how it is
written for a terminal (pure; adapters/notify.py sends it).

A notice is made when an agent starts needing the person (WAITING, STUCK, its budget reached)
or a task finishes. It names the agent and the reason, carries no secret (the values injected
into agents are masked, `scrub`), and is rate-limited per agent (`RateLimit`). Issue 21 point 4
(cmux #4506: notifications that say which agent and why).

Terminal notifications are OSC 777 (`ESC ] 777 ; notify ; title ; body BEL`: urxvt, foot,
kitty, WezTerm, Ghostty, VTE) and OSC 9 (`ESC ] 9 ; body BEL`: iTerm2, Windows Terminal,
ConEmu, WezTerm). They are written to the ttys of the people's tmux clients; a client that runs
inside another tmux or screen gets them wrapped in its passthrough (`ESC P tmux; ... ESC \\`,
every ESC inside doubled), which that tmux passes on with `allow-passthrough on`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from mission_control.core.diagnosis import hide_values, mask_secrets

TEXT_LIMIT = 200
"""Characters of a reason a notification carries (a reason is one line; a screen is not)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Notice:
    """One thing to tell the person."""

    agent: str
    status: str
    """The agent's status (WAITING, STUCK, PAUSED), or `DONE` for a finished task."""
    reason: str
    since: float | None
    task: str | None = None
    """The task it holds (or the one that finished)."""
    event: str = "needs-you"
    """`needs-you`, `task-done` or `task-failed`."""

    @property
    def title(self) -> str:
        if self.event in TASK_EVENTS.values():
            return f"mission-control: task {self.task} {self.status.lower()}"
        return f"mission-control: {self.agent} is {self.status}"

    @property
    def body(self) -> str:
        if self.event in TASK_EVENTS.values():
            said = f"{self.agent}: task {self.task} {self.status.lower()}"
            return f"{said} ({self.reason})" if self.reason else said
        return f"{self.agent}: {self.reason}" if self.reason else self.agent


TASK_EVENTS = {"done": "task-done", "fail": "task-failed"}
"""The task board's events a person is told of (store `task_events.event`) -> the notice's `event`."""



def one_line(text: str, limit: int = TEXT_LIMIT) -> str:
    """Control characters (escapes, newlines) out, cut to `limit`."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(notice: Notice, secrets: Iterable[str]) -> Notice:
    """The notice with every secret value (and every common token shape) masked, its text one line."""
    values = tuple(secrets)

    def clean(text: str | None) -> str | None:
        return None if text is None else one_line(mask_secrets(hide_values(text, values), values))

    return Notice(notice.agent, notice.status, clean(notice.reason) or "", notice.since, clean(notice.task), notice.event)


def payload(notice: Notice, session: str, dashboard_hint: str) -> dict[str, Any]:
    """The webhook's JSON body."""
    return {
        "agent": notice.agent,
        "status": notice.status,
        "reason": notice.reason,
        "since": datetime.fromtimestamp(notice.since, tz=timezone.utc).isoformat(timespec="seconds") if notice.since else None,
        "task": notice.task,
        "event": notice.event,
        "fleet": session,
        "title": notice.title,
        "text": notice.body,
        "dashboard": dashboard_hint,
    }


@dataclass(frozen=True)
class RateLimit:
    """Per agent: at most one notification every `interval` seconds; the ones held back are
    counted and said with the next (`+2 more`)."""

    interval: float
    last: tuple[tuple[str, float], ...] = ()
    held: tuple[tuple[str, int], ...] = ()

    def allow(self, agent: str, now: float) -> tuple[bool, int, "RateLimit"]:
        """(send it?, how many were held back before it, the new limit state)."""
        last, held = dict(self.last), dict(self.held)
        at = last.get(agent)
        if at is not None and now - at < self.interval:
            held[agent] = held.get(agent, 0) + 1
            return False, 0, RateLimit(self.interval, tuple(last.items()), tuple(held.items()))
        skipped = held.pop(agent, 0)
        last[agent] = now
        return True, skipped, RateLimit(self.interval, tuple(last.items()), tuple(held.items()))


def _osc_text(text: str) -> str:
    """Text safe inside an OSC string: no control characters (BEL or ESC would end it early)."""
    return one_line(text, TEXT_LIMIT)


def osc_notifications(title: str, body: str) -> bytes:
    """OSC 777 then OSC 9 for one notification (a terminal ignores the one it does not know)."""
    t, b = _osc_text(title).replace(";", ","), _osc_text(body)
    return f"\x1b]777;notify;{t};{b}\x07\x1b]9;{t}: {b}\x07".encode("utf-8", "replace")


def tmux_passthrough(data: bytes) -> bytes:
    """`data` wrapped for an outer tmux to pass on to its terminal (`allow-passthrough on`)."""
    return b"\x1bPtmux;" + data.replace(b"\x1b", b"\x1b\x1b") + b"\x1b\\"


def for_client(data: bytes, client_term: str) -> bytes:
    """What to write to a client's tty: wrapped when the client's terminal is itself a tmux or
    screen (a fleet attached from inside another multiplexer)."""
    return tmux_passthrough(data) if client_term.startswith(("tmux", "screen")) else data
