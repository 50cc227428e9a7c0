"""A fleet on a laptop over SSH (issue 14 item 5): `up` from an 80x24 or 100x30 terminal, and
`attach` from one to a fleet started elsewhere, never leave an agent pane narrower than 40
columns or shorter than 8 lines: agents overflow into further windows, the person is told in
one line, and the dashboard's snapshot says where each agent is.

The terminal is a real one: the pane of an outer tmux server of that size, on a socket of its own."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from helpers import Cli, retry_until
from mission_control.adapters.tmux import Tmux
from mission_control.fleet.bringup import fit_windows
from mission_control.fleet.locate import load_config

pytestmark = pytest.mark.tmux

DEMO = ("coder", "tester", "docs", "notifier", "asker")


def demo_like(tmp_path: Path) -> Path:
    """Five agents named as the demo's, each a plain `sleep` (the layout is what is tested)."""
    agents = "".join(f'\n[[agent]]\nname = "{n}"\nkind = "shell"\ncommand = "sleep 600"\n' for n in DEMO)
    path = tmp_path / "agents.toml"
    path.write_text(f'[mission]\nsession = "t"\nlayout = "split"\npoll_interval = 0.3\n{agents}')
    return path


@pytest.fixture
def outer() -> Iterator[str]:
    """The socket of a second tmux server whose panes stand for the person's terminal."""
    name = f"mct-outer-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


def in_terminal(outer: str, cli: Cli, size: tuple[int, int], *args: str) -> None:
    """Run `mission-control ARGS` in a terminal of `size` (a detached outer tmux pane of that size)."""
    width, height = size
    argv = ["sh", "-c", '"$@"; sleep 600', "sh", sys.executable, "-m", "mission_control", *args]  # its output stays
    subprocess.run(
        ["tmux", "-L", outer, "new-session", "-d", "-s", f"term{uuid.uuid4().hex[:6]}", "-x", str(width), "-y", str(height),
         "-e", f"MISSION_CONTROL_SOCKET={cli.socket}", *argv],
        check=True, env=cli.env(), cwd=cli.cwd,
    )


def screen(outer: str) -> str:
    out = subprocess.run(["tmux", "-L", outer, "list-panes", "-a", "-F", "#{pane_id}"], capture_output=True, text=True).stdout
    return "\n".join(
        subprocess.run(["tmux", "-L", outer, "capture-pane", "-p", "-t", p], capture_output=True, text=True).stdout
        for p in out.split()
    )


def agent_panes(cli: Cli) -> dict[str, tuple[str, int, int]]:
    """Each agent's (window name, pane width, pane height), read from tmux itself."""
    rows = cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_agent} #{window_name} #{pane_width}x#{pane_height}", check=False)
    out = {}
    for line in rows.splitlines():
        parts = line.split()
        if len(parts) == 3:
            w, h = parts[2].split("x")
            out[parts[0]] = (parts[1], int(w), int(h))
    return out


def assert_readable(panes: dict[str, tuple[str, int, int]], names: tuple[str, ...] = DEMO) -> None:
    assert set(panes) == set(names), panes
    small = {n: p for n, p in panes.items() if p[1] < 40 or p[2] < 8}
    assert not small, f"agent panes below 40x8: {small} (all: {panes})"


def windows_of(panes: dict[str, tuple[str, int, int]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in DEMO:
        out.setdefault(panes[name][0], []).append(name)
    return out


def dashboard_width(cli: Cli) -> int:
    rows = cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_role} #{pane_width}")
    return next(int(r.split()[1]) for r in rows.splitlines() if r.startswith("dashboard "))


@pytest.mark.parametrize(
    "size,expected,dashboard",
    [
        ((80, 24), {"agents-2": ["coder", "tester"], "agents-3": ["docs", "notifier"], "agents-4": ["asker"]}, 80),
        ((100, 30), {"fleet": ["coder", "tester", "docs"], "agents-2": ["notifier", "asker"]}, 45),
    ],
)
def test_up_from_a_small_terminal_keeps_every_agent_pane_readable(
    cli: Cli, outer: str, tmp_path: Path, size: tuple[int, int], expected: dict[str, list[str]], dashboard: int
) -> None:
    cfg = demo_like(tmp_path)
    in_terminal(outer, cli, size, "up", "--no-attach", "-c", str(cfg))
    panes = retry_until(lambda: (p := agent_panes(cli)) and len(p) == 5 and "attach with" in screen(outer) and p,
                        message="the fleet is up")
    assert_readable(panes)
    assert windows_of(panes) == expected
    assert dashboard_width(cli) == dashboard
    said = [line for line in screen(outer).splitlines() if f"terminal {size[0]}x{size[1]}:" in line]
    assert len(said) == 1 and "at least 40x8" in said[0], screen(outer)
    # the supervisor's snapshot (what the dashboard shows) knows each agent's window
    rows = retry_until(lambda: (r := cli.status("-c", str(cfg))) and len(r) == 5 and all(a["window"] for a in r) and r)
    assert {a["name"]: a["window"] for a in rows} == {n: w for w, ns in expected.items() for n in ns}


def test_attach_from_a_small_terminal_moves_agents_instead_of_squeezing_them(cli: Cli, outer: str, tmp_path: Path) -> None:
    """The reported case: `up --no-attach` without a terminal (the preset's 220x60, all five agents
    beside the dashboard), then `attach` over SSH from 100x30."""
    cfg = demo_like(tmp_path)
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "terminal" not in r.stdout  # no terminal: nothing to fit
    panes = agent_panes(cli)
    assert set(windows_of(panes)) == {"fleet"}
    pids = cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_agent} #{pane_pid}")

    in_terminal(outer, cli, (100, 30), "attach", "-c", str(cfg))
    retry_until(lambda: "0 100x30" in cli.tmux("list-clients", "-F", "#{client_control_mode} #{client_width}x#{client_height}", check=False).splitlines(),
                message="attached from the 100x30 terminal")
    panes = agent_panes(cli)
    assert_readable(panes)
    assert windows_of(panes) == {"fleet": ["coder", "tester", "docs"], "agents-2": ["notifier", "asker"]}
    assert cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_agent} #{pane_pid}") == pids  # moved, not restarted
    # tmux shows the line on the status bar once attached
    assert "agent panes kept at least 40x8" in screen(outer)


def test_the_attach_step_fits_again_to_each_terminal(cli: Cli, tmp_path: Path) -> None:
    """attach's own resizing step (the function `attach` calls before tmux takes the terminal),
    small to large and back: agents overflow, then come back together."""
    cfg = demo_like(tmp_path)
    assert cli("up", "--no-attach", "-c", str(cfg)).returncode == 0
    config = load_config(cfg)
    tmux = Tmux(cli.socket)

    note = fit_windows(config, tmux, 80, 24)
    assert note and note.startswith("terminal 80x24: agent panes kept at least 40x8: the dashboard alone in window fleet")
    panes = agent_panes(cli)
    assert_readable(panes)
    assert windows_of(panes) == {"agents-2": ["coder", "tester"], "agents-3": ["docs", "notifier"], "agents-4": ["asker"]}
    assert dashboard_width(cli) == 80
    names = cli.tmux("list-windows", "-t", "t", "-F", "#{window_name}").split()
    assert names[:4] == ["fleet", "agents-2", "agents-3", "agents-4"]  # in order, before the supervisor's

    note = fit_windows(config, tmux, 100, 30)
    assert note == "terminal 100x30: agent panes kept at least 40x8: agents in windows fleet (3), agents-2 (2)"
    panes = agent_panes(cli)
    assert_readable(panes)
    assert windows_of(panes) == {"fleet": ["coder", "tester", "docs"], "agents-2": ["notifier", "asker"]}

    assert fit_windows(config, tmux, 100, 30) == note  # the same terminal again: nothing moves
    r = cli("spawn", "extra", "--kind", "shell", "--command", "sleep 600", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    panes = agent_panes(cli)  # a spawned agent joins the last window where it fits at 40x8
    assert_readable(panes, DEMO + ("extra",))
    assert panes["extra"][0] == "agents-2"
    note = fit_windows(config, tmux, 230, 61)
    assert note == "terminal 230x61: agents moved to fit it, now in windows fleet (6)"
    assert {p[0] for p in agent_panes(cli).values()} == {"fleet"}
    assert fit_windows(config, tmux, 230, 61) is None


def test_attach_still_attaches_when_the_windows_cannot_be_fitted(cli: Cli, outer: str, tmp_path: Path) -> None:
    """A layout file broken after `up`: attach says so in one line and attaches all the same."""
    (tmp_path / "layouts").mkdir()
    (tmp_path / "layouts" / "mine.toml").write_text('dashboard = "left"\n')
    cfg = demo_like(tmp_path)
    cfg.write_text(cfg.read_text().replace('layout = "split"', 'layout = "mine"'))
    assert cli("up", "--no-attach", "-c", str(cfg)).returncode == 0
    (tmp_path / "layouts" / "mine.toml").write_text('dashboard = "sideways"\n')
    in_terminal(outer, cli, (100, 30), "attach", "-c", str(cfg))
    retry_until(lambda: "0 100x30" in cli.tmux("list-clients", "-F", "#{client_control_mode} #{client_width}x#{client_height}", check=False).splitlines(),
                message="attached all the same")
    assert "could not fit the windows to this 100x30 terminal" in screen(outer)
