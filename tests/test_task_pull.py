"""Idle agents with `pull = true` take the next ready task (issue 19 point 2), on real tmux with
real git: the order of dispatch follows priority, age and `after`; a task is done by its
commit; the supervisor killed in the middle loses nothing and gives nothing twice."""

from __future__ import annotations

import json

from pathlib import Path

import pytest

from mission_control.adapters.store import Store
from helpers import fleet, kill_hard, make_repo, retry_until, role_pid, run_cli, shell_agent

pytestmark = pytest.mark.tmux

WORKER = (
    # a prompt; each line typed at it: logged, "worked on" for as many seconds as its first word
    # says (printing, so it shows WORKING), committed, back to the prompt
    "while true; do printf '$ '; IFS= read -r x || exit; printf '%s %s\\n' \"$MISSION_CONTROL_AGENT\" \"$x\" >> {log};"
    " n=${{x%% *}}; i=0; while [ $i -lt $n ]; do i=$((i+1)); echo \"working on $x ($i)\"; sleep 1; done;"
    " git commit -q --allow-empty -m \"$x\"; done"
)

TASKS = """
[[task]]
id = "c-low"
prompt = "1 c-low"
priority = "low"

[[task]]
id = "a-high"
prompt = "2 a-high"
priority = "high"

[[task]]
id = "d-long"
prompt = "5 d-long"

[[task]]
id = "b-after"
prompt = "1 b-after"
after = ["a-high"]
"""


def board(cli, cfg: Path) -> dict[str, dict]:
    r = run_cli(cli, cfg, "task", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {t["id"]: t for t in json.loads(r.stdout)}


def test_pulling_agents_take_tasks_by_priority_and_after_and_a_supervisor_restart_loses_nothing(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    agents = "".join(shell_agent(n, WORKER.format(log=log), "worktree = true\npull = true\n") for n in ("w1", "w2"))
    cfg = fleet(tmp_path, agents + TASKS, f'repo = "{repo}"\n', stuck_after=60)
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    first = board(cli, cfg)
    assert first["b-after"]["state"] == "blocked" and first["b-after"]["blocked_by"] == ["a-high"]

    # in the middle: a task held by each agent, typed at its prompt (a supervisor killed while it
    # types, between the paste and its Enter, leaves the text on the agent's input line and never
    # types it twice: tests/test_task_board.py)
    retry_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, timeout=60, message="both agents took a task")
    kill_hard(role_pid(cli, "supervisor"))
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr

    done = retry_until(lambda: (b := board(cli, cfg)) and all(t["state"] == "done" for t in b.values()) and b,
                       timeout=90, message="every task done")
    # the order of the takes (two taken in one tick, after a restart under load, share a start time)
    takes = Store(tmp_path / ".mission-control" / "state.db").task_events()
    order = [e["task"] for e in takes if e["event"] == "take"]
    assert order == ["a-high", "d-long", "b-after", "c-low"]
    assert done["b-after"]["started"] >= done["a-high"]["finished"]  # after what it comes after
    lines = log.read_text().splitlines()
    prompts = sorted(line.split(" ", 1)[1] for line in lines)
    assert prompts == sorted(t["prompt"] for t in done.values())  # each typed once: none lost, none twice
    for task in done.values():
        (holder,) = task["held_by"]
        assert f"{holder['agent']} {task['prompt']}" in lines
        assert holder["commits"] == 1 and task["owner"] == holder["agent"]
        assert task["seconds_in"].get("working", 0) > 0
    history = json.loads(run_cli(cli, cfg, "task", "show", "a-high", "--json").stdout)["history"]
    assert [e["event"] for e in history].count("take") == 1 and history[-1]["detail"] == "done_when commit"
    assert run_cli(cli, cfg, "down").returncode == 0



def test_up_after_a_tmux_crash_gives_the_held_task_back_to_its_agent(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    # as WORKER, and first the task it was started with (a shell agent gets it as $MISSION_CONTROL_TASK)
    again = (f"if [ -n \"$MISSION_CONTROL_TASK\" ]; then printf 'again %s\\n' \"$MISSION_CONTROL_TASK\" >> {log};"
             " sleep 1; git commit -q --allow-empty -m again; fi; ")
    cfg = fleet(tmp_path, shell_agent("w1", again + WORKER.format(log=log), "worktree = true\npull = true\n")
                + '\n[[task]]\nid = "only"\nprompt = "4 only"\n', f'repo = "{repo}"\n', stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: log.exists() and "w1 4 only" in log.read_text(), timeout=60, message="the task typed")
    cli.tmux("kill-server")  # tmux and everything in it gone, the supervisor too: a crash
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "recovered after a crash" in r.stdout, r.stdout + r.stderr
    task = retry_until(lambda: (t := board(cli, cfg)["only"])["state"] == "done" and t, timeout=60, message="done after the crash")
    assert task["owner"] == "w1" and task["held_by"] == [{"agent": "w1", "cost_usd": None, "commits": 1}]
    assert "again 4 only" in log.read_text().splitlines()  # restarted with the task it held
    history = json.loads(run_cli(cli, cfg, "task", "show", "only", "--json").stdout)["history"]
    assert [e["event"] for e in history if e["event"] != "worked"] == ["add", "take", "done"]  # taken once, never queued again
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_task_reassigned_before_its_text_was_typed_is_never_typed_to_the_old_agent(cli, tmp_path: Path) -> None:
    """The old agent's queued text was for the task it leaves: when it comes back to its prompt
    (continued), it is not typed there, so two agents never work one task."""
    import sys

    from helpers import PROMPTER, write_scripts

    script = write_scripts(tmp_path, prompter=PROMPTER)["prompter"]
    typed = {n: tmp_path / f"typed-{n}" for n in ("x", "y")}
    cfg = fleet(tmp_path, "".join(shell_agent(n, f"{sys.executable} {script} {typed[n]}") for n in ("x", "y")), stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    try:
        retry_until(lambda: all(r["status"] == "IDLE" for r in cli.status("-c", str(cfg))), timeout=60, message="both idle")
        assert run_cli(cli, cfg, "pause", "x").returncode == 0
        assert run_cli(cli, cfg, "task", "add", "the one job", "--id", "j").returncode == 0
        r = run_cli(cli, cfg, "task", "assign", "j", "x")
        assert r.returncode == 0, r.stderr  # queued for x's prompt: x is paused
        r = run_cli(cli, cfg, "reassign", "x", "--to", "y", "--old", "keep")
        assert r.returncode == 0, r.stderr
        retry_until(lambda: typed["y"].exists() and "the one job" in typed["y"].read_text(), timeout=60,
                    message="y got the handoff naming the task")
        assert run_cli(cli, cfg, "continue", "x").returncode == 0
        assert run_cli(cli, cfg, "send", "x", "marker").returncode == 0
        retry_until(lambda: typed["x"].exists() and "marker" in typed["x"].read_text(), timeout=60, message="x typed at again")
        assert typed["x"].read_text().splitlines() == ["marker"]  # never the task it left
        assert board(cli, cfg)["j"]["owner"] == "y"
    finally:
        run_cli(cli, cfg, "down")
