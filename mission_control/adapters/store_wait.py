"""Waiting for the state store to change, without reading it (issue 20 point 3).

A follower (`events --follow`, `status --json --watch`) sleeps until a file of the store
changes: the database, its WAL (every write: the supervisor's, a command's action) or the
supervisor's heartbeat (`state.db-tick`, touched each tick that changed nothing). Each look is
three `stat` calls, never a query and never tmux: a quiet fleet costs its followers next to
nothing, and a change is seen within `STEP` seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from mission_control.adapters.store import HEARTBEAT_SUFFIX

STEP = 0.1
"""Seconds between two looks at the files' times."""


def store_stamp(path: Path) -> tuple[tuple[int, int, int] | None, ...]:
    """(inode, size, mtime in ns) of the store, its WAL and its heartbeat (None: missing)."""
    out = []
    for name in (path.name, path.name + "-wal", path.name + HEARTBEAT_SUFFIX):
        try:
            st = os.stat(path.with_name(name))
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def wait_for_change(path: Path, stamp: tuple[tuple[int, int, int] | None, ...], timeout: float,
                    clock=time.monotonic, sleep=time.sleep,
                    gone: Callable[[], bool] = lambda: False) -> tuple[tuple[int, int, int] | None, ...]:
    """Sleep until the store's files differ from `stamp`, `timeout` seconds passed, or `gone()`
    (whoever waits has no reason to any more): the new stamp."""
    deadline = clock() + timeout
    while True:
        now = store_stamp(path)
        if now != stamp or clock() >= deadline or gone():
            return now
        sleep(STEP)
