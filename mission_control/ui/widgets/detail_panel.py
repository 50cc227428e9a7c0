"""The selected agent in full: status with its evidence, git, spend, and its live screen."""

from __future__ import annotations

import time

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mission_control.core.format import age, money, sparkline, tokens
from mission_control.core.limit_reset import resume_countdown
from mission_control.core.model import AgentSnapshot
from mission_control.core.terminal_text import inert


def describe(a: AgentSnapshot, changes: list[dict], now: float) -> Text:
    t = Text()
    t.append(inert(a.name), style="bold")
    window = f"window {inert(a.window)}, " if a.window else ""  # where to find it: agents overflow into further windows
    t.append(f"  ({inert(a.kind)}, {window}pane {inert(a.pane_id or '—')}, pid {a.pid or '—'})\n", style="dim")
    if a.host:  # issue 22: where it runs, and how far that is
        rtt = f"round trip {a.host_latency_ms:.0f} ms" if a.host_latency_ms is not None else "round trip not measured yet"
        t.append(f"on host {inert(a.host)} · {rtt} (over its ssh connection)\n", style="dim")
    t.append(f"{a.status.value}", style="bold")
    t.append(f" for {age(now - a.since) if a.since else '—'}: {inert(a.reason)}\n")
    if a.resume_at is not None:
        t.append(f"{resume_countdown(a.resume_at, now)} (at {time.strftime('%H:%M:%S', time.localtime(a.resume_at))}, its limit's reset and a margin)\n",
                 style="yellow")
    if a.restarts:
        t.append(f"restarted {a.restarts} time{'s' if a.restarts != 1 else ''} by its restart policy\n", style="yellow")
    if a.evidence:
        t.append(f"evidence: {inert(a.evidence)}\n", style="dim")
    t.append(f"task: {inert(a.task or '—')}\n")
    t.append(
        f"tokens in {tokens(a.tokens_in)} · out {tokens(a.tokens_out)} · cache r/w "
        f"{tokens(a.tokens_cache_read)}/{tokens(a.tokens_cache_write)} · cost {money(a.cost_usd)}"
        + (f" ({inert(a.cost_source)})" if a.cost_source else (" (price unknown)" if a.tokens_in is not None and a.cost_usd is None else ""))
        + (f" · budget {money(a.budget_usd)}" if a.budget_usd else "")
        + "\n"
    )
    if a.budget_state in ("warn", "over"):
        t.append("budget reached\n" if a.budget_state == "over" else "spend past the budget's warning mark\n",
                 style="bold red" if a.budget_state == "over" else "yellow")
    if a.spend_history and len(a.spend_history) > 1:
        t.append(f"spend {sparkline(a.spend_history)} (per minute)", style="green")
        t.append("\n")
    extras = []
    if a.task_id:
        extras.append(f"on task {inert(a.task_id)}: {money(a.task_cost_usd)}")
    if a.cost_usd is not None and a.commits:
        extras.append(f"per commit {money(a.cost_usd / a.commits)}")
    if a.models:
        extras.append("models " + ", ".join(inert(m) for m in a.models))
    if extras:
        t.append(" · ".join(extras) + "\n", style="dim")
    commits = "—" if a.commits is None else str(a.commits)
    t.append(f"commits {commits}")
    if a.ahead is not None:
        t.append(f" · ahead {a.ahead} / behind {a.behind} · dirty files {a.dirty_files}")
    if a.lines_added is not None:
        t.append(f" · +{a.lines_added}/-{a.lines_removed}")
    t.append("\n")
    for c in a.recent_commits[:5] or ([a.last_commit] if a.last_commit else []):
        t.append(f"  {inert(c.get('sha', ''))[:8]} {inert(c.get('subject', ''))[:60]} ({age(now - c.get('time', now))} ago)\n", style="dim")
    if changes:
        recent = " → ".join(inert(c["new"]) for c in changes[-6:])
        t.append(f"history: {recent}  · turns {a.turns}\n", style="dim")
    if a.time_in:
        spent = " · ".join(f"{inert(k).lower()} {age(v)}" for k, v in sorted(a.time_in.items(), key=lambda kv: -kv[1]) if v >= 1)
        if spent:
            t.append(f"time in: {spent}\n", style="dim")
    return t


class DetailPanel(VerticalScroll):
    """Details of the selected agent above the tail of its pane."""

    DEFAULT_CSS = """
    DetailPanel { height: 1fr; border-top: solid $primary; padding: 0 1; }
    DetailPanel #detail-facts { height: auto; }
    DetailPanel #detail-tail { height: auto; color: $text-muted; }
    """

    def compose(self):
        yield Static("Select an agent.", id="detail-facts")
        yield Static("", id="detail-tail", markup=False)

    def show(self, agent: AgentSnapshot | None, tail: str | None, changes: list[dict], now: float | None = None) -> None:
        found = self.query("#detail-facts")
        if not found:  # a read that lands while the dashboard closes (its children already removed): nothing to draw
            return
        facts = found.first(Static)
        if agent is None:
            facts.update("Select an agent.")
            return
        facts.update(describe(agent, changes, time.time() if now is None else now))
        if tail is not None:
            lines = tail.splitlines()[-25:]
            self.query_one("#detail-tail", Static).update(Text(inert("\n".join(lines), lines=True)))
