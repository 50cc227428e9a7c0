"""The person's loop, run by the supervisor each tick (issue 21 points 2-4).

- **Resume at a limit's reset.** An agent STUCK on a usage or rate limit whose reset it printed
  gets a reason that says when, a `resume_at` the dashboard counts down to, and at that time
  (plus `auto_resume_margin`) its resume prompt — unless a person acted on it since the limit
  was first seen, or it is no longer STUCK on that limit (core/limit_reset.py decides). The wait
  is kept in the store (store.LIMIT_KEY + name): a new supervisor neither starts a printed
  duration afresh nor resumes twice for one limit.
- **Restart with backoff.** `restart = "on-failure" | "always"`: an exited agent is started
  again with its resume command after a doubling delay, at most `max_restarts` in 10 minutes,
  then left alone as a crash loop (core/restart.py decides; the state lives in the store's meta
  table, store.RESTART_KEY + name, so a new supervisor goes on counting). An agent a person killed
  is not started again.
- **Told, wherever the person is.** WAITING, STUCK, a budget reached, a task done: a notice
  (core/notify.py: its text, the secrets scrubbed, the rate limit) sent by the notifier's own
  thread (adapters/notify.py) to the attached terminals, `notify-send` and the webhook.

Every act goes through `FleetActions` (logged as the supervisor's) and is said in the
supervisor's window when it fails; none of it may stop a tick.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Callable, Iterable

from mission_control.adapters.notify import Delivery, Notifier, client_ttys
from mission_control.adapters.store import LIMIT_KEY, RESTART_KEY, Store, StoreError
from mission_control.adapters.tmux import PaneInfo, Tmux, TmuxError
from mission_control.core.config import FleetConfig
from mission_control.core.errors import MissionControlError
from mission_control.core.limit_reset import (
    LimitWait, find_reset, follow_limit, is_limit_reason, reason_with_reset, resume_due, wait_of_text, wait_text,
)
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.notify import TASK_EVENTS, Notice, RateLimit, scrub
from mission_control.core.records import AgentRecord
from mission_control.core.restart import RESTART_WINDOW, RestartState, decide, restarted
from mission_control.core.resume import ResumeStep
from mission_control.core.status import ScreenFacts
from mission_control.fleet.actions import FleetActions

LOOKING = ("zoom",)
"""Actions that only look at an agent: a person who zoomed in to read it leaves its resume to the supervisor
(one who types into its pane makes it leave the limit's screen, which ends the wait)."""
STALE_WAIT = 3600.0
"""A stored wait whose resume is this long past is an old limit's, not the one on screen now."""
LIMIT_LINES = 30
"""Non-blank lines at the bottom of the current turn a reset time is looked for in."""


class PersonLoop:
    def __init__(self, config: FleetConfig, store: Store, tmux: Tmux, actions: Callable[[], FleetActions],
                 say: Callable[[str], None], secrets: Callable[[], Iterable[str]] = tuple, local: tzinfo | None = None,
                 notifier: Notifier | None = None) -> None:
        self.config = config
        self.store = store
        self.tmux = tmux
        self._actions = actions
        """The supervisor's `FleetActions` (made when first needed)."""
        self.say = say
        self.secrets = secrets
        """Every value put into an agent's environment: masked in whatever a notification says."""
        self.local = local
        """The zone a time printed without one is read in (None: this machine's, looked up each time)."""
        self.waits: dict[str, LimitWait] = {}
        """Agents STUCK on a limit with a printed reset."""
        self.settled: dict[str, str] = {}
        """Agent -> the limit message it was resumed from (or left to the person for): not again for it."""
        self.stored_waits: dict[str, str] = {}
        """Agent -> its wait as the store has it (`LIMIT_KEY`; "" for none), read once, written when it changes."""
        self.restart_states: dict[str, RestartState] = {}
        self.given_up: set[tuple[str, float]] = set()
        """(agent, launch) whose crash loop was logged."""
        self.left: set[tuple[str, float]] = set()
        """(agent, launch) a person killed: not restarted."""
        self.rate = RateLimit(config.notify.min_interval)
        n = config.notify
        self.notifier = notifier or Notifier(
            session=config.session, dashboard_hint=f"mission-control dashboard -c {shlex.quote(str(config.path))}",
            url=n.url, timeout=n.timeout, retries=n.retries, desktop=n.desktop, say=say)
        self.task_cursor: int | None = None
        """The newest task event read."""
        self.started_at = time.time()
        """Task events before it were told by an earlier supervisor."""

    @property
    def actions(self) -> FleetActions:
        return self._actions()

    def _zone(self) -> tzinfo:
        if self.local is not None:
            return self.local
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]

    # -- resume at a limit's reset ---------------------------------------------------

    def limit(self, rec: AgentRecord, status: Status, reason: str, facts: ScreenFacts | None, now: float) -> tuple[str, float | None]:
        """The reason to show (with the reset time) and when the agent will be resumed (None: not)."""
        name = rec.name
        reset = None
        if status is Status.STUCK and facts is not None and is_limit_reason(reason):
            reset = find_reset(facts.region.text(LIMIT_LINES), now, self._zone())
        previous = self.waits.get(name)
        if previous is None and reset is not None:
            previous = self._stored_wait(name, reset.message, now)
        wait = follow_limit(previous, reset, now, self.config.auto_resume_margin)
        if wait is None:
            self.waits.pop(name, None)
            self.settled.pop(name, None)
            return reason, None
        self.waits[name] = wait
        shown = reason_with_reset(reason, wait.reset, self._zone())
        auto = self.config.loop_settings(rec.spec)[0]
        if not auto or self.settled.get(name) == wait.reset.message:
            return shown, None
        return shown, wait.resume_at

    def _stored_text(self, name: str) -> str:
        if name not in self.stored_waits:
            self.stored_waits[name] = self.store.get_meta(LIMIT_KEY + name) or ""
        return self.stored_waits[name]

    def _stored_wait(self, name: str, message: str, now: float) -> LimitWait | None:
        """The wait an earlier supervisor kept for this same limit message (its first sight, and
        whether it was resumed already); not one long past (yesterday's `resets 4:50am`)."""
        try:
            stored = wait_of_text(self._stored_text(name))
        except StoreError:
            return None
        if stored is None or stored[0].reset.message != message or now - stored[0].resume_at > STALE_WAIT:
            return None
        if stored[1]:
            self.settled[name] = message
        return stored[0]

    def _keep_waits(self, names: Iterable[str]) -> None:
        """Write the waits that changed since they were last stored (only the agents of the fleet)."""
        for name in names:
            wait = self.waits.get(name)
            text = wait_text(wait, self.settled.get(name) == wait.reset.message) if wait is not None else ""
            if self._stored_text(name) != text:
                self.store.set_meta(LIMIT_KEY + name, text)
                self.stored_waits[name] = text

    def _resume_due(self, recs: dict[str, AgentRecord], now: float) -> None:
        for name, wait in list(self.waits.items()):
            rec = recs.get(name)
            if rec is None or not self.config.loop_settings(rec.spec)[0] or self.settled.get(name) == wait.reset.message:
                continue
            person = self.store.last_person_action(name, wait.seen_at, ignore=LOOKING)
            verdict = resume_due(wait, now, person["at"] if person else None)
            if verdict is None:
                continue
            self.settled[name] = wait.reset.message
            if verdict == "skip":
                self.store.log_action("supervisor", "auto-resume", name, wait.reset.message,
                                      f"not resumed: you acted on it since ({person['action'] if person else ''})")
                continue
            plan = self.actions.plan_resume(name)
            if plan.step is not ResumeStep.PROMPT:
                self.store.log_action("supervisor", "auto-resume", name, wait.reset.message, f"not resumed: {plan.description}")
                continue
            outcome = self.actions.resume(name, plan, why=f"its limit reset: {wait.reset.message}")
            if not outcome.ok:
                self.say(f"could not resume {name}: {outcome}")

    # -- restart with backoff --------------------------------------------------------

    def _state(self, name: str) -> RestartState:
        if name not in self.restart_states:
            try:
                self.restart_states[name] = RestartState.from_text(self.store.get_meta(RESTART_KEY + name))
            except StoreError:
                return RestartState()
        return self.restart_states[name]

    def _keep(self, name: str, state: RestartState) -> None:
        if self.restart_states.get(name) != state:
            self.restart_states[name] = state
            self.store.set_meta(RESTART_KEY + name, state.to_text())

    def failures(self, rec: AgentRecord, now: float) -> tuple[int, int] | None:
        """For an agent restarted by its policy: (its failed exits in the window, this one
        included; how many make a crash loop) — the classifier's crash loop is the policy's
        giving up. None: the classifier counts for itself."""
        _, policy, _, max_restarts = self.config.loop_settings(rec.spec)
        if policy == "never":
            return None
        state = self._state(rec.name)
        recent = sum(1 for t in state.restarts if now - t < RESTART_WINDOW)
        return recent + 1, max_restarts + 1

    def _restart(self, recs: dict[str, AgentRecord], snaps: dict[str, AgentSnapshot], panes: dict[str, PaneInfo], now: float) -> None:
        for name, rec in recs.items():
            _, policy, delay, max_restarts = self.config.loop_settings(rec.spec)
            pane = panes.get(rec.pane_id or "")
            snap = snaps.get(name)
            if policy == "never" or pane is None or not pane.dead or snap is None:
                continue
            launched = rec.launched_at or 0.0
            if (name, launched) in self.left or (name, launched) in self.given_up:
                continue  # left alone: decided once per run
            state = self._state(name)
            decision, state = decide(policy, snap.exit_code, launched, state, now, delay, max_restarts)
            if decision.action == "none":
                continue
            self._keep(name, state)
            if decision.action == "wait":
                continue
            person = self.store.last_person_action(name, launched)
            if person is not None and person["action"] == "kill":
                self.left.add((name, launched))
                self.store.log_action("supervisor", "auto-restart", name, f"restart = {policy}", "not restarted: you killed it")
                continue
            if decision.action == "give-up":
                self.given_up.add((name, launched))
                self.store.log_action("supervisor", "auto-restart", name, f"restart = {policy}, max_restarts = {max_restarts}",
                                      f"crash loop: {decision.recent} restarts in 10 min, left alone")
                continue
            if decision.action == "restart":
                why = (f"restart = {policy}: exit {snap.exit_code}, restart {decision.recent + 1} of {max_restarts} in 10 min"
                       f" after {(decision.at or now) - (state.dead_since or now):g}s")
                self._keep(name, restarted(state, now))
                outcome = self.actions.restart_resuming(name, why)
                if not outcome.ok:
                    self.say(f"could not restart {name}: {outcome}")

    # -- the snapshot ------------------------------------------------------------------

    def annotate(self, snap: AgentSnapshot, resume_at: float | None, rec: AgentRecord) -> AgentSnapshot:
        """The snapshot with its countdown and restart count (unchanged when both are unset)."""
        restarts = self._state(rec.name).total if self.config.loop_settings(rec.spec)[1] != "never" else 0
        if resume_at is None and not restarts:
            return snap
        return replace(snap, resume_at=resume_at, restarts=restarts)

    # -- tell the person -------------------------------------------------------------

    def status_changed(self, name: str, new: Status, reason: str, since: float, task: str | None) -> None:
        """An agent that starts needing the person (WAITING, STUCK) is told."""
        if new.needs_human:
            self.notify(Notice(name, new.value, reason, since, task), since)

    def budget_reached(self, name: str, reason: str, now: float, task: str | None) -> None:
        """An agent paused at its budget (or the fleet's) is told: it waits for the person."""
        self.notify(Notice(name, Status.PAUSED.value, reason, now, task), now)

    def notify(self, notice: Notice, now: float, key: str | None = None) -> None:
        """Send it, unless the agent was the subject of one less than `min_interval` ago."""
        if not self.notifier.wanted:
            return
        allowed, held, self.rate = self.rate.allow(key or notice.agent, now)
        if not allowed:
            return
        clients: tuple[tuple[str, str], ...] = ()
        if self.notifier.desktop:
            try:
                clients = client_ttys(self.tmux.query(
                    "list-clients", "-F", "#{client_tty}\t#{client_termname}\t#{client_control_mode}").splitlines())
            except TmuxError:
                pass
        self.notifier.send(Delivery(scrub(notice, self.secrets()), clients, held))

    def _tasks_done(self, now: float) -> None:
        for event in self.store.task_events_after(self.task_cursor or 0, tuple(TASK_EVENTS)):
            self.task_cursor = event["id"]
            if event["at"] < self.started_at:
                continue  # finished before this supervisor started: told by the one before
            agent = event["agent"] or "-"
            status = "DONE" if event["event"] == "done" else "FAILED"
            self.notify(Notice(agent, status, event["detail"], event["at"], event["task"], TASK_EVENTS[event["event"]]), now,
                        key=f"{agent}/task")

    # -- the tick --------------------------------------------------------------------

    def tick(self, agents: list[AgentRecord], snaps: list[AgentSnapshot], panes: dict[str, PaneInfo], now: float) -> None:
        """After the agents were observed (only when acting): resume, restart, tell."""
        recs = {r.name: r for r in agents}
        by_name = {s.name: s for s in snaps}
        for step in (lambda: self._resume_due(recs, now), lambda: self._keep_waits(recs), lambda: self._restart(recs, by_name, panes, now),
                     lambda: self._tasks_done(now)):
            try:
                step()
            except (MissionControlError, StoreError, TmuxError, OSError) as exc:
                self.say(f"{exc}")

    def close(self, wait: float = 0.0) -> None:
        self.notifier.close(wait)
