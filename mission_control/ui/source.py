"""Where a dashboard gets its data: the supervisor's snapshots in the state store.

Dashboards never poll tmux or processes themselves: ten open dashboards cost
the fleet no more polling than one. Tests hand the app a `FixedSource`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from mission_control.adapters.store import StateReader, Store, StoreError, ensure_private_dir
from mission_control.adapters.supervisor_lock import supervisor_alive
from mission_control.core.config import FleetConfig
from mission_control.core.model import FleetSnapshot
from mission_control.core.tasks import Task


class FleetSource(Protocol):
    session: str

    def read(self) -> tuple[FleetSnapshot | None, frozenset[str] | None]: ...
    def latest(self) -> FleetSnapshot | None: ...
    def tail(self, agent: str) -> str: ...
    def watch_tail(self, agent: str, seconds: float) -> None: ...
    def supervisor_alive(self) -> bool: ...
    def recent_actions(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def status_changes(self, agent: str, limit: int = 10) -> list[dict[str, Any]]: ...
    def task_board(self, since: int | None = None) -> "BoardRead | None": ...


@dataclass(frozen=True)
class BoardRead:
    """The task board as the Tasks view reads it (issue 19 point 8)."""

    tasks: tuple[Task, ...]
    """Every task, in the order they were added."""
    measured: dict[str, dict[str, Any]]
    """Per task id, what `task list --json` says of it (`TaskBoard.measured`: shown state, who held
    it, the spend and commits of each finished holding)."""
    count: int
    """The `tasks` table's change count it was read at: nothing is read again until it moves."""


def read_board(store: Store, since: int | None, now: float | None = None) -> BoardRead | None:
    """The board, or None when the `tasks` table has not been written since count `since` (every
    change to a task, its history row included, is one write to it): an open Tasks view costs one
    small query a poll while nothing changes."""
    from mission_control.fleet.tasks import TaskBoard

    count = store.change_count("tasks")
    if since is not None and count == since:
        return None
    tasks = store.tasks()
    board = {t.id: t for t in tasks}
    events: dict[str, list[dict[str, Any]]] = {}
    for event in store.task_events():
        events.setdefault(event["task"], []).append(event)
    now = time.time() if now is None else now
    measured = {t.id: TaskBoard.measured(t, board, events.get(t.id, []), now) for t in tasks}
    return BoardRead(tuple(tasks), measured, count)


class StoreSource:
    """Reads a running fleet's state store (safe to call from a worker thread)."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.session = config.session
        self.store = Store(config.store_path)
        self.reader = StateReader(self.store)

    def read(self) -> tuple[FleetSnapshot | None, frozenset[str] | None]:
        """The fleet now (the same object while nothing changed) and the agents whose rows
        changed since the last read (None: all of them): only those rows are read and decoded."""
        self.store.check_file()  # an open connection reads from its cache: a damaged file would go unseen
        return self.reader.read()

    def latest(self) -> FleetSnapshot | None:
        return self.store.latest_snapshot()

    def tail(self, agent: str) -> str:
        return self.store.pane_tail(agent)

    def watch_tail(self, agent: str, seconds: float) -> None:
        """Have the supervisor store `agent`'s screen text each tick for the next `seconds`. A store
        this reader cannot write (read-only) only means the text comes less often: not an error."""
        try:
            self.store.watch_tail(agent, time.time() + seconds)
        except StoreError:
            pass

    def supervisor_alive(self) -> bool:
        return supervisor_alive(self.config.state_dir)

    def recent_actions(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.store.actions(limit)

    def status_changes(self, agent: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.store.status_changes(agent, limit)

    def task_board(self, since: int | None = None) -> BoardRead | None:
        return read_board(self.store, since)


def open_store_source(config: FleetConfig) -> StoreSource:
    """The running fleet's store, to read: a damaged, deleted or locked store is repaired by the
    fleet's supervisor within a tick or two, so it is tried again for a few ticks (at least 3 s)
    before its StoreError is raised."""
    ensure_private_dir(config.state_dir)
    deadline = time.monotonic() + max(3.0, 3 * config.poll_interval)
    while True:
        try:
            return StoreSource(config)
        except StoreError as exc:
            if exc.kind not in ("damaged", "missing", "locked") or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class FixedSource:
    """Fixed data, for snapshot tests and screenshots of a given moment."""

    snapshot: FleetSnapshot | None
    tails: dict[str, str] = field(default_factory=dict)
    alive: bool = True
    session: str = "mission-control"
    actions: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    board: BoardRead | None = None
    """The task board shown (None: no tasks)."""

    def read(self) -> tuple[FleetSnapshot | None, frozenset[str] | None]:
        return self.snapshot, None

    def latest(self) -> FleetSnapshot | None:
        return self.snapshot

    def tail(self, agent: str) -> str:
        return self.tails.get(agent, "")

    def watch_tail(self, agent: str, seconds: float) -> None:
        pass

    def supervisor_alive(self) -> bool:
        return self.alive

    def recent_actions(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.actions[-limit:]

    def status_changes(self, agent: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.changes.get(agent, [])[-limit:]

    def task_board(self, since: int | None = None) -> BoardRead | None:
        board = self.board or BoardRead((), {}, 0)
        return None if since == board.count else board
