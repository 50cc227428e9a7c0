"""Roles that scale (issue 19 point 3), as the user runs them: real tmux on a throwaway socket,
scripted shell agents, a real git repository for their worktrees. A role with `max_instances`
spawns at most that many agents while its tasks wait, they drain the queue, and after
`retire_after` they are stopped with their worktrees and branches kept; a supervisor killed in
the middle loses no task, runs none twice and spawns no duplicate; a template that cannot start
is not retried in a tight loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import fleet, git, kill_hard, make_repo, retry_until, role_pid, run_cli, shell_agent
from mission_control.adapters.store import Store
from test_task_pull import WORKER, board

pytestmark = pytest.mark.tmux


def role(command: str, *, max_instances: int = 2, retire_after: float = 4, extra: str = "") -> str:
    return (f'\n[[role]]\nname = "dev"\nkind = "shell"\ncommand = {json.dumps(command)}\nmax_instances = {max_instances}\n'
            f"retire_after = {retire_after:g}\n{extra}")


def tasks(n: int, seconds: int = 1) -> str:
    return "".join(f'\n[[task]]\nid = "t{i}"\nprompt = "{seconds} t{i}"\nrole = "dev"\n' for i in range(1, n + 1))


def actions(tmp_path: Path, action: str) -> list[dict]:
    rows = Store(tmp_path / ".mission-control" / "state.db").actions(limit=2000)
    return sorted((r for r in rows if r["action"] == action), key=lambda r: r["at"])


def panes_named(cli) -> list[str]:
    return [n for n in cli.tmux("list-panes", "-a", "-F", "#{@mc_agent}").split() if n]


def start(cli, tmp_path: Path, body: str) -> tuple[Path, Path, Path]:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    # a watcher agent of no role, so the fleet has a pane of its own from the start
    cfg = fleet(tmp_path, shell_agent("watch", "sleep 100000") + body.format(log=log), f'repo = "{repo}"\n', stuck_after=60)
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    return cfg, repo, log


def typed(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def check_drained_and_retired(cli, tmp_path: Path, cfg: Path, repo: Path, log: Path) -> None:
    done = retry_until(lambda: (b := board(cli, cfg)) and all(t["state"] == "done" for t in b.values()) and b,
                       timeout=120, message="every task done")
    lines = typed(log)
    assert sorted(line.split(" ", 1)[1] for line in lines) == sorted(t["prompt"] for t in done.values())  # once each
    assert {t["owner"] for t in done.values()} <= {"dev-1", "dev-2"}
    spawned = [r["agent"] for r in actions(tmp_path, "role-spawn") if not r["outcome"].startswith("failed")]
    assert sorted(spawned) == ["dev-1", "dev-2"], spawned  # max_instances: never a third, never one twice
    # idle with nothing ready for retire_after: stopped, panes closed, worktrees and branches kept
    retry_until(lambda: not {"dev-1", "dev-2"} & set(panes_named(cli)), timeout=60, message="both retired")
    retired = {r["agent"] for r in actions(tmp_path, "role-retire")}
    assert retired == {"dev-1", "dev-2"}
    retry_until(lambda: {r["name"] for r in cli.status("-c", str(cfg))} == {"watch"}, message="status shows them gone (a tick later)")
    commits = 0
    for name in ("dev-1", "dev-2"):
        assert (tmp_path / ".mission-control" / "worktrees" / name).is_dir()
        commits += int(git(repo, "rev-list", "--count", f"main..agent/{name}"))
    assert commits == 5  # each task's commit, on the branch of the agent that did it


def test_a_role_spawns_at_most_max_instances_drains_the_queue_and_retires_them(cli, tmp_path: Path) -> None:
    cfg, repo, log = start(cli, tmp_path, role(WORKER) + tasks(5))
    # both agents appear while tasks wait, never a third
    retry_until(lambda: {"dev-1", "dev-2"} <= set(panes_named(cli)), timeout=60, message="two agents spawned")
    check_drained_and_retired(cli, tmp_path, cfg, repo, log)
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_supervisor_killed_while_a_role_grows_spawns_no_duplicate_and_loses_no_task(cli, tmp_path: Path) -> None:
    cfg, repo, log = start(cli, tmp_path, role(WORKER) + tasks(5, seconds=2))
    retry_until(lambda: "dev-1" in panes_named(cli) and typed(log), timeout=60, message="dev-1 spawned and working")
    kill_hard(role_pid(cli, "supervisor"))
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr
    check_drained_and_retired(cli, tmp_path, cfg, repo, log)
    names = panes_named(cli)
    assert len(names) == len(set(names))
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_role_whose_agents_exit_at_once_backs_off_and_says_why(cli, tmp_path: Path) -> None:
    cfg, repo, log = start(cli, tmp_path, role("echo no such tool; exit 3", max_instances=3) + tasks(2))
    failed = retry_until(lambda: [r for r in actions(tmp_path, "role-spawn") if r["outcome"].startswith("failed")],
                         timeout=60, message="a failed spawn said")
    assert "dev-1 exited" in failed[0]["outcome"] and "tries again in 5 s" in failed[0]["outcome"], failed[0]
    failed = retry_until(lambda: (f := [r for r in actions(tmp_path, "role-spawn") if r["outcome"].startswith("failed")])[2:] and f,
                         timeout=90, message="three failures")
    gaps = [b["at"] - a["at"] for a, b in zip(failed, failed[1:])]
    # backed off 5 s, then 10 s (counted from the tick that saw the exit, a row written a little later): never a tight loop
    assert gaps[0] >= 4 and gaps[1] >= 9 and gaps[1] > gaps[0], gaps
    assert "tries again in 20 s" in failed[2]["outcome"]
    assert all(t["state"] == "queued" for t in board(cli, cfg).values())  # nothing taken, nothing lost
    assert [n for n in panes_named(cli) if n != "watch"] in ([], ["dev-1"])  # each try takes up dev-1 again
    assert all("dev-1 exited" in f["outcome"] for f in failed), [f["outcome"][:70] for f in failed]
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_pane_of_a_spawn_cut_off_before_its_record_is_closed_and_never_doubled(cli, tmp_path: Path) -> None:
    cfg, repo, log = start(cli, tmp_path, role(WORKER))
    # what a supervisor killed between a spawn's pane and its record leaves: a pane named dev-1, no record
    pane = cli.tmux("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "t", "sleep 1000").strip()
    cli.tmux("set-option", "-p", "-t", pane, "@mc_agent", "dev-1")
    r = run_cli(cli, cfg, "task", "add", "--role", "dev", "--id", "late", "1 late")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: board(cli, cfg)["late"]["state"] == "done", timeout=90, message="the task done")
    assert board(cli, cfg)["late"]["owner"] == "dev-2"  # dev-1's name was the orphan's: not given twice
    retry_until(lambda: actions(tmp_path, "role-orphan"), timeout=60, message="the orphan closed")
    assert pane not in cli.tmux("list-panes", "-a", "-F", "#{pane_id}").split()
    names = panes_named(cli)
    assert len(names) == len(set(names))
    assert run_cli(cli, cfg, "down").returncode == 0
