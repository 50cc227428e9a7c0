"""Layout presets: validated like the config, planned purely, accepted by real tmux."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from mission_control.core.config import ConfigError
from mission_control.core.layouts import LayoutPreset, layout_string, parse_layout, plan

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
        assert first[1:3] == ["0", "0"] and int(first[3]) == max(20, 200 * lp.dashboard_percent // 100)


def test_windows_preset_gives_every_agent_a_window_of_its_own() -> None:
    names = [f"a{i}" for i in range(5)]
    windows = plan(preset("windows"), names)
    assert windows[0].dashboard and not windows[0].agents
    assert [w.agents for w in windows[1:]] == [(n,) for n in names]
    assert [w.name for w in windows[1:]] == names  # tmux's window list shows the agents by name
