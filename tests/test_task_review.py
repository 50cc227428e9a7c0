"""Review and the merge queue (issue 19 points 5, 6) below the CLI: the pure rules of the new
state changes, the store's schema 6, the board's repairs (a review task made once, a stale one
closed), and the merge queue's restart cases on a real git repository (a merge written whose
task was not marked, a scratch worktree and a check left by a killed supervisor)."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import commit, git, make_repo, retry_until, sha
from test_task_board import record_fleet

import mission_control.fleet.tasks as fleet_tasks
from mission_control.adapters.store import SCHEMA_VERSION, Store
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.tasks import Event, Task, TaskError, last_lines, merge_queue, transition
from mission_control.fleet.tasks import TaskBoard, add_config_tasks


# ------------------------------------------------------------------ the rules


def test_done_goes_to_review_or_the_merge_queue_and_each_new_event_applies_only_where_it_should() -> None:
    held = Task("t", "p", state="working", owner="w1", commits_at_start=2)
    merge = {"merge": True, "sha": "abc"}
    assert transition(held, Event("done", 5.0, data=merge)).state == "merging"
    queued = transition(held, Event("done", 5.0, data=merge))
    assert (queued.approved_at, queued.merge_sha, queued.finished_at) == (5.0, "abc", None)
    assert transition(held, Event("done", 5.0)).state == "done"  # no merge queue: finished
    in_review = transition(replace(held, review=True), Event("done", 5.0, data=merge))
    assert (in_review.state, in_review.merge_sha, in_review.approved_at) == ("review", "abc", None)
    approved = transition(in_review, Event("approve", 6.0, data=merge))
    assert (approved.state, approved.approved_at) == ("merging", 6.0)
    assert transition(in_review, Event("approve", 6.0)).state == "done"
    back = transition(approved, Event("changes", 7.0, reason="conflicts in a.txt", commits=4))
    assert (back.state, back.commits_at_start, back.approved_at, back.merge_sha, back.worked) == ("changes", 4, None, None, False)
    assert transition(back, Event("resume", 8.0)).state == "working"
    assert transition(approved, Event("merged", 9.0)).finished_at == 9.0
    for task, kind in ((held, "approve"), (held, "changes"), (held, "resume"), (held, "merged"), (in_review, "merged"),
                       (approved, "approve"), (in_review, "resume")):
        with pytest.raises(TaskError):
            transition(task, Event(kind, 1.0))


def test_the_merge_queue_is_oldest_approval_first_and_a_failed_check_keeps_its_last_lines() -> None:
    tasks = [Task("a", "p", state="merging", approved_at=3.0, seq=1), Task("b", "p", state="merging", approved_at=1.0, seq=2),
             Task("c", "p", state="review", seq=3), Task("d", "p", state="merging", approved_at=1.0, seq=4)]
    assert [t.id for t in merge_queue(tasks)] == ["b", "d", "a"]
    text = "\n".join(str(i) for i in range(1, 101)) + "\n" + "x" * 10_000
    tail = last_lines(text).splitlines()
    assert len(tail) == 50 and tail[0] == "52" and tail[-1] == "x" * 400 + "..."


# ------------------------------------------------------------------ the store


def test_a_schema_5_store_gets_the_four_columns_and_keeps_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).add_task(lambda board: Task("old", "p", created_at=1.0))
    conn = sqlite3.connect(path)
    for column in ("review_role", "reviews", "approved_at", "merge_sha"):
        conn.execute(f"ALTER TABLE tasks DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value='5' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) and [t.id for t in store.tasks()] == ["old"]
    store.add_task(lambda board: Task("new", "p", review=True, review_role="qa", created_at=2.0))
    assert {t.id: t.review_role for t in Store(path).tasks()} == {"old": None, "new": "qa"}


# ------------------------------------------------------------------ the board's repairs

CONFIG = """
[[agent]]
name = "w1"
kind = "shell"
command = "x"
pull = true

[[agent]]
name = "r1"
kind = "shell"
command = "x"
pull = true
roles = ["reviewer"]

[[task]]
id = "t1"
prompt = "do it"
review = true
done_when = "idle"
"""


def snap(name: str, status: Status = Status.IDLE, at_prompt: bool = True) -> AgentSnapshot:
    return AgentSnapshot(name=name, kind="shell", status=status, at_prompt=at_prompt)


def setup_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = CONFIG, mission: str = ""):
    monkeypatch.setattr(fleet_tasks, "require_fleet", lambda config: None)  # a running fleet, for the CLI's changes
    config, store, recs = record_fleet(tmp_path, mission + text)
    add_config_tasks(config, store)
    return config, store, recs


def delivered(store: Store) -> None:
    """Everything queued for the agents' prompts typed (what the supervisor's delivery does)."""
    for item in store.pending_deliveries():
        store.mark_delivered(item["id"])


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    return {t.id: (t.state, t.owner) for t in store.tasks()}


def test_a_review_task_is_made_once_across_restarts_and_closed_when_its_task_no_longer_waits(tmp_path, monkeypatch) -> None:
    config, store, recs = setup_board(tmp_path, monkeypatch)
    board = TaskBoard(config, store, actor="supervisor")
    both = [snap("w1"), snap("r1", Status.WORKING, at_prompt=False)]  # the reviewer busy: its review waits queued
    board.tick(recs, both, 10.0)
    delivered(store)
    board.tick(recs, [snap("w1", Status.WORKING, at_prompt=False), both[1]], 11.0)
    board.tick(recs, both, 12.0)
    again = TaskBoard(config, Store(config.store_path), actor="supervisor")  # a restarted supervisor
    again.tick(recs, both, 13.0)
    board.tick(recs, both, 14.0)
    assert states(store) == {"t1": ("review", "w1"), "t1-review-1": ("queued", None)}
    review = {t.id: t for t in store.tasks()}["t1-review-1"]
    assert review.reviews == "t1" and review.role == "reviewer" and "Its prompt was:\ndo it\n" in review.prompt
    assert "mission-control review t1 approve" in review.prompt
    TaskBoard(config, store).cancel("t1")
    board.tick(recs, both, 15.0)
    assert states(store) == {"t1": ("cancelled", "w1"), "t1-review-1": ("done", None)}


def test_a_verdict_names_the_task_or_its_review_and_changes_go_back_to_the_worker(tmp_path, monkeypatch) -> None:
    config, store, recs = setup_board(tmp_path, monkeypatch)
    board = TaskBoard(config, store, actor="supervisor")
    idle = [snap("w1"), snap("r1")]
    board.tick(recs, idle, 10.0)
    delivered(store)
    board.tick(recs, [snap("w1", Status.WORKING, at_prompt=False), snap("r1")], 11.0)
    board.tick(recs, idle, 12.0)
    assert states(store)["t1-review-1"] == ("working", "r1")
    delivered(store)
    monkeypatch.setenv("MISSION_CONTROL_AGENT", "r1")
    out = TaskBoard(config, store).review("t1-review-1", "changes", "use 'quotes' $(x)\nand a second line")
    assert out.task.state == "changes" and "sent back to w1" in out.message
    assert [(d["agent"], d["text"]) for d in store.pending_deliveries()] == [("w1", "use 'quotes' $(x)\nand a second line")]
    assert states(store) == {"t1": ("changes", "w1"), "t1-review-1": ("done", "r1")}
    assert store.current_tasks()["t1"]["agent"] == "w1"  # it holds the task again (the ledger says so)
    with pytest.raises(TaskError, match="is changes, not waiting for a review"):
        TaskBoard(config, store).review("t1", "approve")
    board.tick(recs, idle, 13.0)
    assert states(store)["t1"] == ("changes", "w1")  # not typed yet: still `changes`
    delivered(store)
    board.tick(recs, idle, 14.0)
    assert states(store)["t1"] == ("working", "w1")


# ------------------------------------------------------------------ the merge queue on a real repository

MERGE_CONFIG = """
[[agent]]
name = "w1"
kind = "shell"
command = "x"
"""


def merge_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A repository whose agent w1 committed a.txt on its worktree branch, and its task `m` in the merge queue."""
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "agent/w1")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "agent/w1")
    work = commit(tmp_path / "wt", "work", {"a.txt": "a\n"})
    config, store, recs = setup_board(tmp_path, monkeypatch, MERGE_CONFIG, f'[mission]\nrepo = "{repo}"\nmerge_queue = true\n')
    recs = [replace(recs[0], branch="agent/w1", worktree=str(tmp_path / "wt"), base_branch="main")]
    store.add_task(lambda board: Task("m", "p", state="merging", owner="w1", merge_sha=work, approved_at=1.0, created_at=1.0))
    return repo, config, store, recs


def test_a_merge_written_whose_task_was_not_marked_is_marked_merged_without_merging_again(tmp_path, monkeypatch) -> None:
    repo, config, store, recs = merge_setup(tmp_path, monkeypatch)
    git(repo, "-c", "user.name=T", "-c", "user.email=t@x", "merge", "--no-ff", "-q", "-m", "merged by the killed one", "agent/w1")
    tip = sha(repo)  # a supervisor killed after the merge, before the task was marked
    board = TaskBoard(config, store, actor="supervisor")
    board.tick(recs, [snap("w1")], 10.0)
    assert states(store)["m"] == ("merged", "w1") and sha(repo) == tip  # marked, not merged a second time
    events = store.task_events("m")
    assert events[-1]["event"] == "merged" and "in main already" in events[-1]["detail"]


def test_a_scratch_worktree_and_a_check_left_by_a_killed_supervisor_are_removed_and_killed(tmp_path, monkeypatch) -> None:
    repo, config, store, recs = merge_setup(tmp_path, monkeypatch)
    scratch = config.state_dir / "merges" / "m"  # what the killed supervisor left: its scratch worktree, its check
    scratch.parent.mkdir(parents=True)
    git(repo, "worktree", "add", "-q", "--detach", str(scratch), "main")
    check = subprocess.Popen(["sleep", "1000"], cwd=scratch, start_new_session=True)
    (scratch.parent / "m.pid").write_text(str(check.pid))
    stranger = subprocess.Popen(["sleep", "1000"], cwd=tmp_path, start_new_session=True)  # another process, elsewhere
    (scratch.parent / "old.pid").write_text(str(stranger.pid))  # a pid file whose pid is no check in a scratch worktree
    try:
        TaskBoard(config, store, actor="supervisor").tick(recs, [snap("w1")], 10.0)
        assert check.wait(timeout=10) == -9  # killed
        assert stranger.poll() is None  # not killed: it does not run in a scratch worktree
        assert states(store)["m"] == ("merged", "w1") and (repo / "a.txt").read_text() == "a\n"
        assert "/merges/" not in git(repo, "worktree", "list") and list(scratch.parent.iterdir()) == []
        assert len(git(repo, "log", "--merges", "--format=%s", "main").splitlines()) == 1
    finally:
        for proc in (check, stranger):
            proc.kill()
            proc.wait()


def test_a_change_request_reaches_the_worker_byte_for_byte_whatever_it_holds(tmp_path, monkeypatch) -> None:
    from test_task_cli import HOSTILE

    config, store, recs = setup_board(tmp_path, monkeypatch)
    board = TaskBoard(config, store, actor="supervisor")
    for i, text in enumerate(HOSTILE):
        state = {t.id: t for t in store.tasks()}["t1"].state
        if state != "review":  # to review again: taken (or typed again), worked, back at its prompt
            board.tick(recs, [snap("w1"), snap("r1", Status.WORKING, at_prompt=False)], 10.0 + i)
            delivered(store)
            board.tick(recs, [snap("w1", Status.WORKING, at_prompt=False), snap("r1", Status.WORKING, at_prompt=False)], 10.3 + i)
            board.tick(recs, [snap("w1"), snap("r1", Status.WORKING, at_prompt=False)], 10.6 + i)
        TaskBoard(config, store).review("t1", "changes", text)
        assert [d["text"] for d in store.pending_deliveries()] == [text]
        delivered(store)
    with pytest.raises(Exception, match="the change request is 2048 KiB; at most 1024 KiB"):
        TaskBoard(config, store).review("t1", "changes", "x" * (2 << 20))


def test_a_check_is_polled_without_blocking_the_tick_and_its_output_made_plain_and_short(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "go"
    check = (f"printf '\\033[31mred\\033[0m\\n'; head -c 3000000 /dev/zero | tr '\\\\0' x; echo; "
             f"while [ ! -e {marker} ]; do sleep 0.05; done; echo last; exit 4")
    monkeypatch.setattr(fleet_tasks, "require_fleet", lambda config: None)
    repo, config, store, recs = merge_setup(tmp_path, monkeypatch)
    config = config.model_copy(update={"merge_check": check})
    board = TaskBoard(config, store, actor="supervisor")
    board.tick(recs, [snap("w1")], 10.0)
    scratch = config.state_dir / "merges" / "m"
    assert scratch.is_dir() and (scratch / "a.txt").read_text() == "a\n"  # the merged result, the check running in it
    assert sha(repo) == sha(repo, "main") and "a.txt" not in git(repo, "ls-tree", "--name-only", "main")  # nothing moved
    board.tick(recs, [snap("w1")], 11.0)  # the check runs on: the tick returns
    assert states(store)["m"] == ("merging", "w1")
    marker.touch()
    retry_until(lambda: board.tick(recs, [snap("w1")], 12.0) or states(store)["m"][0] == "changes", timeout=30,
                message="the check's failure seen")
    (text,) = [d["text"] for d in store.pending_deliveries()]
    assert text.startswith("The merge check `") and "failed (exit 4)" in text and text.endswith("\nlast")
    assert "\x1b" not in text and len(text) < 2000  # escapes gone; a 3 MB line cut
    assert not scratch.exists() and "a.txt" not in git(repo, "ls-tree", "--name-only", "main")


def test_bad_review_and_merge_settings_are_one_line_each(tmp_path: Path) -> None:
    from mission_control.core.config import ConfigError, load_text

    for body, words in (('[mission]\nmerge_check_timeout = 0\n', "merge_check_timeout"),
                        ('[mission]\nmerge_queue = "yes"\n', "merge_queue"),
                        ('[[task]]\nid = "t"\nprompt = "p"\nreview = "no such role!"\n', "review role 'no such role!' is not allowed")):
        with pytest.raises(ConfigError) as err:
            load_text(tmp_path / "agents.toml", body)
        assert words in str(err.value) and "\n" not in str(err.value).strip(), str(err.value)


def test_a_main_checkout_not_ready_keeps_the_task_at_the_head_said_once_then_merges_it(tmp_path, monkeypatch) -> None:
    import mission_control.fleet.merge_queue as merge_queue_module

    monkeypatch.setattr(merge_queue_module, "LAND_RETRY", 0.0)
    repo, config, store, recs = merge_setup(tmp_path, monkeypatch)
    (repo / "shared.txt").write_text("a person's edit, not committed\n")
    board = TaskBoard(config, store, actor="supervisor")
    for at in (10.0, 11.0, 12.0):
        board.tick(recs, [snap("w1")], at)
    assert states(store)["m"] == ("merging", "w1") and len(git(repo, "log", "--merges", "--format=%s", "main").splitlines()) == 0
    waits = [a for a in store.actions() if a["action"] == "merge-wait"]
    assert len(waits) == 1 and "uncommitted changes" in waits[0]["outcome"]
    git(repo, "checkout", "--", "shared.txt")
    board.tick(recs, [snap("w1")], 13.0)
    assert states(store)["m"] == ("merged", "w1") and (repo / "a.txt").read_text() == "a\n"


def test_a_verdict_on_a_task_not_in_review_says_so_even_from_its_owner(tmp_path, monkeypatch) -> None:
    """The audit: its owner approving a done task was told it cannot approve its own task; the
    state is what is wrong, whoever asks."""
    config, store, recs = setup_board(tmp_path, monkeypatch)
    board = TaskBoard(config, store, actor="supervisor")
    board.tick(recs, [snap("w1"), snap("r1", Status.WORKING, at_prompt=False)], 10.0)
    assert states(store)["t1"] == ("working", "w1")
    monkeypatch.setenv("MISSION_CONTROL_AGENT", "w1")
    for verdict, text in (("approve", ""), ("changes", "more")):
        with pytest.raises(TaskError, match=r"^task 't1' is working, not waiting for a review; nothing changed$"):
            TaskBoard(config, store).review("t1", verdict, text)
    TaskBoard(config, store, actor="cli").done("t1")
    assert states(store)["t1"] == ("review", "w1")
    with pytest.raises(TaskError, match="w1 cannot approve its own task t1"):  # in review: its own approval still refused
        TaskBoard(config, store).review("t1", "approve")
    monkeypatch.delenv("MISSION_CONTROL_AGENT")
    TaskBoard(config, store).review("t1", "approve")
    monkeypatch.setenv("MISSION_CONTROL_AGENT", "w1")
    with pytest.raises(TaskError, match=r"^task 't1' is done, not waiting for a review; nothing changed$"):
        TaskBoard(config, store).review("t1", "approve")
