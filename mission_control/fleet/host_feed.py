"""One view over several hosts (issue 22 point 2): each host's agents, fed into this fleet's snapshots.

Per `[[host]]` one long-lived `ssh HOST mission-control status --json --watch` (over the host's
ControlMaster connection, `adapters/ssh.py`) prints a snapshot line each time anything changed
there; a thread reads it. The supervisor adds each host's agents, with their `host`, to its own
snapshot every tick (`HostFeeds.agents`), so the store, `status --json`, the dashboard and
/metrics show them like its own — never a new ssh process per agent per tick. When the stream
ends (link cut, host down, its fleet stopped) its agents are shown UNREACHABLE with the age of
the last snapshot, and the feed connects again by itself (with backoff). The round trip to each
host is measured every PING_EVERY seconds over the same connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from mission_control.adapters.ssh import UNREACHABLE, SshHost
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.format import age
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.fleet.hosts import _in_dir

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
"""Seconds before connecting again after the stream ended (the last one repeats)."""
PING_EVERY = 10.0
"""Seconds between two round-trip measurements of a host's connection."""
MAX_LINE = 64 * 1024 * 1024
"""A snapshot line longer than this is not a snapshot (a broken or hostile host): the stream is dropped."""


class HostFeed:
    """One host's stream of snapshots, read by a thread of its own."""

    def __init__(self, host: HostSpec, config: FleetConfig, *, log_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self.config = config
        self.clock = clock
        self.ssh = SshHost(host)
        self.log_path = log_dir / f"host-{host.name}.ssh.log"
        """ssh's stderr of the current connection (its last line says why it ended)."""
        self.snapshot: FleetSnapshot | None = None
        """The host's last snapshot (None: none received yet)."""
        self.received_at: float | None = None
        """When the last snapshot line arrived (this machine's clock)."""
        self.connected = False
        """The stream is open: the host answered and its ssh still runs."""
        self.down_since: float | None = None
        """When the stream ended (None while connected or before the first attempt ended)."""
        self.error = ""
        """Why the last connection ended or failed, one line."""
        self.latency_ms: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    # -- the stream ----------------------------------------------------------------

    def command(self) -> list[str]:
        """The ssh command line of the stream (the host's config folder, its own `status --watch`)."""
        return self.ssh.argv(_in_dir(self.host, self.config, "exec mission-control status --json --watch -c agents.toml"))

    def start(self) -> "HostFeed":
        for target in (self._follow, self._ping):
            thread = threading.Thread(target=target, name=f"host-feed-{self.host.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def close(self) -> None:
        self.stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _follow(self) -> None:
        failures = 0
        while not self.stop.is_set():
            got = self._stream_once()
            failures = 0 if got else failures + 1
            self.stop.wait(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])

    def _stream_once(self) -> bool:
        """One connection: read snapshot lines until it ends. True when a snapshot came."""
        got = False
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=log, start_new_session=True)
        except OSError as exc:
            self._ended(f"cannot run ssh: {exc}")
            return False
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            if len(line) > MAX_LINE:
                break
            try:
                snap = FleetSnapshot.from_json(json.loads(line))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # not a snapshot line: skipped (a host's shell may print a banner)
            with self.lock:
                self.snapshot, self.received_at = snap, self.clock()
                self.connected, self.down_since, self.error = True, None, ""
            got = True
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        why = _last_line(self.log_path) or (f"ssh exited with {code}" if code else "its status stream ended")
        if code == UNREACHABLE and not _last_line(self.log_path):
            why = "the ssh connection was lost"
        self._ended(why)
        return got

    def _ended(self, why: str) -> None:
        with self.lock:
            if self.connected or self.down_since is None:
                self.down_since = self.clock()
            self.connected, self.error = False, why

    def _ping(self) -> None:
        """The round trip over the host's connection, every PING_EVERY s while the stream is open."""
        while not self.stop.wait(1.0 if self.latency_ms is None else PING_EVERY):
            if not self.connected:
                continue
            began = time.perf_counter()
            r = self.ssh.run("true", timeout=PING_EVERY)
            if r.returncode == 0:
                self.latency_ms = round((time.perf_counter() - began) * 1000, 1)

    # -- what the supervisor shows -----------------------------------------------------

    def agents(self, now: float) -> list[AgentSnapshot]:
        """The host's agents as this fleet shows them: its last snapshot's, with `host` (and, while
        the link is down, UNREACHABLE with the age of that snapshot); before the first snapshot,
        its configured agents as STARTING (connecting) or UNREACHABLE."""
        with self.lock:
            snap, received, connected, down_since, error = (self.snapshot, self.received_at, self.connected,
                                                           self.down_since, self.error)
        name, latency = self.host.name, self.latency_ms if connected else None
        if snap is None:
            if down_since is None:
                return [AgentSnapshot(a, "", Status.STARTING, f"connecting to host {name}", since=now, host=name)
                        for a in self.host.agents]
            reason = f"host {name} unreachable, no snapshot yet: {error}"
            return [AgentSnapshot(a, "", Status.UNREACHABLE, reason, since=down_since, host=name) for a in self.host.agents]
        if connected:
            return [replace(a, host=name, host_latency_ms=latency) for a in snap.agents]
        last = age(now - received) if received is not None else "?"
        reason = f"host {name} unreachable, last snapshot {last} ago: {error}"
        return [replace(a, status=Status.UNREACHABLE, reason=reason, since=down_since, host=name, host_latency_ms=None,
                        at_prompt=False) for a in snap.agents]


def _last_line(path: Path) -> str:
    try:
        text = path.read_bytes()[-4096:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class HostFeeds:
    """Every host's feed of one fleet (the supervisor's)."""

    def __init__(self, config: FleetConfig, clock: Callable[[], float] = time.time) -> None:
        log_dir = config.state_dir
        os.makedirs(log_dir, exist_ok=True)
        self.feeds = [HostFeed(host, config, log_dir=log_dir, clock=clock) for host in config.hosts]

    def start(self) -> "HostFeeds":
        for feed in self.feeds:
            feed.start()
        return self

    def agents(self, now: float) -> list[AgentSnapshot]:
        return [a for feed in self.feeds for a in feed.agents(now)]

    def close(self) -> None:
        for feed in self.feeds:
            feed.close()
