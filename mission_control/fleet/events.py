"""`mission-control events` and `status --json --watch`: the fleet's changes as they happen (issue 20 point 3).

Both read the state store only (no tmux, no process polling): they sleep until one of the
store's files changes (`adapters/store_wait.py`: the supervisor's writes and its tick heartbeat,
and every command's action), then read what is new — events after the last `seq` printed
(`Store.events_since`), or the agents' rows written since the last read (`StateReader`).
A follower outlives its fleet's supervisor: it says on stderr when the supervisor stops and when
it is back, and goes on; a store being repaired (deleted, damaged, locked) is waited for.
"""

from __future__ import annotations

import errno
import json
import select
import threading
import time
from typing import Callable, TextIO

from mission_control.adapters.store import StateReader, Store, StoreError
from mission_control.adapters.store_wait import store_stamp, wait_for_change
from mission_control.adapters.supervisor_lock import supervisor_alive
from mission_control.core.config import FleetConfig
from mission_control.core.errors import MissionControlError
from mission_control.core.events import event_json, event_line, resume_note
from mission_control.core.terminal_text import inert

BATCH = 500
"""Events read per query (a reader far behind catches up in batches, printing as it goes)."""
LOOK_EVERY = 2.0
"""Seconds a follower waits on a quiet store at most before it looks again (whether the supervisor still runs)."""
REPAIRABLE = ("damaged", "missing", "locked")
"""Store faults the fleet's supervisor repairs within a tick or two: a follower waits them out."""


class NoStore(MissionControlError):
    """The fleet has no state store yet (it never ran): nothing to read (exit 1)."""


def _open(config: FleetConfig) -> Store:
    if not config.store_path.exists():
        raise NoStore(f"{config.store_path}: no state store (fleet {config.session!r} has never run here): "
                      "start it with `mission-control up`")
    return Store(config.store_path)


class _Follower:
    """The loop both commands share: read, print, wait for the store to change; say on `err`
    when the supervisor goes away or comes back, and when the store cannot be read for a while."""

    def __init__(self, config: FleetConfig, out: TextIO, err: TextIO) -> None:
        self.config = config
        self.out = out
        self.err = err
        self.alive = supervisor_alive(config.state_dir)
        self.missed = False
        """It said the supervisor stopped (and will say when it is back)."""
        self.faulty: str | None = None

    def say(self, text: str) -> None:
        print(inert(f"mission-control: {text}"), file=self.err, flush=True)

    def run(self, step: Callable[[], None]) -> None:
        path = self.config.store_path
        while True:
            stamp = store_stamp(path)  # before the read: a write during it wakes the next wait
            try:
                step()
            except StoreError as exc:
                if exc.kind not in REPAIRABLE:
                    raise
                if self.faulty != str(exc):
                    self.faulty = str(exc)
                    self.say(f"{exc} (waiting for it)")
            else:
                if self.faulty is not None:
                    self.faulty = None
                    self.say("state store readable again")
            wait_for_change(path, stamp, LOOK_EVERY, gone=self.reader_gone)
            if self.reader_gone():
                raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")
            self._look_at_supervisor()

    def reader_gone(self) -> bool:
        """The pipe our output goes into has no reader any more (`| head -1` got its line): a quiet
        follower learns it here rather than at a next write that may never come."""
        try:
            fd = self.out.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))

    def _look_at_supervisor(self) -> None:
        """Say when a supervisor seen running stops, and when it is back (a fleet still starting says nothing)."""
        alive = supervisor_alive(self.config.state_dir)
        if alive != self.alive:
            if not alive or self.missed:
                self.say(f"fleet {self.config.session!r}: its supervisor " + (
                    "is running again" if alive else "is not running (stopped by `down`, restarting, or crashed): still following"))
            self.alive, self.missed = alive, not alive


def print_events(config: FleetConfig, *, since: int | None, follow: bool, as_json: bool,
                 out: TextIO, err: TextIO) -> int:
    """Print the events after `since` (all kept without it; with `follow` and no `since`: only new
    ones), then with `follow` each new one as it is written, until interrupted."""
    store = _open(config)
    follower = _Follower(config, out, err)
    pruned, latest = store.event_bounds()
    if since is None:
        cursor = latest if follow else 0
    else:
        cursor, note = resume_note(since, pruned, latest)
        if note:
            follower.say(note)
    show = event_json if as_json else (lambda e: inert(event_line(e)))

    def step() -> None:
        nonlocal cursor
        while True:
            batch = store.events_since(cursor, BATCH)
            if not batch:
                return
            out.write("".join(show(e) + "\n" for e in batch))
            out.flush()
            cursor = batch[-1]["seq"]
            if len(batch) < BATCH:
                return

    if not follow:
        step()
        return 0
    follower.run(step)
    return 0  # not reached: a follower ends by Ctrl-C or a closed pipe


def watch_status(config: FleetConfig, *, out: TextIO, err: TextIO, tails: bool = False,
                 watch_in: TextIO | None = None) -> int:
    """Print the fleet's snapshot (`FleetSnapshot.to_json`, one line) now and each time an agent's
    row changed, until interrupted. Ticks that changed nothing print nothing.

    `tails` (the laptop's feed of this host, issue 22: `fleet/host_view.py`): each line also
    carries `tails`, {agent: screen text} of the pane tails the supervisor stored since the last
    line (as rate-limited as it stores them: every TAIL_EVERY s at most, at once on a status change,
    every tick while watched), and a line is printed when only those changed; `watch_in`: agent
    names, one a line, each watched for TAIL_WATCH_SECONDS (as the laptop's dashboard watches them)."""
    store = _open(config)
    reader = StateReader(store)
    follower = _Follower(config, out, err)
    seen: dict[str, float] = {}
    if tails and watch_in is not None:
        threading.Thread(target=_watch_tails, args=(config, watch_in), name="tail-watch", daemon=True).start()

    def step() -> None:
        snap, changed = reader.read()
        new = store.pane_tails_since(seen) if tails else {}
        if snap is not None and (changed is None or changed or new):
            line = snap.to_json()
            if new:
                seen.update((agent, at) for agent, (at, _) in new.items())
                line["tails"] = {agent: text for agent, (_, text) in new.items()}
            out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
            out.flush()

    follower.run(step)
    return 0


TAIL_WATCH_SECONDS = 20.0
"""How long one name read by `_watch_tails` keeps its agent's tail watched (the laptop renews it sooner)."""
NAME_LINE_MAX = 256
"""A longer line on the watch input is not an agent's name: skipped."""


def _watch_tails(config: FleetConfig, watch_in: TextIO) -> None:
    """Each name read from `watch_in`: its agent's tail watched in this host's store (`Store.watch_tail`),
    until the input ends. A store that cannot take it now misses that renewal only."""
    store = Store(config.store_path)
    whole = True  # the last piece read ended its line
    for piece in iter(lambda: watch_in.readline(NAME_LINE_MAX + 1), ""):
        started, whole = whole, piece.endswith("\n")
        name = piece.strip()
        if not name or not (started and whole):
            continue  # a blank line, or a piece of one too long to be a name
        try:
            store.watch_tail(name, time.time() + TAIL_WATCH_SECONDS)
        except StoreError:
            pass
