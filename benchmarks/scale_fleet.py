"""The scale check's fleet and its check, shared by tests/test_scale.py (N = 100, in CI) and
`benchmarks/bench.py --exact` (any N, e.g. 300, by hand).

Five kinds of agent, every one with its own parameters (how many token lines it prints, how
many commits it makes, how it exits), so a figure that leaked from one agent to another, or
was lost under load, shows as a mismatch: committers that end at a prompt (IDLE), agents
missing an environment variable (STUCK), agents asking a yes/no question (WAITING), agents
that keep printing (WORKING) and agents that exit (EXITED, cleanly or with a failure).
`plan(i)` says what agent i runs and the figures it must end with; `mismatches` compares
`mission-control status --json` with the plans, agent by agent.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

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
STATUS = {"committer": "IDLE", "stuck": "STUCK", "waiting": "WAITING", "working": "WORKING", "exiting": "EXITED"}

FIGURES = ("status", "reason", "tokens_in", "tokens_out", "cost_usd", "commits", "ahead", "exit_code")
"""The figures of a `status --json` row that are compared (with the plan, and between runs)."""


def plan(i: int) -> dict[str, Any]:
    """Agent i's kind and parameters, and the figures it must end with."""
    kind, p = KINDS[i % len(KINDS)], i // len(KINDS)
    name = f"{kind}-{p:02d}"
    lines, out = p % 7 + 1, 10 * (i + 1)
    commits = p % 4 + 1 if kind == "committer" else 0
    code = 3 if kind == "exiting" and p % 2 else 0
    reason = {"stuck": "missing NOTIFICATION_KEY", "exiting": f"failed: exit {code}" if code else "exited"}.get(kind)
    return {
        "name": name,
        "command": SPEND.format(lines=lines, out=out) + BODY[kind].format(name=name, commits=commits, code=code),
        "status": STATUS[kind],
        "reason": reason,
        "tokens_in": lines * 1000,
        "tokens_out": lines * out,
        "cost": lines * 0.01,
        "commits": commits,
        "exit_code": code if kind == "exiting" else None,
    }


def plans(n: int) -> list[dict[str, Any]]:
    """The plans of a fleet of n agents."""
    return [plan(i) for i in range(n)]


def fleet_toml(repo: Path, agents: list[dict[str, Any]], session: str = "scale", poll_interval: float = 0.5) -> str:
    """agents.toml of the fleet: every agent a shell in a worktree of `repo`, in the `windows` layout."""
    head = f'[mission]\nsession = "{session}"\npoll_interval = {poll_interval}\nrepo = "{repo}"\nlayout = "windows"\n'
    return head + "".join(
        f'\n[[agent]]\nname = "{a["name"]}"\nkind = "shell"\nworktree = true\n{TOKENS}\ncommand = \'\'\'{a["command"]}\'\'\'\n'
        for a in agents
    )


def status_rows(config: Path, cwd: Path, env: dict[str, str], timeout: float = 60) -> dict[str, dict[str, Any]] | None:
    """`mission-control status --json`, by agent name; None when it fails."""
    r = subprocess.run([sys.executable, "-m", "mission_control", "status", "--json", "-c", str(config)],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        return None
    return {row["name"]: row for row in json.loads(r.stdout)}


def settled(rows: dict[str, dict[str, Any]] | None, agents: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Every agent's figures once each shows the state, spend and commits it must end with."""
    if rows is None:
        return None
    for a in agents:
        row = rows.get(a["name"])
        if row is None or row["status"] != a["status"] or row["tokens_in"] != a["tokens_in"] or row["commits"] != a["commits"]:
            return None
    return {name: {k: row.get(k) for k in FIGURES} for name, row in rows.items()}


def mismatches(rows: dict[str, dict[str, Any]], agents: list[dict[str, Any]]) -> list[str]:
    """One line per figure of an agent that differs from its plan (none when every agent is exact)."""
    out: list[str] = []
    for a in agents:
        row = rows.get(a["name"])
        if row is None:
            out.append(f"{a['name']}: missing from status")
            continue
        want = {"status": a["status"], "tokens_in": a["tokens_in"], "tokens_out": a["tokens_out"], "commits": a["commits"],
                "ahead": a["commits"], "exit_code": a["exit_code"]}
        if a["reason"] is not None:
            want["reason"] = a["reason"]
        for key, value in want.items():
            if row.get(key) != value:
                out.append(f"{a['name']}: {key} {row.get(key)!r}, planned {value!r}")
        cost = row.get("cost_usd")
        if cost is None or not math.isclose(cost, a["cost"], rel_tol=1e-6):
            out.append(f"{a['name']}: cost_usd {cost!r}, planned {a['cost']!r}")
    return out
