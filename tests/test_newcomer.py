"""What a newcomer trips on in the first minute: commands with no config, programs' own options,
pipes, the words in outcomes, and running from inside tmux."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import retry_until, run_cli


def test_layouts_lists_the_shipped_presets_with_no_config_and_no_fleet(cli, tmp_path: Path) -> None:
    r = cli("layouts", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert {"split", "tiled", "columns", "stacked", "windows"} <= set(names)


def test_agent_takes_its_own_options_through_the_main_command(cli, tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        r = cli("agent", flag)
        assert r.returncode == 0 and r.stdout.startswith("usage: mission-control agent"), r.stderr
        assert "--model" in r.stdout and "--request-timeout" in r.stdout
    r = cli("agent", "--model", "m", "--task", "t", "--host", "http://127.0.0.1:9", "--max-steps", "1", timeout=60)
    assert "unrecognized arguments" not in r.stderr
    r = cli("demo", "--help")
    assert r.returncode == 0 and "usage: mission-control demo" in r.stdout


def test_a_closed_pipe_ends_quietly(cli, tmp_path: Path) -> None:
    """`mission-control status | head -1`: the reader left; no BrokenPipeError, no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    r = subprocess.run([sys.executable, "-m", "mission_control", "status", "--json"], cwd=tmp_path, env=cli.env(),
                       stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write_end)
    assert r.stderr == "" and r.returncode == 141


@pytest.mark.tmux
def test_reassign_keep_says_kept(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "agents.toml"
    cfg.write_text('[mission]\nsession = "t"\npoll_interval = 0.3\n' + "".join(
        f'[[agent]]\nname = "{n}"\nkind = "shell"\ncommand = "sleep 1000"\n{task}'
        for n, task in (("a", 'task = "the task"\n'), ("b", ""))))
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: len(cli.status("-c", str(cfg))) == 2)
    r = run_cli(cli, cfg, "reassign", "a", "--to", "b", "--old", "keep")
    assert r.returncode == 0, r.stderr
    assert "moved from a (kept) to b" in r.stdout


@pytest.mark.tmux
def test_attach_from_inside_tmux_switches_or_says_it_nests(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "agents.toml"
    cfg.write_text('[mission]\nsession = "fleet"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 1000"\n')
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    outer = f"{cli.socket}-outer"
    mc = f"{sys.executable} -m mission_control attach -c {cfg}"
    try:
        # from a pane of another tmux server: attached inside that pane, and it says so first
        subprocess.run(["tmux", "-L", outer, "new-session", "-d", "-x", "100", "-y", "30", "-s", "mine",
                        "-e", f"MISSION_CONTROL_SOCKET={cli.socket}", f"{mc} > {tmp_path}/said; sleep 600"],
                       check=True, env=cli.env())
        def people() -> list[str]:  # clients that are terminals (the supervisor's control client is not)
            rows = cli.tmux("list-clients", "-F", "#{client_control_mode} #{client_session}", check=False).splitlines()
            return [r.split()[1] for r in rows if r.startswith("0 ")]

        retry_until(lambda: people() == ["fleet"], message="attached from inside the other tmux")
        assert "inside another tmux" in (tmp_path / "said").read_text()
        # from a pane of the fleet's own server: the client switches to the fleet, nothing nests
        cli.tmux("new-window", "-d", "-t", "fleet:", "-n", "own", f"{mc} > {tmp_path}/said-own 2>&1; sleep 600")
        retry_until(lambda: (tmp_path / "said-own").exists() and "switched" in (tmp_path / "said-own").read_text(),
                    message="switch-client from inside the fleet's own tmux")
        assert people() == ["fleet"]
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True)
