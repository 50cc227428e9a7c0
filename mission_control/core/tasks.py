"""The task board's rules (pure): what a task is, which tasks are ready and in which order,
which are blocked and by what, a cycle in `after` named in one line, and each state change as a
pure function of an event (issue 19).

A task's stored `state` is one of `STATES`; `blocked` is never stored: a `queued` task whose
`after` are not all finished (`done` or `merged`) is shown as `blocked` (`shown_state`). The
order of dispatch is `ready_tasks`: highest priority first, ties by age (created first, then the
order they were added in). `transition` is the only way a task changes: it returns the task after
an event, or raises `TaskError` (one line) when the event does not apply to its state, so a
caller that refuses changes nothing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from mission_control.core.errors import MissionControlError, UsageError
from mission_control.core.model import iso

STATES = ("queued", "blocked", "working", "stuck", "review", "changes", "merging", "merged", "done", "failed", "cancelled")
"""Every state a task is shown in (`blocked` is computed, never stored)."""
FINISHED = frozenset({"done", "merged"})
"""States that satisfy an `after`."""
TERMINAL = frozenset({"done", "merged", "failed", "cancelled"})
"""States a task never leaves."""
HELD = frozenset({"working", "stuck", "changes"})
"""States in which an agent holds (works on) the task: its owner takes no other task."""
AWAITING = frozenset({"review", "merging"})
"""States in which the task's work waits on its owner's branch (a review, the merge queue): its
owner takes no other task either, so the branch holds this task's work only and a change
request or a conflict sent back finds it at its prompt."""
REVIEWER_ROLE = "reviewer"
"""The role a review task is for when the task names none (`review = true`)."""
LOCAL = "local"
"""How `[[role]] hosts` names this machine (an agent without a `host`)."""
PRIORITY_NAMES = {"high": 10, "normal": 0, "low": -10}
"""Named priorities as numbers (higher first); an integer is taken as it is."""
DONE_WHEN = ("commit", "idle", "word")
"""How a held task is found done: `commit` (back at its prompt with a commit since it took the
task, the commit being the evidence of work; the default for an agent with a repository), `idle`
(back at its prompt after a turn on it: seen WORKING, or the supervisor's evidence of a turn
shorter than a tick), `word` (it wrote DONE to its status file).
`task done ID` works for every task."""
MAX_PRIORITY = 1_000_000
"""Bound of an integer priority (either sign): a larger one is a typo."""


class TaskError(MissionControlError):
    """A task change that does not apply (unknown id, wrong state): one line, exit 1."""


class TaskInputError(UsageError):
    """Bad task input (a priority that is no priority, a cycle, an unknown role): one line, exit 2."""


@dataclass(frozen=True)
class Task:
    """One task of the board."""

    id: str
    prompt: str
    priority: int = 0
    """Higher first; `high` = 10, `normal` = 0, `low` = -10."""
    after: tuple[str, ...] = ()
    """Ids of tasks that must be finished (`done` or `merged`) before this one is ready."""
    role: str | None = None
    """Only agents with this role take it (None: any agent that pulls)."""
    review: bool = False
    """A reviewer approves it before it is merged (done -> `review`)."""
    done_when: str | None = None
    """`commit`, `idle` or `word` (None: `commit` when its agent has a repository, else `idle`)."""
    state: str = "queued"
    owner: str | None = None
    """The agent that holds it (or held it last)."""
    reason: str = ""
    """Why it is in its state, when that needs saying (STUCK's reason, the cancel, ...)."""
    created_at: float = 0.0
    started_at: float | None = None
    """When an agent first took it."""
    finished_at: float | None = None
    seq: int = 0
    """Its place in the order tasks were added (ties of priority and time)."""
    created_by: str = ""
    """Who added it: `config`, `cli`, or the agent that ran `task add` from its pane."""
    commits_at_start: int | None = None
    """Its owner's commit count when it took the task (`done_when = "commit"` counts from here)."""
    worked: bool = False
    """Its owner was seen working since it took the task (`commit` and `idle` need a turn of work)."""
    review_role: str | None = None
    """The role of the agents that review it (None: `reviewer`); only with `review`."""
    reviews: str | None = None
    """A review task's: the id of the task it reviews (its verdict, `review ID ...`, finishes it)."""
    approved_at: float | None = None
    """When it joined the merge queue (approved, or done without review): the queue's order."""
    merge_sha: str | None = None
    """The commit of its owner's branch to merge: the branch's tip when the task was done."""

    @property
    def open(self) -> bool:
        return self.state not in TERMINAL

    def to_json(self, board: Mapping[str, "Task"] | None = None) -> dict[str, Any]:
        """What `task list --json` shows of it (times in ISO 8601, UTC)."""
        return {
            "id": self.id, "state": shown_state(self, board or {}), "owner": self.owner, "priority": self.priority,
            "after": list(self.after), "role": self.role, "review": self.review, "done_when": self.done_when,
            "prompt": self.prompt, "reason": self.reason, "created_by": self.created_by,
            "created": iso(self.created_at), "started": iso(self.started_at), "finished": iso(self.finished_at),
            "blocked_by": list(blocked_by(self, board or {})),
            "review_role": self.review_role, "reviews": self.reviews, "approved": iso(self.approved_at),
            "merge_sha": self.merge_sha,
        }


def parse_priority(value: Any) -> int:
    """`high`, `normal`, `low`, or an integer (also as text: "-3"); else TaskInputError."""
    if isinstance(value, bool):
        raise TaskInputError(f"priority {value!r} is not a priority: use high, normal, low or a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES[value.strip().lower()]
    else:
        try:
            number = int(str(value).strip(), 10)
        except ValueError:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:36] + "...'"
            raise TaskInputError(f"priority {shown} is not a priority: use high, normal, low or a whole number") from None
    if abs(number) > MAX_PRIORITY:
        raise TaskInputError(f"priority {number} is out of range: at most {MAX_PRIORITY} either way")
    return number


def priority_name(priority: int) -> str:
    """`high`/`normal`/`low` for the named values, else the number."""
    names = {v: k for k, v in PRIORITY_NAMES.items()}
    return names.get(priority, str(priority))


def blocked_by(task: Task, board: Mapping[str, Task]) -> tuple[str, ...]:
    """The ids of `task`'s `after` that are not finished (an id the board does not know counts
    as unfinished: it is refused when added, so it can only be a task of a forgotten fleet)."""
    return tuple(dep for dep in task.after if (board.get(dep) is None or board[dep].state not in FINISHED))


def shown_state(task: Task, board: Mapping[str, Task]) -> str:
    """Its state as shown: `blocked` for a queued task still waiting on its `after`."""
    if task.state == "queued" and blocked_by(task, board):
        return "blocked"
    return task.state


def dispatch_key(task: Task) -> tuple[int, float, int]:
    """Sort key of the dispatch order: higher priority first, then older, then added first."""
    return (-task.priority, task.created_at, task.seq)


def ready_tasks(tasks: Iterable[Task]) -> list[Task]:
    """The queued tasks whose `after` are all finished, in dispatch order."""
    tasks = list(tasks)
    board = {t.id: t for t in tasks}
    return sorted((t for t in tasks if t.state == "queued" and not blocked_by(t, board)), key=dispatch_key)


def takes(roles: Iterable[str], task: Task) -> bool:
    """May an agent with these roles take the task? A task without a role: any agent that pulls."""
    return task.role is None or task.role in set(roles)


def next_task(tasks: Iterable[Task], roles: Iterable[str], host: str = LOCAL,
              role_hosts: Mapping[str, Iterable[str]] | None = None) -> Task | None:
    """The first ready task an agent with `roles` on `host` may take: a task whose role is limited
    to hosts (`role_hosts`, from `[[role]] hosts`) only on one of them."""
    roles = tuple(roles)
    limits = {role: tuple(where) for role, where in (role_hosts or {}).items() if where}
    return next((t for t in ready_tasks(tasks)
                 if takes(roles, t) and (t.role not in limits or host in limits[t.role])), None)


def find_cycle(after: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the `after` graph as the ids along it, first id repeated at the end
    (`["a", "b", "a"]`), or None. Ids the mapping does not hold are leaves."""
    graph = {k: tuple(v) for k, v in after.items()}
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if colour.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                colour[node] = 1
                path.append(node)
            deps = graph.get(node, ())
            if i < len(deps):
                stack.append((node, i + 1))
                dep = deps[i]
                if colour.get(dep) == 1:
                    return path[path.index(dep):] + [dep]
                if not colour.get(dep) and dep in graph:
                    stack.append((dep, 0))
            else:
                colour[node] = 2
                path.pop()
    return None


def cycle_text(cycle: list[str]) -> str:
    """`a -> b -> a`: a cycle in one line."""
    return " -> ".join(cycle)


def check_new(task: Task, board: Mapping[str, Task], known_roles: Iterable[str] | None) -> None:
    """Refuse a task that cannot be added to `board` (TaskInputError, one line): a taken id, an
    `after` naming an unknown task or itself, a cycle, an unknown role (when the roles are known)."""
    if task.id in board:
        raise TaskInputError(f"a task with id {task.id!r} already exists ({board[task.id].state})")
    for dep in task.after:
        if dep == task.id:
            raise TaskInputError(f"task {task.id!r} cannot come after itself")
        if dep not in board:
            raise TaskInputError(f"task {task.id!r}: after {dep!r} names no task{did_you_mean(dep, board)}")
    graph = {t.id: t.after for t in board.values()}
    graph[task.id] = task.after
    cycle = find_cycle(graph)
    if cycle:
        raise TaskInputError(f"task {task.id!r} would make a cycle in after: {cycle_text(cycle)}")
    if known_roles is not None and task.role is not None and task.role not in set(known_roles):
        roles = sorted(set(known_roles))
        raise TaskInputError(f"task {task.id!r}: role {task.role!r} is no agent's role{did_you_mean(task.role, roles)}"
                             + ("" if roles else " (no agent has roles)"))
    if task.done_when is not None and task.done_when not in DONE_WHEN:
        raise TaskInputError(f"task {task.id!r}: done_when {task.done_when!r}: use one of {', '.join(DONE_WHEN)}")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `known`, or nothing."""
    hint = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def unknown_task(task_id: str, board: Mapping[str, Task]) -> TaskError:
    return TaskError(f"no task with id {task_id!r}{did_you_mean(task_id, board)}")


def free_id(board: Mapping[str, Task], stem: str = "task") -> str:
    """The first `task-<n>` not taken (ids for `task add` without `--id`)."""
    n = len(board) + 1
    while f"{stem}-{n}" in board:
        n += 1
    return f"{stem}-{n}"


# ---------------------------------------------------------------- state changes


@dataclass(frozen=True)
class Event:
    """Something that happened to a task: `kind` is one of EVENTS."""

    kind: str
    at: float
    agent: str | None = None
    """The agent it concerns (who took it, whose turn it was)."""
    reason: str = ""
    priority: int | None = None
    commits: int | None = None
    """The agent's commit count at the event (when it took the task)."""
    data: dict[str, Any] = field(default_factory=dict)


EVENTS = ("take", "handoff", "worked", "stuck", "unstuck", "done", "cancel", "priority", "fail",
          "approve", "changes", "resume", "merged")
"""`approve`, `changes` (a reviewer's verdict, or the merge queue sending it back), `resume` (the
change request typed at its owner's prompt) and `merged` are issue 19 points 5 and 6."""


def transition(task: Task, event: Event, board: Mapping[str, Task] | None = None) -> Task:
    """The task after `event`, or TaskError (one line) when the event does not apply to it."""
    kind = event.kind
    if kind not in EVENTS:
        raise ValueError(f"unknown task event {kind!r}")
    if not task.open:
        raise TaskError(f"task {task.id!r} is {task.state} already")
    if kind == "take":
        if task.state != "queued":
            raise TaskError(f"task {task.id!r} is {task.state}{_by(task)}: only a queued task can be given to an agent "
                            "(`reassign` moves a held one)")
        waiting = blocked_by(task, board or {})
        if waiting:
            raise TaskError(f"task {task.id!r} is blocked: it comes after {', '.join(waiting)}")
        return replace(task, state="working", owner=event.agent, reason="", started_at=task.started_at or event.at,
                       commits_at_start=event.commits, worked=False)
    if kind == "handoff":  # `reassign`: another agent holds it from now on, counted from its own commits
        if task.state not in HELD:
            raise TaskError(f"task {task.id!r} is {task.state}: only a held task can be handed to another agent")
        return replace(task, state="working", owner=event.agent, reason="", commits_at_start=event.commits, worked=False)
    if kind == "worked":
        return replace(task, worked=True) if task.state in HELD else task
    if kind == "stuck":
        if task.state not in ("working", "changes"):
            raise TaskError(f"task {task.id!r} is {task.state}: only a task being worked on can be stuck")
        return replace(task, state="stuck", reason=event.reason)
    if kind == "unstuck":
        if task.state != "stuck":
            raise TaskError(f"task {task.id!r} is {task.state}, not stuck")
        return replace(task, state="working", reason="")
    if kind == "done":  # by its rule while held, or by hand (`task done`) also while it waits
        if task.state not in HELD and task.state != "queued":
            raise TaskError(f"task {task.id!r} is {task.state}: only a queued or held task can be done")
        sha = event.data.get("sha")
        if task.review:
            return replace(task, state="review", reason=event.reason, finished_at=None, merge_sha=sha)
        return _approved(replace(task, reason=event.reason, merge_sha=sha), event)
    if kind == "approve":
        if task.state != "review":
            raise TaskError(f"task {task.id!r} is {task.state}, not waiting for a review")
        return _approved(replace(task, reason=event.reason), event)
    if kind == "changes":  # a change request, a conflict, a failed merge_check: back to its owner
        if task.state not in AWAITING:
            raise TaskError(f"task {task.id!r} is {task.state}: only a task in review or in the merge queue can go back to its worker")
        return replace(task, state="changes", reason=event.reason, finished_at=None, approved_at=None, merge_sha=None,
                       commits_at_start=event.commits if event.commits is not None else task.commits_at_start, worked=False)
    if kind == "resume":
        if task.state != "changes":
            raise TaskError(f"task {task.id!r} is {task.state}, not sent back with changes")
        return replace(task, state="working")
    if kind == "merged":
        if task.state != "merging":
            raise TaskError(f"task {task.id!r} is {task.state}, not in the merge queue")
        return replace(task, state="merged", reason=event.reason, finished_at=event.at)
    if kind == "cancel":
        return replace(task, state="cancelled", reason=event.reason or "cancelled", finished_at=event.at)
    if kind == "fail":
        return replace(task, state="failed", reason=event.reason, finished_at=event.at)
    # priority
    assert event.priority is not None
    return replace(task, priority=event.priority)


def _approved(task: Task, event: Event) -> Task:
    """Done (or approved): into the merge queue when `event.data["merge"]` says its owner's branch
    is merged by the fleet, else finished."""
    if event.data.get("merge"):
        return replace(task, state="merging", approved_at=event.at, finished_at=None)
    return replace(task, state="done", finished_at=event.at)


def _by(task: Task) -> str:
    return f" by {task.owner}" if task.owner and task.state in HELD else ""


def done_now(task: Task, done_when: str, *, at_prompt: bool, commits: int | None, word_done: bool) -> bool:
    """Is the held task done by its rule? `at_prompt`: its owner sits IDLE at its prompt;
    `commits`: the owner's commit count now; `word_done`: it wrote DONE since it took the task."""
    if task.state not in ("working", "changes"):
        return False
    if done_when == "word":
        return word_done
    if not at_prompt:
        return False
    if done_when == "idle":
        return task.worked  # a turn since it took the task: seen WORKING, or a quicker one's evidence (fleet/tasks.py)
    return commits is not None and commits > (task.commits_at_start or 0)  # a commit is the work's evidence


def history_words(agent: str | None, detail: str) -> str:
    """Who and why of a history row in one phrase, as `task show` prints it: the agent, then the
    detail, the agent left out when the detail names it already (an `add` by `cli` was shown
    `cli by cli`, an approval by r1 `r1 by r1`)."""
    if agent and (detail == f"by {agent}" or detail.startswith((f"by {agent}:", f"by {agent} "))):
        return detail
    return " ".join(part for part in (agent or "", detail) if part)


def time_in_states(events: Iterable[tuple[float, str]], created_at: float, now: float,
                   blocked_until: float | None = None) -> dict[str, float]:
    """Seconds a task spent in each state, from (time, state entered) events in time order,
    counting from `created_at` in `queued`, the last state up to `now` (its finish for a
    finished task: the events end there). `blocked_until` (`unblocked_at`): time `queued` before
    it is counted `blocked` (issue 19 point 7 measures waiting on `after` apart from waiting for
    an agent; it was all `queued`)."""
    out: dict[str, float] = {}
    points = [(created_at, "queued"), *events]
    for i, (since, state) in enumerate(points):
        last = i == len(points) - 1
        if last and state in TERMINAL:
            break
        end = now if last else points[i + 1][0]
        parts = [(state, since, end)]
        if state == "queued" and blocked_until is not None:
            cut = min(max(blocked_until, since), end)
            parts = [("blocked", since, cut), ("queued", cut, end)]
        for name, a, b in parts:
            if b > a or last:
                out[name] = out.get(name, 0.0) + max(0.0, b - a)
    current = points[-1][1]
    if current == "queued" and blocked_until is not None and blocked_until >= now:
        current = "blocked"
    return {k: round(v, 3) for k, v in out.items() if v > 0 or k == current}


def unblocked_at(task: Task, board: Mapping[str, Task], now: float) -> float | None:
    """When the last of the task's `after` finished (`now` while one is not finished), or None
    for a task that comes after nothing: `time_in_states`' `blocked_until`."""
    deps = [board.get(dep) for dep in task.after]
    if not deps:
        return None
    if any(dep is None or dep.state not in FINISHED for dep in deps):
        return now
    return max(dep.finished_at if dep.finished_at is not None else task.created_at for dep in deps)  # type: ignore[union-attr]


# ---------------------------------------------------------------- review and the merge queue (issue 19 points 5, 6)

VERDICTS = ("approve", "changes")
"""A reviewer's answers: `review ID approve`, `review ID changes TEXT`."""
CHECK_TAIL_LINES = 50
"""How many of a failed `merge_check`'s last lines go back to the worker."""
MAX_LINE = 400
"""A line sent back longer than this is cut (a check printing megabytes in one line)."""


def open_review(task: Task, board: Mapping[str, Task]) -> Task | None:
    """The open review task of `task` (the one a verdict finishes), if any."""
    return next((t for t in board.values() if t.reviews == task.id and t.open), None)


def reviewed_task(task_id: str, board: Mapping[str, Task]) -> Task:
    """The task a verdict is about: `task_id` names it, or names its review task."""
    task = board.get(task_id)
    if task is None:
        raise unknown_task(task_id, board)
    if task.reviews is not None:
        if task.reviews not in board:
            raise TaskError(f"review task {task_id!r} reviews {task.reviews!r}, which the board no longer holds")
        return board[task.reviews]
    return task


def review_task_id(task: Task, board: Mapping[str, Task], name_ok: Any) -> str:
    """`<id>-review-<n>` (the n-th review of it), or `review-<n>` when that is taken or too long
    (`name_ok(id)`: a valid id)."""
    n = 1 + sum(1 for t in board.values() if t.reviews == task.id)
    wanted = f"{task.id}-review-{n}"
    return wanted if wanted not in board and name_ok(wanted) else free_id(board, "review")


def review_prompt(task: Task, *, branch: str | None, base: str | None, stat: str) -> str:
    """What a reviewer is asked: the task's prompt, its branch and its diff stat, and how to answer."""
    where = f"branch {branch} against {base}" if branch else "no branch of its own"
    return (
        f"Review task {task.id} (done by {task.owner or 'nobody'}, {where}).\n"
        f"Its prompt was:\n{task.prompt}\n"
        f"Diff stat:\n{stat.strip() or '(no changes)'}\n"
        f"Answer with `mission-control review {task.id} approve` or "
        f"`mission-control review {task.id} changes TEXT` (TEXT `-`: read from stdin)."
    )


def last_lines(text: str, n: int = CHECK_TAIL_LINES) -> str:
    """The last `n` non-blank-trailing lines of `text`, each cut at MAX_LINE characters."""
    lines = text.rstrip("\n").splitlines()[-n:]
    return "\n".join(line if len(line) <= MAX_LINE else line[:MAX_LINE] + "..." for line in lines)


def merge_queue(tasks: Iterable[Task]) -> list[Task]:
    """The tasks waiting to be merged, in the order they are merged: oldest approval first."""
    return sorted((t for t in tasks if t.state == "merging"), key=lambda t: (t.approved_at or 0.0, t.seq))
