"""Review and the merge queue (issue 19 points 5 and 6) as a user runs them: real tmux on a
throwaway socket, real git repositories and worktrees, scripted agents that pull tasks, commit,
answer change requests and review through the CLI from inside their panes, a real `merge_check`.
The base branch at the end, each task's states and who got what typed are compared with the rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import fleet, gone, git, kill_hard, make_repo, retry_until, role_pid, run_cli, shell_agent, write_scripts

pytestmark = pytest.mark.tmux

WORKER = r"""
import os, re, subprocess, sys, time
log = open(sys.argv[1], "a")
me = os.environ["MISSION_CONTROL_AGENT"]

def commit(message):
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], check=True)

while True:
    try:
        line = input("$ ")
    except EOFError:
        break
    log.write(f"{me} {line}\n"); log.flush()
    words = line.split()
    if len(words) > 1 and words[0].isdigit():  # "N ...": N seconds of work first (printing: it shows WORKING)
        for i in range(int(words[0])):
            print("working", i, flush=True); time.sleep(1)
        words = words[1:]
    if len(words) >= 3 and words[0] == "write":  # "write FILE TEXT": the file written and committed
        with open(words[1], "w") as f:
            f.write(" ".join(words[2:]) + "\n")
        commit(line)
    elif "conflicts in" in line:  # the merge queue sent it back: the base merged in, our side kept
        base = re.search(r" into (\S+) conflicts in", line).group(1)
        subprocess.run(["git", "merge", "-q", "-X", "ours", "--no-edit", base], check=True)
    elif "The merge check" in line:  # failed or timed out: what the check refuses removed
        for name in ("broken.txt", "hang.txt"):
            if os.path.exists(name):
                os.remove(name)
        commit("fix what the merge check refused")
"""
"""A worker at a `$ ` prompt: each line logged (`AGENT LINE`); `[N] write FILE TEXT` writes and
commits; a conflict sent back is resolved by merging the base in (its own side kept); a failed
merge check is fixed by removing what the check refuses."""

REVIEWER = r"""
import os, re, subprocess, sys
log = open(sys.argv[1], "a")
me = os.environ["MISSION_CONTROL_AGENT"]
seen = {}
task = None
while True:
    try:
        line = input("> ")
    except EOFError:
        break
    log.write(f"{me} {line}\n"); log.flush()
    if m := re.match(r"Review task (\S+) ", line):
        task = m.group(1)
    elif line.startswith("Answer with") and task:
        seen[task] = seen.get(task, 0) + 1
        if seen[task] == 1:  # the first look: changes asked for (the text on stdin)
            r = subprocess.run([sys.executable, "-m", "mission_control", "review", task, "changes", "-"],
                               input="write feature.txt v2", text=True, capture_output=True)
        else:
            r = subprocess.run([sys.executable, "-m", "mission_control", "review", task, "approve"], text=True, capture_output=True)
        log.write(f"{me} verdict exit {r.returncode} {r.stdout.strip()} {r.stderr.strip()}\n"); log.flush()
        task = None
"""
"""A reviewer at a `> ` prompt: asks for changes at its first look at a task, approves at the second."""


def board(cli, cfg: Path) -> dict[str, dict]:
    r = run_cli(cli, cfg, "task", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {t["id"]: t for t in json.loads(r.stdout)}


def still(cli, cfg: Path) -> dict[str, dict]:
    """The board without what the clock changes (seconds in each state), and each task's history length."""
    return {i: {**{k: v for k, v in t.items() if k != "seconds_in"}, "events": len(history(cli, cfg, i))}
            for i, t in board(cli, cfg).items()}


def history(cli, cfg: Path, task: str) -> list[tuple[str, str]]:
    """Its state changes (`worked`, which changes no state and depends on what a tick happened to see, left out)."""
    r = run_cli(cli, cfg, "task", "show", task, "--json")
    assert r.returncode == 0, r.stderr
    return [(e["event"], e["state"]) for e in json.loads(r.stdout)["history"] if e["event"] != "worked"]


def worker(name: str, script: Path, log: Path, extra: str = "") -> str:
    return shell_agent(name, f"{sys.executable} {script} {log}", "worktree = true\npull = true\n" + extra)


def files_on(repo: Path, rev: str = "main") -> dict[str, str]:
    names = git(repo, "ls-tree", "--name-only", rev).split()
    return {n: git(repo, "show", f"{rev}:{n}") for n in names}


def worktrees(repo: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def test_merge_queue_merges_a_clean_branch_sends_back_a_conflict_and_a_failing_check(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    scripts = write_scripts(tmp_path, worker=WORKER)
    check = 'if [ -e broken.txt ]; then echo "broken.txt is there"; seq 1 100; exit 3; fi'
    tasks = """
[[task]]
id = "t-a"
prompt = "write shared.txt A"
priority = "high"

[[task]]
id = "t-b"
prompt = "3 write shared.txt B"

[[task]]
id = "t-c"
prompt = "write broken.txt x"
priority = "low"
"""
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + worker("w2", scripts["worker"], log) + tasks,
                f'repo = "{repo}"\nmerge_queue = true\nmerge_check = {json.dumps(check)}\n', stuck_after=60)
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    done = retry_until(lambda: (b := board(cli, cfg)) and all(t["state"] == "merged" for t in b.values()) and b,
                       timeout=120, message="every task merged")
    # the base branch: B's side kept where both changed shared.txt (B resolved the conflict), no broken.txt
    assert files_on(repo) == {"shared.txt": "B\n"}
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    merges = git(repo, "log", "--merges", "--format=%s", "main").splitlines()
    assert len(merges) == 4  # t-a, t-b, t-c (w1's branch again), and w2's merge of main into its own branch
    assert sum("into main" in m for m in merges) == 3
    assert history(cli, cfg, "t-a") == [("add", "queued"), ("take", "working"), ("done", "merging"), ("merged", "merged")]
    sent_back = [("add", "queued"), ("take", "working"), ("done", "merging"), ("changes", "changes"), ("resume", "working"),
                 ("done", "merging"), ("merged", "merged")]
    assert history(cli, cfg, "t-b") == sent_back and history(cli, cfg, "t-c") == sent_back
    typed = log.read_text().splitlines()
    conflict = [line for line in typed if "conflicts in" in line]
    assert len(conflict) == 1 and conflict[0].startswith("w2 ") and "shared.txt" in conflict[0]
    # the failing check's last 50 lines went back to t-c's worker (1..100 printed: 51..100 typed)
    got = [line.split(" ", 1)[1] for line in typed if line.startswith("w1 ")]
    assert "100" in got and "51" in got and "50" not in got and "broken.txt is there" not in got
    assert done["t-a"]["owner"] == done["t-c"]["owner"] == "w1" and done["t-b"]["owner"] == "w2"
    assert done["t-a"]["finished"] <= done["t-c"]["started"]  # w1 took nothing while its branch waited to be merged
    assert not any("/.mission-control/merges/" in p for p in worktrees(repo))  # no scratch worktree left
    assert run_cli(cli, cfg, "down").returncode == 0


def test_review_loop_one_change_request_then_approval_and_self_approval_refused(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    scripts = write_scripts(tmp_path, worker=WORKER, reviewer=REVIEWER)
    tasks = """
[[task]]
id = "feat"
prompt = "write feature.txt v1"
review = true
"""
    reviewer = shell_agent("r1", f"{sys.executable} {scripts['reviewer']} {log}", 'pull = true\nroles = ["reviewer"]\n')
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + reviewer + tasks,
                f'repo = "{repo}"\nmerge_queue = true\n', stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    final = retry_until(lambda: (b := board(cli, cfg)) and b["feat"]["state"] == "merged" and b, timeout=120, message="merged")
    assert files_on(repo)["feature.txt"] == "v2\n"
    assert history(cli, cfg, "feat") == [
        ("add", "queued"), ("take", "working"), ("done", "review"), ("changes", "changes"), ("resume", "working"),
        ("done", "review"), ("approve", "merging"), ("merged", "merged")]
    reviews = sorted(t for t in final if t != "feat")
    assert reviews == ["feat-review-1", "feat-review-2"]
    for rid in reviews:
        assert final[rid]["state"] == "done" and final[rid]["owner"] == "r1" and final[rid]["reviews"] == "feat"
        assert final[rid]["role"] == "reviewer"
    typed = log.read_text().splitlines()
    assert "w1 write feature.txt v2" in typed  # the change request, typed at the worker's prompt as its next prompt
    assert any(line.startswith("r1 Review task feat (done by w1, branch ") for line in typed)
    assert any("feature.txt" in line and line.startswith("r1 ") and "|" in line for line in typed)  # the diff stat
    assert [line for line in typed if "verdict exit" in line and "exit 0" not in line] == []
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_worker_cannot_approve_its_own_task_and_a_person_can_by_the_review_task_id(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    scripts = write_scripts(tmp_path, worker=WORKER)
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + '\n[[task]]\nid = "mine"\nprompt = "write a.txt 1"\nreview = "qa"\n',
                f'repo = "{repo}"\n', stuck_after=60)  # no merge queue: approved is done
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: board(cli, cfg)["mine"]["state"] == "review" and "mine-review-1" in board(cli, cfg),
                timeout=60, message="in review, with a review task for role qa")
    before = still(cli, cfg)
    assert before["mine-review-1"]["role"] == "qa" and before["mine-review-1"]["state"] == "queued"  # nobody of role qa
    as_w1 = subprocess.run([sys.executable, "-m", "mission_control", "review", "mine", "approve", "-c", str(cfg)],
                           env=cli.env(MISSION_CONTROL_AGENT="w1"), capture_output=True, text=True, timeout=60)
    assert as_w1.returncode == 1 and as_w1.stdout == ""
    assert as_w1.stderr == "mission-control: w1 cannot approve its own task mine: another reviewer must; nothing changed\n"
    assert still(cli, cfg) == before
    for bad, code, words in ((("review", "nope", "approve"), 1, "no task with id 'nope'"),
                             (("review", "mine", "maybe"), 2, "verdict 'maybe': use approve or changes"),
                             (("review", "mine", "changes"), 2, "say what to change"),
                             (("review", "mine", "approve", "extra"), 2, "takes no text"),
                             (("review", "mine", "changes", "-"), 2, "NUL byte")):
        r = run_cli(cli, cfg, *bad, stdin="a\x00b")
        assert r.returncode == code and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)
    assert still(cli, cfg) == before
    r = run_cli(cli, cfg, "review", "mine-review-1", "approve")
    assert r.returncode == 0 and "task mine approved: done" in r.stdout, r.stdout + r.stderr
    after = board(cli, cfg)
    assert after["mine"]["state"] == "done" and after["mine-review-1"]["state"] == "done"
    again = run_cli(cli, cfg, "review", "mine", "approve")
    assert again.returncode == 1 and "task 'mine' is done, not waiting for a review" in again.stderr
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_hanging_merge_check_is_killed_with_its_process_group_and_the_task_sent_back(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    pids = tmp_path / "sleeper.pid"
    scripts = write_scripts(tmp_path, worker=WORKER)
    check = f'if [ -e hang.txt ]; then echo hanging; sleep 1000 & echo $! > {pids}; wait; fi'
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + '\n[[task]]\nid = "h"\nprompt = "write hang.txt x"\n',
                f'repo = "{repo}"\nmerge_queue = true\nmerge_check = {json.dumps(check)}\nmerge_check_timeout = 2\n',
                stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: pids.exists() and pids.read_text().strip(), timeout=60, message="the check hangs")
    sleeper = int(pids.read_text())
    final = retry_until(lambda: (b := board(cli, cfg)) and b["h"]["state"] == "merged" and b, timeout=90, message="merged")
    assert gone(sleeper)  # the check's whole process group killed, not only its shell
    hist = json.loads(run_cli(cli, cfg, "task", "show", "h", "--json").stdout)["history"]
    back = [e for e in hist if e["event"] == "changes"]
    assert len(back) == 1 and back[0]["detail"] == "merge_check timed out after 2s"
    assert any("timed out after 2s" in line and line.startswith("w1 ") for line in log.read_text().splitlines())
    assert "hang.txt" not in files_on(repo) and final["h"]["owner"] == "w1"
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_supervisor_killed_mid_merge_loses_nothing_merges_once_and_leaves_no_scratch(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    go = tmp_path / "go"
    started = tmp_path / "checks.log"
    scripts = write_scripts(tmp_path, worker=WORKER)
    # the check says it started (its pid), then waits for the test's word
    check = f'echo $$ >> {started}; while [ ! -e {go} ]; do sleep 0.1; done'
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + '\n[[task]]\nid = "m"\nprompt = "write m.txt 1"\n',
                f'repo = "{repo}"\nmerge_queue = true\nmerge_check = {json.dumps(check)}\n', stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: started.exists() and started.read_text().strip(), timeout=60, message="the check runs")
    first_check = int(started.read_text().split()[0])
    scratch = [p for p in worktrees(repo) if "/.mission-control/merges/" in p]
    assert len(scratch) == 1 and Path(scratch[0]).is_dir()
    kill_hard(role_pid(cli, "supervisor"))
    assert board(cli, cfg)["m"]["state"] == "merging"  # the task is still in the queue
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr
    retry_until(lambda: len(started.read_text().split()) == 2, timeout=60, message="the check runs again")
    assert gone(first_check)  # the first supervisor's check killed by the second one
    go.touch()
    retry_until(lambda: board(cli, cfg)["m"]["state"] == "merged", timeout=60, message="merged")
    assert [line for line in git(repo, "log", "--merges", "--format=%s", "main").splitlines()] == [
        line for line in git(repo, "log", "--merges", "--format=%s", "main").splitlines() if "into main" in line]
    assert len(git(repo, "log", "--merges", "--format=%s", "main").splitlines()) == 1  # merged once
    assert files_on(repo)["m.txt"] == "1\n"
    assert not any("/.mission-control/merges/" in p for p in worktrees(repo))
    assert [e for e, _ in history(cli, cfg, "m")].count("merged") == 1
    assert run_cli(cli, cfg, "down").returncode == 0


SCENARIO = """
[[task]]
id = "a"
prompt = "write shared.txt A"
priority = "high"

[[task]]
id = "b"
prompt = "3 write shared.txt B"

[[task]]
id = "c"
prompt = "write broken.txt x"
priority = "low"
after = ["a"]

[[task]]
id = "d"
prompt = "write feature.txt v1"
review = true
after = ["b"]

[[task]]
id = "e"
prompt = "write e.txt e"
priority = 5
after = ["d"]
"""
"""Mixed priorities, two chains (a -> c, b -> d -> e), a review loop (d), a conflict (b changes
shared.txt after a did) and a failing check (c adds broken.txt)."""


def test_the_issue_scenario_priorities_chains_review_conflict_failing_check_and_a_supervisor_restart(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    log = tmp_path / "typed.log"
    scripts = write_scripts(tmp_path, worker=WORKER, reviewer=REVIEWER)
    check = 'if [ -e broken.txt ]; then echo "broken.txt is there"; exit 1; fi'
    reviewer = shell_agent("r1", f"{sys.executable} {scripts['reviewer']} {log}", 'pull = true\nroles = ["reviewer"]\n')
    cfg = fleet(tmp_path, worker("w1", scripts["worker"], log) + worker("w2", scripts["worker"], log) + reviewer + SCENARIO,
                f'repo = "{repo}"\nmerge_queue = true\nmerge_check = {json.dumps(check)}\n', stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    # in the middle (a merged, c typed at w1's prompt, b on its way): the supervisor killed and started again
    # (not while it types: a kill between its paste and its Enter is the board's known gap, tests/test_task_board.py)
    retry_until(lambda: log.exists() and "w1 write broken.txt x" in log.read_text().splitlines(), timeout=60, message="c typed")
    kill_hard(role_pid(cli, "supervisor"))
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr
    work = ("a", "b", "c", "d", "e")
    final = retry_until(lambda: (b := board(cli, cfg)) and all(b[t]["state"] == "merged" for t in work) and b,
                        timeout=180, message="every task merged")

    # the order of dispatch: priority first, then age, each after what it comes after
    assert sorted(work, key=lambda t: final[t]["started"]) == ["a", "b", "c", "d", "e"]
    for task in work:
        for dep in final[task]["after"]:
            assert final[task]["started"] >= final[dep]["finished"], (task, dep)
    # every state change, as the rules say
    clean = [("add", "queued"), ("take", "working"), ("done", "merging"), ("merged", "merged")]
    sent_back = [("add", "queued"), ("take", "working"), ("done", "merging"), ("changes", "changes"), ("resume", "working"),
                 ("done", "merging"), ("merged", "merged")]
    assert {t: history(cli, cfg, t) for t in work} == {
        "a": clean, "b": sent_back, "c": sent_back, "e": clean,
        "d": [("add", "queued"), ("take", "working"), ("done", "review"), ("changes", "changes"), ("resume", "working"),
              ("done", "review"), ("approve", "merging"), ("merged", "merged")],
    }
    assert sorted(t for t in final if t not in work) == ["d-review-1", "d-review-2"]
    assert all(final[r]["state"] == "done" and final[r]["owner"] == "r1" for r in ("d-review-1", "d-review-2"))
    # commits per task, by whom (b's second holding merged the base in: more than one commit)
    assert [h["commits"] for h in final["a"]["held_by"]] == [1] and [h["commits"] for h in final["e"]["held_by"]] == [1]
    assert [h["commits"] for h in final["c"]["held_by"]] == [1, 1] and [h["commits"] for h in final["d"]["held_by"]] == [1, 1]
    assert all(len({h["agent"] for h in final[t]["held_by"]}) == 1 == len(set([final[t]["owner"]])) for t in work)
    assert final["a"]["owner"] == "w1" and final["b"]["owner"] == "w2"
    # nothing lost, nothing run twice: each prompt typed once, each task taken once
    typed = log.read_text().splitlines()
    for task in work:
        prompt = next(line for line in SCENARIO.split("[[task]]") if f'id = "{task}"' in line).split('prompt = "')[1].split('"')[0]
        assert sum(line.split(" ", 1) in (["w1", prompt], ["w2", prompt]) for line in typed) == 1, prompt
    assert sum(line.startswith("r1 Review task d ") for line in typed) == 2
    # the base branch at the end
    assert files_on(repo) == {"shared.txt": "B\n", "feature.txt": "v2\n", "e.txt": "e\n"}
    assert sum("into main" in m for m in git(repo, "log", "--merges", "--format=%s", "main").splitlines()) == 5
    assert not any("/.mission-control/merges/" in p for p in worktrees(repo))
    assert run_cli(cli, cfg, "down").returncode == 0
