"""Layout presets: validated like the config, planned purely, accepted by real tmux."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import ROOT
from mission_control.core.config import ConfigError
from mission_control.core.layouts import (
    LayoutPreset, WindowPlan, capacity, dashboard_share, fit_note, layout_string, misplaced, parse_layout, plan,
)

PRESETS = sorted((ROOT / "layouts").glob("*.toml"))


def preset(name: str) -> LayoutPreset:
    path = ROOT / "layouts" / f"{name}.toml"
    return parse_layout(path, path.read_text())


def test_required_presets_exist() -> None:
    assert {"split", "tiled", "columns"} <= {p.stem for p in PRESETS}


@pytest.mark.parametrize(
    "text,needle",
    [
        ('dashbord = "left"\n', "did you mean 'dashboard'"),
        ('dashboard = "right"\n', "dashboard"),
        ("max_panes_per_window = 0\n", "max_panes_per_window"),
        ('arrangement = "spiral"\n', "arrangement"),
    ],
)
def test_bad_layout_is_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_layout(Path("/l/x.toml"), text)
    assert str(err.value).startswith("/l/x.toml") and needle in str(err.value)


def test_overflow_into_further_windows() -> None:
    names = [f"a{i}" for i in range(14)]
    windows = plan(preset("split"), names)
    per = preset("split").max_panes_per_window
    assert windows[0].dashboard and len(windows[0].agents) == per
    assert [a for w in windows for a in w.agents] == names
    assert all(len(w.agents) <= per for w in windows)
    tiled = plan(preset("tiled"), names)
    assert tiled[0].dashboard and tiled[0].agents == ()


@pytest.mark.tmux
@pytest.mark.parametrize("name", [p.stem for p in PRESETS])
@pytest.mark.parametrize("n", [1, 2, 5, 6])
def test_tmux_accepts_layout(tmux_socket: str, name: str, n: int) -> None:
    lp = preset(name)
    t = ["tmux", "-L", tmux_socket]
    subprocess.run(t + ["new-session", "-d", "-s", "x", "-x", "200", "-y", "50"], check=True)
    subprocess.run(t + ["set-option", "-t", "x", "window-size", "manual"], check=True)
    for _ in range(n if lp.dashboard != "window" else n - 1):
        subprocess.run(t + ["split-window", "-t", "x"], check=True)
        subprocess.run(t + ["select-layout", "-t", "x", "tiled"], check=True)
    ids = [int(p[1:]) for p in subprocess.run(t + ["list-panes", "-t", "x", "-F", "#{pane_id}"], capture_output=True, text=True).stdout.split()]
    dash = ids[0] if lp.dashboard != "window" else None
    agents = ids[1:] if dash is not None else ids
    layout = layout_string(lp, 200, 50, dash, agents)
    r = subprocess.run(t + ["select-layout", "-t", "x", layout], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = subprocess.run(t + ["list-panes", "-t", "x", "-F", "#{pane_id} #{pane_left} #{pane_top} #{pane_width}"], capture_output=True, text=True).stdout.split("\n")
    first = got[0].split()
    if lp.dashboard == "left" and agents:
        assert first[1:3] == ["0", "0"] and int(first[3]) == dashboard_share(lp, 200, 50)


def test_windows_preset_gives_every_agent_a_window_of_its_own() -> None:
    names = [f"a{i}" for i in range(5)]
    windows = plan(preset("windows"), names)
    assert windows[0].dashboard and not windows[0].agents
    assert [w.agents for w in windows[1:]] == [(n,) for n in names]
    assert [w.name for w in windows[1:]] == names  # tmux's window list shows the agents by name


# ------------------------------------------------ small terminals (issue 14: 80x24, 100x30 over SSH)

DEMO = ["coder", "tester", "docs", "notifier", "asker"]


def _cells(layout: str) -> list[tuple[int, int, int]]:
    """(width, height, pane) of every leaf in a layout string."""
    import re

    return [(int(w), int(h), int(p)) for w, h, p in re.findall(r"(\d+)x(\d+),\d+,\d+,(\d+)", layout)]


@pytest.mark.parametrize("name", [p.stem for p in PRESETS])
@pytest.mark.parametrize("size", [(80, 23), (100, 29), (120, 39), (60, 20), (220, 60)])
def test_no_agent_pane_below_the_minimum(name: str, size: tuple[int, int]) -> None:
    """Whatever the terminal, each window's layout keeps every agent pane at least 40x8 (its
    border's title line aside) wherever one pane of that size fits at all."""
    lp = preset(name)
    width, height = size
    windows = plan(lp, DEMO + [f"x{i}" for i in range(7)], width, height)
    assert [a for w in windows for a in w.agents] == DEMO + [f"x{i}" for i in range(7)]
    for w in windows:
        if not w.agents:
            assert w.dashboard
            continue
        dash = 999 if w.dashboard and lp.dashboard != "window" else None
        ids = list(range(1, len(w.agents) + 1))
        for cw, ch, pane in _cells(layout_string(lp, width, height, dash, ids)):
            if pane != dash and width >= 40 and height >= 10:
                assert cw >= 40 and ch - 1 >= 8, (w, cw, ch)


def test_split_at_80x24_gives_the_dashboard_the_first_window_alone() -> None:
    windows = plan(preset("split"), DEMO, 80, 23)
    assert windows[0] == WindowPlan("fleet", True, ())
    assert [w.agents for w in windows[1:]] == [("coder", "tester"), ("docs", "notifier"), ("asker",)]
    assert [w.name for w in windows[1:]] == ["agents-2", "agents-3", "agents-4"]
    note = fit_note(preset("split"), windows, 80, 23, "80x24")
    assert note == ("terminal 80x24: agent panes kept at least 40x8: the dashboard alone in window fleet, "
                    "agents in windows agents-2 (2), agents-3 (2), agents-4 (1)")


def test_split_at_100x30_keeps_three_agents_beside_the_dashboard() -> None:
    lp = preset("split")
    windows = plan(lp, DEMO, 100, 29)
    assert [(w.name, w.agents) for w in windows] == [("fleet", ("coder", "tester", "docs")), ("agents-2", ("notifier", "asker"))]
    assert dashboard_share(lp, 100, 29) == 45
    cells = _cells(layout_string(lp, 100, 29, 0, [1, 2, 3]))
    assert cells[0] == (45, 29, 0) and all(c[0] == 54 for c in cells[1:])
    assert fit_note(lp, windows, 100, 29, "100x30") == "terminal 100x30: agent panes kept at least 40x8: agents in windows fleet (3), agents-2 (2)"


def test_a_terminal_as_large_as_the_preset_changes_nothing_and_says_nothing() -> None:
    for lp in map(preset, ["split", "tiled", "windows"]):
        windows = plan(lp, DEMO, lp.width, lp.height)
        assert [w.agents for w in windows] == [w.agents for w in plan(lp, DEMO)]
        assert fit_note(lp, windows, lp.width, lp.height, "x") is None
        assert fit_note(lp, plan(lp, DEMO, 500, 200), 500, 200, "x") is None


def test_capacity_counts_what_fits_at_the_minimum() -> None:
    lp = preset("split")
    assert capacity(lp, 80, 23, dashboard=True) == 0  # 40 for the dashboard + 1 + 39: no agent column
    assert capacity(lp, 80, 23, dashboard=False) == 2  # one column (two would be 39 wide), two rows of 11
    assert capacity(lp, 100, 29, dashboard=True) == 3  # 54 wide, three rows of 9 (8 + its title line)
    assert capacity(lp, 30, 5, dashboard=False) == 1  # never zero where there is no dashboard
    assert capacity(lp, 400, 100, dashboard=False) == lp.max_panes_per_window
    small = lp.model_copy(update={"min_pane_width": 20, "min_pane_height": 4})
    assert capacity(small, 80, 23, dashboard=True) == 4  # 39 wide: one column of four
    assert capacity(small, 100, 29, dashboard=True) == 6  # two columns: up to the preset's six


def test_misplaced_agents_are_those_whose_window_name_differs() -> None:
    windows = plan(preset("split"), DEMO, 100, 29)
    assert misplaced({a: "fleet" for a in DEMO}, windows) == ["notifier", "asker"]
    assert misplaced({"coder": "fleet", "tester": "fleet", "docs": "fleet", "notifier": "agents-2", "asker": "agents-2"}, windows) == []


def test_agents_moved_back_on_a_large_terminal_are_said_too() -> None:
    lp = preset("split")
    windows = plan(lp, DEMO, 300, 80)
    assert fit_note(lp, windows, 300, 80, "300x81") is None
    assert fit_note(lp, windows, 300, 80, "300x81", moved=True) == "terminal 300x81: agents moved to fit it, now in windows fleet (5)"
