"""Layout presets (layouts/*.toml) and the pure planning of windows and panes.

A preset says where the dashboard goes and how agent panes are arranged; `plan()`
turns it plus the agent names into windows; `layout_string()` computes the exact
tmux layout (with its checksum) so the dashboard keeps its place while the agent
panes are tiled beside it.
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


def plan(preset: LayoutPreset, agents: list[str]) -> list[WindowPlan]:
    """Which window holds the dashboard and which agents."""
    per = preset.max_panes_per_window
    chunks = [tuple(agents[i : i + per]) for i in range(0, len(agents), per)]
    windows: list[WindowPlan] = []
    if preset.dashboard == "window":
        windows.append(WindowPlan("dashboard", True, ()))
        for n, chunk in enumerate(chunks, 1):
            name = window_name(preset, n, chunk)
            windows.append(WindowPlan("agents" if len(chunks) == 1 and name == "agents-1" else name, False, chunk))
    else:
        first = chunks[0] if chunks else ()
        windows.append(WindowPlan("fleet", True, first))
        for n, chunk in enumerate(chunks[1:], 2):
            windows.append(WindowPlan(window_name(preset, n, chunk), False, chunk))
    return windows


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


def _area(box: _Box, panes: list[int], arrangement: str) -> str:
    """Layout of `panes` filling `box`."""
    n = len(panes)
    if n == 1:
        return box.leaf(panes[0])
    if arrangement == "columns":
        cols, rows = n, 1
    elif arrangement == "rows":
        cols, rows = 1, n
    else:
        cols = math.ceil(math.sqrt(n * box.w / max(box.h * 2.2, 1)))
        cols = max(1, min(n, cols))
        rows = math.ceil(n / cols)
        cols = math.ceil(n / rows)
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
        body = _area(whole, agent_panes, preset.arrangement) if agent_panes else whole.leaf(0)
    elif not agent_panes:
        body = whole.leaf(dashboard_pane)
    elif preset.dashboard == "top":
        dh = max(3, height * preset.dashboard_percent // 100)
        top = _Box(width, dh, 0, 0)
        rest = _Box(width, height - dh - 1, 0, dh + 1)
        body = whole.head() + "[" + top.leaf(dashboard_pane) + "," + _area(rest, agent_panes, preset.arrangement) + "]"
    else:
        dw = max(20, width * preset.dashboard_percent // 100)
        left = _Box(dw, height, 0, 0)
        rest = _Box(width - dw - 1, height, dw + 1, 0)
        body = whole.head() + "{" + left.leaf(dashboard_pane) + "," + _area(rest, agent_panes, preset.arrangement) + "}"
    return f"{_checksum(body)},{body}"
