"""Correctness does not degrade with scale: a fleet of 100 agents gets, for every agent,
the status, token and commit figures that agent gets when it runs alone.

Five kinds of agent, twenty of each, every one with its own parameters (how many token
lines it prints, how many commits it makes, how it exits), so a figure that leaked from
one agent to another, or was lost under load, shows as a mismatch: committers that end
at a prompt (IDLE), agents missing an environment variable (STUCK), agents asking a
yes/no question (WAITING), agents that keep printing (WORKING) and agents that exit
(EXITED, cleanly or with a failure). All run as real processes in real tmux panes, each
in its own git worktree. One of each kind then runs again, alone in a fleet of its own,
and must get the same figures as it got among the hundred.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import Cli, make_repo, retry_until

pytestmark = pytest.mark.tmux

N = 100
KINDS = ("committer", "stuck", "waiting", "working", "exiting")
TOKENS = "tokens = { cost = 'Cost: \\$([0-9.]+) message', tokens_in = 'Tokens: ([0-9.k]+) sent', tokens_out = '([0-9]+) received' }"
SPEND = "for j in $(seq 1 {lines}); do echo 'Tokens: 1k sent, {out} received. Cost: $0.01 message'; done; "
BODY = {
    "committer": "for c in $(seq 1 {commits}); do echo $c > {name}-$c.txt; git add {name}-$c.txt; git commit -qm \"{name} $c\"; done; "
                 "echo 'all done'; while true; do printf '$ '; read x; done",
    "stuck": "echo 'Error: NOTIFICATION_KEY is not set'; while true; do read x; done",
    "waiting": "printf 'Overwrite results.txt? (y/n) '; read x; while true; do read x; done",
    "working": "i=0; while true; do i=$((i+1)); echo \"step $i: editing src/part_$i.py\"; sleep 0.3; done",
    "exiting": "echo 'finished'; exit {code}",
}


def plan(i: int) -> dict[str, Any]:
    """Agent i's kind and parameters, and the figures it must end with."""
    kind, p = KINDS[i % len(KINDS)], i // len(KINDS)
    name = f"{kind}-{p:02d}"
    lines, out = p % 7 + 1, 10 * (i + 1)
    commits = p % 4 + 1 if kind == "committer" else 0
    code = 3 if kind == "exiting" and p % 2 else 0
    status = {"committer": "IDLE", "stuck": "STUCK", "waiting": "WAITING", "working": "WORKING", "exiting": "EXITED"}[kind]
    return {
        "name": name,
        "command": SPEND.format(lines=lines, out=out) + BODY[kind].format(name=name, commits=commits, code=code),
        "status": status,
        "tokens_in": lines * 1000,
        "tokens_out": lines * out,
        "cost": lines * 0.01,
        "commits": commits,
        "exit_code": code if kind == "exiting" else None,
    }


def fleet_toml(repo: Path, agents: list[dict[str, Any]]) -> str:
    head = f'[mission]\nsession = "scale"\npoll_interval = 0.5\nrepo = "{repo}"\nlayout = "windows"\n'
    return head + "".join(
        f'\n[[agent]]\nname = "{a["name"]}"\nkind = "shell"\nworktree = true\n{TOKENS}\ncommand = \'\'\'{a["command"]}\'\'\'\n'
        for a in agents
    )


FIGURES = ("status", "reason", "tokens_in", "tokens_out", "cost_usd", "commits", "ahead", "exit_code")


def settled(cli: Cli, cfg: Path, agents: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Every agent's figures once each shows the state, spend and commits it must end with."""
    r = subprocess.run([sys.executable, "-m", "mission_control", "status", "--json", "-c", str(cfg)],
                       cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    for a in agents:
        row = rows.get(a["name"])
        if row is None or row["status"] != a["status"] or row["tokens_in"] != a["tokens_in"] or row["commits"] != a["commits"]:
            return None
    return {name: {k: row.get(k) for k in FIGURES} for name, row in rows.items()}


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
        return retry_until(lambda: settled(cli, cfg, agents), timeout=90, interval=0.5,
                           message=f"all {len(agents)} agents show their final figures")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def test_a_hundred_agents_get_the_figures_each_gets_alone(tmp_path: Path, tmux_socket: str) -> None:
    agents = [plan(i) for i in range(N)]
    many = run_fleet(tmp_path / "fleet", tmux_socket, agents)
    assert len(many) == N
    for a in agents:
        got = many[a["name"]]
        assert got["tokens_out"] == a["tokens_out"], a["name"]
        assert got["cost_usd"] == pytest.approx(a["cost"]), a["name"]
        assert got["ahead"] == a["commits"] and got["exit_code"] == a["exit_code"], a["name"]
    assert {many[a["name"]]["reason"] for a in agents if a["status"] == "STUCK"} == {"missing NOTIFICATION_KEY"}
    assert {many[a["name"]]["reason"] for a in agents if a["status"] == "EXITED"} == {"exited", "failed: exit 3"}

    # one of each kind (and both ways of exiting), alone in a fleet of its own
    for i in (10, 11, 12, 13, 4, 9):
        a = agents[i]
        alone = run_fleet(tmp_path / f"alone-{a['name']}", f"{tmux_socket}-{i}", [a])
        assert alone[a["name"]] == many[a["name"]], a["name"]
