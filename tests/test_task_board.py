"""The supervisor's side of the task board (fleet/tasks.py `TaskBoard.tick`) on a real store, with
the agents' snapshots given: who pulls what, when a held task is stuck or done, and that a
second supervisor (a restart) never gives a task twice."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

from mission_control.adapters.store import Store
from mission_control.adapters.supervisor_lock import status_file
from mission_control.core.config import FleetConfig, load_text
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.records import AgentRecord
from mission_control.fleet.tasks import TaskBoard, add_config_tasks

CONFIG = """
[[agent]]
name = "dev1"
kind = "shell"
command = "x"
pull = true
roles = ["dev"]

[[agent]]
name = "any1"
kind = "shell"
command = "x"
pull = true

[[agent]]
name = "manual"
kind = "shell"
command = "x"

[[task]]
id = "t-any"
prompt = "anything"

[[task]]
id = "t-dev"
prompt = "dev work"
role = "dev"
priority = "high"

[[task]]
id = "t-word"
prompt = "say DONE"
done_when = "word"
after = ["t-any"]
"""


def record_fleet(tmp_path: Path, text: str) -> tuple[FleetConfig, Store, list[AgentRecord]]:
    """The config `text`'s agents recorded in a new store (as `up` does), without starting any."""
    config = load_text(tmp_path / "agents.toml", text)
    store = Store(config.store_path)
    recs = []
    for spec in config.agents:
        store.record_agent(spec.name, kind=spec.kind, pane_id=None, window=None, launched_at=1.0, task=None,
                           spec=spec.model_dump(mode="json"))
        recs.append(AgentRecord.of_spec(spec))
    return config, store, recs


def setup(tmp_path: Path) -> tuple[TaskBoard, Store, list[AgentRecord]]:
    config, store, recs = record_fleet(tmp_path, CONFIG)
    assert add_config_tasks(config, store) == ["t-any", "t-dev", "t-word"]
    assert add_config_tasks(config, store) == []  # `up` again: nothing added twice
    return TaskBoard(config, store, actor="supervisor"), store, recs


def snap(name: str, status: Status = Status.IDLE, *, at_prompt: bool = True, reason: str = "", commits: int | None = None) -> AgentSnapshot:
    return AgentSnapshot(name=name, kind="shell", status=status, at_prompt=at_prompt, reason=reason, commits=commits)


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    return {t.id: (t.state, t.owner) for t in store.tasks()}


def deliver_all(store: Store) -> list[tuple[str, str]]:
    out = []
    for item in store.pending_deliveries():
        store.mark_delivered(item["id"])
        out.append((item["agent"], item["text"]))
    return out


def test_idle_pulling_agents_take_the_next_ready_task_for_their_roles_once(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    busy = [snap("dev1", Status.WORKING, at_prompt=False), snap("any1", at_prompt=False), snap("manual")]
    board.tick(recs, busy, 10.0)
    assert all(state == "queued" for state, _ in states(store).values())  # nobody idle at its prompt
    idle = [snap("dev1"), snap("any1"), snap("manual")]
    board.tick(recs, idle, 11.0)
    assert states(store) == {"t-any": ("working", "any1"), "t-dev": ("working", "dev1"), "t-word": ("queued", None)}
    assert sorted((d["agent"], d["text"]) for d in store.pending_deliveries()) == [("any1", "anything"), ("dev1", "dev work")]
    assert {r["agent"] for r in store.current_tasks().values()} == {"any1", "dev1"}  # the ledger says who holds them
    assert {r.name: r.task for r in store.agents()} == {"dev1": "dev work", "any1": "anything", "manual": None}
    again = TaskBoard(board.config, Store(board.config.store_path), actor="supervisor")  # a restarted supervisor
    again.tick(recs, idle, 12.0)
    board.tick(recs, idle, 12.5)
    assert len(store.pending_deliveries()) == 2 and [e["event"] for e in store.task_events("t-dev")] == ["add", "take"]


def test_a_held_task_shows_its_agents_stuck_reason_and_is_done_by_its_rule(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    board.tick(recs, [snap("dev1"), snap("any1"), snap("manual")], 1.0)
    deliver_all(store)
    board.tick(recs, [snap("dev1"), snap("any1", Status.STUCK, at_prompt=False, reason="missing API_KEY"), snap("manual")], 2.0)
    (task,) = [t for t in store.tasks() if t.id == "t-any"]
    assert (task.state, task.owner, task.reason) == ("stuck", "any1", "missing API_KEY")
    # dev1 sits at its prompt but was never seen working: `idle` (no repo) does not call that done
    assert states(store)["t-dev"] == ("working", "dev1")
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1", Status.WORKING, at_prompt=False), snap("manual")], 3.0)
    assert states(store)["t-any"] == ("working", "any1")
    board.tick(recs, [snap("dev1"), snap("any1"), snap("manual")], 4.0)
    assert states(store)["t-dev"] == ("done", "dev1") and states(store)["t-any"] == ("done", "any1")
    assert store.agents()[1].task is None and store.current_tasks()["t-dev"]["agent"] == ""  # released
    # t-word, ready now that t-any is done, goes to the first idle pulling agent
    assert states(store)["t-word"] == ("working", "dev1")
    deliver_all(store)
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1"), snap("manual")], 5.0)
    assert states(store)["t-word"] == ("working", "dev1")
    word = status_file(board.config.state_dir, "dev1")
    word.parent.mkdir(parents=True, exist_ok=True)
    word.write_text("DONE: said it\n")
    started = next(t.started_at for t in store.tasks() if t.id == "t-word")
    os.utime(word, (started + 1, started + 1))
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1"), snap("manual")], 6.0)
    assert states(store)["t-word"] == ("done", "dev1")


def test_an_agent_with_text_waiting_for_its_prompt_takes_nothing_and_its_work_is_not_counted(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    store.queue_delivery("any1", "message", "hello")
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1"), snap("manual")], 1.0)
    assert states(store)["t-any"] == ("queued", None)
    board.tick(recs, [snap("dev1"), snap("any1", Status.WORKING, at_prompt=False), snap("manual")], 2.0)
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1", Status.WORKING, at_prompt=False), snap("manual")], 3.0)
    (dev,) = [t for t in store.tasks() if t.id == "t-dev"]
    assert dev.state == "working" and not dev.worked  # its task is not typed yet: that turn was something else
    deliver_all(store)
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1", Status.WORKING, at_prompt=False), snap("manual")], 4.0)
    assert next(t for t in store.tasks() if t.id == "t-dev").worked


def test_measurements_per_holder(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    board.tick(recs, [AgentSnapshot(name="dev1", kind="shell", status=Status.IDLE, at_prompt=True, cost_usd=1.5, commits=2),
                      snap("any1", Status.WORKING, at_prompt=False), snap("manual")], time.time())
    deliver_all(store)
    board.tick(recs, [snap("dev1", Status.WORKING, at_prompt=False), snap("any1", Status.WORKING, at_prompt=False), snap("manual")],
               time.time())
    board.tick(recs, [AgentSnapshot(name="dev1", kind="shell", status=Status.IDLE, at_prompt=True, cost_usd=2.0, commits=5),
                      snap("any1", Status.WORKING, at_prompt=False), snap("manual")], time.time())
    shown = board.show("t-dev")
    assert shown["state"] == "done" and shown["held_by"] == [{"agent": "dev1", "cost_usd": 0.5, "commits": 3}]
    assert shown["created"] and shown["started"] and shown["finished"] and shown["reassignments"] == 0
    assert [h["event"] for h in shown["history"]] == ["add", "take", "worked", "done"]
    # its history's times in ISO 8601 like created/started/finished (the audit: they were Unix seconds)
    assert [h["at"] for h in shown["history"]][1::2] == [shown["started"], shown["finished"]]
    assert all(datetime.fromisoformat(h["at"]).utcoffset() == timedelta(0) for h in shown["history"])
    totals = board.totals_by_role(board.listing())
    assert totals["dev"]["tasks"] == 1 and totals["dev"]["cost_usd"] == 0.5 and totals["dev"]["commits"] == 3
    assert totals[""]["tasks"] == 2 and totals[""]["states"] == {"working": 1, "blocked": 1}
    assert set(board.show("t-word")["seconds_in"]) == {"blocked"}  # waiting on t-any: blocked, not queued
    assert set(totals[""]["seconds_in"]) == {"queued", "working", "blocked"}


def test_up_fresh_forgets_the_board(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    board.tick(recs, [snap("dev1"), snap("any1"), snap("manual")], 1.0)
    store.reset_fleet()
    assert store.tasks() == [] and store.task_events() == [] and store.pending_deliveries() == []


def test_a_damaged_stores_replacement_gets_the_board_back(tmp_path: Path) -> None:
    board, store, recs = setup(tmp_path)
    board.tick(recs, [snap("dev1"), snap("any1", Status.WORKING, at_prompt=False), snap("manual")], 1.0)
    before = states(store)
    board.store = fresh = Store(tmp_path / "new" / "state.db")  # what `replace_damaged` leaves: an empty store
    board.restore()
    assert states(fresh) == before == {"t-any": ("queued", None), "t-dev": ("working", "dev1"), "t-word": ("queued", None)}
    assert fresh.current_tasks()["t-dev"]["agent"] == "dev1"
    assert [t.id for t in fresh.tasks()] == ["t-any", "t-dev", "t-word"]  # the order they were added in


def test_a_supervisor_killed_once_it_typed_a_task_never_types_it_again(tmp_path: Path) -> None:
    """The take and the queued text are one transaction (a supervisor killed before typing leaves
    it queued: typed by the next one); the text is pasted and submitted by one tmux command that
    marks the pane with the text's id, so a supervisor killed before it recorded the text as
    delivered is followed by one that finds the mark and records it instead of typing it twice
    (on real tmux: tests/test_delivery_restart.py)."""
    from mission_control.fleet.supervisor import Supervisor

    board, store, recs = setup(tmp_path)
    snaps = [snap("dev1"), snap("any1"), snap("manual")]
    board.tick(recs, snaps, 1.0)
    assert len(store.pending_deliveries()) == 2

    class Panes:
        """The panes' marks, as tmux keeps them across supervisors."""

        def __init__(self) -> None:
            self.marks: dict[str, str] = {}
            self.typed: list[str] = []
            self.kill = True

        def type_text(self, rec, text, mark=None):
            self.marks[rec.name] = mark
            self.typed.append(text)
            if self.kill:
                raise SystemExit("killed before it recorded the delivery")

        def typed_mark(self, rec):
            return self.marks.get(rec.name)

    panes = Panes()
    sup = Supervisor(board.config, store, tmux=None)
    sup._actions = panes
    try:
        sup._deliver(recs, snaps)
    except SystemExit:
        pass
    assert len(store.pending_deliveries()) == 2 and len(panes.typed) == 1  # typed, not recorded
    panes.kill = False
    again = Supervisor(board.config, store, tmux=None)
    again._actions = panes
    again._deliver(recs, snaps)
    assert store.pending_deliveries() == [] and len(panes.typed) == 2  # the marked one recorded, the other typed
    assert sorted(panes.typed) == ["anything", "dev work"]


REMOTE = """
[[host]]
name = "box"
ssh = "box"

[[agent]]
name = "here"
kind = "shell"
command = "x"
pull = true

[[agent]]
name = "there"
kind = "shell"
command = "x"
host = "box"
pull = true
roles = ["gpu"]

[[role]]
name = "gpu"
kind = "shell"
command = "x"
worktree = false
hosts = ["box"]

[[task]]
id = "t-word"
prompt = "say DONE"
done_when = "word"
priority = "high"

[[task]]
id = "t-gpu"
prompt = "on the gpu"
role = "gpu"
"""


def there(status: Status = Status.IDLE, *, at_prompt: bool = True, turns: int = 0, commits: int | None = None) -> AgentSnapshot:
    return AgentSnapshot(name="there", kind="shell", status=status, at_prompt=at_prompt, host="box", turns=turns, commits=commits)


def test_pullers_of_another_host_take_by_their_hosts_report_and_a_role_limited_to_hosts_stays_there(tmp_path: Path) -> None:
    """Issue 22 point 4 on the board alone: the box's puller (no record here; its host reports it)
    takes the gpu task, never the `word` one (its status file is the box's); the local puller, with
    the gpu role or not, never takes the gpu task; an UNREACHABLE agent takes nothing; a turn its
    host counted is work on the task (an `idle` rule, its commits not counted there)."""
    config, store, recs = record_fleet(tmp_path, REMOTE)
    add_config_tasks(config, store)
    board = TaskBoard(config, store, actor="supervisor")
    board.tick(recs, [snap("here", Status.WORKING, at_prompt=False), there(Status.UNREACHABLE)], 1.0)
    assert states(store) == {"t-word": ("queued", None), "t-gpu": ("queued", None)}
    board.tick(recs, [snap("here", Status.WORKING, at_prompt=False), there(turns=3)], 2.0)
    assert states(store) == {"t-word": ("queued", None), "t-gpu": ("working", "there")}
    assert deliver_all(store) == [("there", "on the gpu")]  # queued here: the supervisor hands it to the box
    board.tick(recs, [snap("here"), there(turns=3)], 3.0)
    assert states(store)["t-word"] == ("working", "here")
    board.tick(recs, [snap("here", Status.WORKING, at_prompt=False), there(turns=3)], 4.0)
    assert states(store)["t-gpu"] == ("working", "there")  # no turn yet: not done
    board.tick(recs, [snap("here", Status.WORKING, at_prompt=False), there(turns=4)], 5.0)
    assert states(store)["t-gpu"] == ("done", "there")
    (task,) = [t for t in store.tasks() if t.id == "t-gpu"]
    assert task.commits_at_start is None  # its host counted no commits: held to `idle`
