"""The fleet table: one row per agent; only cells whose text changed are updated, and only
they are rendered again.

Which columns are shown, and how wide, follows the table's width (`fit_columns`, chosen again
on resize): agent, status, cost and commits always, then the rest by priority while they fit,
so there is never a horizontal scrollbar (issue 14: 80x24 and 100x30 terminals; issue 21: 120
columns). Free text is cut to its column with `…`.

DataTable forgets every rendered cell whenever any cell changes (its caches are keyed on
one update counter), so a tick that changes the CPU figure of one agent re-renders all of
the visible table through Rich. `AgentTable` keeps its own renderings per cell and drops a
cell's when that cell changes, so a tick costs what its changed cells cost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from rich.text import Text
from textual import events
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

@dataclass(frozen=True)
class Column:
    """One column of the table."""

    key: str
    label: str
    least: int
    """Narrowest it is shown at (its label always fits)."""
    most: int
    """Widest it grows to when there is room (the last flexible column shown takes whatever is left)."""
    flexible: bool = False
    """Free text (reason, task, output) that is cut to the room it gets."""


COLUMNS = (
    # In display order: what a supervisor scans first comes first.
    Column("name", "Agent", 5, 16),
    Column("status", "Status", 10, 10),  # never cut: `EXITED 127` is not `EXITED 1…`
    Column("for", "For", 6, 6),
    Column("cost", "Cost", 7, 9),
    Column("tokens", "Tok in/out", 12, 13),
    Column("commits", "Commits", 7, 7),
    Column("window", "Window", 6, 16),
    Column("reason", "Reason", 20, 36, flexible=True),
    Column("task", "Task", 14, 28, flexible=True),
    Column("kind", "Kind", 4, 8),
    Column("cache", "Cache r/w", 12, 13),
    Column("cpu", "CPU", 4, 5),
    Column("rss", "RSS", 7, 8),
    Column("last", "Last output", 20, 60, flexible=True),
)
BY_KEY = {c.key: c for c in COLUMNS}
ESSENTIAL = ("name", "status", "cost", "commits")
"""Shown at any width (issue 14: each agent's name, status, cost and commits on an 80x24 terminal's split pane)."""
PRIORITY = ESSENTIAL + ("for", "window", "reason", "task", "tokens", "last", "kind", "cpu", "rss", "cache")
"""The order in which columns are given room: the first that does not fit and all after it are left out."""
SIZED_BY_CONTENT = ("name", "kind", "window")
"""Columns exactly as wide as their longest value (between their label and `most`)."""
CELL_PADDING = 2
"""A cell's padding: one cell either side (DataTable's default `cell_padding`)."""


def fit_columns(width: int, content: dict[str, int]) -> tuple[tuple[str, str, int], ...]:
    """The columns to show in `width` cells, each as (key, label, width), in display order; never
    wider than `width` unless the essential columns alone are. `content` gives the longest value
    of the columns sized by their content; `window` is shown only when it is given (agents in more
    than one window)."""
    least = {
        c.key: (max(len(c.label), min(c.most, content.get(c.key, 0))) if c.key in SIZED_BY_CONTENT else c.least)
        for c in COLUMNS
    }
    chosen: dict[str, int] = {}
    used = 0
    for key in PRIORITY:
        if key == "window" and "window" not in content:
            continue
        need = least[key] + CELL_PADDING
        if key not in ESSENTIAL and used + need > width:
            break
        chosen[key] = least[key]
        used += need
    spare = max(0, width - used)
    for flexible in (False, True):  # fixed columns up to their best width first, then free text
        for key in chosen:
            column = BY_KEY[key]
            if column.flexible is flexible and key not in SIZED_BY_CONTENT:
                grow = min(spare, column.most - chosen[key])
                chosen[key] += grow
                spare -= grow
    last_flexible = next((k for k in reversed(list(chosen)) if BY_KEY[k].flexible), None)
    if last_flexible is not None:
        chosen[last_flexible] += spare
    return tuple((c.key, c.label, chosen[c.key]) for c in COLUMNS if c.key in chosen)


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells, its end replaced by `…` when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def content_widths(agents: list[AgentSnapshot]) -> dict[str, int]:
    """The longest value of each column sized by its content; `window` only when agents are in more
    than one window and not each in its own window named after it (the `windows` layout)."""
    out = {"name": max((len(a.name) for a in agents), default=0), "kind": max((len(a.kind) for a in agents), default=0)}
    windows = {a.window for a in agents if a.window}
    if len(windows) > 1 and any(a.window not in (None, a.name) for a in agents):
        out["window"] = max(len(w) for w in windows)
    return out


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


CELLS: dict[str, Callable[[AgentSnapshot, float], object]] = {
    # text from outside (names, reasons, tasks, output) is a Text made inert: a str cell is
    # read as markup by DataTable, and escapes in it would reach the terminal
    "name": lambda a, now: Text(inert(a.name), style="bold"),
    "kind": lambda a, now: Text(inert(a.kind)),
    "status": lambda a, now: status_cell(a),
    "for": lambda a, now: age(now - a.since) if a.since else "—",
    "window": lambda a, now: Text(inert(a.window or "—")),
    "reason": lambda a, now: Text(inert(a.reason)),
    "task": lambda a, now: Text(inert(a.task or "—")),
    "tokens": lambda a, now: f"{tokens(a.tokens_in)}/{tokens(a.tokens_out)}",
    "cache": lambda a, now: f"{tokens(a.tokens_cache_read)}/{tokens(a.tokens_cache_write)}",
    "cost": lambda a, now: cost_cell(a),
    "commits": lambda a, now: "—" if a.commits is None else str(a.commits),
    "cpu": lambda a, now: percent(a.cpu_percent),
    "rss": lambda a, now: size(a.rss_bytes),
    "last": lambda a, now: Text(inert(a.last_line)),
}


def row_cells(a: AgentSnapshot, now: float, widths: dict[str, int]) -> dict[str, object]:
    """The cells of the columns shown (key -> width), each cut to its column's width."""
    out: dict[str, object] = {}
    for key, width in widths.items():
        value = CELLS[key](a, now)
        if isinstance(value, Text):
            if value.cell_len > width:
                value.truncate(width, overflow="ellipsis")
        else:
            value = clip(str(value), width)
        out[key] = value
    return out


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
        self._columns: tuple[tuple[str, str, int], ...] | None = None
        """The columns shown, as `fit_columns` chose them for the table's width."""
        self._shown: tuple[FleetSnapshot | None, float] = (None, 0.0)
        """What was shown last, to show again when the width changes."""

    def on_resize(self, event: events.Resize) -> None:
        if self._columns is not None:
            self.show(*self._shown)

    def _fit(self, agents: list[AgentSnapshot]) -> dict[str, int]:
        """Choose the columns for the table's width (less a vertical scrollbar when the rows need
        one); when they change, the table starts over with them. Returns key -> width."""
        width = self.size.width
        if len(agents) + 1 > self.size.height:
            width -= self.styles.scrollbar_size_vertical
        columns = fit_columns(width, content_widths(agents))
        if columns != self._columns:
            self._columns = columns
            self.clear(columns=True)
            self._order = []
            self._cells.clear()
            self._rendered.clear()
            for key, label, w in columns:
                self.add_column(label, key=key, width=w)
        return {key: w for key, _, w in columns}

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
        self._shown = (snap, now)
        agents = self.ordered(snap) if snap else []
        selected = self.selected
        widths = self._fit(agents)
        names = [a.name for a in agents]
        if names != self._order:
            self.clear()
            self._cells.clear()
            self._rendered.clear()
            for a in agents:
                cells = row_cells(a, now, widths)
                self.add_row(*cells.values(), key=a.name)
                self._cells.update({(a.name, k): cell_text(v) for k, v in cells.items()})
            self._order = names
            if selected in names:
                self.move_cursor(row=names.index(selected))
            return
        for a in agents:
            for key, value in row_cells(a, now, widths).items():
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
