"""The task board as a table (issue 19 point 8): id, priority, state, owner, age, spend, commits
and the prompt, one row per task; the selected task in full below it (`describe_task`).

What a row says is a pure function (`task_row`) of the task, what `task list --json` measured of
it (read only when the `tasks` table changed: `ui/source.read_board`) and its owner's snapshot
(the spend and commits of the holding in progress, live each tick); the table updates only the
cells whose text changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from mission_control.core.format import UNKNOWN, age, money
from mission_control.core.model import AgentSnapshot
from mission_control.core.tasks import HELD, Task, priority_name
from mission_control.core.terminal_text import inert
from mission_control.ui.widgets.agent_table import cell_text
from mission_control.ui.widgets.row_table import RowTable

STATE_STYLE = {
    "queued": "cyan",
    "blocked": "dim",
    "working": "green",
    "stuck": "bold white on red",
    "review": "bold black on yellow",
    "changes": "yellow",
    "merging": "magenta",
    "merged": "bold green",
    "done": "green",
    "failed": "bold red",
    "cancelled": "dim",
}
"""Each shown state's colour: the ones waiting on a person (stuck, review) stand out as in the fleet view."""

COLUMNS = (
    # key, label, width (None: sized by content, between the label and 16); the prompt takes what is left
    ("id", "Id", None),
    ("priority", "Pri", 6),
    ("state", "State", 9),
    ("owner", "Owner", None),
    ("age", "Age", 6),
    ("spend", "Spend", 7),
    ("commits", "Commits", 7),
    ("prompt", "Prompt", 0),
)
MOST = 16
"""Widest an id or owner column grows (longer ones are cut with `…`)."""
PADDING = 2


@dataclass(frozen=True)
class TaskRow:
    """What the Tasks view shows of one task."""

    id: str
    priority: str
    state: str
    """As shown: `blocked` for a queued task waiting on its `after`."""
    owner: str | None
    age: float
    """Seconds since it was added."""
    spend: float | None
    """USD spent on it by everyone who held it (None: nothing known)."""
    commits: int | None
    prompt: str
    reason: str
    detail: str
    """after / blocked by / role / review, in one line."""


def task_spend(task: Task, measured: dict[str, Any], owner: AgentSnapshot | None) -> tuple[float | None, int | None]:
    """Spend and commits on the task: each finished holding's (measured from its readings at both
    ends), plus the holding in progress (the owner's spend since it took the task, from its
    snapshot, and its commits since then)."""
    cost: float | None = None
    commits: int | None = None
    for held in measured.get("held_by", ()):
        if held.get("cost_usd") is not None:
            cost = (cost or 0.0) + held["cost_usd"]
        if held.get("commits") is not None:
            commits = (commits or 0) + held["commits"]
    if task.state in HELD and owner is not None and owner.task_id == task.id:
        if owner.task_cost_usd is not None:
            cost = (cost or 0.0) + owner.task_cost_usd
        if owner.commits is not None and task.commits_at_start is not None:
            commits = (commits or 0) + max(0, owner.commits - task.commits_at_start)
    return cost, commits


def task_row(task: Task, measured: dict[str, Any], owner: AgentSnapshot | None, now: float) -> TaskRow:
    cost, commits = task_spend(task, measured, owner)
    facts = []
    if measured.get("blocked_by"):
        facts.append("blocked by " + ", ".join(measured["blocked_by"]))
    elif task.after:
        facts.append("after " + ", ".join(task.after))
    if task.role:
        facts.append(f"role {task.role}")
    if task.review:
        facts.append("reviewed before merge")
    reviews = getattr(task, "reviews", None)
    if reviews:
        facts.append(f"reviews {reviews}")
    return TaskRow(
        id=task.id, priority=priority_name(task.priority), state=str(measured.get("state") or task.state),
        owner=task.owner, age=max(0.0, now - task.created_at), spend=cost, commits=commits,
        prompt=task.prompt, reason=task.reason, detail=" · ".join(facts),
    )


def fit(width: int, rows: list[TaskRow]) -> dict[str, int]:
    """Column key -> width for a table `width` cells wide: the id and owner as wide as their longest
    value (up to MOST), the prompt whatever is left (at least its label)."""
    content = {"id": max((len(r.id) for r in rows), default=0), "owner": max((len(r.owner or UNKNOWN) for r in rows), default=0)}
    widths = {key: (w if w is not None else max(len(label), min(MOST, content[key]))) for key, label, w in COLUMNS}
    used = sum(w + PADDING for k, w in widths.items() if k != "prompt") + PADDING
    widths["prompt"] = max(len("Prompt"), width - used)
    return widths


def cells(row: TaskRow) -> dict[str, Text]:
    """The row's cells (free text made inert, never read as markup)."""
    return {
        "id": Text(inert(row.id), style="bold"),
        "priority": Text(row.priority),
        "state": Text(row.state, style=STATE_STYLE.get(row.state, "")),
        "owner": Text(inert(row.owner or UNKNOWN)),
        "age": Text(age(row.age)),
        "spend": Text(money(row.spend)),
        "commits": Text(UNKNOWN if row.commits is None else str(row.commits)),
        "prompt": Text(inert(" ".join(row.prompt.split()))),
    }


def describe_task(row: TaskRow | None) -> Text:
    """The selected task in full, below the table."""
    if row is None:
        return Text("No tasks yet: `a` adds one (or `mission-control task add PROMPT`).", style="dim")
    t = Text()
    t.append(inert(row.id), style="bold")
    t.append("  ")
    t.append(row.state, style=STATE_STYLE.get(row.state, ""))
    if row.owner:
        t.append(f" · {inert(row.owner)}")
    t.append(f" · priority {row.priority}")
    if row.detail:
        t.append(f" · {inert(row.detail)}", style="dim")
    t.append("\n")
    if row.reason:
        t.append(f"{inert(row.reason)}\n", style="italic")
    t.append(inert(row.prompt, lines=True))
    return t


def clipped(value: Text, width: int) -> Text:
    if value.cell_len > width:
        value = value.copy()
        value.truncate(width, overflow="ellipsis")
    return value


class TaskTable(RowTable):
    """The board, one row per task (in the order they were added); only changed cells are updated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._widths: dict[str, int] = {}
        self._order: list[str] = []
        self._cells: dict[tuple[str, str], str] = {}
        self.rows_shown: dict[str, TaskRow] = {}
        """The rows shown, by task id."""

    def show(self, rows: list[TaskRow]) -> None:
        widths = fit(self.size.width - (self.styles.scrollbar_size_vertical if len(rows) + 1 > self.size.height else 0), rows)
        ids = [r.id for r in rows]
        self.rows_shown = {r.id: r for r in rows}
        if widths != self._widths or ids != self._order:
            selected = self.selected
            self.clear(columns=True)
            self._cells.clear()
            for key, label, _ in COLUMNS:
                self.add_column(label, key=key, width=widths[key])
            for r in rows:
                made = {k: clipped(v, widths[k]) for k, v in cells(r).items()}
                self.add_row(*made.values(), key=r.id)
                self._cells.update({(r.id, k): cell_text(v) for k, v in made.items()})
            self._widths, self._order = widths, ids
            if selected in ids:
                self.move_cursor(row=ids.index(selected))
            return
        for r in rows:
            for key, value in cells(r).items():
                value = clipped(value, widths[key])
                text = cell_text(value)
                if self._cells.get((r.id, key)) != text:
                    self._cells[(r.id, key)] = text
                    self.update_cell(r.id, key, value)

    def on_resize(self) -> None:
        if self.rows_shown:
            self._widths = {}
            self.show(list(self.rows_shown.values()))
