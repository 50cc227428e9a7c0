"""The dashboard's Tasks view (issue 19 point 8): snapshots of the view and its dialog at 80x24 and
120x40, the fleet view's task id column, and the keys driven through the app factory on a real
store with a real tmux session (the board refuses changes with no fleet running)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from helpers import ROOT, pilot_until
from mission_control.adapters.store import Store
from mission_control.core.config import load_text
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.tasks import Task
from mission_control.fleet.tasks import TaskBoard
from mission_control.ui.app import create_app
from mission_control.ui.source import BoardRead, FixedSource, read_board
from mission_control.ui.widgets.agent_table import content_widths, fit_columns
from mission_control.ui.widgets.task_table import TaskTable, task_row, task_spend

DATA = json.loads((ROOT / "tests" / "data" / "dashboard_fixed.json").read_text())
NOW = DATA["now"]
HELD_BY = {"coder": "parse", "tester": "task-3", "notifier": "notify"}


def fleet_snapshot() -> FleetSnapshot:
    """The fixed fleet, its agents holding tasks (the coder $0.90 into its task)."""
    data = json.loads(json.dumps(DATA["snapshot"]))
    for a in data["agents"]:
        if a["name"] in HELD_BY:
            a["task_id"] = HELD_BY[a["name"]]
            a["task_cost_usd"] = 0.9 if a["name"] == "coder" else None
    return FleetSnapshot.from_json(data)


def fixed_board() -> BoardRead:
    tasks = (
        Task("parse", "Implement the config parser in src/", priority=10, state="working", owner="coder",
             created_at=NOW - 900, started_at=NOW - 800, commits_at_start=2, seq=1),
        Task("task-3", "Write tests for the parser; cover every key of [mission] and [[agent]]", state="working",
             owner="tester", created_at=NOW - 850, started_at=NOW - 700, commits_at_start=4, seq=2),
        Task("docs", "Document the config keys", after=("parse",), role="writer", created_at=NOW - 600, seq=3),
        Task("notify", "Send the nightly report", state="stuck", owner="notifier",
             reason="reported: missing NOTIFICATION_KEY", created_at=NOW - 700, seq=4),
        Task("ui-polish", "Tidy the dashboard colours", review=True, state="review", owner="asker", created_at=NOW - 4000, seq=5),
        Task("cleanup", "Refactor utils", priority=-10, state="cancelled", reason="cancelled by dashboard",
             created_at=NOW - 3000, seq=6),
    )
    measured = {t.id: {"state": t.state, "held_by": [], "blocked_by": []} for t in tasks}
    measured["docs"].update(state="blocked", blocked_by=["parse"])
    measured["ui-polish"]["held_by"] = [{"agent": "asker", "cost_usd": 0.31, "commits": 2}]
    return BoardRead(tasks, measured, 1)


class RecordingBoard:
    """Stands in for `TaskBoard`: records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return f"{name} done"

        return record


def fixed_app(board: BoardRead | None = None, port: RecordingBoard | None = None):
    source = FixedSource(fleet_snapshot(), tails=DATA["tails"], board=board or fixed_board())
    return create_app(source=source, live=False, clock=lambda: NOW, bell=False, board=port or RecordingBoard())


VIEWS = {"tasks": ("T",), "tasks-add": ("T", "a"), "tasks-help": ("T", "question_mark"), "fleet-task-ids": ()}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_tasks_view_snapshot(snap_compare, view: str, size: tuple[int, int]) -> None:
    app = fixed_app()

    async def open_it(pilot) -> None:
        await pilot.pause()
        for key in VIEWS[view]:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_it)


async def test_each_view_is_what_its_keys_open() -> None:
    expected = {"tasks": "TasksScreen", "tasks-add": "TaskAddScreen", "tasks-help": "HelpScreen", "fleet-task-ids": "Screen"}
    for view, keys in VIEWS.items():
        app = fixed_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            assert app.screen.__class__.__name__ == expected[view], view


async def test_the_tasks_view_shows_every_column_at_80x24() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        await pilot.pause()
        table = app.screen.query_one(TaskTable)
        assert list(table.columns) == ["id", "priority", "state", "owner", "age", "spend", "commits", "prompt"]
        assert table.virtual_size.width <= table.scrollable_content_region.width
        cell = lambda task, key: str(table.get_cell(task, key))  # noqa: E731
        assert (cell("parse", "priority"), cell("parse", "state"), cell("parse", "owner")) == ("high", "working", "coder")
        assert cell("parse", "spend") == "$0.90" and cell("parse", "commits") == "5"  # 7 commits now, 2 when it took it
        assert cell("docs", "state") == "blocked" and cell("docs", "owner") == "—"
        assert cell("ui-polish", "spend") == "$0.31" and cell("ui-polish", "commits") == "2"  # a finished holding
        assert cell("notify", "spend") == "—"  # nothing known is not $0
        assert cell("cleanup", "age") == "50m00s"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "Screen"


def test_the_fleet_view_shows_task_ids_at_80_columns() -> None:
    agents = list(fleet_snapshot().agents)
    keys = [k for k, _, _ in fit_columns(80, content_widths(agents))]
    assert keys[:5] == ["name", "status", "for", "cost", "commits"] and "taskid" in keys and "reason" in keys
    bare = [a.__class__(**{**a.__dict__, "task_id": None}) for a in agents]
    assert "taskid" not in [k for k, _, _ in fit_columns(80, content_widths(bare))]  # no tasks: as before


def test_spend_and_commits_add_finished_holdings_and_the_one_in_progress() -> None:
    task = Task("t", "p", state="working", owner="b", commits_at_start=3)
    measured = {"held_by": [{"agent": "a", "cost_usd": 1.5, "commits": 2}, {"agent": "b", "cost_usd": None, "commits": None}]}
    b = AgentSnapshot(name="b", kind="shell", status=Status.WORKING, task_id="t", task_cost_usd=0.25, commits=7)
    assert task_spend(task, measured, b) == (1.75, 6)
    other = AgentSnapshot(name="b", kind="shell", status=Status.WORKING, task_id="another", task_cost_usd=9.0, commits=70)
    assert task_spend(task, measured, other) == (1.5, 2)  # its spend on another task is not this task's
    assert task_spend(task, {}, None) == (None, None)
    assert task_row(task, measured, b, 100.0).age == 100.0


# -- on a real store, with a real tmux session (a fleet "running") ---------------------------------

CONFIG = """
[mission]
session = "t"

[[agent]]
name = "dev1"
kind = "shell"
command = "x"

[[agent]]
name = "dev2"
kind = "shell"
command = "x"
"""


@pytest.fixture
def real_fleet(tmp_path: Path, tmux_socket: str):
    config = load_text(tmp_path / "agents.toml", CONFIG, environ={"MISSION_CONTROL_SOCKET": tmux_socket})
    subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "t", "sleep 600"], check=True)
    store = Store(config.store_path)
    for spec in config.agents:
        store.record_agent(spec.name, kind=spec.kind, pane_id=None, window=None, launched_at=1.0, task=None,
                           spec=spec.model_dump(mode="json"))
    store.write_snapshot(FleetSnapshot(taken_at=time.time(), session="t", agents=(
        AgentSnapshot(name="dev1", kind="shell", status=Status.IDLE, at_prompt=True, commits=0),
        AgentSnapshot(name="dev2", kind="shell", status=Status.IDLE, at_prompt=True, commits=0),
    )))
    return config, store


def board_states(store: Store) -> dict[str, tuple[str, str | None, int]]:
    return {t.id: (t.state, t.owner, t.priority) for t in store.tasks()}


until = pilot_until


async def answer(pilot, app, text: str) -> None:
    """Fill the open dialog's input with `text` (as typed or pasted) and press enter."""
    from textual.widgets import Input

    field = app.screen.query_one(Input)
    field.value = text
    field.focus()
    await pilot.press("enter")


async def test_the_keys_change_the_board_in_the_store(real_fleet) -> None:
    config, store = real_fleet
    app = create_app(config, poll_seconds=0.05, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("down")  # dev2 selected in the fleet view
        await until(pilot, lambda: app.selected_name == "dev2")
        await pilot.press("T")
        await pilot.pause()
        screen = app.screen

        # add: a prompt with quotes, `;` and `$()` goes to the board byte for byte
        await pilot.press("a")
        await pilot.pause()
        prompt = """fix "it"; echo $(whoami) `x` \\n"""
        from textual.widgets import Input

        app.screen.query_one("#task-prompt", Input).value = prompt
        app.screen.query_one("#task-priority", Input).value = "high"
        app.screen.query_one("#task-id", Input).focus()
        await pilot.press(*"fix-1", "enter")
        await until(pilot, lambda: "fix-1" in board_states(store))
        task = next(t for t in store.tasks() if t.id == "fix-1")
        assert task.prompt == prompt and task.priority == 10 and task.created_by == "dashboard"
        table = screen.query_one(TaskTable)
        await until(pilot, lambda: table.row_count == 1)

        # priority: a bad one is one line and nothing changes; a good one is stored
        shown: list[tuple[str, str]] = []
        app.notify = lambda text, severity="information", **kw: shown.append((text, severity))  # type: ignore[method-assign]
        await pilot.press("p")
        await pilot.pause()
        await answer(pilot, app, "soon")
        await until(pilot, lambda: any(s == "error" for _, s in shown))
        assert any("not a priority" in t for t, s in shown if s == "error") and board_states(store)["fix-1"][2] == 10
        await pilot.press("p")
        await pilot.pause()
        await answer(pilot, app, "-3")
        await until(pilot, lambda: board_states(store)["fix-1"][2] == -3)
        await until(pilot, lambda: str(table.get_cell("fix-1", "priority")) == "-3")

        # assign: to the agent selected in the fleet view
        await pilot.press("s")
        await until(pilot, lambda: board_states(store)["fix-1"][:2] == ("working", "dev2"))
        await until(pilot, lambda: str(table.get_cell("fix-1", "owner")) == "dev2")
        assert [d["agent"] for d in store.pending_deliveries()] == ["dev2"]  # typed at its prompt by the supervisor

        # its spend and commits follow its holder's snapshots, live (the board itself did not change)
        store.write_snapshot(FleetSnapshot(taken_at=time.time(), session="t", agents=(
            AgentSnapshot(name="dev1", kind="shell", status=Status.IDLE, at_prompt=True, commits=0),
            AgentSnapshot(name="dev2", kind="shell", status=Status.WORKING, commits=3, cost_usd=0.5, task_id="fix-1",
                          task_cost_usd=0.5),
        )))
        await until(pilot, lambda: (str(table.get_cell("fix-1", "spend")), str(table.get_cell("fix-1", "commits"))) == ("$0.50", "3"))

        # cancel asks first: n leaves it, y cancels
        await pilot.press("x")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("n")
        await pilot.pause()
        assert board_states(store)["fix-1"][0] == "working"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: board_states(store)["fix-1"][0] == "cancelled")
        await until(pilot, lambda: str(table.get_cell("fix-1", "state")) == "cancelled")
        assert app.screen is screen


async def test_approve_and_request_changes_from_the_view(real_fleet) -> None:
    config, store = real_fleet
    board = TaskBoard(config, store, actor="test")
    for tid in ("r-1", "r-2"):
        board.add(f"work {tid}", task_id=tid, review=True)
    board.assign("r-1", "dev1")
    board.done("r-1")
    board.assign("r-2", "dev2")
    board.done("r-2")
    assert board_states(store)["r-1"][0] == board_states(store)["r-2"][0] == "review"
    app = create_app(config, poll_seconds=0.05, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("T")
        table = app.screen.query_one(TaskTable)
        await until(pilot, lambda: "r-2" in table.rows_shown)
        table.move_cursor(row=list(table.rows_shown).index("r-1"))
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("y")  # the confirmation
        await until(pilot, lambda: board_states(store)["r-1"][0] not in ("review",))
        assert board_states(store)["r-1"][0] in ("merging", "done")
        table.move_cursor(row=list(table.rows_shown).index("r-2"))
        await pilot.press("c")
        await pilot.pause()
        await answer(pilot, app, "add a test")
        await until(pilot, lambda: board_states(store)["r-2"][0] in ("changes", "working"))
        assert any(d["agent"] == "dev2" and d["text"] == "add a test" for d in store.pending_deliveries())


async def test_the_board_is_read_again_only_when_the_tasks_table_changed(real_fleet, monkeypatch) -> None:
    config, store = real_fleet
    TaskBoard(config, store, actor="test").add("first", task_id="one")
    reads: list[float] = []
    real = Store.task_events

    def counted(self, task=None):
        reads.append(time.monotonic())
        return real(self, task)

    monkeypatch.setattr(Store, "task_events", counted)
    app = create_app(config, poll_seconds=0.02, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("T")
        table = app.screen.query_one(TaskTable)
        await until(pilot, lambda: table.row_count == 1)
        await pilot.pause(0.5)  # ~25 polls
        assert len(reads) == 1
        TaskBoard(config, Store(config.store_path), actor="test").add("second", task_id="two")
        await until(pilot, lambda: table.row_count == 2)
        await pilot.pause(0.3)
        assert len(reads) == 2


def test_read_board_returns_nothing_while_unchanged(real_fleet) -> None:
    config, store = real_fleet
    first = read_board(store, None)
    assert first is not None and first.tasks == ()
    assert read_board(store, first.count) is None
    TaskBoard(config, store, actor="test").add("x", task_id="x")
    second = read_board(store, first.count)
    assert second is not None and [t.id for t in second.tasks] == ["x"] and second.count > first.count


def test_the_task_agents_toml_gave_an_agent_is_no_board_task_id() -> None:
    """`task =` in agents.toml is held under `<agent>-task` (not a task of the board): the column
    stays away for it, and shows a board task's id, or the task of another agent it took over."""
    own = [AgentSnapshot(name="coder", kind="shell", status=Status.IDLE, task_id="coder-task"),
           AgentSnapshot(name="docs", kind="shell", status=Status.IDLE)]
    assert "taskid" not in content_widths(own)
    moved = own + [AgentSnapshot(name="tester", kind="shell", status=Status.IDLE, task_id="coder-task")]
    assert content_widths(moved)["taskid"] == len("coder-task")


def test_the_real_board_offers_all_the_tasks_view_asks() -> None:
    """`create_app` wires `TaskBoard` where the Tasks view expects its `TaskPort` (a rename on one side
    would otherwise surface only at a key press), with the keyword arguments the view passes."""
    import inspect

    from mission_control.ui.app import TaskPort

    asked = [n for n, _ in inspect.getmembers(TaskPort, inspect.isfunction) if not n.startswith("_")]
    assert sorted(asked) == ["add", "assign", "cancel", "review", "set_priority"]
    for name in asked:
        wanted = set(inspect.signature(getattr(TaskPort, name)).parameters)
        assert wanted <= set(inspect.signature(getattr(TaskBoard, name)).parameters), name


def test_the_summary_counts_one_task_as_one_task() -> None:
    """The view's top line says "1 task", not "1 tasks"."""
    from mission_control.ui.screens.tasks_screen import board_summary
    from mission_control.ui.widgets.task_table import task_row

    board = {"t": Task("t", "p", created_at=1.0)}
    row = task_row(board["t"], {}, None, now=2.0)
    assert board_summary([row], "coder") == "s gives to coder · 1 task · queued 1"
    assert "2 tasks" in board_summary([row, row], None)
