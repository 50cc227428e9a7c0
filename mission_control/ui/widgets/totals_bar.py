"""Fleet totals: how many agents in each state, spend and commits — on one line where it fits,
wrapped between whole items where it does not (issue 14: readable on an 80x24 terminal's split)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from mission_control.core.format import money, tokens
from mission_control.core.model import FleetSnapshot, Status
from mission_control.ui.widgets.agent_table import STATUS_STYLE


def state_items(snap: FleetSnapshot, padded: bool = True) -> list[Text]:
    """How many agents, then how many in each state (in its colour; `padded`: a space either side)."""
    items = [Text(f"{len(snap.agents)} agents", style="bold")]
    pad = " " if padded else ""
    for status in Status:
        n = sum(1 for a in snap.agents if a.status is status)
        if n:
            items.append(Text(f"{pad}{status.value} {n}{pad}", style=STATUS_STYLE[status]))
    return items


def spend_items(snap: FleetSnapshot, budget_usd: float | None = None) -> list[Text]:
    """Cost, commits and tokens of the whole fleet ("—" where nothing is known)."""
    ins = [a.tokens_in for a in snap.agents if a.tokens_in is not None]
    outs = [a.tokens_out for a in snap.agents if a.tokens_out is not None]
    costs = [a.cost_usd for a in snap.agents if a.cost_usd is not None]
    unknown = sum(1 for a in snap.agents if a.cost_usd is None)
    commits = [a.commits for a in snap.agents if a.commits is not None]
    cost = money(sum(costs)) if costs else "—"
    return [
        Text(f"cost {cost}" + (f" (+{unknown} unknown)" if costs and unknown else "")
             + (f" of {money(budget_usd)}" if budget_usd else "")),
        Text(f"commits {sum(commits) if commits else '—'}"),
        Text(f"tokens {tokens(sum(ins)) if ins else '—'}/{tokens(sum(outs)) if outs else '—'}"),
    ]


def pack(items: list[Text], width: int | None, gap: int) -> list[Text]:
    """Items in lines of at most `width` cells (None: one line), `gap` spaces apart, never split."""
    lines: list[Text] = []
    line = Text()
    for item in items:
        if line.cell_len and width is not None and line.cell_len + gap + item.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append(" " * gap)
        line.append_text(item)
    lines.append(line)
    return lines


def totals_text(snap: FleetSnapshot | None, budget_usd: float | None = None, width: int | None = None) -> Text:
    """The totals in `width` cells (None: unlimited): one line where it fits; else the states on
    one line (drawn tighter, then wrapped between whole items, where they need it) and the
    spend on the next."""
    if snap is None or not snap.agents:
        return Text("no agents yet", style="dim")
    states, spend = state_items(snap), spend_items(snap, budget_usd)
    one = pack(states, None, 1)[0] + Text("   ") + pack(spend, None, 2)[0]
    if width is None or one.cell_len <= width:
        return one
    lines = pack(states, width, 1)
    if len(lines) > 1:
        lines = pack(state_items(snap, padded=False), width, 1)
    return Text("\n").join(lines + pack(spend, width, 2))


class TotalsBar(Widget):
    DEFAULT_CSS = """
    TotalsBar { height: auto; padding: 0 1; background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[FleetSnapshot | None, float | None] = (None, None)

    def show(self, snap: FleetSnapshot | None, budget_usd: float | None = None) -> None:
        if (snap, budget_usd) != self._shown:
            lines = self._lines(self.content_size.width)
            self._shown = (snap, budget_usd)
            self.refresh(layout=self._lines(self.content_size.width) != lines)  # laid out again only to grow or shrink

    def _lines(self, width: int) -> int:
        return len(totals_text(*self._shown, width=width or None).plain.split("\n"))

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        return self._lines(width)

    def render(self) -> Text:
        """Laid out again for the width it has (a resize renders it again)."""
        return totals_text(*self._shown, width=self.content_size.width or None)
