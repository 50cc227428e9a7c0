"""`mission-control status`: the supervisor's latest snapshot, without a UI."""

from __future__ import annotations

import errno
import time
from dataclasses import replace

from mission_control.adapters.store import Store, store_error
from mission_control.adapters.supervisor_lock import supervisor_alive
from mission_control.adapters.tmux import Tmux
from mission_control.core.config import FleetConfig
from mission_control.core.format import age, money, tokens
from mission_control.core.model import AgentSnapshot, FleetSnapshot
from mission_control.core.terminal_text import inert


def supervisor_grace(config: FleetConfig) -> float:
    """How long a reader waits for the supervisor to do what it does within a tick or two (put a
    deleted store back, write its first snapshot) before it answers without it."""
    return max(2.0, 3 * config.poll_interval)


def current_snapshot(config: FleetConfig) -> tuple[FleetSnapshot | None, str | None]:
    """(snapshot, warning). None when the fleet is not running."""
    tmux = Tmux(config.socket)
    if not tmux.has_session(config.session):
        return None, None
    if not config.store_path.exists():
        # deleted while the fleet runs: its supervisor restores it on its next tick
        deadline = time.monotonic() + supervisor_grace(config)
        while not config.store_path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not config.store_path.exists():
            raise store_error(config.store_path, FileNotFoundError(errno.ENOENT, f"fleet {config.session!r} runs without it"))
    store = Store(config.store_path)
    snap = first_snapshot(config, store)
    if snap is not None:
        return snap, None
    from mission_control.fleet.supervisor import Supervisor

    sup = Supervisor(config, store, tmux)
    sup.settings = replace(sup.settings, hold_ticks=1)
    sup.record_changes = False
    snap = sup.tick(write=False)
    warning = "no supervisor is running for this fleet: this is a one-off poll (restart it with `mission-control up`)"
    if supervisor_alive(config.state_dir):
        warning = "the supervisor has not written its first snapshot yet: this is a one-off poll"
    return snap, warning


def agent_as_shown(config: FleetConfig, store: Store, name: str) -> AgentSnapshot | None:
    """The agent as `status` shows it: the supervisor's latest snapshot, or, before it has one with
    this agent, what `status` would show (so an action or a diagnosis never contradicts it)."""
    snap = store.latest_snapshot()
    if snap is None or snap.agent(name) is None:
        snap, _warning = current_snapshot(config)
    return snap.agent(name) if snap else None


STARTING_SUPERVISOR_SECONDS = 10.0
"""A fleet launched this recently may still be starting its supervisor: readers wait for it."""


def first_snapshot(config: FleetConfig, store: Store) -> FleetSnapshot | None:
    """The supervisor's latest snapshot. Right after `up` (its supervisor starting, or not yet
    through its first tick), wait a few ticks for it rather than poll once ourselves: a one-off
    poll has no memory and would show a state the supervisor still holds back (a STUCK it shows
    two ticks later), so `status` and the actions that follow it would disagree."""
    fleet = store.fleet()
    launched = fleet["launched_at"] if fleet else 0.0
    deadline = time.monotonic() + supervisor_grace(config)
    while True:
        alive = supervisor_alive(config.state_dir)
        snap = store.latest_snapshot() if alive else None
        if snap is not None:
            return snap
        starting = alive or time.time() - launched < STARTING_SUPERVISOR_SECONDS
        if not starting or time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def _host_cell(a: AgentSnapshot) -> str:
    """Where the agent runs, and that host's last round trip (issue 22)."""
    if a.host is None:
        return "local"
    return inert(a.host) + (f" ({a.host_latency_ms:.0f} ms)" if a.host_latency_ms is not None else "")


def render_table(snap: FleetSnapshot) -> str:
    now = time.time()
    rows = [("AGENT", "KIND", "STATUS", "FOR", "REASON", "TOKENS IN/OUT", "COST", "COMMITS", "LAST LINE")]
    for a in snap.agents:
        rows.append(
            (  # names, reasons and output come from configs and agents: shown inert
                inert(a.name),
                inert(a.kind),
                a.status.value,
                age(now - a.since) if a.since else "—",
                inert(a.reason)[:40],
                f"{tokens(a.tokens_in)}/{tokens(a.tokens_out)}",
                money(a.cost_usd),
                "—" if a.commits is None else str(a.commits),
                inert(a.last_line)[:50],
            )
        )
    if any(a.host for a in snap.agents):  # several hosts (issue 22): which one each agent runs on
        rows = [(row[0], "HOST" if i == 0 else _host_cell(snap.agents[i - 1]), *row[1:]) for i, row in enumerate(rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    if any(a.host for a in snap.agents):
        lines.append(host_totals(snap))
    lines.append(f"snapshot {age(now - snap.taken_at)} old")
    return "\n".join(lines)


def host_totals(snap: FleetSnapshot) -> str:
    """Spend and commits per host and for the whole fleet (issue 22 point 4): one line."""
    def total(agents: list[AgentSnapshot]) -> str:
        known = [a.cost_usd for a in agents if a.cost_usd is not None]
        commits = sum(a.commits or 0 for a in agents)
        return f"{money(sum(known)) if known else money(None)}, {commits} commits"

    hosts = list(dict.fromkeys(a.host or "local" for a in snap.agents))
    parts = [f"{inert(h)} {total([a for a in snap.agents if (a.host or 'local') == h])}" for h in hosts]
    return "per host: " + "; ".join(parts) + f"; fleet {total(list(snap.agents))}"
