"""Correctness does not degrade with scale: a fleet of 100 agents gets, for every agent,
the status, token and commit figures that agent gets when it runs alone.

Five kinds of agent, twenty of each, every one with its own parameters (how many token
lines it prints, how many commits it makes, how it exits), so a figure that leaked from
one agent to another, or was lost under load, shows as a mismatch: committers that end
at a prompt (IDLE), agents missing an environment variable (STUCK), agents asking a
yes/no question (WAITING), agents that keep printing (WORKING) and agents that exit
(EXITED, cleanly or with a failure). All run as real processes in real tmux panes, each
in its own git worktree. One of each kind then runs again, alone in a fleet of its own,
and must get the same figures as it got among the hundred. The fleet and the check live in
benchmarks/scale_fleet.py, which `benchmarks/bench.py --exact` runs at any N (e.g. 300).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import Cli, make_repo, retry_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from scale_fleet import fleet_toml, mismatches, plans, settled, status_rows  # noqa: E402  (shared with bench.py --exact)

pytestmark = pytest.mark.tmux

N = 100


def run_fleet(tmp: Path, socket: str, agents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    tmp.mkdir()
    repo = make_repo(tmp / "repo")
    cfg = tmp / "agents.toml"
    cfg.write_text(fleet_toml(repo, agents))
    cli = Cli(socket, tmp)
    try:
        r = subprocess.run([sys.executable, "-m", "mission_control", "up", "--no-attach", "-c", str(cfg)],
                           cwd=tmp, env=cli.env(), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return retry_until(lambda: settled(status_rows(cfg, cli.cwd, cli.env()), agents), timeout=90, interval=0.5,
                           message=f"all {len(agents)} agents show their final figures")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def test_a_hundred_agents_get_the_figures_each_gets_alone(tmp_path: Path, tmux_socket: str) -> None:
    agents = plans(N)
    many = run_fleet(tmp_path / "fleet", tmux_socket, agents)
    assert len(many) == N
    assert mismatches(many, agents) == []

    # one of each kind (and both ways of exiting), alone in a fleet of its own
    for i in (10, 11, 12, 13, 4, 9):
        a = agents[i]
        alone = run_fleet(tmp_path / f"alone-{a['name']}", f"{tmux_socket}-{i}", [a])
        assert alone[a["name"]] == many[a["name"]], a["name"]
