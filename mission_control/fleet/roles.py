"""Roles that scale (issue 19 point 3): the supervisor spawns and retires the agents of each
`[[role]]` with the task board, one call a tick (`RoleScaler.tick`, from `Supervisor.tick` after
the board's own tick).

- **Spawn.** While ready tasks of a role wait that none of its free agents (holding no task,
  starting or idle) will take, and fewer than `max_instances` of its agents exist, one more is
  spawned from the template through the one spawn path (`FleetActions.spawn`): named
  `<role>-<n>`, n the lowest number no live agent (nor a pane of the fleet) has; its own
  worktree and branch `agent/<role>-<n>`; `pull = true`, `roles = [role]`. A number a stopped
  agent of the role had is taken up again with its kept worktree and branch (nothing it
  committed is lost, and a role never has more worktrees than `max_instances`). At most one
  spawn per role per tick.
- **Retire.** An agent of the role that sits IDLE at its prompt, owns no open task (one in
  review or in the merge queue comes back to it with changes), has no text
  waiting for its prompt and no ready task it could take, for `retire_after` seconds, is
  stopped: its processes ended (`FleetActions.kill`), its pane closed, its record marked
  removed (`up` after a crash does not bring it back); its worktree and branch are kept.
- **Never a runaway.** `max_instances` bounds the live agents. A spawn that fails (refused,
  tmux or git failing) or whose agent exits within `EARLY_EXIT` seconds counts a failure: the
  role waits `backoff(failures)` before it tries again (kept in the store's meta, so a restarted
  supervisor waits too), and the reason is in the action log. An agent of the role that exited
  later, holding no task, is retired (its pane closed) so a fresh one can take the work.
- **Restarts.** Everything this module knows that matters is in the store (agents, their
  `removed` mark, the backoff) or in tmux (the panes): a supervisor killed at any point and
  started again counts the same agents and picks the same numbers. A pane named after a role's
  agent with no record (a spawn cut off between its pane and its record) is closed once it has
  been seen so for `ORPHAN_GRACE` seconds, never given a second agent of the same name.

What is only in memory: since when each agent has been idle with nothing for it (a restarted
supervisor counts `retire_after` again from its first tick: an agent is retired late, never early).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

from mission_control.adapters.store import Store, StoreError
from mission_control.adapters.tmux import PaneInfo, TmuxError
from mission_control.core.config import FleetConfig, RoleSettings
from mission_control.core.errors import MissionControlError
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.records import AgentRecord
from mission_control.core.tasks import LOCAL, Task, next_task, ready_tasks
from mission_control.fleet.actions import ActionError, FleetActions

EARLY_EXIT = 30.0
"""An agent of a role that exits within this many seconds of its launch, having taken no task,
is a failed spawn (a bad command, a missing binary): the role backs off."""
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0
"""Seconds a role waits after its n-th failed spawn in a row: 5, 10, 20, ... at most 5 minutes."""
ORPHAN_GRACE = 10.0
"""Seconds a pane named after a role's agent may live without a record before it is closed."""
BACKOFF_KEY = "role_backoff:"
"""Store meta key prefix: a role's failed spawns in a row and when it may try again (JSON)."""
TEMPLATE_LEAVES_OUT = ("name", "max_instances", "retire_after", "hosts")
"""Keys of a `[[role]]` that are not its agents' (`[[agent]]`) keys."""


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failed spawns in a row."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))


def member_number(role: str, name: str) -> int | None:
    """n when `name` is `<role>-<n>`, else None."""
    found = re.fullmatch(rf"{re.escape(role)}-([1-9][0-9]*)", name)
    return int(found.group(1)) if found else None


def lowest_free(role: str, taken: set[str]) -> str:
    """`<role>-<n>` for the lowest n >= 1 not in `taken`."""
    n = 1
    while f"{role}-{n}" in taken:
        n += 1
    return f"{role}-{n}"


def template(role: RoleSettings) -> dict[str, Any]:
    """The `[[agent]]` keys of the role's agents (what `FleetActions.spawn` is given)."""
    data = role.model_dump(mode="json", exclude=set(TEMPLATE_LEAVES_OUT), exclude_none=True)
    data.update(pull=True, roles=[role.name])
    data.pop("task", None)
    if not data.get("tokens"):
        data.pop("tokens", None)
    return data


def spawn_place(role: RoleSettings, here: int, there: list[AgentSnapshot], elsewhere: list[AgentSnapshot]) -> str | None:
    """Where the role's next agent is spawned: of its `hosts` (this machine when none), the one
    with the fewest of its agents, the first listed on a tie; a host whose link is down (its
    agents UNREACHABLE) is passed over. None: every host it may use is down."""
    places = list(role.hosts) or [LOCAL]
    down = {s.host for s in elsewhere if s.status is Status.UNREACHABLE}
    usable = [p for p in places if p == LOCAL or p not in down]
    if not usable:
        return None
    count = {p: (here if p == LOCAL else sum(1 for s in there if s.host == p)) for p in usable}
    return min(usable, key=lambda p: (count[p], usable.index(p)))


def waiting_for(role: str, tasks: list[Task]) -> list[Task]:
    """The ready tasks of `role` (a task without a role does not make a role grow)."""
    return [t for t in ready_tasks(tasks) if t.role == role]


@dataclass
class _Backoff:
    failures: int = 0
    until: float = 0.0


class RoleScaler:
    """Spawns and retires the agents of the fleet's `[[role]]`s (see the module docstring)."""

    def __init__(self, config: FleetConfig, store: Store, actions: Callable[[], FleetActions],
                 say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.store = store
        self._actions = actions
        """The supervisor's actions (made on first use): spawn and kill go through them."""
        self.say = say or (lambda line: print(f"mission-control supervise: {line}", file=sys.stderr, flush=True))
        self.idle_since: dict[str, float] = {}
        """Per agent of a role: since when it has sat idle with nothing for it (this supervisor's view)."""
        self.orphans: dict[str, float] = {}
        """Pane of a role's agent without a record -> when it was first seen so."""
        self.counted: set[tuple[str, float]] = set()
        """(agent, launch) of early exits counted as failures already."""

    # -- the tick ---------------------------------------------------------------

    def tick(self, agents: list[AgentRecord], snaps: list[AgentSnapshot], panes: list[PaneInfo], now: float) -> None:
        if not self.config.roles:
            return
        tasks = self.store.tasks()
        by_name = {s.name: s for s in snaps}
        held = {t.owner for t in tasks if t.owner and t.open and t.state != "queued"}  # in review, merging: still its
        waiting = {d["agent"] for d in self.store.pending_deliveries()}
        recorded = {r.name for r in agents}
        self._close_orphans(panes, recorded, now)
        elsewhere = [s for s in snaps if s.host is not None]  # the other hosts' agents, as last reported
        for role in self.config.roles:
            members = [r for r in agents if member_number(role.name, r.name) is not None]
            for rec in members:
                self._exited(role, rec, by_name.get(rec.name), rec.name in held, now)
            there = [s for s in elsewhere if member_number(role.name, s.name) is not None]
            for snap in there:  # one of another host that ended, holding no task: retired there (its slot freed)
                if snap.status is Status.EXITED and snap.name not in held:
                    self._stop(snap.name, f"{snap.name} exited on host {snap.host} ({snap.reason or 'its process ended'}): "
                                          "stopped, its worktree kept")
            members = [r for r in self.store.agents() if member_number(role.name, r.name) is not None]
            self._retire_idle(role, [(r.name, tuple(r.spec.roles), LOCAL) for r in members]
                              + [(s.name, (role.name,), s.host or LOCAL) for s in there if s.status is not Status.EXITED],
                              by_name, held, waiting, tasks, now)
            members = [r for r in self.store.agents() if member_number(role.name, r.name) is not None]
            self._grow(role, members, there, elsewhere, by_name, held, waiting, tasks, panes, now)

    # -- spawning ---------------------------------------------------------------

    def _grow(self, role: RoleSettings, members: list[AgentRecord], there: list[AgentSnapshot], elsewhere: list[AgentSnapshot],
              by_name: dict[str, AgentSnapshot], held: set[str], waiting: set[str], tasks: list[Task], panes: list[PaneInfo],
              now: float) -> None:
        """`members`: its agents here; `there`: its agents on other hosts; `elsewhere`: every agent
        of another host (the names taken there)."""
        ready = waiting_for(role.name, tasks)
        count = len(members) + len(there)
        if not ready or count >= role.max_instances:
            return
        free = [r.name for r in members if r.name not in held and self._free(by_name.get(r.name))]
        free += [s.name for s in there if s.name not in held and self._free(s)]
        if len(ready) <= len(free):
            return  # its free agents take them (or are starting to)
        state = self._backoff(role.name)
        if now < state.until:
            return
        place = spawn_place(role, len(members), there, elsewhere)
        if place is None:
            return  # every host it runs on is unreachable now
        live = ({r.name for r in self.store.agents()} | {p.agent for p in panes if p.agent and p.session == self.config.session}
                | {s.name for s in elsewhere})
        name = lowest_free(role.name, live)
        stopped = {r.name for r in self.store.agents(include_removed=True)} - live if place == LOCAL else set()
        why = (f"{len(ready)} ready task{'s' if len(ready) != 1 else ''} of role {role.name} wait "
               f"({ready[0].id} first); {count} of {role.max_instances} agents")
        try:  # on another host: that host's spawn, which takes a stopped agent's name (and worktree) up again itself
            outcome = self._actions().spawn(name, role.kind, template=template(role), revive=name in stopped or place != LOCAL,
                                            host=None if place == LOCAL else place)
        except (ActionError, TmuxError, StoreError, OSError, MissionControlError) as exc:
            self._failed(role.name, state, now, f"could not spawn {name}{'' if place == LOCAL else ' on host ' + place}: {exc}")
            return
        if not outcome.ok:
            self._failed(role.name, state, now, f"could not spawn {name} on host {place}: {outcome.message}")
            return
        self.idle_since.pop(name, None)
        again = " (its kept worktree and branch again)" if name in stopped else ""
        where = "" if place == LOCAL else f" on host {place}"
        self._log("role-spawn", name, f"role {role.name}", f"spawned {name}{where}{again}: {why}")

    @staticmethod
    def _free(snap: AgentSnapshot | None) -> bool:
        """Will it take a task soon: starting (no snapshot yet, or STARTING) or idle."""
        return snap is None or snap.status in (Status.STARTING, Status.IDLE)

    def _backoff(self, role: str) -> _Backoff:
        try:
            data = json.loads(self.store.get_meta(BACKOFF_KEY + role) or "{}")
            return _Backoff(int(data.get("failures", 0)), float(data.get("until", 0.0)))
        except (ValueError, TypeError, AttributeError):
            return _Backoff()

    def _set_backoff(self, role: str, state: _Backoff) -> None:
        self.store.set_meta(BACKOFF_KEY + role, json.dumps({"failures": state.failures, "until": state.until}))

    def _failed(self, role: str, state: _Backoff, now: float, why: str) -> None:
        state = _Backoff(state.failures + 1, 0.0)
        state.until = now + backoff(state.failures)
        self._set_backoff(role, state)
        line = f"{why}; role {role} tries again in {backoff(state.failures):g} s (failure {state.failures} in a row)"
        self.say(line)
        self._log("role-spawn", None, f"role {role}", f"failed: {line}")

    def _exited(self, role: RoleSettings, rec: AgentRecord, snap: AgentSnapshot | None, holds: bool, now: float) -> None:
        """An agent of the role whose process ended: an early exit is a failed spawn; holding no
        task, it is retired (a fresh one takes the work); holding one, it stays (the task shows it)."""
        if snap is None or (snap.status is not Status.EXITED and snap.exit_code is None):
            return  # (a dead pane with an exit status shows STUCK when it keeps failing: a crash loop)
        launched = rec.launched_at or now
        key = (rec.name, launched)
        if now - launched <= EARLY_EXIT and not holds and key not in self.counted and not self._took_any(rec.name, launched):
            self.counted.add(key)
            detail = f"exit status {snap.exit_code}" if snap.exit_code is not None else "it exited"
            last = f": {snap.last_line[:120]!r}" if snap.last_line else ""
            self._failed(role.name, self._backoff(role.name), now, f"{rec.name} exited {now - launched:.0f} s after it started ({detail}{last})")
        if not holds:
            self._stop(rec.name, f"{rec.name} exited ({snap.reason or 'its process ended'}): stopped, its worktree kept")

    def _took_any(self, name: str, since: float) -> bool:
        return any(e["agent"] == name and e["event"] in ("take", "handoff") and e["at"] >= since - 1 for e in self.store.task_events())

    # -- retiring ---------------------------------------------------------------

    def _retire_idle(self, role: RoleSettings, members: list[tuple[str, tuple[str, ...], str]], by_name: dict[str, AgentSnapshot],
                     held: set[str], waiting: set[str], tasks: list[Task], now: float) -> None:
        """`members`: (name, roles, host) of its agents, here and on other hosts."""
        limits = self.config.role_hosts()
        for name, roles, host in members:
            snap = by_name.get(name)
            idle = (snap is not None and snap.status is Status.IDLE and snap.at_prompt and name not in held
                    and name not in waiting and next_task(tasks, roles, host, limits) is None)
            if not idle:
                self.idle_since.pop(name, None)
                continue
            since = self.idle_since.setdefault(name, now)
            if now - since < role.retire_after:
                continue
            if self._stop(name, f"{name} idle for {now - since:.0f} s with no ready task of role {role.name} "
                               f"(retire_after {role.retire_after:g}): stopped, its worktree kept"):
                state = self._backoff(role.name)
                if state.failures:  # it worked: the role's spawns are fine
                    self._set_backoff(role.name, _Backoff())

    def _stop(self, name: str, why: str) -> bool:
        """Stop the agent, close its pane, mark it removed; its worktree and branch stay (on its
        host, for one of another host)."""
        try:
            outcome = self._actions().retire(name, why, action="role-retire")
        except (ActionError, StoreError, TmuxError, MissionControlError) as exc:
            outcome = None
            self.say(f"could not retire {name}: {exc}")
        if outcome is not None and not outcome.ok:
            self.say(f"could not retire {name}: {outcome.message}")
        if outcome is None or not outcome.ok:
            return False
        self.idle_since.pop(name, None)
        return True

    def _close_orphans(self, panes: list[PaneInfo], recorded: set[str], now: float) -> None:
        """Close a pane named after a role's agent that has no record (its spawn was cut off)."""
        seen = set()
        for pane in panes:
            if pane.session != self.config.session or not pane.agent or pane.agent in recorded:
                continue
            if not any(member_number(r.name, pane.agent) is not None for r in self.config.roles):
                continue
            seen.add(pane.pane_id)
            first = self.orphans.setdefault(pane.pane_id, now)
            if now - first < ORPHAN_GRACE:
                continue
            try:
                self._actions().tmux.kill_pane(pane.pane_id)
            except TmuxError:
                continue
            self._log("role-orphan", pane.agent, pane.pane_id,
                      f"closed pane {pane.pane_id} of {pane.agent}: no record (a spawn cut off by a supervisor kill)")
        self.orphans = {k: v for k, v in self.orphans.items() if k in seen}

    def _log(self, action: str, agent: str | None, detail: str, message: str) -> None:
        try:
            self.store.log_action("supervisor", action, agent, detail, message)
        except StoreError as exc:
            self.say(f"{message} (not recorded: {exc})")
