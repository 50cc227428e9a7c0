"""Prometheus metrics of the fleet (issue 20), served by its supervisor at `/metrics`.

Two pure steps and a collector between them:

- `advance(state, snapshot, agents, tasks, tick_seconds)`, once per supervisor tick, folds the
  tick's snapshot into a new immutable `MetricsState`: the counters (tokens, cost, time in each
  status, restarts) kept monotone, the task board counted by shown state, the tick's duration
  put in the histogram's buckets;
- `families(state, now)`, at scrape time, turns the latest state into metric families.

`FleetCollector` holds the latest state (swapped whole by the supervisor's thread, read by the
HTTP threads) and is the one collector of a private registry: nothing is registered per tick
or per agent, so an agent that goes away leaves no series behind — its series are simply not
built at the next scrape. Labels are bounded values only (agent names, kinds, roles and task
ids are checked names; statuses and states are fixed lists); free text (reasons, prompts,
output) never becomes a label.

Counters are real counters. Each follows its source (the agent's `status --json` value) while
that goes up; when the source goes down — the agent's process or meter started over — the
counter keeps what it had counted and adds the new run's amount on top, so it never decreases
(Prometheus would read such a drop as a reset and count the same). A counter resets only when
the supervisor restarts (it starts again from the agents' current values) or when its agent
leaves the fleet. The fleet totals add up every agent's increases, so spend of an agent that
left stays counted.
"""

from __future__ import annotations

import bisect
import sys
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from mission_control.adapters.metrics_http import METRICS_ADDRESS_KEY, MetricsBindError, MetricsServer
from mission_control.adapters.store import Store, StoreError
from mission_control.core.config import FleetConfig
from mission_control.core.listen_address import exposure_problem, parse_listen_address
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.records import AgentRecord
from mission_control.core.tasks import STATES, Task, shown_state

if TYPE_CHECKING:
    from mission_control.fleet.supervisor import Supervisor

PREFIX = "mission_control"
STATUSES = tuple(s.value for s in Status)
TOKEN_TYPES = (("input", "tokens_in"), ("output", "tokens_out"), ("cache_read", "tokens_cache_read"),
               ("cache_write", "tokens_cache_write"))
"""`type` label (the OpenTelemetry GenAI token types) -> the `status --json` field it counts."""
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the tick-duration histogram: the benchmark's ticks run 20-80 ms."""
AGENT_LABELS = ("agent", "kind", "role", "task", "host")
"""Every per-agent series carries these (`role`, `task` empty when it has none; `host` "local"
for this machine's agents, else the `[[host]]` it runs on: issue 22 point 4)."""


@dataclass(frozen=True)
class Monotone:
    """One counter fed by a source that may start over."""

    seen: float
    """The source's value at the last tick."""
    value: float
    """What the counter shows: never less than before."""


def follow(counter: Monotone | None, source: float) -> tuple[Monotone, float]:
    """The counter after its source reads `source`, and by how much it grew. A source that went
    down started over: the counter adds the new run's amount (all of it) on top."""
    if counter is None:
        return Monotone(source, source), source
    grew = source - counter.seen if source >= counter.seen else source
    return Monotone(source, counter.value + grew), grew


@dataclass(frozen=True)
class AgentState:
    """What the metrics keep of one agent between ticks."""

    labels: tuple[str, ...]
    """Values of `AGENT_LABELS`."""
    counters: Mapping[str, Monotone]
    """Series key (`tokens:input`, `cost`, `status:WAITING`, ...) -> its counter."""
    launched_at: float | None
    restarts: int = 0
    """Process starts after the first one this supervisor saw."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative-bucket histogram, as Prometheus exposes one."""

    buckets: tuple[int, ...] = (0,) * (len(TICK_BUCKETS) + 1)
    """Observations per bucket (not cumulative), the last one for +Inf."""
    total: float = 0.0

    def observe(self, value: float) -> Histogram:
        i = bisect.bisect_left(TICK_BUCKETS, value)
        counts = list(self.buckets)
        counts[i] += 1
        return Histogram(tuple(counts), self.total + value)


@dataclass(frozen=True)
class MetricsState:
    """Everything a scrape shows, as of the last tick."""

    snapshot: FleetSnapshot | None = None
    agents: Mapping[str, AgentState] = field(default_factory=lambda: MappingProxyType({}))
    fleet: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Fleet counters: the sum of every agent's increases (`tokens:input`, ..., `cost`)."""
    tasks: Mapping[str, int] | None = None
    """Tasks by shown state; None before the board was read."""
    ticks: Histogram = field(default_factory=Histogram)


def role_label(rec: AgentRecord | None) -> str:
    """The agent's roles, comma-separated ("" without)."""
    return ",".join(rec.spec.roles) if rec is not None else ""


def _sources(agent: AgentSnapshot) -> dict[str, float]:
    """The agent's counted values as `status --json` has them (an unknown one is left out)."""
    out: dict[str, float] = {}
    for kind, attr in TOKEN_TYPES:
        value = getattr(agent, attr)
        if value is not None:
            out[f"tokens:{kind}"] = float(value)
    if agent.cost_usd is not None:
        out["cost"] = float(agent.cost_usd)
    for status in STATUSES:  # every status, 0 for those not visited: a series that exists before its first second
        out[f"status:{status}"] = float(agent.time_in.get(status, 0.0))
    return out


def advance(state: MetricsState, snapshot: FleetSnapshot, agents: Iterable[AgentRecord],
            tasks: Iterable[Task] | None, tick_seconds: float | None) -> MetricsState:
    """The state after one supervisor tick (pure). `tasks` None: the board could not be read
    this tick (its last counts stay)."""
    records = {rec.name: rec for rec in agents}
    fleet = dict(state.fleet)
    kept: dict[str, AgentState] = {}
    for agent in snapshot.agents:
        rec = records.get(agent.name)
        before = state.agents.get(agent.name)
        counters = dict(before.counters) if before else {}
        for key, source in _sources(agent).items():
            counters[key], grew = follow(counters.get(key), source)
            if not key.startswith("status:"):
                fleet[key] = fleet.get(key, 0.0) + grew
        launched = rec.launched_at if rec is not None else (before.launched_at if before else None)
        restarts = before.restarts if before else 0
        if before is not None and launched is not None and before.launched_at is not None and launched != before.launched_at:
            restarts += 1
        labels = (agent.name, agent.kind, role_label(rec), agent.task_id or "", agent.host or "local")
        kept[agent.name] = AgentState(labels, MappingProxyType(counters), launched, restarts)
    counts = state.tasks
    if tasks is not None:
        tasks = list(tasks)
        board = {t.id: t for t in tasks}
        by_state = dict.fromkeys(STATES, 0)
        for task in tasks:
            shown = shown_state(task, board)
            by_state[shown] = by_state.get(shown, 0) + 1
        counts = MappingProxyType(by_state)
    ticks = state.ticks.observe(tick_seconds) if tick_seconds is not None else state.ticks
    return MetricsState(snapshot, MappingProxyType(kept), MappingProxyType(fleet), counts, ticks)


def host_families(snap: FleetSnapshot) -> list[Metric]:
    """Per `[[host]]` with agents (issue 22): whether the laptop reaches it now, and its last round
    trip over ssh (only where measured). None of them for a fleet of this machine only."""
    hosts: dict[str, list[AgentSnapshot]] = {}
    for agent in snap.agents:
        if agent.host:
            hosts.setdefault(agent.host, []).append(agent)
    if not hosts:
        return []
    up = GaugeMetricFamily(_name("host_reachable"), "1 while the host's status stream is connected, 0 while it is UNREACHABLE.",
                           labels=["host"])
    latency = GaugeMetricFamily(_name("host_latency_seconds"), "The host's last round trip over its ssh connection.",
                                labels=["host"])
    for host, agents in sorted(hosts.items()):
        up.add_metric([host], 0.0 if all(a.status is Status.UNREACHABLE for a in agents) else 1.0)
        measured = next((a.host_latency_ms for a in agents if a.host_latency_ms is not None), None)
        if measured is not None:
            latency.add_metric([host], measured / 1000)
    return [up, latency]


def _name(*parts: str) -> str:
    return "_".join((PREFIX, *parts))


def families(state: MetricsState, now: float) -> list[Metric]:
    """The metric families of a scrape at `now` (pure). Names follow Prometheus conventions:
    base units (seconds, bytes, ratios), `_total` for counters (added by the exposition)."""
    out: list[Metric] = []
    ticks = HistogramMetricFamily(_name("supervisor_tick_duration_seconds"), "Duration of the supervisor's ticks.")
    cumulative, running = [], 0
    for bound, n in zip((*TICK_BUCKETS, float("inf")), state.ticks.buckets):
        running += n
        cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
    ticks.add_metric([], cumulative, state.ticks.total)
    out.append(ticks)
    snap = state.snapshot
    if snap is None:
        return out
    out.append(GaugeMetricFamily(_name("snapshot_age_seconds"), "Seconds since the supervisor's latest snapshot was taken.",
                                 value=max(0.0, now - snap.taken_at)))
    out.append(GaugeMetricFamily(_name("snapshot_timestamp_seconds"), "When the latest snapshot was taken (Unix time).",
                                 value=snap.taken_at))

    status = GaugeMetricFamily(_name("agent_status"), "The agent's status: 1 for the one it is in, 0 for the others.",
                               labels=[*AGENT_LABELS, "status"])
    duration = GaugeMetricFamily(_name("agent_status_duration_seconds"), "Seconds the agent has been in its current status.",
                                 labels=AGENT_LABELS)
    time_in = CounterMetricFamily(_name("agent_time_in_status_seconds"),
                                  "Seconds the agent spent in each status (counted from its first process this supervisor saw).",
                                  labels=[*AGENT_LABELS, "status"])
    tokens = CounterMetricFamily(_name("agent_tokens"), "Tokens the agent's model used, by type "
                                 "(input is fresh input; input + cache_read + cache_write is all it read).", labels=[*AGENT_LABELS, "type"])
    cost = CounterMetricFamily(_name("agent_cost_usd"), "The agent's spend in US dollars.", labels=AGENT_LABELS)
    commits = GaugeMetricFamily(_name("agent_commits"), "Commits the agent made since its base.", labels=AGENT_LABELS)
    ahead = GaugeMetricFamily(_name("agent_commits_ahead"), "Commits its branch is ahead of the base branch.", labels=AGENT_LABELS)
    behind = GaugeMetricFamily(_name("agent_commits_behind"), "Commits its branch is behind the base branch.", labels=AGENT_LABELS)
    cpu = GaugeMetricFamily(_name("agent_cpu_ratio"), "CPU the agent's process tree uses (1 = one core).", labels=AGENT_LABELS)
    rss = GaugeMetricFamily(_name("agent_resident_memory_bytes"), "Resident memory of the agent's process tree.", labels=AGENT_LABELS)
    restarts = CounterMetricFamily(_name("agent_restarts"), "Times the agent's process was started again (restart, respawn, inject).",
                                   labels=AGENT_LABELS)
    by_status = dict.fromkeys(STATUSES, 0)
    commit_total: float | None = None
    for agent in snap.agents:
        kept = state.agents.get(agent.name)
        if kept is None:
            continue
        labels = list(kept.labels)
        current = agent.status.value
        by_status[current] = by_status.get(current, 0) + 1
        for s in STATUSES:
            status.add_metric([*labels, s], 1.0 if s == current else 0.0)
        if agent.since is not None:
            duration.add_metric(labels, max(0.0, now - agent.since))
        for key, counter in kept.counters.items():
            kind, _, which = key.partition(":")
            if kind == "status":
                time_in.add_metric([*labels, which], counter.value)
            elif kind == "tokens":
                tokens.add_metric([*labels, which], counter.value)
            elif kind == "cost":
                cost.add_metric(labels, counter.value)
        for family, value in ((commits, agent.commits), (ahead, agent.ahead), (behind, agent.behind), (rss, agent.rss_bytes),
                              (cpu, None if agent.cpu_percent is None else agent.cpu_percent / 100)):
            if value is not None:
                family.add_metric(labels, float(value))
        if agent.commits is not None:
            commit_total = (commit_total or 0.0) + agent.commits
        restarts.add_metric(labels, float(kept.restarts))
    out += [status, duration, time_in, tokens, cost, commits, ahead, behind, cpu, rss, restarts]

    agents = GaugeMetricFamily(_name("fleet_agents"), "Agents of the fleet by status.", labels=["status"])
    for s, n in by_status.items():
        agents.add_metric([s], float(n))
    fleet_tokens = CounterMetricFamily(_name("fleet_tokens"), "Tokens used by the whole fleet, by type (agents that left included).",
                                       labels=["type"])
    for kind, _attr in TOKEN_TYPES:
        if f"tokens:{kind}" in state.fleet:
            fleet_tokens.add_metric([kind], state.fleet[f"tokens:{kind}"])
    fleet_cost = CounterMetricFamily(_name("fleet_cost_usd"), "Spend of the whole fleet in US dollars (agents that left included).")
    if "cost" in state.fleet:
        fleet_cost.add_metric([], state.fleet["cost"])
    out += [agents, fleet_tokens, fleet_cost]
    out += host_families(snap)
    if commit_total is not None:
        out.append(GaugeMetricFamily(_name("fleet_commits"), "Commits of the fleet's agents since their bases.", value=commit_total))
    if state.tasks is not None:
        tasks = GaugeMetricFamily(_name("fleet_tasks"), "Tasks of the task board by state (blocked: queued, waiting on others).",
                                  labels=["state"])
        for s, n in state.tasks.items():
            tasks.add_metric([s], float(n))
        out.append(tasks)
    return out


class FleetCollector:
    """The registry's one collector: families built from the latest state at each scrape."""

    def __init__(self, store: Store | None = None, clock: Any = time.time) -> None:
        self.state = MetricsState()
        """Swapped whole after each tick (readers on other threads see one state or the next)."""
        self.store = store
        """Where the task board is read (on the supervisor's thread, in `tick`)."""
        self.clock = clock
        self._lock = threading.Lock()

    def tick(self, snapshot: FleetSnapshot, agents: list[AgentRecord], seconds: float) -> None:
        """The supervisor's tick hook: fold its snapshot in. Never raises (a metrics fault must not
        disturb supervision: it is said once per kind in the supervisor's window)."""
        try:
            tasks: list[Task] | None = None
            if self.store is not None:
                try:
                    tasks = self.store.tasks()
                except StoreError:
                    tasks = None
            with self._lock:
                self.state = advance(self.state, snapshot, agents, tasks, seconds)
        except Exception as exc:  # pragma: no cover - a bug; the fleet goes on
            print(f"mission-control supervise: metrics: {exc!r}", file=sys.stderr, flush=True)

    def collect(self) -> Iterator[Metric]:
        yield from families(self.state, self.clock())


def registry_for(collector: FleetCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve_metrics(config: FleetConfig, supervisor: Supervisor, say: Callable[[str], None]) -> MetricsServer | None:
    """Start `/metrics` for the supervisor when the fleet asks for it (the address `up --metrics`
    recorded, else `[mission] metrics`) and hook its collector into the supervisor's ticks. A
    problem is one line in the supervisor's window and the action log; supervision goes on."""
    store: Store = supervisor.store
    try:
        text = store.get_meta(METRICS_ADDRESS_KEY) or config.metrics
    except StoreError:
        text = config.metrics
    if not text:
        return None
    try:
        address = parse_listen_address(text)
        problem = exposure_problem(address, config.metrics_token, config.metrics_public)
    except ValueError as exc:
        problem = str(exc)
    if problem:
        _refused(store, say, f"metrics not served: {problem}")
        return None
    collector = FleetCollector(store)
    server = MetricsServer(address, registry_for(collector), config.metrics_token)
    try:
        server.start()
    except MetricsBindError as exc:
        _refused(store, say, f"metrics not served: {exc}")
        return None
    supervisor.on_tick.append(collector.tick)
    guard = " (bearer token required)" if config.metrics_token else ""
    say(f"serving Prometheus metrics at http://{address}/metrics{guard}")
    return server


def _refused(store: Store, say: Callable[[str], None], line: str) -> None:
    say(line)
    try:
        store.log_action("supervisor", "metrics", None, line[:300], "not served")
    except StoreError:
        pass


__all__ = ["FleetCollector", "MetricsState", "advance", "families", "follow", "registry_for", "serve_metrics"]
