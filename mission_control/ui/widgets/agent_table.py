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

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip

from mission_control.core.format import age, money, percent, size, tokens
from mission_control.core.limit_reset import resume_countdown
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.records import own_task_id
from mission_control.core.terminal_text import inert
from mission_control.ui.widgets.row_table import RowTable

STATUS_STYLE = {
    Status.STARTING: "dim",
    Status.WORKING: "green",
    Status.WAITING: "bold black on yellow",
    Status.IDLE: "cyan",
    Status.STUCK: "bold white on red",
    Status.PAUSED: "magenta",
    Status.EXITED: "dim",
    Status.UNREACHABLE: "bold white on blue",
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
    Column("host", "Host", 4, 12),  # issue 22: shown only when some agent runs on another host
    Column("status", "Status", 10, 10),  # never cut: `EXITED 127` is not `EXITED 1…`
    Column("for", "For", 6, 6),
    Column("cost", "Cost", 7, 9),
    Column("tokens", "Tok in/out", 12, 13),
    Column("commits", "Commits", 7, 7),
    Column("taskid", "Task id", 8, 16),  # at 80x24 beside the reason: `task-12`, `notify`; longer ids grow where there is room
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
PRIORITY = ESSENTIAL + ("host", "for", "window", "reason", "task", "tokens", "last", "kind", "cpu", "rss", "cache")
"""The order in which columns are given room: the first that does not fit and all after it are left out."""
TASK_PRIORITY = ESSENTIAL + ("host", "for", "taskid", "reason", "window", "task", "tokens", "last", "kind", "cpu", "rss", "cache")
"""The order when agents hold tasks (issue 19 point 8: the fleet view shows each agent's task id, at 80x24 too):
which task an agent holds matters more than which window it is in."""
SIZED_BY_CONTENT = ("name", "kind", "window", "host")
GROWS_TO_CONTENT = ("taskid",)
"""Columns at most `least` wide when room is short and as wide as their longest value (up to `most`) when it is not."""
"""Columns exactly as wide as their longest value (between their label and `most`)."""
DATATABLE_CACHES = {"_cell_render_cache": 1024, "_row_render_cache": 256, "_row_renderable_cache": 256, "_line_cache": 256}
"""DataTable's caches and the sizes they are cut to (from 10000 cells and 1000 lines each)."""
CELL_PADDING = 2
"""A cell's padding: one cell either side (DataTable's default `cell_padding`)."""


def fit_columns(width: int, content: dict[str, int]) -> tuple[tuple[str, str, int], ...]:
    """The columns to show in `width` cells, each as (key, label, width), in display order; never
    wider than `width` unless the essential columns alone are. `content` gives the longest value
    of the columns sized by their content; `window` is shown only when it is given (agents in more
    than one window), `taskid` likewise (agents holding tasks)."""
    least = {
        c.key: (max(len(c.label), min(c.most, content.get(c.key, 0))) if c.key in SIZED_BY_CONTENT
                else max(len(c.label), min(c.least, content.get(c.key, 0))) if c.key in GROWS_TO_CONTENT else c.least)
        for c in COLUMNS
    }
    best = {c.key: max(least[c.key], min(c.most, content.get(c.key, 0))) if c.key in GROWS_TO_CONTENT else c.most
            for c in COLUMNS}
    chosen: dict[str, int] = {}
    used = 0
    for key in TASK_PRIORITY if "taskid" in content else PRIORITY:
        if key in ("window", "taskid", "host") and key not in content:
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
                grow = min(spare, best[key] - chosen[key])
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
    than one window and not each in its own window named after it (the `windows` layout); `taskid`
    only when an agent holds a task of the board."""
    out = {"name": max((len(a.name) for a in agents), default=0), "kind": max((len(a.kind) for a in agents), default=0)}
    windows = {a.window for a in agents if a.window}
    if len(windows) > 1 and any(a.window not in (None, a.name) for a in agents):
        out["window"] = max(len(w) for w in windows)
    ids = [len(task_id_of(a)) for a in agents]
    if any(ids):
        out["taskid"] = max(ids)
    if any(a.host for a in agents):  # agents on several hosts (issue 22): which one each runs on
        out["host"] = max(len(a.host or "local") for a in agents)
    return out


def matches(a: AgentSnapshot, words: tuple[str, ...]) -> bool:
    """Does the agent match every word (lower case) of a filter, each in its name, kind, status,
    task or task id (issue 21: `/` finds an agent by any of them)?"""
    fields = (a.name.lower(), a.kind.lower(), a.status.value.lower(), (a.task or "").lower(), (a.task_id or "").lower())
    return all(any(w in f for f in fields) for w in words)


def status_cell(a: AgentSnapshot) -> Text:
    label = a.status.value
    if a.status is Status.EXITED and a.exit_code not in (None, 0):
        label, style = f"EXITED {a.exit_code}", "bold red"
    else:
        style = STATUS_STYLE[a.status]
    if a.restarts:  # restarted by its restart policy: counted where it fits (`STUCK ↻3`, `EXITED 1↻2`)
        label = next((t for t in (f"{label} ↻{a.restarts}", f"{label}↻{a.restarts}") if len(t) <= BY_KEY["status"].most), label)
    return Text(label, style=style)


def reason_cell(a: AgentSnapshot, now: float) -> Text:
    """The reason, after the countdown to its resume for an agent waiting for a limit's reset."""
    if a.resume_at is not None:
        return Text(f"{resume_countdown(a.resume_at, now)} · {inert(a.reason)}")
    return Text(inert(a.reason))


def cost_cell(a: AgentSnapshot) -> Text:
    text = money(a.cost_usd)
    if a.budget_state == "over":
        return Text(f"{text} ■", style="bold red")
    if a.budget_state == "warn":
        return Text(f"{text} ▲", style="yellow")
    return Text(text)


def task_id_of(a: AgentSnapshot) -> str:
    """The id of the task the agent holds, for the task id column: "" for none, and for the task
    agents.toml gave it (`own_task_id`: not a task of the board; the Task column shows its text)."""
    return "" if a.task_id in (None, own_task_id(a.name)) else a.task_id


CELLS: dict[str, Callable[[AgentSnapshot, float], object]] = {
    # text from outside (names, reasons, tasks, output) is a Text made inert: a str cell is
    # read as markup by DataTable, and escapes in it would reach the terminal
    "name": lambda a, now: Text(inert(a.name), style="bold"),
    "kind": lambda a, now: Text(inert(a.kind)),
    "status": lambda a, now: status_cell(a),
    "for": lambda a, now: age(now - a.since) if a.since else "—",
    "window": lambda a, now: Text(inert(a.window or "—")),
    "host": lambda a, now: Text(inert(a.host or "local")),
    "reason": reason_cell,
    "task": lambda a, now: Text(inert(a.task or "—")),
    "taskid": lambda a, now: Text(inert(task_id_of(a) or "—")),
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
            value = Text(clip(str(value), width), end="")  # a str cell would be parsed as markup each time it is drawn
        out[key] = value
    return out


def cell_text(value: object) -> str:
    """What a cell shows, its style included: equal texts need no update."""
    return str(value) + str(value.style) if isinstance(value, Text) else str(value)


class AgentTable(RowTable):
    """Agents of the fleet. Enter zooms into the selected agent's pane."""

    def __init__(self, **kwargs: object) -> None:
        self._rendered: dict[tuple[object, object], dict[tuple[object, ...], object]] = {}
        """(row, column) -> that cell's renderings (by position, style, width, cursor...), dropped when it changes."""
        self._lines: dict[object, dict[tuple[object, ...], Strip]] = {}
        """row -> its rendered lines (by position, crop, cursor, hover...), dropped when one of its cells changes:
        a row that did not change is never rendered again, whatever else changed."""
        self._frame: dict[object, Style] | None = None
        """Styles worked out for the frame being drawn (None between frames)."""
        super().__init__(**kwargs)
        # DataTable's own caches are keyed on its update counter, which moves every tick, so
        # whatever they hold from an earlier tick is dead weight until pushed out: at their
        # sizes (10000 cells, 1000 lines) that is ~20 MB a dashboard grows by over its first
        # minutes. The caches above serve the rows; these need hold one frame's worth.
        for name, size in DATATABLE_CACHES.items():
            setattr(self, name, LRUCache(size))
        self._cells: dict[tuple[str, str], str] = {}
        """(agent, column) -> the text (and style) its cell holds, to tell what changed."""
        self._order: list[str] = []
        self.attention_first = False
        self._columns: tuple[tuple[str, str, int], ...] | None = None
        """The columns shown, as `fit_columns` chose them for the table's width."""
        self._shown: tuple[FleetSnapshot | None, float] = (None, 0.0)
        """What was shown last, to show again when the width changes."""
        self._agents: dict[str, AgentSnapshot] = {}
        """Each row's agent as it is now (its cells may lag behind while the row is out of sight)."""
        self._stale: set[str] = set()
        """Rows whose agent changed since their cells were last made (out of sight: made when scrolled to)."""
        self._made_at: dict[str, float] = {}
        """When each row's `for` (age) cell was last made: older than the clock means check it when in sight."""
        self._now = 0.0
        self._widths: dict[str, int] = {}
        self.filter_words: tuple[str, ...] = ()
        """The filter in force (`/`): only agents matching each word are rows (none: every agent)."""

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
            for key, label, w in columns:
                self.add_column(label, key=key, width=w)
        return {key: w for key, _, w in columns}

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()
        self._lines.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rendered.clear()
        self._lines.clear()

    def clear(self, columns: bool = False):  # type: ignore[no-untyped-def]
        self._cells.clear()
        self._agents.clear()
        self._stale.clear()
        self._made_at.clear()
        return super().clear(columns)

    def set_filter(self, text: str) -> None:
        """Show only the agents matching each word of `text` (empty: all); drawn at the next `show`."""
        self.filter_words = tuple(text.lower().split())

    def ordered(self, snap: FleetSnapshot) -> list[AgentSnapshot]:
        """The agents shown, in the order shown (the filter applied)."""
        words = self.filter_words
        agents = [a for a in snap.agents if matches(a, words)] if words else list(snap.agents)
        if self.attention_first:
            agents.sort(key=lambda a: (not a.status.needs_human, a.status is not Status.EXITED))
        return agents

    def show(self, snap: FleetSnapshot | None, now: float | None = None, changed: frozenset[str] | None = None) -> None:
        """Show `snap` at clock `now`. `changed`: the agents that differ from the snapshot shown
        last (None: unknown, each agent is compared with its row's). Only rows in sight are made
        and rendered again, and of them only those whose agent or age text changed."""
        now = time.time() if now is None else now
        self._shown = (snap, now)
        self._now = now
        agents = self.ordered(snap) if snap else []
        selected = self.selected
        self._widths = widths = self._fit(agents)
        names = [a.name for a in agents]
        if names != self._order:  # agents came, went or moved: the table starts over (rare)
            self.clear()
            for a in agents:
                cells = row_cells(a, now, widths)
                self.add_row(*cells.values(), key=a.name)
                self._cells.update({(a.name, k): cell_text(v) for k, v in cells.items()})
                self._agents[a.name] = a
                self._made_at[a.name] = now
            self._order = names
            if selected in names:
                self.move_cursor(row=names.index(selected))
            return
        held = self._agents
        for a in agents:
            if (changed is None or a.name in changed) and held[a.name] is not a and held[a.name] != a:
                held[a.name] = a
                self._stale.add(a.name)
        self._make_rows(self._rows_in_sight(), refresh=True)

    def _rows_in_sight(self) -> range:
        """Indexes of the rows the table's window shows (all rows are one line high)."""
        top = int(self.scroll_y)
        return range(top, min(len(self._order), top + max(0, self.size.height - self.header_height)))

    def _make_rows(self, rows: range, refresh: bool) -> None:
        """Bring the cells of `rows` up to date: in full for a changed agent, else only the age
        (`for`) when the clock moved; `refresh`: have the rows whose cells changed drawn again
        (only those, not the whole table)."""
        order, widths, now = self._order, self._widths, self._now
        age_only = {"for": widths["for"]} if "for" in widths else {}
        made: list[int] = []
        for index in rows:
            name = order[index]
            if name in self._stale:
                self._stale.discard(name)
                cells = row_cells(self._agents[name], now, widths)
            elif self._made_at.get(name) != now and age_only:
                counting = self._agents[name].resume_at is not None and "reason" in widths  # its countdown moves too
                cells = row_cells(self._agents[name], now, {**age_only, "reason": widths["reason"]} if counting else age_only)
            else:
                continue
            self._made_at[name] = now
            if self._set_cells(name, cells):
                made.append(index)
        if made:
            self._update_count += 1  # DataTable's own caches are keyed on it
            if refresh:
                width = max(self.size.width, self.virtual_size.width)
                for index in made:
                    self._refresh_region(Region(0, self.header_height + index, width, 1))

    def _set_cells(self, name: str, cells: dict[str, object]) -> bool:
        """Put the cells of `name`'s row whose text changed into the table; whether any did."""
        row = self._data[name]  # type: ignore[index]
        changed = False
        for key, value in cells.items():
            text = cell_text(value)
            if self._cells.get((name, key)) != text:
                self._cells[(name, key)] = text
                self._rendered.pop((name, key), None)
                row[key] = value  # type: ignore[index]
                changed = True
        if changed:
            self._lines.pop(name, None)
        return changed

    def render_lines(self, crop: Region) -> list[Strip]:
        """Rows scrolled into sight are brought up to date before they are drawn. The table's
        style and its rows' are worked out once a frame, not once a line (each walks the DOM)."""
        self._make_rows(self._rows_in_sight(), refresh=True)
        self._frame = {}
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    @property
    def rich_style(self) -> Style:
        frame = self._frame
        if frame is None:
            return super().rich_style
        if "rich_style" not in frame:
            frame["rich_style"] = super().rich_style
        return frame["rich_style"]  # type: ignore[return-value]

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        frame = self._frame
        if frame is None:
            return super()._get_row_style(row_index, base_style)
        kind = row_index if row_index < max(self.fixed_rows, 0) or row_index == -1 else ("zebra", row_index % 2)
        key = (kind, base_style)  # the header, a fixed row, or an even or odd row
        if key not in frame:
            frame[key] = super()._get_row_style(row_index, base_style)
        return frame[key]  # type: ignore[return-value]

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable's line rendering, remembered per row until one of that row's cells changes."""
        try:
            row_key, line = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        row_index = self._row_locations.get(row_key)
        row_index = -1 if row_index is None else row_index
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        if self.cursor_type == "row":
            cursor, hover = cursor.row == row_index, hover.row == row_index  # type: ignore[assignment]
        key = (row_index, line, x1, x2, self.size.width, cursor, hover, base_style, self.cursor_type,
               self.show_cursor, self._show_hover_cursor, self._pseudo_class_state)
        lines = self._lines.setdefault(row_key.value, {})
        strip = lines.get(key)
        if strip is None:
            if len(lines) > 16:  # styles, widths and scroll positions come and go: keep the recent ones
                lines.clear()
            strip = lines[key] = super()._render_line(y, x1, x2, base_style)
        return strip

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
            lines = self._plain_cell(row_index, column_index, base_style, width, cursor, hover)
            if lines is None:
                lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            renderings[key] = lines
        return lines

    def _plain_cell(self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool,
                    hover: bool) -> list[list[Segment]] | None:
        """A data cell of plain, unstyled, printable text that fits, rendered as DataTable would
        (padding either side, the row's and the cursor's styles around it) without its general
        path through Rich (padding, wrapping, styling renderables: ~5x the time); None for any
        other cell, which takes that path. `test_dashboard_ticks` checks both give the same."""
        if row_index < max(self.fixed_rows, 0) or column_index < max(self.fixed_columns, 0):
            return None
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row is None or row.height != 1:
            return None
        cell = self._get_row_renderables(row_index).cells[column_index]
        if type(cell) is not Text or cell._spans or cell.style:
            return None
        plain, pad = cell.plain, self.cell_padding
        inner = width - 2 * pad
        used = cell.cell_len
        if used > inner or not plain.isprintable():
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        text = " " * pad + plain + " " * (inner - used + pad)
        return [list(Segment.apply_style([Segment(text)], style=pre_style, post_style=post_style))]

    def select_agent(self, name: str) -> None:
        if name in self._order:
            self.move_cursor(row=self._order.index(name))
