"""Restart with backoff: whether, and when, an exited agent is started again (pure).

`restart = "on-failure" | "always" | "never"` (issue 21 point 3; agent-deck #114, Agent of
Empires #1722 ask for it): an agent whose process exited non-zero (any exit under `always`) is
started again with its resume command after a delay that doubles from `restart_delay` up to
`RESTART_DELAY_CAP`, at most `max_restarts` times within `RESTART_WINDOW`; one more failure
after that is a crash loop, left alone (STUCK `crash loop`, see core/status.py). A clean exit 0
under `on-failure` stays EXITED. The state (`RestartState`) is kept in the state store, so a
supervisor started again goes on counting where the last one stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

RESTART_POLICIES = ("never", "on-failure", "always")
RestartPolicy = Literal["never", "on-failure", "always"]
RESTART_WINDOW = 600.0
"""Restarts counted against `max_restarts` are those of the last ten minutes."""
RESTART_DELAY_CAP = 300.0
"""The longest wait before a restart, however many came before it."""


@dataclass(frozen=True)
class RestartState:
    """What is remembered of one agent's restarts (JSON in the store's meta table)."""

    restarts: tuple[float, ...] = ()
    """When it was restarted, within the last `RESTART_WINDOW` (older ones are dropped)."""
    total: int = 0
    """Restarts since the fleet came up (shown on the dashboard)."""
    dead_run: float | None = None
    """The launch time of the exited run being waited on (a new launch is a new run)."""
    dead_since: float | None = None
    """When that run was first seen exited: the delay counts from here."""

    def to_text(self) -> str:
        return json.dumps({"restarts": list(self.restarts), "total": self.total,
                           "dead_run": self.dead_run, "dead_since": self.dead_since})

    @classmethod
    def from_text(cls, text: str | None) -> "RestartState":
        """A stored state; a missing or damaged one is a fresh start."""
        try:
            data = json.loads(text or "{}")
            return cls(tuple(float(t) for t in data.get("restarts", [])), int(data.get("total", 0)),
                       _number(data.get("dead_run")), _number(data.get("dead_since")))
        except (ValueError, TypeError, AttributeError):
            return cls()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RestartDecision:
    action: Literal["none", "wait", "restart", "give-up"]
    """none: the policy does not restart this exit; wait: not yet (until `at`); restart: now;
    give-up: `max_restarts` were used within the window (a crash loop)."""
    at: float | None = None
    """When the restart is due (wait and restart)."""
    recent: int = 0
    """Restarts within the window before this one."""


def applies(policy: str, exit_status: int | None) -> bool:
    """Whether the policy restarts an exit with this status (None: unknown, which is no failure)."""
    if policy == "always":
        return True
    return policy == "on-failure" and exit_status not in (0, None)


def backoff(delay: float, recent: int) -> float:
    """The wait before the restart that follows `recent` restarts: `delay` doubled each time, capped."""
    return min(delay * (2 ** min(recent, 30)), max(RESTART_DELAY_CAP, delay))


def decide(policy: str, exit_status: int | None, launched_at: float, state: RestartState, now: float,
           delay: float, max_restarts: int) -> tuple[RestartDecision, RestartState]:
    """For an agent whose pane is dead (its run launched at `launched_at`): what to do now, and
    the state to keep."""
    if not applies(policy, exit_status):
        return RestartDecision("none"), state
    recent = tuple(t for t in state.restarts if now - t < RESTART_WINDOW)
    dead_since = state.dead_since if state.dead_run == launched_at and state.dead_since is not None else now
    state = RestartState(recent, state.total, launched_at, dead_since)
    if len(recent) >= max_restarts:
        return RestartDecision("give-up", recent=len(recent)), state
    due = dead_since + backoff(delay, len(recent))
    if now < due:
        return RestartDecision("wait", due, len(recent)), state
    return RestartDecision("restart", due, len(recent)), state


def restarted(state: RestartState, now: float) -> RestartState:
    """The state after a restart made at `now`."""
    return RestartState((*state.restarts, now), state.total + 1, None, None)
