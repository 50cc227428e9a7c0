"""Issue 19's "How it will be checked", in one run as the user runs it: real tmux on a throwaway
socket, a real git repository, scripted agents that pull tasks through a `[[role]]` with
`max_instances = 2` (spawned by the supervisor, each in its own worktree), a reviewer agent that
asks for changes once and then approves through the CLI from its pane, a merge queue with a real
`merge_check` that fails once and a conflict once, and the supervisor killed (SIGKILL) and started
again in the middle. What happened — the order of dispatch, every state change (task_events), the
commits per task and by whom, the agents spawned, the base branch at the end — is compared with
what the issue's rules say, and nothing is lost or run twice."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from helpers import fleet, git, kill_hard, make_repo, retry_until, role_pid, run_cli, shell_agent, write_scripts
from test_merge_queue import REVIEWER, WORKER, board, files_on, worktrees
from test_roles import actions, panes_named

pytestmark = pytest.mark.tmux

SPEND = "Cost: $0.25 message"
"""What a worker prints for each piece of work (a commit, a merge of the base): its spend, read by
the role template's `tokens` regex, so each holding of a task costs $0.25."""
WORKER_SPENDING = WORKER
for _done in ('    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], check=True)\n',
              '        subprocess.run(["git", "merge", "-q", "-X", "ours", "--no-edit", base], check=True)\n'):
    assert _done in WORKER_SPENDING
    WORKER_SPENDING = WORKER_SPENDING.replace(_done, _done + _done[: len(_done) - len(_done.lstrip())] + f"print({SPEND!r}, flush=True)\n")

TASKS = [
    # id, prompt, priority, after, review
    ("a", "8 write shared.txt A", 10, (), False),  # first taken; long enough that `b` is the second agent's
    ("b", "3 write shared.txt B", 0, (), False),  # shared.txt changed on the other branch: the later merged conflicts
    ("f", "write f.txt f", -5, (), False),  # ready from the start, after `b` by priority
    ("c", "write broken.txt x", -10, ("a",), False),  # the merge_check refuses broken.txt once
    ("d", "write feature.txt v1", 0, ("b",), True),  # the review loop: changes once, then approved
    ("e", "write e.txt e", 5, ("d",), False),  # high, but only after the chain b -> d
]
"""Mixed priorities, a chain (b -> d -> e) and a dependency (a -> c), all for role `dev`."""


def config_tasks() -> str:
    out = ""
    for task_id, prompt, priority, after, review in TASKS:
        out += (f'\n[[task]]\nid = "{task_id}"\nprompt = "{prompt}"\npriority = {priority}\nrole = "dev"\n'
                f"after = {json.dumps(list(after))}\nreview = {'true' if review else 'false'}\n")
    return out


def when(text: str | None) -> float:
    assert text, "a time missing"
    return datetime.fromisoformat(text).timestamp()


def histories(cli, cfg: Path, ids) -> dict[str, list[dict]]:
    out = {}
    for task_id in ids:
        r = run_cli(cli, cfg, "task", "show", task_id, "--json")
        assert r.returncode == 0, r.stderr
        out[task_id] = json.loads(r.stdout)["history"]
    return out


def test_the_issue_scenario_with_a_scaling_role_review_merge_queue_and_a_supervisor_killed(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    scripts = write_scripts(tmp_path, worker=WORKER_SPENDING, reviewer=REVIEWER)
    check = 'if [ -e broken.txt ]; then echo "broken.txt is there"; exit 1; fi'
    reviewer = shell_agent("r1", f"{sys.executable} {scripts['reviewer']} {log}", 'pull = true\nroles = ["reviewer"]\n')
    command = f"{sys.executable} {scripts['worker']} {log}"
    role = f'\n[[role]]\nname = "dev"\nkind = "shell"\ncommand = {json.dumps(command)}\nmax_instances = 2\nretire_after = 3600\n'
    role += "tokens = { cost = 'Cost: \\$([0-9.]+) message' }\n"

    cfg = fleet(tmp_path, reviewer + role + config_tasks(),
                f'repo = "{repo}"\nmerge_queue = true\nmerge_check = {json.dumps(check)}\n', stuck_after=120)
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stdout + r.stderr

    # in the middle (a merged, c typed at its worker's prompt, b on its way): the supervisor killed and started
    # again (not while it types: a kill between its paste and its Enter is the board's known gap, test_task_board.py)
    def typed() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    retry_until(lambda: any(line.endswith(" write broken.txt x") for line in typed()), timeout=180, message="c typed")
    kill_hard(role_pid(cli, "supervisor"))
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr
    work = [t[0] for t in TASKS]
    final = retry_until(lambda: (b := board(cli, cfg)) and all(b[t]["state"] == "merged" for t in work) and b,
                        timeout=300, message="every task merged")
    history = histories(cli, cfg, final)

    # the role: two agents spawned while its tasks waited, never a third, none twice (the restart included)
    spawned = [a["agent"] for a in actions(tmp_path, "role-spawn") if not a["outcome"].startswith("failed")]
    assert sorted(spawned) == ["dev-1", "dev-2"], spawned
    names = panes_named(cli)
    assert sorted(n for n in names if n.startswith("dev-")) == ["dev-1", "dev-2"] and len(names) == len(set(names))
    assert {final[t]["owner"] for t in work} <= {"dev-1", "dev-2"}
    assert final["a"]["owner"] != final["b"]["owner"]  # both changed shared.txt: the second in the merge queue conflicts
    queued_at = {t: min(when(e["at"]) for e in history[t] if e["event"] == "done") for t in ("a", "b")}
    first, second = sorted(("a", "b"), key=queued_at.get)  # the merge queue: oldest first

    # the order of dispatch: whenever a task was taken, no ready task of higher priority (or as high and older) waited
    order = {t[0]: i for i, t in enumerate(TASKS)}
    key = {t: (-final[t]["priority"], order[t]) for t in work}
    taken = {t: min(when(e["at"]) for e in history[t] if e["event"] == "take") for t in work}
    ready = {t: max([when(final[t]["created"])] + [when(final[dep]["finished"]) for dep in final[t]["after"]]) for t in work}
    for x in work:
        for y in work:
            if ready[y] <= taken[x] < taken[y]:
                assert key[y] > key[x], f"{x} taken while {y}, first in order, was ready"
        for dep in final[x]["after"]:
            assert taken[x] >= when(final[dep]["finished"]), (x, dep)
    assert sorted(work[:3], key=taken.get) == ["a", "b", "f"]  # ready from the start: by priority

    # every state change, as the rules say (`worked` changes no state: left out)
    changes = {t: [(e["event"], e["state"]) for e in history[t] if e["event"] != "worked"] for t in work}
    clean = [("add", "queued"), ("take", "working"), ("done", "merging"), ("merged", "merged")]
    sent_back = [("add", "queued"), ("take", "working"), ("done", "merging"), ("changes", "changes"), ("resume", "working"),
                 ("done", "merging"), ("merged", "merged")]
    assert changes == {
        first: clean, second: sent_back, "f": clean, "e": clean, "c": sent_back,
        "d": [("add", "queued"), ("take", "working"), ("done", "review"), ("changes", "changes"), ("resume", "working"),
              ("done", "review"), ("approve", "merging"), ("merged", "merged")],
    }, changes
    back = {t: [e["detail"] for e in history[t] if e["event"] == "changes"] for t in (second, "c", "d")}
    assert back[second] == ["conflicts in shared.txt"] and "merge_check" in back["c"][0] and back["d"][0].startswith("by r1: write feature.txt v2")
    assert all(e["agent"] == final[t]["owner"] for t in work for e in history[t] if e["event"] in ("take", "changes", "resume"))
    reviews = sorted(t for t in final if t not in work)
    assert reviews == ["d-review-1", "d-review-2"]
    assert all(final[r]["state"] == "done" and final[r]["owner"] == "r1" and final[r]["role"] == "reviewer" for r in reviews)
    # measured: the time blocked on `after` apart from the time queued, the time in review and merging
    assert final["e"]["seconds_in"]["blocked"] > 0 and final["d"]["seconds_in"]["review"] > 0
    assert all(final[t]["seconds_in"]["merging"] > 0 and final[t]["seconds_in"]["working"] > 0 for t in work)
    assert "blocked" not in final["a"]["seconds_in"] and "blocked" not in final["f"]["seconds_in"]

    # commits per task, by whom (the conflict's second holding merged the base in: a merge commit, counted as git counts)
    for t in work:
        assert {h["agent"] for h in final[t]["held_by"]} == {final[t]["owner"]}, (t, final[t]["held_by"])
    assert {t: [h["commits"] for h in final[t]["held_by"]] for t in (first, "f", "e", "c", "d")} == {
        first: [1], "f": [1], "e": [1], "c": [1, 1], "d": [1, 1]}
    assert final[second]["held_by"][0]["commits"] == 1 and final[second]["held_by"][1]["commits"] >= 1
    # spend per task, by whom: each holding did one piece of work ($0.25), counted once whatever the restart
    assert {t: [h["cost_usd"] for h in final[t]["held_by"]] for t in work} == {
        t: [0.25] * (2 if t in (second, "c", "d") else 1) for t in work}

    # the totals per role (`task list --by-role`) add up the same
    r = run_cli(cli, cfg, "task", "list", "--by-role")
    assert r.returncode == 0, r.stderr
    totals = json.loads(r.stdout)
    assert totals["dev"]["tasks"] == len(work) and totals["dev"]["states"] == {"merged": len(work)}
    assert totals["dev"]["cost_usd"] == 0.25 * 9 and totals["dev"]["reassignments"] == 0 and totals["dev"]["stuck"] == 0
    assert totals["dev"]["commits"] == sum(h["commits"] for t in work for h in final[t]["held_by"])
    assert totals["reviewer"]["tasks"] == 2 and totals["reviewer"]["states"] == {"done": 2}

    # nothing lost, nothing run twice: each prompt typed once, by its owner; each task taken once; each review once
    lines = typed()
    for task_id, prompt, *_ in TASKS:
        by = [line.split(" ", 1)[0] for line in lines if line.split(" ", 1)[1:] == [prompt] and line.startswith("dev-")]
        assert by == [final[task_id]["owner"]], prompt  # (the reviewer's lines carry d's prompt: its review)
        assert [e["event"] for e in history[task_id]].count("take") == 1
    assert sum(line.startswith("r1 Review task d ") for line in lines) == 2
    assert [line for line in lines if "verdict exit" in line and "exit 0" not in line] == []
    conflicts = [line for line in lines if "conflicts in" in line]
    assert len(conflicts) == 1 and conflicts[0].startswith(final[second]["owner"] + " ") and "shared.txt" in conflicts[0]
    assert sum("The merge check" in line for line in lines) == 1

    # the base branch at the end: every task's work once, the conflict resolved to its side, nothing the check refused
    assert files_on(repo) == {"shared.txt": second.upper() + "\n", "f.txt": "f\n", "feature.txt": "v2\n", "e.txt": "e\n"}
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert sum("into main" in m for m in git(repo, "log", "--merges", "--format=%s", "main").splitlines()) == len(work)
    assert not any("/.mission-control/merges/" in p for p in worktrees(repo))
    assert run_cli(cli, cfg, "down").returncode == 0
