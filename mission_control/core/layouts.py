"""Layout presets (layouts/*.toml) and the pure planning of windows and panes.

A preset says where the dashboard goes and how agent panes are arranged; `plan()`
turns it plus the agent names into windows; `layout_string()` computes the exact
tmux layout (with its checksum) so the dashboard keeps its place while the agent
panes are tiled beside it.

Given the terminal's size, `plan()` never squeezes an agent pane below the preset's
`min_pane_width` x `min_pane_height` (issue 14: attached from a 100x30 terminal, the
demo's `asker` pane was one column wide): what does not fit overflows into further
windows, and below a threshold the dashboard keeps the first window to itself.
`fit_note()` says so in one line.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.core.config import ConfigError, _describe, _error


class LayoutPreset(BaseModel):
    """One layouts/<name>.toml file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    description: str = ""
    """One line shown by `mission-control layouts`."""
    dashboard: Literal["left", "top", "window"] = "left"
    """Where the dashboard pane goes: beside the agents (`left`), above them (`top`), or in a window of its own."""
    dashboard_percent: int = Field(40, ge=10, le=90)
    """Share of the first window the dashboard takes (width for left, height for top)."""
    arrangement: Literal["tiled", "columns", "rows"] = "tiled"
    """How agent panes share their area: a grid, side-by-side columns, or stacked rows."""
    max_panes_per_window: int = Field(6, ge=1, le=64)
    """Agent panes per window; more agents overflow into further windows."""
    width: int = Field(220, ge=40, le=1000)
    """Fixed window width in cells (the agents' screens keep this size)."""
    height: int = Field(60, ge=10, le=500)
    """Fixed window height in cells."""
    min_pane_width: int = Field(40, ge=1, le=1000)
    """No agent pane narrower than this: agents that would be narrower overflow into further windows."""
    min_pane_height: int = Field(8, ge=1, le=500)
    """No agent pane shorter than this (lines of its screen, the border's title line not counted)."""


DASHBOARD_MIN_WIDTH = 40
"""The dashboard beside agents gets at least this many columns (its table's agent, status, cost
and commits need 38); where that and one agent column do not fit, it has the window alone."""
DASHBOARD_MIN_HEIGHT = 12
"""The dashboard above agents gets at least this many lines."""


def parse_layout(path: Path, text: str) -> LayoutPreset:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return LayoutPreset.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "extra_forbidden":
            import difflib

            key = str(err["loc"][-1])
            hint = difflib.get_close_matches(key, list(LayoutPreset.model_fields), n=1, cutoff=0.6)
            msg = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            raise _error(path, text, msg, tuple(err["loc"])) from None
        msg, loc = _describe(err, raw)
        raise _error(path, text, msg, loc) from None


@dataclass(frozen=True)
class WindowPlan:
    name: str
    dashboard: bool
    agents: tuple[str, ...]


def window_name(preset: LayoutPreset, n: int, agents: tuple[str, ...] | list[str]) -> str:
    """The name of the n-th agents' window: the agent's own when it holds one agent only."""
    if preset.max_panes_per_window == 1 and len(agents) == 1:
        return agents[0]
    return f"agents-{n}"


def plan(preset: LayoutPreset, agents: list[str], width: int | None = None, height: int | None = None) -> list[WindowPlan]:
    """Which window holds the dashboard and which agents.

    With the window size (the terminal's, less tmux's status line), a window holds no more
    agents than fit at the preset's minimum pane size (see `capacity`)."""
    per = preset.max_panes_per_window
    first, rest = per, per
    if width is not None and height is not None:
        first = capacity(preset, width, height, dashboard=True)
        rest = capacity(preset, width, height, dashboard=False)
    windows: list[WindowPlan] = []
    if preset.dashboard == "window":
        chunks = _chunks(agents, rest)
        windows.append(WindowPlan("dashboard", True, ()))
        for n, chunk in enumerate(chunks, 1):
            name = window_name(preset, n, chunk)
            windows.append(WindowPlan("agents" if len(chunks) == 1 and name == "agents-1" else name, False, chunk))
    else:
        windows.append(WindowPlan("fleet", True, tuple(agents[:first])))
        for n, chunk in enumerate(_chunks(agents[first:], rest), 2):
            windows.append(WindowPlan(window_name(preset, n, chunk), False, chunk))
    return windows


def _chunks(agents: list[str], per: int) -> list[tuple[str, ...]]:
    return [tuple(agents[i : i + per]) for i in range(0, len(agents), per)]


def misplaced(where: dict[str, str], windows: list[WindowPlan]) -> list[str]:
    """Agents (in plan order) whose window, by name in `where`, is not the one `windows` gives them."""
    return [a for w in windows for a in w.agents if where.get(a) != w.name]


def fit_note(
    preset: LayoutPreset, windows: list[WindowPlan], width: int, height: int, terminal: str, moved: bool = False
) -> str | None:
    """One line saying where the agents are when windows of width x height (a terminal's, given as
    `terminal` for people) hold fewer agents than the preset would at its own size, or when agents
    `moved` between windows to fit it. None otherwise: nothing worth saying."""
    agents = [a for w in windows for a in w.agents]
    where = ", ".join(f"{w.name} ({len(w.agents)})" for w in windows if w.agents)
    smaller = width < preset.width or height < preset.height
    if smaller and [w.agents for w in windows] != [w.agents for w in plan(preset, agents, preset.width, preset.height)]:
        lead = windows[0] if windows and windows[0].dashboard else None
        alone = f"the dashboard alone in window {lead.name}, " if lead and not lead.agents and preset.dashboard != "window" else ""
        return (f"terminal {terminal}: agent panes kept at least {preset.min_pane_width}x{preset.min_pane_height}: "
                f"{alone}agents in windows {where}")
    if moved:
        return f"terminal {terminal}: agents moved to fit it, now in windows {where}"
    return None


# ------------------------------------------------------------- tmux layout strings


def _checksum(body: str) -> str:
    csum = 0
    for ch in body:
        csum = (csum >> 1) + ((csum & 1) << 15)
        csum = (csum + ord(ch)) & 0xFFFF
    return f"{csum:04x}"


def _split(total: int, n: int) -> list[int]:
    """Sizes of n cells sharing `total` cells with a 1-cell border between each."""
    usable = total - (n - 1)
    base, extra = divmod(usable, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


@dataclass(frozen=True)
class _Box:
    w: int
    h: int
    x: int
    y: int

    def leaf(self, pane: int) -> str:
        return f"{self.w}x{self.h},{self.x},{self.y},{pane}"

    def head(self) -> str:
        return f"{self.w}x{self.h},{self.x},{self.y}"


def dashboard_share(preset: LayoutPreset, width: int, height: int) -> int:
    """The dashboard's columns (dashboard left) or lines (dashboard top) beside agent panes."""
    if preset.dashboard == "top":
        return max(DASHBOARD_MIN_HEIGHT, height * preset.dashboard_percent // 100)
    return max(DASHBOARD_MIN_WIDTH, width * preset.dashboard_percent // 100)


def agent_area(preset: LayoutPreset, width: int, height: int, dashboard: bool) -> tuple[int, int]:
    """Columns and lines left for agent panes in a window of this size (less the dashboard's share
    and its border when the window holds the dashboard beside them)."""
    if not dashboard or preset.dashboard == "window":
        return width, height
    share = dashboard_share(preset, width, height)
    if preset.dashboard == "top":
        return width, max(0, height - share - 1)
    return max(0, width - share - 1), height


def _fits(preset: LayoutPreset, cols: int, rows: int, width: int, height: int) -> bool:
    """Every cell of a cols x rows grid in width x height is at least the minimum pane size. A cell's
    first line may be its border's title (`pane-border-status top`), so it is not counted."""
    cell_w = (width - (cols - 1)) // cols
    cell_h = (height - (rows - 1)) // rows - 1
    return cell_w >= preset.min_pane_width and cell_h >= preset.min_pane_height


def capacity(preset: LayoutPreset, width: int, height: int, dashboard: bool) -> int:
    """How many agent panes (at most `max_panes_per_window`) a window of this size holds with
    none below the minimum pane size. 0 when the dashboard beside them leaves no room for one;
    a window without the dashboard holds at least one, however small."""
    w, h = agent_area(preset, width, height, dashboard)
    across = max(0, (w + 1) // (preset.min_pane_width + 1))
    down = max(0, (h + 1) // (preset.min_pane_height + 2))
    if preset.arrangement == "columns":
        n = across if down else 0
    elif preset.arrangement == "rows":
        n = down if across else 0
    else:
        n = across * down
    n = min(n, preset.max_panes_per_window)
    while n and not _fits(preset, *_grid(preset, n, w, h), w, h):  # the grid `layout_string` will choose
        n -= 1
    if dashboard and preset.dashboard != "window":
        return n
    return max(1, n)


def _grid(preset: LayoutPreset, n: int, width: int, height: int) -> tuple[int, int]:
    """Columns and rows for n panes: the arrangement's, and for `tiled` the grid closest to square
    cells whose every cell keeps the minimum pane size (when one does)."""
    if preset.arrangement == "columns":
        return n, 1
    if preset.arrangement == "rows":
        return 1, n
    want = math.ceil(math.sqrt(n * width / max(height * 2.2, 1)))
    grids = []
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        grids.append((math.ceil(n / rows), rows))
    fitting = [g for g in grids if _fits(preset, g[0], g[1], width, height)]
    return min(fitting or grids, key=lambda g: (abs(g[0] - max(1, min(n, want))), g[0]))


def _area(preset: LayoutPreset, box: _Box, panes: list[int]) -> str:
    """Layout of `panes` filling `box`."""
    n = len(panes)
    if n == 1:
        return box.leaf(panes[0])
    cols, rows = _grid(preset, n, box.w, box.h)
    heights = _split(box.h, rows)
    parts = []
    y = box.y
    idx = 0
    for r in range(rows):
        in_row = min(cols, n - idx)
        widths = _split(box.w, in_row)
        x = box.x
        cells = []
        for c in range(in_row):
            cells.append(_Box(widths[c], heights[r], x, y).leaf(panes[idx]))
            x += widths[c] + 1
            idx += 1
        rbox = _Box(box.w, heights[r], box.x, y)
        parts.append(cells[0] if in_row == 1 else rbox.head() + "{" + ",".join(cells) + "}")
        y += heights[r] + 1
    if rows == 1:
        return parts[0]
    return box.head() + "[" + ",".join(parts) + "]"


def layout_string(
    preset: LayoutPreset, width: int, height: int, dashboard_pane: int | None, agent_panes: list[int]
) -> str:
    """The tmux layout (`select-layout` argument) for one window, checksum included.

    Pane numbers are tmux pane ids without the `%`.
    """
    whole = _Box(width, height, 0, 0)
    if dashboard_pane is None:
        body = _area(preset, whole, agent_panes) if agent_panes else whole.leaf(0)
    elif not agent_panes:
        body = whole.leaf(dashboard_pane)
    elif preset.dashboard == "top":
        dh = min(dashboard_share(preset, width, height), height - 2)
        top = _Box(width, dh, 0, 0)
        rest = _Box(width, height - dh - 1, 0, dh + 1)
        body = whole.head() + "[" + top.leaf(dashboard_pane) + "," + _area(preset, rest, agent_panes) + "]"
    else:
        dw = min(dashboard_share(preset, width, height), width - 2)
        left = _Box(dw, height, 0, 0)
        rest = _Box(width - dw - 1, height, dw + 1, 0)
        body = whole.head() + "{" + left.leaf(dashboard_pane) + "," + _area(preset, rest, agent_panes) + "}"
    return f"{_checksum(body)},{body}"
