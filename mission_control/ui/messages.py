"""Every Textual message the dashboard posts, in one place.

Named as facts (something was observed, read or finished); the frequent ones (a snapshot, a
pane tail) `can_replace` a stale one still queued, so a slow UI catches up with the latest
rather than replaying every tick. Workers post them from their threads; the app's
`on_<name>` handlers update the widgets on the UI thread.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from mission_control.core.model import FleetSnapshot


class FleetObserved(Message):
    """The store worker read a (new) snapshot, and whether the supervisor is alive."""

    def __init__(self, snapshot: FleetSnapshot | None, alive: bool, *, changed: frozenset[str] | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.alive = alive
        self.changed = changed
        """The agents whose snapshot differs from the previous FleetObserved's (None: unknown,
        the receiver compares them itself)."""

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot replaces this one still queued; what changed in either changed since
        the one shown, so the newer one carries both."""
        if not isinstance(message, FleetObserved):
            return False
        if self.changed is None or message.changed is None:
            message.changed = None
        else:
            message.changed = self.changed | message.changed
        return True


class TailRead(Message):
    """The store worker read the selected agent's pane tail and status history."""

    def __init__(self, agent: str, tail: str, changes: list[dict[str, Any]]) -> None:
        super().__init__()
        self.agent = agent
        self.tail = tail
        self.changes = changes

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TailRead)


class StoreReadFailed(Message):
    """Reading the store failed (shown once, then retried)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ActionFinished(Message):
    """An action worker finished: its outcomes, or the text it produced (a diff stat), to show.
    A worker that raised is reported by the app's one worker-error handler instead."""

    def __init__(self, what: str, outcomes: list[Any], text: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.outcomes = outcomes
        self.text = text


class BoardObserved(Message):
    """The Tasks view's worker read the task board (it changed since the last read)."""

    def __init__(self, board: Any) -> None:
        super().__init__()
        self.board = board
        """A `ui.source.BoardRead`."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardObserved)
