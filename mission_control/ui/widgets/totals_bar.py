"""Fleet totals in one line: how many agents in each state, spend and commits."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mission_control.core.format import money, tokens
from mission_control.core.model import FleetSnapshot, Status
from mission_control.ui.widgets.agent_table import STATUS_STYLE


def totals_text(snap: FleetSnapshot | None, budget_usd: float | None = None) -> Text:
    t = Text()
    if snap is None or not snap.agents:
        return Text("no agents yet", style="dim")
    t.append(f"{len(snap.agents)} agents  ", style="bold")
    for status in Status:
        n = sum(1 for a in snap.agents if a.status is status)
        if n:
            t.append(f" {status.value} {n} ", style=STATUS_STYLE[status])
            t.append(" ")
    ins = [a.tokens_in for a in snap.agents if a.tokens_in is not None]
    outs = [a.tokens_out for a in snap.agents if a.tokens_out is not None]
    costs = [a.cost_usd for a in snap.agents if a.cost_usd is not None]
    unknown = sum(1 for a in snap.agents if a.cost_usd is None)
    commits = [a.commits for a in snap.agents if a.commits is not None]
    t.append(f"  tokens {tokens(sum(ins)) if ins else '—'}/{tokens(sum(outs)) if outs else '—'}")
    cost = money(sum(costs)) if costs else "—"
    t.append(f"  cost {cost}" + (f" (+{unknown} unknown)" if costs and unknown else ""))
    if budget_usd:
        t.append(f" of {money(budget_usd)}")
    t.append(f"  commits {sum(commits) if commits else '—'}")
    return t


class TotalsBar(Static):
    DEFAULT_CSS = """
    TotalsBar { height: 1; padding: 0 1; background: $boost; }
    """

    def show(self, snap: FleetSnapshot | None, budget_usd: float | None = None) -> None:
        self.update(totals_text(snap, budget_usd))
