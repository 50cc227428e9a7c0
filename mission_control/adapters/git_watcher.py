"""Every agent's git progress, kept current by one background thread: a tick reads the
latest figures and never waits for git.

Each pass (every `PASS_EVERY` seconds) stats each agent's refs, HEAD and index (`GitProbe`)
and asks git only for the agents where one of them changed: commits appear within a pass.
Unstaged edits change none of those files, so the working-tree status (`git status`, the
one costly question: ~2 ms in a small repo, 100 ms and more in a large one) is asked
again only when it may have changed, and fleet-wide at a bounded rate:

* an agent that showed activity (its screen changed or it used CPU) since its last
  status: again after `STATUS_EVERY` seconds;
* a quiet agent (someone else may still edit its files): after `QUIET_STATUS_EVERY`;
* at most `STATUS_PER_SECOND` status calls a second for the whole fleet, the longest
  waiting first -- so 100 agents cost what a few do.

Without the thread (`start()` not called: a one-off poll, tests), `run_once()` does a pass.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mission_control.adapters.git_progress import GitProbe, Stat
from mission_control.adapters.git_repo import GitError
from mission_control.core.progress import GitProgress

PASS_EVERY = 2.0
STATUS_EVERY = 10.0
QUIET_STATUS_EVERY = 300.0
STATUS_PER_SECOND = 2.0


@dataclass
class _Watched:
    probe: GitProbe
    progress: GitProgress | None = None
    active_at: float | None = None
    """When the agent last showed activity (monotonic)."""
    status_at: float | None = None
    """When its working-tree status was last read (monotonic)."""
    polled: bool = False
    """Asked at least once (whether git answered or not)."""


class GitWatcher:
    def __init__(
        self, *, pass_every: float = PASS_EVERY, status_every: float = STATUS_EVERY,
        quiet_status_every: float = QUIET_STATUS_EVERY, status_per_second: float = STATUS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pass_every = pass_every
        self.status_every = status_every
        self.quiet_status_every = quiet_status_every
        self.status_per_second = status_per_second
        self.clock = clock
        self.passes = 0
        self._agents: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._tokens = 1.0
        self._tokens_at: float | None = None

    # -- what the supervisor tells it and reads from it

    def watch(self, name: str, probe: GitProbe) -> None:
        """Follow `probe` for `name` (instead of the one it had, if any), from the next pass on,
        which starts at once."""
        with self._lock:
            self._agents[name] = _Watched(probe)
        self._wake.set()

    def forget(self, name: str) -> None:
        with self._lock:
            self._agents.pop(name, None)

    def keep_only(self, names: set[str]) -> None:
        with self._lock:
            for gone in set(self._agents) - names:
                del self._agents[gone]

    def saw_activity(self, name: str) -> None:
        entry = self._agents.get(name)
        if entry is not None:
            entry.active_at = self.clock()

    def caught_up(self) -> bool:
        """Every watched agent has been read at least once."""
        with self._lock:
            return all(e.polled for e in self._agents.values())

    def progress(self, name: str) -> GitProgress | None:
        entry = self._agents.get(name)
        return entry.progress if entry is not None else None

    # -- the work

    def run_once(self) -> None:
        """One pass over every watched agent."""
        now = self.clock()
        if self._tokens_at is not None:
            # the bucket holds one pass's worth: the rate holds on average, with no burst after a pause
            cap = max(1.0, self.status_per_second * self.pass_every)
            self._tokens = min(cap, self._tokens + (now - self._tokens_at) * self.status_per_second)
        self._tokens_at = now
        with self._lock:
            entries = list(self._agents.values())
        due = sorted((e for e in entries if self._status_due(e, now)), key=lambda e: e.status_at or 0.0)
        granted = set()
        for e in due:
            if self._tokens < 1.0:
                break
            self._tokens -= 1.0
            granted.add(id(e))
        shared: dict[str, Stat] = {}  # a repo's packed-refs and base branch: stat'ed once a pass
        for e in entries:
            probe = e.probe
            before = probe.refreshes + probe.status_checks
            try:
                e.progress = probe.poll(status=id(e) in granted, shared_stats=shared)
            except GitError:
                e.progress = probe.last
            if probe.refreshes + probe.status_checks != before:
                e.status_at = self.clock()
            e.polled = True
        self.passes += 1

    def _status_due(self, e: _Watched, now: float) -> bool:
        if e.status_at is None:
            return False  # its first poll reads everything
        active = e.active_at is not None and e.active_at > e.status_at
        return now - e.status_at >= (self.status_every if active else self.quiet_status_every)

    # -- the thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="git-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = self.clock()
            try:
                self.run_once()
            except Exception as exc:  # one bad pass must not end the watching
                print(f"mission-control supervise: git pass failed: {exc!r}", file=sys.stderr, flush=True)
            took = self.clock() - began
            self._wake.wait(max(self.pass_every - took, 0.05))
            self._wake.clear()
