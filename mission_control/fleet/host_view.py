"""One view over every host (issue 22 point 2): the laptop's supervisor keeps one ssh connection
per host running `mission-control status --json --watch` there (a line per change of that host's
own fleet), and adds those agents, with their `host`, to the snapshot it writes — so the
dashboard, `status` and every reader see them as they see local ones, and no reader opens a
connection of its own. A host whose connection ends shows its agents UNREACHABLE (the reason
says since when, and what they last were); the connection is tried again, with a growing pause
(up to `RETRY_MAX`), until the host answers again.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from mission_control.adapters.ssh import SshHost
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.hosts import REMOTE_CONFIG, remote_dir
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status

LATENCY_EVERY = 10.0
"""Seconds between two measurements of a connected host's round trip (`true` there, over the master)."""
WATCH_RENEW = 8.0
"""Seconds between two requests that the host keep storing a watched agent's screen text (each lasts
`fleet/events.py` TAIL_WATCH_SECONDS there)."""
RETRY_FIRST = 1.0
RETRY_MAX = 10.0
"""Seconds between two attempts to reach a host that is down: doubling from RETRY_FIRST to this."""


def _clock_text(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%H:%M:%S UTC")


class HostFeed:
    """The latest snapshot of one host's fleet, kept by a thread reading its ssh connection."""

    def __init__(self, host: HostSpec, config: FleetConfig, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self.config = config
        self.clock = clock
        self.snapshot: FleetSnapshot | None = None
        """Its fleet as its own supervisor last reported it."""
        self.received_at: float | None = None
        """When that report arrived."""
        self.connected = False
        self.down_since: float | None = None
        """When its connection ended (None: up, or never tried)."""
        self.latency_ms: float | None = None
        """The last round trip to the host (None: not measured, or down)."""
        self.error = "not connected yet"
        """ssh's last word on why the connection ended."""
        self.proc: subprocess.Popen[str] | None = None
        self.tails: dict[str, str] = {}
        """Screen texts its supervisor stored since the laptop's last tick took them (`take_tails`)."""
        self._watched: dict[str, float] = {}
        """Agents whose tails the laptop watches there: when each was last asked for (`watch`)."""
        self._tails_lock = threading.Lock()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"host-{host.name}", daemon=True)

    def command(self) -> list[str]:
        folder = remote_dir(self.host.config_dir, self.config.session)
        return SshHost(self.host).argv(f"cd && cd {folder} && exec mission-control status --json --watch --tails -c {REMOTE_CONFIG}")

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def _run(self) -> None:
        pause = RETRY_FIRST
        while not self.stop.is_set():
            if self._follow():
                pause = RETRY_FIRST
            self.stop.wait(pause)
            pause = min(pause * 2, RETRY_MAX)

    def _follow(self) -> bool:
        """One connection, read until it ends: whether any snapshot came through it."""
        try:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, errors="replace")
        except OSError as exc:
            self._down(f"ssh cannot start: {exc}")
            return False
        last_err: list[str] = []
        reader = threading.Thread(target=lambda: last_err.extend(self.proc.stderr or []), daemon=True)  # type: ignore[union-attr]
        reader.start()
        got = False
        for line in self.proc.stdout or []:
            try:
                data = json.loads(line)
                snap = FleetSnapshot.from_json(data)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # not a snapshot line (a login banner, say)
            self._keep_tails(data.get("tails"))  # first: a WAITING row never reaches the laptop before its prompt
            self.snapshot, self.received_at, self.connected, self.down_since = snap, self.clock(), True, None
            got = True
        self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with self._tails_lock:
            self._watched.clear()  # a new connection's watcher is asked again
        reader.join(timeout=2)
        words = [w.strip() for w in last_err if w.strip()]
        self._down(words[-1] if words else f"ssh ended (exit status {self.proc.returncode})")
        return got

    def _keep_tails(self, tails: object) -> None:
        if isinstance(tails, dict):
            with self._tails_lock:
                self.tails.update((k, v) for k, v in tails.items() if isinstance(k, str) and isinstance(v, str))

    def take_tails(self) -> dict[str, str]:
        """The screen texts received since the last call (each agent's latest), for the laptop's store."""
        with self._tails_lock:
            tails, self.tails = self.tails, {}
        return tails

    def watch(self, names: set[str], now: float) -> None:
        """Ask the host to store these agents' screen texts every tick they change (a laptop's
        dashboard shows them), renewed every WATCH_RENEW s; names not of this host are left out."""
        proc, snap = self.proc, self.snapshot
        mine = {a.name for a in snap.agents} if snap else set(self.host.agents)
        with self._tails_lock:
            due = [n for n in sorted(names & mine) if now - self._watched.get(n, float("-inf")) >= WATCH_RENEW]
            if not due or proc is None or proc.stdin is None or not self.connected:
                return
            try:
                proc.stdin.write("".join(f"{n}\n" for n in due if "\n" not in n))
                proc.stdin.flush()
            except (OSError, ValueError):
                return  # the connection is ending: the next one is asked again
            self._watched.update((n, now) for n in due)

    def measure(self) -> None:
        """Time a round trip to the host over its master connection (while the feed is connected)."""
        if not self.connected:
            self.latency_ms = None
            return
        started = time.monotonic()
        r = SshHost(self.host).run("true", timeout=5)
        self.latency_ms = round((time.monotonic() - started) * 1000, 1) if r.returncode == 0 else None

    def _down(self, why: str) -> None:
        self.error = why
        if self.connected or self.down_since is None:
            self.down_since = self.clock()
        self.connected = False

    def agents(self) -> tuple[AgentSnapshot, ...]:
        """Its agents as the laptop shows them: as reported, or UNREACHABLE while its link is down;
        the configured ones, then those its fleet reports besides (spawned there, a role's)."""
        from dataclasses import replace

        known = {a.name: a for a in (self.snapshot.agents if self.snapshot else ())}
        out = []
        for name in [*self.host.agents, *(n for n in known if n not in self.host.agents)]:
            agent = known.get(name)
            if self.connected and agent is not None:
                out.append(replace(agent, host=self.host.name, host_latency_ms=self.latency_ms))
                continue
            if agent is None:
                agent = AgentSnapshot(name=name, kind="?")
            last = (f"; last seen {agent.status.value} at {_clock_text(self.received_at)}"
                    if self.received_at is not None and name in known else "; no snapshot from it yet")
            out.append(replace(agent, host=self.host.name, status=Status.UNREACHABLE, since=self.down_since,
                               reason=f"host {self.host.name!r} unreachable: {self.error}{last}", pane_id=None))
        return tuple(out)


class HostView:
    """Every host's feed: started by the supervisor, read each tick."""

    def __init__(self, config: FleetConfig) -> None:
        self.feeds = [HostFeed(host, config) for host in config.hosts]
        self.stop = threading.Event()

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()
        threading.Thread(target=self._measure, name="host-latency", daemon=True).start()

    def _measure(self) -> None:
        """Each host's round trip every LATENCY_EVERY s, and as soon as it (re)connects."""
        last: dict[str, float] = {}
        while not self.stop.wait(1.0):
            for feed in self.feeds:
                due = feed.latency_ms is None or time.monotonic() - last.get(feed.host.name, 0.0) >= LATENCY_EVERY
                if due and (feed.connected or feed.latency_ms is not None):
                    feed.measure()
                    last[feed.host.name] = time.monotonic()

    def close(self) -> None:
        self.stop.set()
        for feed in self.feeds:
            feed.close()

    def agents(self) -> tuple[AgentSnapshot, ...]:
        return tuple(a for feed in self.feeds for a in feed.agents())

    def take_tails(self) -> dict[str, str]:
        """Every host's screen texts received since the last call (`HostFeed.take_tails`)."""
        return {name: text for feed in self.feeds for name, text in feed.take_tails().items()}

    def watch(self, names: set[str], now: float) -> None:
        """The agents a laptop's dashboard shows the screen text of: each host asked to keep its own
        agents' texts coming (`HostFeed.watch`)."""
        for feed in self.feeds:
            feed.watch(names, now)
