"""The task board's pure rules (core/tasks.py) and its config tables: dispatch order, blocking,
cycles, state changes (issue 19)."""

from __future__ import annotations

from pathlib import Path

from dataclasses import replace

import pytest

from mission_control.core.config import ConfigError, load_text
from mission_control.core.tasks import (
    Event, Task, TaskError, TaskInputError, blocked_by, check_new, done_now, find_cycle, next_task, parse_priority,
    history_words, ready_tasks, shown_state, time_in_states, transition, unblocked_at,
)


def board(*tasks: Task) -> dict[str, Task]:
    return {t.id: t for t in tasks}


def test_ready_tasks_go_highest_priority_first_then_oldest_then_first_added() -> None:
    tasks = [
        Task("old-low", "p", priority=-10, created_at=1, seq=1),
        Task("new-high", "p", priority=10, created_at=5, seq=2),
        Task("old-normal", "p", created_at=2, seq=3),
        Task("twin-b", "p", created_at=3, seq=5),
        Task("twin-a", "p", created_at=3, seq=4),
        Task("huge", "p", priority=500, created_at=9, seq=6),
        Task("taken", "p", priority=999, state="working", owner="x"),
        Task("over", "p", priority=999, state="done"),
    ]
    assert [t.id for t in ready_tasks(tasks)] == ["huge", "new-high", "old-normal", "twin-a", "twin-b", "old-low"]


def test_a_task_is_blocked_until_every_after_is_finished() -> None:
    a = Task("a", "p", state="working", owner="w", seq=1)
    b = Task("b", "p", state="queued", seq=2)
    c = Task("c", "p", after=("a", "b"), priority=100, seq=3)
    tasks = board(a, b, c)
    assert blocked_by(c, tasks) == ("a", "b")
    assert shown_state(c, tasks) == "blocked"
    assert [t.id for t in ready_tasks(tasks.values())] == ["b"]
    tasks = board(Task("a", "p", state="done"), Task("b", "p", state="merged"), c)
    assert shown_state(c, tasks) == "queued" and [t.id for t in ready_tasks(tasks.values())] == ["c"]
    # a cancelled or failed dependency is not done: the task stays blocked
    tasks = board(Task("a", "p", state="cancelled"), Task("b", "p", state="done"), c)
    assert shown_state(c, tasks) == "blocked" and blocked_by(c, tasks) == ("a",)


def test_roles_pick_which_agents_take_a_task() -> None:
    tasks = [Task("review-it", "p", role="reviewer", priority=10, seq=1), Task("any", "p", seq=2)]
    assert next_task(tasks, ()).id == "any"
    assert next_task(tasks, ("reviewer",)).id == "review-it"
    assert next_task([tasks[0]], ("dev",)) is None


def test_a_cycle_is_named_in_one_line() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"x": ["y"], "y": ["y"]}) == ["y", "y"]
    assert find_cycle({"a": ["gone"]}) is None
    existing = board(Task("a", "p", after=("b",)), Task("b", "p"))
    with pytest.raises(TaskInputError, match=r"^task 'c' would make a cycle in after: a -> b -> c -> a$"):
        # a waits on b, b on a task c not added yet: adding c after a closes the loop
        check_new(Task("c", "p", after=("a",)), {**existing, "b": Task("b", "p", after=("c",))}, None)
    with pytest.raises(TaskInputError, match="after itself"):
        check_new(Task("a2", "p", after=("a2",)), existing, None)
    with pytest.raises(TaskInputError, match=r"after 'bb' names no task \(did you mean 'b'\?\)"):
        check_new(Task("n", "p", after=("bb",)), existing, None)
    with pytest.raises(TaskInputError, match="already exists"):
        check_new(Task("a", "p"), existing, None)
    with pytest.raises(TaskInputError, match=r"role 'revewer' is no agent's role \(did you mean 'reviewer'\?\)"):
        check_new(Task("n", "p", role="revewer"), existing, ["reviewer", "dev"])
    check_new(Task("n", "p", role="dev", after=("a", "b")), existing, ["dev"])


def test_priorities_are_names_or_whole_numbers() -> None:
    assert [parse_priority(v) for v in ("high", "normal", "LOW", 7, "-3", " 12 ")] == [10, 0, -10, 7, -3, 12]
    for bad in ("urgent", "1.5", True, None, "", "9" * 30, 10**7):
        with pytest.raises(TaskInputError):
            parse_priority(bad)


def test_state_changes_are_a_function_of_events() -> None:
    t = Task("t", "p", created_at=1.0)
    t = transition(t, Event("take", 2.0, agent="w1", commits=3))
    assert (t.state, t.owner, t.started_at, t.commits_at_start, t.worked) == ("working", "w1", 2.0, 3, False)
    t = transition(t, Event("worked", 3.0))
    assert t.worked
    t = transition(t, Event("stuck", 4.0, reason="missing KEY"))
    assert (t.state, t.reason) == ("stuck", "missing KEY")
    t = transition(t, Event("unstuck", 5.0))
    assert (t.state, t.reason) == ("working", "")
    t = transition(t, Event("priority", 5.5, priority=10))
    assert t.priority == 10
    done = transition(t, Event("done", 6.0))
    assert (done.state, done.finished_at) == ("done", 6.0)
    with pytest.raises(TaskError, match="is done already"):
        transition(done, Event("cancel", 7.0))
    reviewed = transition(Task("r", "p", review=True, state="working", owner="w"), Event("done", 6.0))
    assert reviewed.state == "review" and reviewed.finished_at is None
    with pytest.raises(TaskError, match="only a queued task"):
        transition(t, Event("take", 7.0, agent="w2"))
    blocked = Task("b", "p", after=("t",))
    with pytest.raises(TaskError, match="is blocked: it comes after t"):
        transition(blocked, Event("take", 7.0, agent="w2"), board(t, blocked))
    assert transition(Task("q", "p"), Event("done", 1.0)).state == "done"  # by hand, while it waits
    with pytest.raises(TaskError, match="only a queued or held task"):
        transition(Task("r", "p", state="review"), Event("done", 1.0))
    assert transition(Task("q", "p"), Event("cancel", 1.0, reason="not needed")).state == "cancelled"
    stuck = Task("s", "p", state="stuck", owner="w1", reason="no key", commits_at_start=4, worked=True)
    moved = transition(stuck, Event("handoff", 8.0, agent="w2", commits=1))  # `reassign`
    assert (moved.state, moved.owner, moved.reason, moved.commits_at_start, moved.worked) == ("working", "w2", "", 1, False)
    with pytest.raises(TaskError, match="only a held task"):
        transition(Task("q", "p"), Event("handoff", 1.0, agent="w2"))


def test_done_rules() -> None:
    held = Task("t", "p", state="working", owner="w", commits_at_start=2)
    worked = transition(held, Event("worked", 1.0))
    assert not done_now(held, "idle", at_prompt=True, commits=5, word_done=False)  # never seen working: not done
    assert done_now(held, "commit", at_prompt=True, commits=3, word_done=False)  # a commit is evidence of work enough
    assert not done_now(held, "commit", at_prompt=False, commits=3, word_done=False)
    assert done_now(worked, "idle", at_prompt=True, commits=None, word_done=False)
    assert not done_now(worked, "idle", at_prompt=False, commits=None, word_done=False)
    assert not done_now(worked, "commit", at_prompt=True, commits=2, word_done=False)
    assert done_now(worked, "commit", at_prompt=True, commits=3, word_done=False)
    assert done_now(held, "word", at_prompt=False, commits=None, word_done=True)
    assert not done_now(transition(worked, Event("stuck", 2.0, reason="x")), "idle", at_prompt=True, commits=9, word_done=True)


def test_a_history_row_names_who_once() -> None:
    assert history_words("cli", "by cli") == "by cli"  # the audit: `task show` said "cli by cli"
    assert history_words("r1", "by r1: use tabs") == "by r1: use tabs"
    assert history_words("w1", "by cli") == "w1 by cli"  # w1's task, done by a person: both said
    assert history_words("w1", "by w10") == "w1 by w10"
    assert history_words(None, "from agents.toml") == "from agents.toml" and history_words("w1", "") == "w1"


def test_time_in_states() -> None:
    spent = time_in_states([(10.0, "working"), (15.0, "stuck"), (17.0, "working"), (20.0, "done")], 0.0, 99.0)
    assert spent == {"queued": 10.0, "working": 8.0, "stuck": 2.0}
    assert time_in_states([(10.0, "working")], 0.0, 12.5) == {"queued": 10.0, "working": 2.5}


def test_time_blocked_on_after_is_counted_apart_from_time_queued() -> None:
    """The audit: a task that waited on its `after` had that time counted `queued` (point 7)."""
    # blocked 0..6, queued (ready, waiting for an agent) 6..10, then worked; a priority change meanwhile changes no state
    events = [(3.0, "queued"), (10.0, "working"), (20.0, "done")]
    assert time_in_states(events, 0.0, 99.0, blocked_until=6.0) == {"blocked": 6.0, "queued": 4.0, "working": 10.0}
    assert time_in_states([], 0.0, 7.0, blocked_until=7.0) == {"blocked": 7.0}  # still blocked
    assert time_in_states([], 0.0, 7.0, blocked_until=5.0) == {"blocked": 5.0, "queued": 2.0}
    assert time_in_states([(4.0, "cancelled")], 0.0, 9.0, blocked_until=9.0) == {"blocked": 4.0}  # cancelled while blocked
    a = Task("a", "p", state="done", finished_at=6.0)
    b = Task("b", "p", state="merged", finished_at=8.0)
    c = Task("c", "p", after=("a", "b"), created_at=1.0)
    assert unblocked_at(c, {"a": a, "b": b, "c": c}, 50.0) == 8.0
    assert unblocked_at(c, {"a": a, "b": replace(b, state="merging", finished_at=None), "c": c}, 50.0) == 50.0
    assert unblocked_at(a, {"a": a}, 50.0) is None


AGENT = '[[agent]]\nname = "dev1"\nkind = "shell"\ncommand = "x"\npull = true\nroles = ["dev"]\n'


@pytest.mark.parametrize("body,message", [
    ('[[task]]\nid = "a"\nprompt = "p"\nafter = ["b"]\n[[task]]\nid = "b"\nprompt = "p"\nafter = ["a"]\n',
     "task.after makes a cycle: a -> b -> a"),
    ('[[task]]\nid = "a"\nprompt = "p"\nafter = ["c"]\n', "task[0] (a).after 'c' names no task"),
    ('[[task]]\nid = "a"\nprompt = "p"\nrole = "deb"\n', "task[0] (a).role 'deb' is no agent's role (did you mean 'dev'?)"),
    ('[[task]]\nid = "a"\nprompt = "p"\npriority = "urgent"\n', "priority 'urgent' is not a priority"),
    ('[[task]]\nid = "a"\nprompt = "p"\ndone_when = "comit"\n', "done_when = 'comit' is not allowed"),
    ('[[task]]\nid = "a"\nprompt = "p"\n[[task]]\nid = "a"\nprompt = "q"\n', "duplicate task id 'a' (also task[0])"),
    ('[[task]]\nid = "a"\nprompt = "p"\nprority = 1\n', "(did you mean 'priority'?)"),
    ('[[task]]\nid = "a b"\nprompt = "p"\n', "task id 'a b' is not allowed"),
])
def test_bad_task_tables_are_one_line_naming_file_and_key(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(Path("/tmp/fleet/agents.toml"), AGENT + body)
    text = str(caught.value)
    assert message in text and text.startswith("/tmp/fleet/agents.toml:") and "\n" not in text


def test_task_tables_and_pulling_agents_load() -> None:
    config = load_text(Path("/tmp/fleet/agents.toml"), AGENT + (
        '[[task]]\nid = "a"\nprompt = "first"\npriority = "high"\n'
        '[[task]]\nid = "b"\nprompt = "then"\nafter = ["a"]\nrole = "dev"\nreview = true\ndone_when = "word"\n'))
    assert config.agents[0].pull and config.agents[0].roles == ("dev",)
    a, b = config.tasks
    assert (a.priority, b.after, b.role, b.review, b.done_when) == (10, ["a"], "dev", True, "word")
