"""The fleet table: one row per agent; only cells whose text changed are updated, and only
they are rendered again.

DataTable forgets every rendered cell whenever any cell changes (its caches are keyed on
one update counter), so a tick that changes the CPU figure of one agent re-renders all of
the visible table through Rich. `AgentTable` keeps its own renderings per cell and drops a
cell's when that cell changes, so a tick costs what its changed cells cost."""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from mission_control.core.format import age, money, percent, size, tokens
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.terminal_text import inert

STATUS_STYLE = {
    Status.STARTING: "dim",
    Status.WORKING: "green",
    Status.WAITING: "bold black on yellow",
    Status.IDLE: "cyan",
    Status.STUCK: "bold white on red",
    Status.PAUSED: "magenta",
    Status.EXITED: "dim",
}

COLUMNS = (
    # key, label, width: fixed, so a tick updates cells without re-measuring whole columns.
    # What a supervisor scans first comes first: a split-terminal pane is often < 100 columns.
    ("name", "Agent", 16),
    ("status", "Status", 11),
    ("for", "For", 6),
    ("cost", "Cost", 9),
    ("tokens", "Tok in/out", 13),
    ("commits", "Commits", 7),
    ("reason", "Reason", 36),
    ("task", "Task", 28),
    ("kind", "Kind", 8),
    ("cache", "Cache r/w", 13),
    ("cpu", "CPU", 6),
    ("rss", "RSS", 8),
    ("last", "Last output", 60),
)


def status_cell(a: AgentSnapshot) -> Text:
    label = a.status.value
    if a.status is Status.EXITED and a.exit_code not in (None, 0):
        return Text(f"EXITED {a.exit_code}", style="bold red")
    return Text(label, style=STATUS_STYLE[a.status])


def cost_cell(a: AgentSnapshot) -> Text:
    text = money(a.cost_usd)
    if a.budget_state == "over":
        return Text(f"{text} ■", style="bold red")
    if a.budget_state == "warn":
        return Text(f"{text} ▲", style="yellow")
    return Text(text)


def row_cells(a: AgentSnapshot, now: float) -> dict[str, object]:
    """Every cell as a `Text`, never a str (DataTable reads a str as markup): text from outside
    (names, reasons, tasks, output) made inert first."""
    return {
        "name": Text(inert(a.name)[:16], style="bold"),
        "kind": Text(inert(a.kind)),
        "status": status_cell(a),
        "for": Text(age(now - a.since) if a.since else "—"),
        "reason": Text(inert(a.reason)[:36]),
        "task": Text(inert(a.task or "—")[:28]),
        "tokens": Text(f"{tokens(a.tokens_in)}/{tokens(a.tokens_out)}"),
        "cache": Text(f"{tokens(a.tokens_cache_read)}/{tokens(a.tokens_cache_write)}"),
        "cost": cost_cell(a),
        "commits": Text("—" if a.commits is None else str(a.commits)),
        "cpu": Text(percent(a.cpu_percent)),
        "rss": Text(size(a.rss_bytes)),
        "last": Text(inert(a.last_line)[:60]),
    }


def cell_text(value: object) -> str:
    """What a cell shows, its style included: equal texts need no update."""
    return str(value) + str(value.style) if isinstance(value, Text) else str(value)


class AgentTable(DataTable):
    """Agents of the fleet. Enter zooms into the selected agent's pane."""

    DEFAULT_CSS = """
    AgentTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[tuple[str, str], str] = {}
        self._order: list[str] = []
        self.attention_first = False
        self._rendered: dict[tuple[object, object], dict[tuple[object, ...], object]] = {}
        """(row, column) -> that cell's renderings (by position, style, width, cursor...), dropped when it changes."""

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def ordered(self, snap: FleetSnapshot) -> list[AgentSnapshot]:
        agents = list(snap.agents)
        if self.attention_first:
            agents.sort(key=lambda a: (not a.status.needs_human, a.status is not Status.EXITED))
        return agents

    def show(self, snap: FleetSnapshot | None, now: float | None = None) -> None:
        now = time.time() if now is None else now
        agents = self.ordered(snap) if snap else []
        names = [a.name for a in agents]
        if names != self._order:
            selected = self.selected
            self.clear()
            self._cells.clear()
            self._rendered.clear()
            for a in agents:
                cells = row_cells(a, now)
                self.add_row(*(cells[k] for k, _, _ in COLUMNS), key=a.name)
                self._cells.update({(a.name, k): cell_text(v) for k, v in cells.items()})
            self._order = names
            if selected in names:
                self.move_cursor(row=names.index(selected))
            return
        for a in agents:
            for key, value in row_cells(a, now).items():
                text = cell_text(value)
                if self._cells.get((a.name, key)) != text:
                    self._cells[(a.name, key)] = text
                    self._rendered.pop((a.name, key), None)
                    self.update_cell(a.name, key, value)

    def _render_cell(self, row_index, column_index, base_style, width, cursor=False, hover=False):  # type: ignore[override]
        """DataTable's cell rendering, remembered until that very cell changes."""
        try:
            row = self._row_locations.get_key(row_index).value if row_index >= 0 else None
            column = self._column_locations.get_key(column_index).value if column_index >= 0 else None
        except KeyError:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        renderings = self._rendered.setdefault((row, column), {})
        key = (row_index, column_index, base_style, width, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state, self.show_cursor)
        lines = renderings.get(key)
        if lines is None:
            if len(renderings) > 16:  # styles and widths come and go (focus, resizes): keep the recent ones
                renderings.clear()
            lines = renderings[key] = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        return lines

    def select_agent(self, name: str) -> None:
        if name in self._order:
            self.move_cursor(row=self._order.index(name))
