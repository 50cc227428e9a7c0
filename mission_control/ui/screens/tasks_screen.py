"""The Tasks view (`T`, issue 19 point 8): the task board with keys to add a task, change its
priority, cancel it, give it to the agent selected in the fleet view, approve it or ask for changes.

A full-screen modal: while it is open the fleet view's keys do not act. A thread worker reads
the board from the store only when the `tasks` table changed (`FleetSource.task_board`); the
rows are made again each second from the board and the fleet's latest snapshot (ages, and the
spend and commits of the holdings in progress). Every change goes through the app's board port
(`TaskBoard`) in an action worker, as the fleet view's actions do; the board's one-line refusals
are shown by the app's one worker-error handler."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mission_control.core.keys import TASK_ACTIONS
from mission_control.core.terminal_text import inert
from mission_control.ui.key_table import bindings_of, help_rows
from mission_control.ui.messages import BoardObserved
from mission_control.ui.screens.help_screen import HelpScreen
from mission_control.ui.screens.task_add_screen import TaskAddScreen
from mission_control.ui.screens.text_prompt_screen import TextPromptScreen
from mission_control.ui.widgets.key_hints import KeyHints
from mission_control.ui.widgets.task_table import TaskRow, TaskTable, describe_task, task_row

if TYPE_CHECKING:
    from mission_control.ui.app import MissionControlApp
    from mission_control.ui.source import BoardRead


def board_summary(rows: list[TaskRow], selected_agent: str | None) -> str:
    """The view's top line: which agent `s` gives a task to (first: it is never cut), how many tasks in each state."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    states = "".join(f" · {state} {n}" for state, n in counts.items())
    tasks = "1 task" if len(rows) == 1 else f"{len(rows)} tasks"
    return f"s gives to {inert(selected_agent or '—')} · {tasks}{states}"


class TasksScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    TasksScreen { background: $background; }
    TasksScreen #tasks-top { height: 1; padding: 0 1; background: $boost; }
    TasksScreen TaskTable { height: 1fr; }
    TasksScreen #task-detail { height: 7; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS = bindings_of(TASK_ACTIONS)

    def __init__(self) -> None:
        super().__init__()
        self.board: BoardRead | None = None

    @property
    def mc(self) -> "MissionControlApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("Tasks", id="tasks-top", markup=False)
        yield TaskTable(id="tasks")
        with VerticalScroll(id="task-detail"):
            yield Static("", id="task-detail-text", markup=False)
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one(TaskTable).focus()
        if self.mc.live:
            self.watch_board()
        else:
            self.board = self.mc.source.task_board(None)
        self.refresh_rows()
        self.set_interval(1.0, self.refresh_rows)

    @work(thread=True, exclusive=True, group="board")
    def watch_board(self) -> None:
        """Read the board whenever its table changed (one small query a poll otherwise)."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        since: int | None = None
        said: str | None = None
        while not worker.is_cancelled:
            try:
                board = self.mc.source.task_board(since)
                if board is not None:
                    since = board.count
                    self.post_message(BoardObserved(board))
                said = None
            except Exception as exc:  # the store is busy or damaged: said once (until it changes), read again
                if str(exc) != said:
                    said = str(exc)
                    self.mc.call_from_thread(self.notify, f"cannot read the task board: {exc}", severity="error", timeout=6)
                since = None
            time.sleep(self.mc.poll_seconds)

    def on_board_observed(self, message: BoardObserved) -> None:
        self.board = message.board
        self.refresh_rows()

    def rows(self) -> list[TaskRow]:
        if self.board is None:
            return []
        snap, now = self.mc.snapshot, self.mc.clock()
        return [task_row(t, self.board.measured.get(t.id, {}), snap.agent(t.owner) if (snap and t.owner) else None, now)
                for t in self.board.tasks]

    def refresh_rows(self) -> None:
        rows = self.rows()
        table = self.query_one(TaskTable)
        table.show(rows)
        self.query_one("#tasks-top", Static).update(board_summary(rows, self.mc.selected_name))
        self.show_detail()

    def on_data_table_row_highlighted(self, event: Any) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        table = self.query_one(TaskTable)
        row = table.rows_shown.get(table.selected or "")
        self.query_one("#task-detail-text", Static).update(describe_task(row))

    # -- keys ----------------------------------------------------------------------

    def selected_task(self) -> TaskRow | None:
        table = self.query_one(TaskTable)
        row = table.rows_shown.get(table.selected or "")
        if row is None:
            self.notify("select a task first", severity="warning", timeout=3)
        return row

    def board_port(self) -> Any:
        if self.mc.board is None:
            self.notify("read-only dashboard: no task changes", severity="warning", timeout=3)
        return self.mc.board

    def action_close(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(help_rows(self, TASK_ACTIONS, ("Tasks",))))

    def action_add(self) -> None:
        if (board := self.board_port()) is None:
            return
        self.mc.ask_then(TaskAddScreen(), lambda req: self.mc.perform(
            "task add", lambda: board.add(req.prompt, task_id=req.task_id, priority=req.priority, after=req.after,
                                          role=req.role, review=req.review)))

    def action_priority(self) -> None:
        if (board := self.board_port()) is None or (row := self.selected_task()) is None:
            return
        self.mc.ask_then(TextPromptScreen(f"Priority of task {row.id} (high, normal, low or a whole number):", value=row.priority),
                         lambda value: self.mc.perform("task priority", lambda: board.set_priority(row.id, value.strip())))

    def action_cancel(self) -> None:
        if (board := self.board_port()) is None or (row := self.selected_task()) is None:
            return
        owner = f" {row.owner} is not interrupted: it finishes its current turn." if row.owner and row.state in ("working", "stuck", "changes") else ""
        self.mc.confirm_then(f"Cancel task {row.id}?{owner}", "Cancel task", "task cancel", lambda: board.cancel(row.id))

    def action_assign(self) -> None:
        if (board := self.board_port()) is None or (row := self.selected_task()) is None:
            return
        agent = self.mc.selected_name
        if agent is None:
            self.notify("select an agent in the fleet view first (esc, then up/down)", severity="warning", timeout=4)
            return
        self.mc.perform("task assign", lambda: board.assign(row.id, agent))

    def action_approve(self) -> None:
        if (board := self.board_port()) is None or (row := self.selected_task()) is None:
            return
        self.mc.confirm_then(f"Approve task {row.id}? It joins the merge queue.", "Approve", "review approve",
                             lambda: board.review(row.id, "approve", ""))

    def action_changes(self) -> None:
        if (board := self.board_port()) is None or (row := self.selected_task()) is None:
            return
        who = f" (typed at {row.owner}'s prompt when it is idle)" if row.owner else ""
        self.mc.ask_then(TextPromptScreen(f"Changes to task {row.id}{who}:", placeholder="what to change"),
                         lambda text: self.mc.perform("review changes", lambda: board.review(row.id, "changes", text)))

