"""The values the whole program passes around: agent statuses and snapshots.

Pure data. No I/O here: adapters fill these in, the core decides on them,
the UI and `status --json` render them.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields, replace
from functools import cached_property
from operator import attrgetter
from datetime import datetime, timezone
from typing import Any


class Status(str, enum.Enum):
    """What an agent is doing, as a supervisor needs to know it."""

    STARTING = "STARTING"
    WORKING = "WORKING"
    WAITING = "WAITING"  # needs a human: permission prompt, question, login dialog
    IDLE = "IDLE"  # finished its turn, sits at its own prompt
    STUCK = "STUCK"  # cannot make progress; `reason` says why
    PAUSED = "PAUSED"  # stopped by SIGSTOP (ours or anybody's)
    EXITED = "EXITED"  # its process is gone; `exit_code` says how
    UNREACHABLE = "UNREACHABLE"  # on another host whose link is down: its last snapshot's status is in `reason` (issue 22)

    @property
    def needs_human(self) -> bool:
        return self in (Status.WAITING, Status.STUCK)


def iso(ts: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds" if ts % 1 else "seconds")


@dataclass(frozen=True)
class TokenUsage:
    """Token counts with one meaning across agent kinds.

    `input` is fresh (uncached) input, so `input + cache_read + cache_write`
    is all the input the model read.
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


@dataclass(frozen=True)
class AgentSnapshot:
    """Everything known about one agent at one tick of the supervisor."""

    name: str
    kind: str
    status: Status = Status.STARTING
    reason: str = ""
    since: float | None = None
    pane_id: str | None = None
    pid: int | None = None
    task: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cache_read: int | None = None
    tokens_cache_write: int | None = None
    cost_usd: float | None = None
    cost_source: str | None = None
    budget_usd: float | None = None
    commits: int | None = None
    ahead: int | None = None
    behind: int | None = None
    dirty_files: int | None = None
    last_commit: dict[str, Any] | None = None
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    last_line: str = ""
    exit_code: int | None = None
    evidence: str = ""
    turns: int = 0
    window: str | None = None
    at_prompt: bool = False
    """The agent sits at its own prompt (text typed now would start a new turn, not interrupt one)."""
    models: tuple[str, ...] = ()
    spend_history: tuple[float, ...] = ()
    """Cumulative cost sampled once a minute (oldest first), for the sparkline."""
    budget_state: str = ""
    """"" (no budget), "ok", "warn" (past the warning fraction) or "over"."""
    task_id: str | None = None
    task_cost_usd: float | None = None
    """Spend since the agent took its current task."""
    lines_added: int | None = None
    lines_removed: int | None = None
    recent_commits: tuple[dict[str, Any], ...] = ()
    time_in: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each status since the agent's current process started."""
    resume_at: float | None = None
    """When the supervisor resumes it (STUCK on a usage limit whose reset it printed; issue 21)."""
    restarts: int = 0
    """Times its restart policy started it again since the fleet came up."""
    host: str | None = None
    """The `[[host]]` it runs on (None: this machine), as its host's own fleet reports it (issue 22)."""
    host_latency_ms: float | None = None
    """Its host's round trip over the laptop's ssh connection (a command there and back), last measured."""

    def to_json(self, compact: bool = False) -> dict[str, Any]:
        """`compact`: without the fields that hold their default (what the state store keeps:
        `from_json` puts them back)."""
        # a shallow copy: the nested values are plain JSON already (asdict's deep copy costs
        # milliseconds per tick at 100 agents)
        data = {name: getattr(self, name) for name in _AGENT_FIELDS}
        if compact:
            data = {k: v for k, v in data.items() if k not in _DEFAULTS or v != _DEFAULTS[k]}
        data["status"] = self.status.value
        data["since"] = iso(self.since)
        if "resume_at" in data:
            data["resume_at"] = iso(self.resume_at)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentSnapshot:
        values = {k: v for k, v in data.items() if k in _KNOWN_FIELDS}
        values["status"] = Status(values.get("status", "STARTING"))
        for name in ("models", "spend_history", "recent_commits"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        since = values.get("since")
        if isinstance(since, str):
            values["since"] = datetime.fromisoformat(since).timestamp()
        resume_at = values.get("resume_at")
        if isinstance(resume_at, str):
            values["resume_at"] = datetime.fromisoformat(resume_at).timestamp()
        return cls(**values)


    def change_key(self) -> tuple[Any, ...]:
        """Everything about the agent that can change, except the growing time in its current
        status: equal keys on two ticks mean its stored row need not be written again (readers
        add the time since that row was written to `time_in`, see `carried_to`)."""
        current = self.status.value
        return _keyed(self), tuple(sorted((k, v) for k, v in self.time_in.items() if k != current))

    def carried_to(self, written_at: float, now: float) -> AgentSnapshot:
        """This agent as stored at `written_at`, shown at `now`: the status it had then has gone on
        since (a row is written again whenever anything else about it changes)."""
        if now <= written_at:
            return self
        current = self.status.value
        time_in = dict(self.time_in)
        time_in[current] = round(time_in.get(current, 0.0) + (now - written_at), 1)
        return replace(self, time_in=time_in)


_AGENT_FIELDS = tuple(f.name for f in fields(AgentSnapshot))
_KNOWN_FIELDS = frozenset(_AGENT_FIELDS)
_DEFAULTS = {f.name: (f.default if f.default is not MISSING else f.default_factory()) for f in fields(AgentSnapshot)  # type: ignore[misc]
             if f.default is not MISSING or f.default_factory is not MISSING}
"""Worked out once: every dashboard read decodes every agent."""
_keyed = attrgetter(*(name for name in _AGENT_FIELDS if name != "time_in"))


@dataclass(frozen=True)
class FleetSnapshot:
    """One tick's view of the whole fleet, as the supervisor wrote it."""

    taken_at: float
    session: str
    agents: tuple[AgentSnapshot, ...] = field(default_factory=tuple)
    tick_ms: float | None = None
    supervisor_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": iso(self.taken_at),
            "session": self.session,
            "tick_ms": self.tick_ms,
            "supervisor_pid": self.supervisor_pid,
            "agents": [a.to_json() for a in self.agents],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetSnapshot:
        taken = data.get("taken_at")
        return cls(
            taken_at=datetime.fromisoformat(taken).timestamp() if isinstance(taken, str) else float(taken or 0),
            session=data.get("session", ""),
            tick_ms=data.get("tick_ms"),
            supervisor_pid=data.get("supervisor_pid"),
            agents=tuple(AgentSnapshot.from_json(a) for a in data.get("agents", [])),
        )

    def agent(self, name: str) -> AgentSnapshot | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, AgentSnapshot]:
        """Agents by name, made once per snapshot: the dashboard looks agents up every tick."""
        by_name: dict[str, AgentSnapshot] = {}
        for a in self.agents:
            by_name.setdefault(a.name, a)  # the first of a name, as a scan would find it
        return by_name


def changed_agents(before: FleetSnapshot, after: FleetSnapshot) -> frozenset[str]:
    """Names of the agents of `after` that are new or differ from `before`'s, or that left."""
    old = before._by_name
    out = {a.name for a in after.agents if old.get(a.name) is not a and old.get(a.name) != a}
    out.update(name for name in old if after.agent(name) is None)
    return frozenset(out)
