"""The task board as a service (issue 19): what `mission-control task ...` does, and what the
supervisor does with the board each tick.

The queue lives in the state store (`tasks`, `task_events`; core/tasks.py holds the rules). A
person, or an agent from inside its pane, adds, cancels, reprioritises, assigns and finishes
tasks (`TaskBoard`); each change is one store transaction that refuses (one line, nothing
changed) when the rules say no. Each supervisor tick (`TaskBoard.tick`, one call from
`Supervisor.tick`):

- a held task follows its agent: STUCK shows the agent's reason on the task (it stays the
  agent's; `reassign` moves it with the usual handoff), working again clears it; it is done by
  its `done_when` rule (`commit`, `idle`, `word`) and released;
- an agent with `pull = true` that sits IDLE at its prompt, holds no task and has nothing queued
  for its prompt takes the next ready task for its roles: the take, the ledger row (who holds
  it, its spend then), the agent's task and the text queued for its prompt are one transaction,
  so a supervisor killed at any point neither loses the task nor gives it twice. The text is
  typed by the supervisor's delivery (`Supervisor._deliver`), only at the prompt.

How tasks relate to the older task ledger (`task_ledger`, used by `reassign` and the
snapshot's `task_id` and `task_cost_usd`): tasks build on it. The ledger stays the one record
of *who holds a task from when* (a row per holding); the board adds the queue, the state and the
history. Taking a board task writes a ledger row, so `reassign`, `status` and the spend since
taking it work for board tasks unchanged, and `reassign` of a board task moves its owner too
(`Store.record_task`). A finished or cancelled task gets a ledger row with no agent ('')."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from mission_control.adapters.pane_reading import StatusWord
from mission_control.adapters.store import Store
from mission_control.adapters.supervisor_lock import status_file
from mission_control.adapters.tmux import Tmux
from mission_control.fleet.actions import ActionError, FleetActions
from mission_control.fleet.merge_queue import MergeQueue, branch_tip
from mission_control.fleet.roles import member_number
from mission_control.core.config import NAME_RE, NAME_RULE, FleetConfig
from mission_control.core.errors import MissionControlError
from mission_control.core.limits import MAX_TASK_BYTES, text_problem
from mission_control.core.model import AgentSnapshot, Status, iso
from mission_control.core.records import AgentRecord
from mission_control.core.tasks import (
    AWAITING, HELD, LOCAL, REVIEWER_ROLE, VERDICTS, Event, Task, TaskError, TaskInputError, check_new, done_now, free_id, next_task,
    open_review, parse_priority, priority_name, review_prompt, review_task_id, reviewed_task, shown_state, time_in_states,
    transition, unblocked_at, unknown_task,
)

AGENT_ENV = "MISSION_CONTROL_AGENT"
"""Set in every agent's environment: a task added from inside a pane names the agent that added it."""


class NoFleet(MissionControlError):
    """A change to the board while its fleet is not running (exit 1)."""


def require_fleet(config: FleetConfig) -> None:
    """Changes to the board need the fleet running (its supervisor dispatches them): else NoFleet."""
    if not Tmux(config.socket).has_session(config.session):
        raise NoFleet(f"no fleet running (session {config.session!r} on tmux socket {config.socket!r}): "
                      "start it with `mission-control up`; nothing changed")


def check_prompt(prompt: str, what: str = "the prompt") -> str:
    """The prompt as given (byte-exact), or TaskInputError in one line: empty, a NUL byte (no
    program can be given one), not UTF-8 (a file of other bytes), over MAX_TASK_BYTES."""
    if "\x00" in prompt:
        raise TaskInputError(f"{what} contains a NUL byte, which no program can be given")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise TaskInputError(f"{what} is not UTF-8 text") from None
    if not prompt.strip():
        raise TaskInputError(f"{what} is empty")
    if problem := text_problem(what, prompt, MAX_TASK_BYTES):
        raise TaskInputError(problem)
    return prompt


def check_id(task_id: str, what: str = "task id") -> str:
    if not NAME_RE.match(task_id):
        raise TaskInputError(f"{what} {task_id!r} is not allowed: use {NAME_RULE}")
    return task_id


def has_repo(rec: AgentRecord, config: FleetConfig) -> bool:
    """Does the git watcher count the agent's commits (its own worktree, or the fleet's repo)?"""
    if rec.worktree and rec.branch:
        return True
    return config.repo is not None and rec.spec.cwd.resolve().is_relative_to(config.repo.resolve())


@dataclass(frozen=True)
class TaskOutcome:
    task: Task
    message: str


class TaskBoard:
    """The board of one fleet: changes by a person or an agent (`add`, `cancel`, ...), and the
    supervisor's `tick`."""

    def __init__(self, config: FleetConfig, store: Store, *, actor: str = "cli") -> None:
        self.config = config
        self.store = store
        self.actor = actor
        self._words: dict[str, StatusWord] = {}
        """Per agent, its status file (read for `done_when = "word"` tasks only)."""
        self.known: list[Task] = []
        """The board as the last tick read it: what a damaged store's replacement gets back (`restore`)."""
        self._evidence: dict[str, float] = {}
        """This tick's evidence of short turns, per agent (`tick`'s `evidence`)."""
        self._repos: dict[tuple[str, str | None, str | None, str], bool] = {}
        """`has_repo` per agent and what it was answered for (resolving paths every tick costs syscalls)."""
        self.merges = MergeQueue(config, store, self.actor)
        """The merge queue (`[mission] merge_queue`): one task's branch merged at a time."""
        self._turns_at_take: dict[str, tuple[str, int]] = {}
        """Per agent of another host: (task it took, its host's count of its turns then). A turn
        counted since is work on the task, however short (its host saw it; this view may not)."""
        self.remote = {name: host.name for host in config.hosts for name in host.agents}
        """The agents of other hosts (issue 22): name -> host."""
        self.role_hosts = config.role_hosts()
        """Roles limited to hosts (`[[role]] hosts`): their tasks go to agents there only."""

    # -- reading ---------------------------------------------------------------

    def board(self) -> dict[str, Task]:
        return {t.id: t for t in self.store.tasks()}

    def show(self, task_id: str, now: float | None = None) -> dict[str, Any]:
        """The task as `task list --json` shows it, plus its history and time in each state."""
        board = self.board()
        if task_id not in board:
            raise unknown_task(task_id, board)
        return self.measured(board[task_id], board, self.store.task_events(task_id), now or time.time(), history=True)

    def listing(self, now: float | None = None) -> list[dict[str, Any]]:
        board = self.board()
        events: dict[str, list[dict[str, Any]]] = {}
        for event in self.store.task_events():
            events.setdefault(event["task"], []).append(event)
        return [self.measured(t, board, events.get(t.id, []), now or time.time()) for t in board.values()]

    @staticmethod
    def totals_by_role(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per role (`""`: tasks without one), from `listing` rows: how many tasks in each state,
        seconds in each state, spend and commits of their holders, reassignments, STUCK events."""
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            total = out.setdefault(row["role"] or "", {"tasks": 0, "states": {}, "seconds_in": {}, "cost_usd": None,
                                                       "commits": 0, "reassignments": 0, "stuck": 0})
            total["tasks"] += 1
            total["states"][row["state"]] = total["states"].get(row["state"], 0) + 1
            for state, seconds in row["seconds_in"].items():
                total["seconds_in"][state] = round(total["seconds_in"].get(state, 0.0) + seconds, 3)
            for held in row["held_by"]:
                if held["cost_usd"] is not None:
                    total["cost_usd"] = round((total["cost_usd"] or 0.0) + held["cost_usd"], 6)
                total["commits"] += held["commits"] or 0
            total["reassignments"] += row["reassignments"]
            total["stuck"] += len(row["stuck"])
        return out

    @staticmethod
    def measured(task: Task, board: dict[str, Task], events: list[dict[str, Any]], now: float, *,
                 history: bool = False) -> dict[str, Any]:
        """A task's JSON with what was measured of it: seconds in each state, who held it,
        spend and commits while each held it (from the take/finish events' readings), STUCK reasons."""
        out = task.to_json(board)
        changes = [(e["at"], e["state"]) for e in events if e["event"] != "add"]
        out["seconds_in"] = time_in_states(changes, task.created_at, now, unblocked_at(task, board, now))
        holders: list[dict[str, Any]] = []

        def close(cost: Any, commits: Any) -> None:
            """The last holder's spend and commits while it held the task, from its readings at both ends."""
            if not holders or holders[-1]["closed"]:
                return
            last = holders[-1]
            last["closed"] = True
            if isinstance(cost, (int, float)) and isinstance(last["cost_at_start"], (int, float)):
                last["cost_usd"] = round(cost - last["cost_at_start"], 6)
            if isinstance(commits, int) and isinstance(last["commits_at_start"], int):
                last["commits"] = commits - last["commits_at_start"]

        for e in events:
            data = e["data"] if isinstance(e["data"], dict) else {}
            if e["event"] == "handoff":
                close(data.get("from_cost_usd"), data.get("from_commits"))
            elif e["event"] in ("done", "cancel", "fail"):
                close(data.get("cost_usd"), data.get("commits"))
            if e["event"] in ("take", "handoff", "changes"):  # `changes`: its worker holds it again
                holders.append({"agent": e["agent"], "cost_at_start": data.get("cost_usd"), "commits_at_start": data.get("commits"),
                                "cost_usd": None, "commits": None, "closed": False})
        out["held_by"] = [{"agent": h["agent"], "cost_usd": h["cost_usd"], "commits": h["commits"]} for h in holders]
        out["reassignments"] = sum(1 for e in events if e["event"] == "handoff")
        out["stuck"] = [e["detail"] for e in events if e["event"] == "stuck"]
        if history:
            out["history"] = [{"at": iso(e["at"]), "event": e["event"], "state": e["state"], "agent": e["agent"],
                               "detail": e["detail"]} for e in events]
        return out

    # -- changes by a person or an agent ----------------------------------------

    def _running(self) -> None:
        require_fleet(self.config)
        self.store.check_writable()

    def known_roles(self) -> set[str]:
        roles = {r for a in self.config.agents for r in a.roles} | {r.name for r in self.config.roles}
        roles |= {r for host in self.config.hosts for _, mine in host.pulling for r in mine}  # other hosts' pullers
        return roles | {r for rec in self.store.agents() for r in rec.spec.roles}

    def add(self, prompt: str, *, task_id: str | None = None, priority: Any = "normal", after: tuple[str, ...] = (),
            role: str | None = None, review: bool | str = False, done_when: str | None = None) -> TaskOutcome:
        """`review`: True (reviewed by an agent of role `reviewer`) or the reviewers' role."""
        check_prompt(prompt)
        if isinstance(review, str):
            check_id(review, "review role")
        if task_id is not None:
            check_id(task_id)
        for dep in after:
            check_id(dep, "after")
        if role is not None:
            check_id(role, "role")
        number = parse_priority(priority)
        self._running()
        by = os.environ.get(AGENT_ENV) or self.actor
        roles = self.known_roles()

        def make(board: dict[str, Task]) -> Task:
            new = Task(id=task_id or free_id(board), prompt=prompt, priority=number, after=tuple(dict.fromkeys(after)),
                       role=role, review=bool(review), review_role=review if isinstance(review, str) else None,
                       done_when=done_when, created_at=time.time(), created_by=by)
            check_new(new, board, roles)
            return new

        task = self.store.add_task(make, detail=f"by {by}")
        state = shown_state(task, self.board())
        message = f"added task {task.id} (priority {priority_name(task.priority)}, {state})"
        self.store.log_action(self.actor, "task-add", None, f"task {task.id}", message)
        return TaskOutcome(task, message)

    def cancel(self, task_id: str) -> TaskOutcome:
        self._running()
        owner = self._owner(task_id)
        task = self.store.change_task(task_id, lambda t, b: transition(t, Event("cancel", time.time(), reason=f"cancelled by {self.actor}")),
                                      event="cancel", agent=owner, detail=f"by {self.actor}", release="cancelled",
                                      data=self._reading(owner))
        note = f" ({owner} is not interrupted: it finishes its current turn)" if owner else ""
        return self._logged("task-cancel", task, f"cancelled task {task.id}{note}")

    def set_priority(self, task_id: str, priority: Any) -> TaskOutcome:
        number = parse_priority(priority)
        self._running()
        task = self.store.change_task(task_id, lambda t, b: transition(t, Event("priority", time.time(), priority=number)),
                                      event="priority", detail=f"{number} by {self.actor}")
        return self._logged("task-priority", task, f"task {task.id} now has priority {number}")

    def assign(self, task_id: str, agent: str) -> TaskOutcome:
        self._running()
        if not self._elsewhere(agent):
            FleetActions(self.config, actor=self.actor, store=self.store).record(agent)  # an unknown name: one line
        held = [t.id for t in self.store.tasks() if t.owner == agent and t.state in HELD]
        if held:
            raise TaskError(f"{agent} holds task {held[0]} already: finish or reassign it first; nothing changed")
        snap = self._snapshot(agent)
        task = self._take(task_id, agent, snap, why=f"assigned by {self.actor}")
        return self._logged("task-assign", task, f"task {task.id} given to {agent}: typed at its prompt when it is idle")

    def done(self, task_id: str | None) -> TaskOutcome:
        self._running()
        if task_id is None:  # from inside an agent's pane: the task it holds
            me = os.environ.get(AGENT_ENV)
            mine = [t.id for t in self.store.tasks() if me and t.owner == me and t.state in HELD]
            if not mine:
                raise TaskInputError("name the task (`task done ID`): " + (f"{me} holds no task" if me else "not run by an agent"))
            task_id = mine[0]
        owner = self._owner(task_id)
        merge = self.merge_data(owner)
        task = self.store.change_task(task_id, lambda t, b: transition(t, Event("done", time.time(), reason=f"by {self.actor}", data=merge)),
                                      event="done", agent=owner, detail=f"by {self.actor}", release="done",
                                      data={**self._reading(owner), **merge})
        return self._logged("task-done", task, f"task {task.id} is {task.state}")

    def _owner(self, task_id: str) -> str | None:
        task = self.board().get(task_id)
        return task.owner if task is not None and task.state in HELD else None

    def _snapshot(self, agent: str | None) -> AgentSnapshot | None:
        snap = self.store.latest_snapshot() if agent else None
        return snap.agent(agent) if snap and agent else None

    def _reading(self, agent: str | None, snap: AgentSnapshot | None = None) -> dict[str, Any]:
        """The agent's spend and commits now, kept with an event (what the task cost is measured from)."""
        snap = snap or self._snapshot(agent)
        return {"cost_usd": snap.cost_usd, "commits": snap.commits} if snap is not None else {}

    def _logged(self, action: str, task: Task, message: str) -> TaskOutcome:
        self.store.log_action(self.actor, action, task.owner, f"task {task.id}", message)
        return TaskOutcome(task, message)

    def _take(self, task_id: str, name: str, snap: AgentSnapshot | None, why: str, now: float | None = None) -> Task:
        """`name` takes the task: one transaction with its ledger row and the text for its prompt
        (typed by this fleet's supervisor; handed to its host's, for an agent of another host).
        An agent of another host whose commits its host does not count (yet) is held to `idle`
        (no count of commits to start from)."""
        now = now or time.time()
        commits = snap.commits if snap is not None else None
        remote = snap.host is not None if snap is not None else self._elsewhere(name)
        reading = self._reading(name, snap)
        task = self.store.change_task(
            task_id, lambda t, b: transition(t, Event("take", now, agent=name, commits=commits if remote else commits or 0), b),
            event="take", agent=name, detail=why, data=reading,
            hold=(name, why, snap.cost_usd if snap is not None else None), deliver=True, at=now,
        )
        if remote and snap is not None:
            self._turns_at_take[name] = (task.id, snap.turns)
        return task

    # -- review (issue 19 point 5) --------------------------------------------------

    def review(self, task_id: str, verdict: str, text: str = "") -> TaskOutcome:
        """A reviewer's verdict on a task in `review` (`task_id` names it or its review task):
        `approve` puts it into the merge queue (or finishes it, when nothing is merged);
        `changes` sends `text` back to its worker as its next prompt (typed at its prompt when it
        is idle) and the task to `changes`, then `working` once typed. The review task is
        finished either way. Refused, nothing changed (TaskError, one line): a task not in
        review, an agent approving its own task (`MISSION_CONTROL_AGENT` is its owner)."""
        if verdict not in VERDICTS:
            raise TaskInputError(f"verdict {verdict!r}: use {' or '.join(VERDICTS)}")
        if verdict == "changes":
            if not text.strip():
                raise TaskInputError("say what to change: `review ID changes TEXT` (TEXT `-`: read from stdin)")
            check_prompt(text, "the change request")
        self._running()
        board = self.board()
        task = reviewed_task(task_id, board)
        me = os.environ.get(AGENT_ENV)
        who = me or self.actor
        if task.state != "review":  # first: a task not in review is that, whoever asks
            raise TaskError(f"task {task.id!r} is {task.state}, not waiting for a review; nothing changed")
        if verdict == "approve" and me and me == task.owner:
            raise TaskError(f"{me} cannot approve its own task {task.id}: another reviewer must; nothing changed")
        now = time.time()
        if verdict == "approve":
            merge = self.merge_data(task.owner, sha=task.merge_sha)
            task = self.store.change_task(
                task.id, lambda t, b: transition(t, Event("approve", now, agent=who, reason=f"approved by {who}", data=merge)),
                event="approve", agent=who, detail=f"by {who}", data=merge, at=now)
            message = f"task {task.id} approved: " + ("in the merge queue" if task.state == "merging" else task.state)
        else:
            if not task.owner:
                raise TaskError(f"task {task.id!r} has no worker to send changes to (it was done by hand); nothing changed")
            snap = self._snapshot(task.owner)
            why = f"changes requested by {who}"
            task = self.store.change_task(
                task.id, lambda t, b: transition(t, Event("changes", now, agent=task.owner, reason=why,
                                                           commits=snap.commits if snap else None)),
                event="changes", agent=task.owner, detail=f"by {who}: {first_line(text)}", data=self._reading(task.owner, snap),
                hold=(task.owner, why, snap.cost_usd if snap else None), deliver_text=text, at=now)
            message = f"task {task.id} sent back to {task.owner} with the changes (typed at its prompt when it is idle)"
        self.close_reviews(board=self.board(), now=now, why=f"verdict {verdict} by {who}")
        return self._logged(f"task-{verdict}", task, message)

    def merge_data(self, owner: str | None, rec: AgentRecord | None = None, sha: str | None = None) -> dict[str, Any]:
        """What a `done`/`approve` event carries for the merge queue: `merge` (the owner's branch
        is merged by the fleet) and `sha` (its tip now: what is reviewed and merged)."""
        if not self.config.merge_queue or self.config.repo is None or not owner:
            return {}
        if rec is None:
            rec = next((r for r in self.store.agents() if r.name == owner), None)
        if rec is None or not rec.branch:
            return {}
        sha = sha or branch_tip(self.config.repo, rec.branch)
        return {"merge": True, "sha": sha} if sha else {}

    def review_tick(self, tasks: list[Task], recs: dict[str, AgentRecord], now: float) -> None:
        """Each tick: a task in `review` without an open review task gets one (for the reviewers'
        role, carrying its prompt, branch and diff stat; pulled as any task); a review task whose
        task no longer waits for it (its verdict given, the task cancelled) is finished. Both are
        repairs too: a supervisor or a `review` killed between two writes leaves nothing undone."""
        board = {t.id: t for t in tasks}
        self.close_reviews(board, now, why="its task is no longer in review")
        for task in tasks:
            if task.state == "review" and open_review(task, board) is None:
                self._new_review(task, recs.get(task.owner or ""), now)

    def close_reviews(self, board: dict[str, Task], now: float, why: str) -> None:
        for rt in board.values():
            if rt.reviews is None or not rt.open:
                continue
            reviewed = board.get(rt.reviews)
            if reviewed is not None and reviewed.state == "review":
                continue
            owner = rt.owner if rt.state in HELD else None
            try:
                self.store.change_task(rt.id, lambda t, b: transition(t, Event("done", now, agent=owner, reason=why)),
                                       event="done", agent=owner, detail=why, release="reviewed", data=self._reading(owner), at=now)
            except TaskError:
                pass  # changed meanwhile: the next tick sees it

    def _new_review(self, task: Task, rec: AgentRecord | None, now: float) -> None:
        branch = rec.branch if rec is not None else None
        base = (rec.base_branch if rec is not None else None) or self.config.base_branch
        stat = ""
        if branch:
            try:
                stat = FleetActions(self.config, actor=self.actor, store=self.store).diff_stat(task.owner or "")
            except (ActionError, MissionControlError) as exc:
                stat = f"(no diff stat: {exc})"
        prompt = review_prompt(task, branch=branch, base=base, stat=stat)

        def make(board: dict[str, Task]) -> Task:
            if open_review(task, board) is not None:
                raise TaskError(f"task {task.id!r} has a review task already")
            return Task(id=review_task_id(task, board, NAME_RE.match), prompt=prompt, priority=task.priority,
                        role=task.review_role or REVIEWER_ROLE, reviews=task.id, created_at=now, created_by="review")

        try:
            made = self.store.add_task(make, detail=f"review of {task.id}")
        except TaskError:
            return
        self.store.log_action(self.actor, "task-review", task.owner, f"task {made.id}", f"review task {made.id} for {task.id}")

    # -- each supervisor tick ------------------------------------------------------

    def tick(self, agents: list[AgentRecord], snaps: list[AgentSnapshot], now: float,
             evidence: dict[str, float] | None = None) -> None:
        """Follow the held tasks, then let idle pulling agents take the next ready ones.
        `evidence`: per agent that took a turn on the text last typed at its prompt, when that
        text was typed (the supervisor's `_turn_evidence`: a turn too short to be seen WORKING)."""
        self._evidence = evidence or {}
        tasks = self.known = self.store.tasks()
        if not tasks:
            return
        by_name = {s.name: s for s in snaps}
        recs = {r.name: r for r in agents}
        self.remote.update({s.name: s.host for s in snaps if s.host is not None and s.name not in recs})
        waiting = {d["agent"] for d in self.store.pending_deliveries()}
        for task in tasks:
            if task.state in HELD and task.owner in by_name and (task.owner in recs or task.owner in self.remote):
                try:
                    self._follow(task, recs.get(task.owner), by_name[task.owner], task.owner in waiting, now)
                except TaskError:
                    pass  # changed by a command since it was read: the next tick sees it
        self.review_tick(self.store.tasks(), recs, now)
        tasks = self.store.tasks()
        busy = {t.owner for t in tasks if t.state in HELD or t.state in AWAITING}
        for name, roles, host, rec in self.pullers(agents, snaps):
            snap = by_name.get(name)
            if snap is None or name in busy or name in waiting:
                continue
            if not (snap.status is Status.IDLE and snap.at_prompt):
                continue
            if rec is not None and self._has_repo(rec) and snap.commits is None:
                continue  # its commits not counted yet: `done_when = "commit"` would count from a wrong start
            offered = tasks if host == LOCAL else [t for t in tasks if not (t.state == "queued" and t.done_when == "word")]
            task = next_task(offered, roles, host, self.role_hosts)  # `word`: its status file is read here only
            if task is None:
                continue
            try:
                self._take(task.id, name, snap, why="pulled", now=now)
            except TaskError:  # changed by a command since it was read (cancelled, assigned): the next tick sees it
                tasks = self.store.tasks()
                continue
            where = f" (host {host})" if host != LOCAL else ""
            self.store.log_action(self.actor, "task-take", name, f"task {task.id}", f"{name}{where} pulled task {task.id}")
            tasks = self.store.tasks()
        if self.merges.tick(tasks, recs, by_name, now):  # also after `merge_queue` was turned off: none is left waiting
            tasks = self.store.tasks()
        self.known = tasks

    def _elsewhere(self, name: str) -> bool:
        """Does `name` run on another host (configured there, or shown or spawned there since)?"""
        if name in self.remote:
            return True
        from mission_control.fleet.remote_actions import host_of

        return bool(self.config.hosts) and host_of(self.config, [name]) is not None

    def pullers(self, agents: list[AgentRecord], snaps: list[AgentSnapshot] = ()) -> list[tuple[str, tuple[str, ...], str, AgentRecord | None]]:
        """(name, roles, host, its record here) of each agent that pulls tasks: this machine's
        (host `local`), then each other host's (no record here: its host runs it): its configured
        pullers, and the agents of a `[[role]]` spawned there (`<role>-<n>`, as its host reports them)."""
        here = [(r.name, tuple(r.spec.roles), LOCAL, r) for r in agents if r.spec.pull]
        there = [(name, roles, host.name, None) for host in self.config.hosts for name, roles in host.pulling]
        known = {name for name, *_ in there}
        for snap in snaps:
            role = next((r for r in self.config.roles if member_number(r.name, snap.name) is not None), None)
            if snap.host is not None and role is not None and snap.name not in known:
                there.append((snap.name, (role.name,), snap.host, None))
        return [*here, *there]

    def restore(self) -> None:
        """A new, empty store after a damaged one: the board as last read (each held task's ledger
        row too, so its agent still shows it); its history stays in the damaged file."""
        for task in self.known:
            self.store.add_task(lambda board, task=task: task, detail="restored: the store was damaged")
            if task.owner and task.state in HELD:
                self.store.record_task(task.id, task.prompt, task.owner, None, "restored: the store was damaged", None)

    def _has_repo(self, rec: AgentRecord) -> bool:
        key = (rec.name, rec.worktree, rec.branch, str(rec.spec.cwd))
        if key not in self._repos:
            self._repos[key] = has_repo(rec, self.config)
        return self._repos[key]

    def _follow(self, task: Task, rec: AgentRecord | None, snap: AgentSnapshot, text_waiting: bool, now: float) -> None:
        """One held task against its agent's status this tick (`rec` None: an agent of another
        host, as its host reports it)."""
        name = snap.name
        if snap.status is Status.STUCK:
            if task.state != "stuck":
                self._event(task, Event("stuck", now, agent=name, reason=snap.reason), detail=snap.reason)
            return
        if task.state == "stuck":
            task = self._event(task, Event("unstuck", now, agent=name), detail=snap.status.value)
        if text_waiting:
            return  # its task (or a handoff) is not typed yet: nothing it does now is work on it
        if task.state == "changes":  # the change request (or conflict, failed check) was typed at its prompt
            task = self._event(task, Event("resume", now, agent=name), detail="the changes were typed at its prompt")
        if task.reviews is not None:
            return  # a review task is finished by its verdict (`review ID ...`), not by a rule
        counted = self._has_repo(rec) if rec is not None else task.commits_at_start is not None
        rule = task.done_when or ("commit" if counted else "idle")
        if snap.status is Status.WORKING and not task.worked:
            task = self._event(task, Event("worked", now, agent=name))
        elif rule == "idle" and not task.worked and (why := self._short_turn(task, snap, self._evidence.get(name))
                                                     or self._turn_there(task, snap)):
            task = self._event(task, Event("worked", now, agent=name), detail=why)
        at_prompt = snap.status is Status.IDLE and snap.at_prompt
        if done_now(task, rule, at_prompt=at_prompt, commits=snap.commits, word_done=self._word_done(name, task)):
            merge = self.merge_data(name, rec)
            self.store.change_task(task.id, lambda t, b: transition(t, Event("done", now, agent=name, reason=f"done_when {rule}", data=merge)),
                                   event="done", agent=name, detail=f"done_when {rule}", release="done",
                                   data={"cost_usd": snap.cost_usd, "commits": snap.commits, **merge}, at=now)
            self.store.log_action(self.actor, "task-done", name, f"task {task.id}", f"task {task.id} done ({rule})")

    @staticmethod
    def _short_turn(task: Task, snap: AgentSnapshot, typed_at: float | None) -> str:
        """Why the held task counts as worked on though its agent was never seen WORKING (a turn
        shorter than a tick), or "": a commit since it took the task, or the supervisor's
        evidence of a turn on text typed since it took the task (a hook event, its screen after
        the Enter)."""
        if snap.commits is not None and task.commits_at_start is not None and snap.commits > task.commits_at_start:
            return "a commit since it took the task"
        if typed_at is not None and typed_at >= (task.started_at or 0):
            return "a turn on its typed task (hook event or screen after the Enter)"
        return ""

    def _turn_there(self, task: Task, snap: AgentSnapshot) -> str:
        """An agent of another host took a turn since it took the task, by its host's count of its
        turns (one too short for this view to see WORKING), or ""."""
        took = self._turns_at_take.get(snap.name)
        if snap.host is None or took is None or took[0] != task.id or snap.turns <= took[1]:
            return ""
        return f"a turn counted by host {snap.host}"

    def _event(self, task: Task, event: Event, detail: str = "") -> Task:
        return self.store.change_task(task.id, lambda t, b: transition(t, event, b), event=event.kind, agent=event.agent,
                                      detail=detail, at=event.at)

    def _word_done(self, name: str, task: Task) -> bool:
        """It wrote DONE to its status file since it took the task."""
        if task.done_when != "word":
            return False
        word = self._words.get(name)
        if word is None:
            word = self._words[name] = StatusWord(status_file(self.config.state_dir, name))
        text, at = word.read()
        return bool(text and text.strip().upper().startswith("DONE") and at is not None and at >= (task.started_at or 0))


def first_line(text: str, width: int = 80) -> str:
    """The first line of `text`, cut at `width` (what the history shows of a change request)."""
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= width else line[: width - 3] + "..."


def add_config_tasks(config: FleetConfig, store: Store, now: float | None = None) -> list[str]:
    """`up`: the `[[task]]` tables the board does not hold yet, added (a task of a fleet that
    crashed is neither added again nor reset); an `assignee`'s task is its agent's from the start.
    Returns the ids added."""
    now = now or time.time()
    added = []
    board = {t.id for t in store.tasks()}
    for i, t in enumerate(config.tasks):
        if t.id in board:
            continue
        held = t.assignee is not None
        task = Task(id=t.id, prompt=t.prompt, priority=t.priority, after=tuple(t.after), role=t.role, review=bool(t.review),
                    review_role=t.review if isinstance(t.review, str) else None,
                    done_when=t.done_when, state="working" if held else "queued", owner=t.assignee,
                    created_at=now + i * 1e-6, started_at=now if held else None, created_by="config",
                    commits_at_start=0 if held else None)
        store.add_task(lambda board, task=task: task, detail="from agents.toml")
        added.append(t.id)
    return added

