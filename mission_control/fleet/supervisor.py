"""The headless supervisor: the one process per fleet that polls and decides.

Each tick: one `tmux list-panes -a`, one pass over the process table, a capture of
each agent pane that may have changed (its window printed and its processes wrote; see
adapters/tmux_control.py), the agents' status files and hook events -> the core classifier ->
a `FleetSnapshot`, of which the state store gets the agents that changed. Hook events arrive in each agent's events file
(appended by `hook_appender.py`, tailed from an offset), are recorded in the store, and
are read back from the store with those of the old `mission-control hook` command. The next tick is scheduled only when the last
one has finished, so ticks never overlap; a slow tick pushes the next one back.
"""

from __future__ import annotations

import os
import signal
from collections import deque
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mission_control.adapters.git_progress import GitProbe
from mission_control.adapters.git_watcher import GitWatcher
from mission_control.adapters.meters import Meter, TailedFile, make_meter
from mission_control.adapters.metrics_http import METRICS_ADDRESS_KEY
from mission_control.adapters.pane_reading import StatusWord, read_pane
from mission_control.adapters.processes import ProcessTable
from mission_control.adapters.supervisor_lock import (
    LOCK_NAME, SupervisorRunning, acquire_lock, hook_events_file, ledger_file, output_log, status_file,
)
from mission_control.fleet.actions import PAUSE_REASON_KEY, ActionError, FleetActions
from mission_control.fleet.loop import PersonLoop
from mission_control.fleet.host_delivery import HostDelivery
from mission_control.fleet.host_view import HostView
from mission_control.fleet.tasks import TaskBoard
from mission_control.fleet.roles import RoleScaler
from mission_control.adapters.run import spawn
from mission_control.adapters.store import STOPPED_KEY, StateWriter, Store, StoreError, ensure_private_dir
from mission_control.adapters.tmux import PaneInfo, Tmux, TmuxError
from mission_control.core.budget import OVER, WARN, budget_state, sample_spend, should_pause
from mission_control.core.config import FleetConfig
from mission_control.core.diagnosis import hide_values
from mission_control.core.kinds import KINDS
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.records import AgentRecord
from mission_control.core.snapshot import PaneFacts, Spend, agent_snapshot, cpu_percent
from mission_control.core.progress import WorktreeInfo
from mission_control.core.rules import RuleSet, rules_with_user
from mission_control.core.hook_config import read_event_line
from mission_control.core.status import CRASH_LOOP_WINDOW, HookEvidence, Memory, Observation, Settings, classify, note_hook
from mission_control.core.terminal_text import plain_line
from mission_control.core.tokens import MeterReading

HISTORY_LINES = 10
"""Lines of scrollback captured above the visible region."""
OUTPUT_READ = 128 << 10
"""Bytes of an agent's output log its meter reads per tick. An agent printing faster than this
(a runaway loop) is metered a few ticks late instead of stalling the tick for the whole fleet."""
TAIL_EVERY = 30.0
"""An agent's screen text (its pane tail) is stored when it changed, but at most every 30 s, except
at once when its status changes or while a dashboard shows it (`Store.watch_tail`): a fleet of
agents printing all the time would otherwise rewrite every tail every tick."""
TURN_SETTLE = 0.5
"""Seconds after the Enter of typed text by which its echo and the agent's first answer are on
screen: a screen changed later than that is the agent's turn (`Supervisor._turn_evidence`)."""
PRUNE_EVERY = 300.0
"""Seconds between two passes dropping history past its retention (see `Store.prune`)."""


@dataclass
class _AgentState:
    """What the supervisor keeps for one agent between ticks."""

    memory: Memory = field(default_factory=Memory)
    word: StatusWord | None = None
    """Its status file, read when it changes."""
    hook: HookEvidence = field(default_factory=HookEvidence)
    """What its hooks said so far."""
    transcript_path: str | None = None
    """The Claude Code transcript its latest hook named."""
    hook_file: TailedFile | None = None
    """Its hook events file, tailed."""
    hook_newest: float = 0.0
    """The time of its newest hook event in the store."""
    hook_recorded_at: float = 0.0
    """The newest of its hook events in the store when this supervisor started: lines of its
    events file up to it were recorded by an earlier one."""
    cpu_prev: float | None = None
    cpu_prev_at: float | None = None
    cpu_percent: float | None = None
    tail_hash: str = ""
    """The digest of its screen text as last stored."""
    tail_written_at: float = 0.0
    launched_at: float = 0.0
    meter: Meter | None = None
    output: TailedFile | None = None
    """The agent's output log, for a meter that reads what it printed."""
    spend_history: tuple[float, ...] = ()
    spend_sampled_at: float | None = None
    budget_paused: bool = False
    budget_seen: str | None = None
    """Its budget state as last recorded in the event stream (None: not looked at yet)."""
    transcripts: set[str] = field(default_factory=set)
    failures: dict[float, float] = field(default_factory=dict)
    """launch time -> when that run failed (non-zero exit), for crash-loop detection."""
    secrets: tuple[str, ...] = ()
    """The values injected into this run: masked in the screen text the store keeps."""


class Supervisor:
    def __init__(self, config: FleetConfig, store: Store, tmux: Tmux, clock=time.time) -> None:
        self.config = config
        self.store = store
        self.tmux = tmux
        self.clock = clock
        self.procs = ProcessTable()
        self.states: dict[str, _AgentState] = {}
        self.screens: dict[str, str] = {}
        """This tick's screen of each agent pane (a pane that did not change keeps its last one)."""
        self.hook_cursor = 0
        self._hooks_read = False
        """The store's hook events were read once (the first tick)."""
        self.settings = Settings(stuck_after=config.stuck_after, start_timeout=config.start_timeout)
        self.tick_ms: deque[float] = deque(maxlen=600)
        """The last ten minutes' tick durations (bounded: a supervisor runs for weeks)."""
        self.stop = threading.Event()
        self.record_changes = True
        self.rulesets: dict[str, RuleSet] = {}
        self._actions: FleetActions | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.git = GitWatcher()
        """Agents' commits, read by a thread of its own when `serve` starts it (else once a tick)."""
        self._git_keys: dict[str, tuple[Any, ...]] = {}
        """What each agent's git probe was made for (its worktree, or its cwd in the shared checkout)."""
        self.fleet_budget_paused = False
        self._fleet_budget_state = _AgentState()
        """The fleet's budget state as last recorded in the event stream (its `budget_seen`)."""
        self._budgets_at_start: dict[str, str] | None = None
        self.hosts: HostView | None = None
        """The other hosts' agents (issue 22), fed by one ssh connection per host (`serve` starts it)."""
        self.deliver = True
        self.acting = True
        """Type queued text (typed tasks, handoffs) at agents' prompts."""
        self.store_error: StoreError | None = None
        """Why the state store could not be read or written last (None: it works). Supervision goes
        on without it: the agents are watched from what was last read, and writing resumes when it can."""
        self._known_agents: list[AgentRecord] = []
        """The agent records last read from the store: what a damaged store is rebuilt from."""
        self.watched: set[str] = set()
        """The agents a dashboard shows the screen text of: their tails are stored every tick they change."""
        self.state = StateWriter(store)
        """Writes each agent's row when it changed (a tick with nothing changed writes nothing)."""
        self.pruned_at = 0.0
        """When history past its retention was last dropped (at start, then every PRUNE_EVERY s)."""
        self.lock_fds: list[int] = []
        """The supervisor lock this process holds (`serve`); taken again if its file is deleted."""
        self.board = TaskBoard(config, store, actor="supervisor")
        """The task board: held tasks follow their agents, idle pulling agents take the next ready one."""
        self.on_tick: list[Callable[[FleetSnapshot, list[AgentRecord], float], None]] = []
        """Called after each tick with its snapshot, the agents' records and its duration in seconds
        (the metrics collector: `fleet/metrics.py`)."""
        self.loop = PersonLoop(config, store, tmux, lambda: self.actions, self._say, self._secrets)
        """Resume at a limit's reset, restart with backoff, notifications (issue 21)."""
        self._typed_read = False
        """The store's record of the text last typed at each agent was read (`_turn_evidence`)."""
        self._typed: dict[str, tuple[str, float, float]] = {}
        """Per agent, the text last typed at its prompt: (its screen's digest then, when, its Enter's delay)."""
        self._marks_checked: set[int] = set()
        """Queued texts whose pane mark this supervisor looked at (`_typed_before`)."""
        self.handovers = HostDelivery(config)
        """Queued texts for agents of other hosts, handed to their host's fleet (fleet/host_delivery.py)."""
        self._handover_said: dict[int, str] = {}
        self.roles = RoleScaler(config, store, lambda: self.actions, self._say)
        """The `[[role]]`s: agents spawned while their tasks wait, retired when idle (fleet/roles.py)."""

    # -- one tick -------------------------------------------------------------

    def tick(self, write: bool = True) -> FleetSnapshot:
        started = time.perf_counter()
        self.acting = write  # a one-off poll (`status` without a supervisor) only looks
        now = self.clock()
        self._check_store(write)
        agents = self._known_agents = self._read(self.store.agents, self._known_agents)
        panes = {p.pane_id: p for p in self.tmux.list_panes() if p.session == self.config.session}
        wanted = [panes[r.pane_id] for r in agents if r.pane_id in panes]
        self.procs.refresh()  # first: which panes' processes wrote anything decides what is captured
        screens_later = self.tmux.start_capture_changed(
            wanted, history=HISTORY_LINES, written=lambda pane: self.procs.written(pane.pid)
        )
        # while tmux answers: what does not need the screens
        self._read_hooks(agents)
        self.tasks = {row["agent"]: row for row in self._read(self.store.current_tasks, {}).values()}
        self.watched = self._read(self.store.watched_tails, set(), now)
        for rec in agents:
            self._watch_git(rec)
        names = {rec.name for rec in agents}
        self.git.keep_only(names)
        self._git_keys = {n: k for n, k in self._git_keys.items() if n in names}
        if not self.git.running:
            self.git.run_once()
        self.screens = screens_later()
        snaps: list[AgentSnapshot] = []
        tails: dict[str, str] = {}
        for rec in agents:
            snap, tail = self._observe(rec, panes.get(rec.pane_id or ""), now)
            snaps.append(snap)
            if tail is not None:
                tails[rec.name] = tail
        self._fleet_budget(snaps)
        remote = self.hosts.agents() if self.hosts else ()  # the other hosts' agents, as last reported (issue 22)
        if self.deliver and write:
            if self.store_error is None:
                try:
                    self._write(self.board.tick, agents, [*snaps, *remote], now, evidence=self._turn_evidence(now))
                except Exception as exc:  # a fault in the task board must not stop the fleet's snapshots
                    self._say(f"task board: {exc!r}")
                try:
                    self._write(self.roles.tick, agents, [*snaps, *remote], list(panes.values()), now)
                except Exception as exc:  # nor one in scaling the roles
                    self._say(f"roles: {exc!r}")
            self._deliver(agents, [*snaps, *remote])
            self.loop.tick(agents, snaps, panes, now)
        if self.hosts is not None and write:  # issue 22: other hosts' screen texts (prompts), as their supervisors stored them
            tails.update(self.hosts.take_tails())
            self.hosts.watch(self.watched, time.monotonic())
        elapsed = (time.perf_counter() - started) * 1000
        snapshot = FleetSnapshot(
            taken_at=now, session=self.config.session, agents=tuple(snaps) + tuple(remote),
            tick_ms=round(elapsed, 2), supervisor_pid=os.getpid()
        )
        if write and self._write(self.state.write, snapshot, tails):
            self._store_works()
            if now - self.pruned_at >= PRUNE_EVERY:
                self.pruned_at = now
                self._write(self.store.prune, now)
        self.tick_ms.append(elapsed)
        for hook in self.on_tick:
            hook(snapshot, agents, elapsed / 1000)
        return snapshot

    def _read_hooks(self, agents: list[AgentRecord]) -> None:
        """Record what each agent's hooks appended to its events file, then fold every new hook
        event in the store (those and the old `mission-control hook` command's) into its state.
        A one-off poll (`status` without a supervisor) only looks: it folds the file's events
        without recording them."""
        if not self._hooks_read:  # what an earlier supervisor recorded, so nothing is recorded twice
            self._hooks_read = True
            self._fold_hook_events()
            for st in self.states.values():
                st.hook_recorded_at = st.hook_newest
        for rec in agents:
            self._record_hook_file(rec.name)
        self._fold_hook_events()

    def _record_hook_file(self, name: str) -> None:
        st = self.states.setdefault(name, _AgentState())
        if st.hook_file is None:
            st.hook_file = TailedFile(hook_events_file(self.config.state_dir, name))
        lines, _ = st.hook_file.read_new()
        for text in lines:
            read = read_event_line(text)
            if read is None or read[2] <= st.hook_recorded_at:
                continue  # a torn or foreign line, Codex's title turn, or recorded already
            event, data, at = read
            if not (self.acting and self._write(self.store.record_hook_event, name, event, data, at=at)):
                self._note_hook(st, event, data, at)  # a store that cannot take it: used all the same

    def _fold_hook_events(self) -> None:
        for event in self._read(self.store.hook_events_since, [], self.hook_cursor):
            self.hook_cursor = event["id"]
            data = event["data"] if isinstance(event["data"], dict) else {}
            self._note_hook(self.states.setdefault(event["agent"], _AgentState()), event["event"], data, event["at"])

    @staticmethod
    def _note_hook(st: _AgentState, event: str, data: dict[str, Any], at: float) -> None:
        st.hook = note_hook(st.hook, event, data, at)
        st.hook_newest = max(st.hook_newest, at)
        if isinstance(data.get("transcript_path"), str):
            st.transcript_path = data["transcript_path"]

    def _observe(self, rec: AgentRecord, pane: PaneInfo | None, now: float) -> tuple[AgentSnapshot, str | None]:
        """Read the agent (adapters), classify it (core), build its snapshot (core); the new pane
        tail to store, or None when its screen did not change."""
        name = rec.name
        st = self.states.setdefault(name, _AgentState())
        launched = rec.launched_at or now
        if launched != st.launched_at:
            # a new process in this pane (up, restart, respawn): start afresh
            keep = {k: getattr(st, k) for k in (
                "hook", "transcript_path", "hook_file", "hook_newest", "hook_recorded_at", "meter", "output",
                "spend_history", "spend_sampled_at", "budget_paused", "transcripts", "failures", "word")}
            st = self.states[name] = _AgentState(launched_at=launched, **keep)
            st.secrets = self._injected_values(name)
        read = read_pane(pane, self.procs, self.config.state_dir, name)
        proc = read.usage
        if proc is not None:
            percent = cpu_percent(st.cpu_prev, st.cpu_prev_at, proc.cpu_seconds, now)
            if percent is not None:  # else the last one stands
                st.cpu_percent = percent
            st.cpu_prev, st.cpu_prev_at = proc.cpu_seconds, now
        if st.word is None:
            st.word = StatusWord(status_file(self.config.state_dir, name))
        word, word_at = st.word.read()
        own = word if (word_at or 0) >= launched - 1 else None
        if pane is not None and pane.dead and read.exit_status not in (0, None):
            st.failures.setdefault(launched, now)
        restart_failures = self.loop.failures(rec, now)  # (failures, crash loop at) of an agent restarted by its policy
        if pane is None:
            obs = Observation(now=now, started_at=launched, pane_dead=True, exit_status=None)
        else:
            obs = Observation(
                now=now,
                started_at=launched,
                screen=self.screens.get(pane.pane_id, ""),
                pane_dead=pane.dead,
                exit_status=read.exit_status,
                paused=bool(proc and proc.stopped),
                cpu_seconds=proc.cpu_seconds if proc else None,
                history_size=pane.history_size,  # grows while it prints, even the same line again and again
                own_word=own,
                own_word_at=word_at,
                recent_failures=restart_failures[0] if restart_failures else sum(1 for at in st.failures.values() if now - at <= CRASH_LOOP_WINDOW),
                **({"crash_loop_exits": restart_failures[1]} if restart_failures else {}),
                **st.hook.fields(since=launched - 1),
            )
        verdict, st.memory = classify(obs, st.memory, self._rules(rec.kind), self.settings)
        facts = st.memory.facts
        reason = verdict.reason if pane is not None else "pane is gone"
        if verdict.status is Status.PAUSED:
            reason = self._read(self.store.get_meta, None, PAUSE_REASON_KEY + name) or reason
        reason, resume_at = self.loop.limit(rec, verdict.status, reason, facts, now)  # a limit's reset: when
        if verdict.changed and self.record_changes:  # a printed reason may hold an injected value: masked
            self._status_changed(name, verdict.previous, verdict.status, hide_values(reason, st.secrets),
                                 hide_values(verdict.evidence, st.secrets), now)
        if st.memory.last_change_at == now:  # its screen changed or it used CPU: files may have too
            self.git.saw_activity(name)
        reading = self._meter(rec, st)
        cost = reading.cost_usd if reading is not None else None
        st.spend_history, st.spend_sampled_at = sample_spend(st.spend_history, cost, now, st.spend_sampled_at)
        budget = budget_state(cost, rec.spec.budget_usd, self.config.budget_warn)
        self._budget_event(name, st, budget, cost, rec.spec.budget_usd, now)
        if self.acting and should_pause(budget, self.config.budget_action, st.budget_paused) and verdict.status not in (Status.EXITED, Status.PAUSED):
            st.budget_paused = True
            self._pause_for_budget(name, f"budget reached: ${cost:.2f} of ${rec.spec.budget_usd:.2f}")
        held = self.tasks.get(name)
        tail = None
        digest = facts.digest if facts is not None else ""
        if digest != st.tail_hash and (verdict.changed or name in self.watched or now - st.tail_written_at >= TAIL_EVERY):
            st.tail_hash, st.tail_written_at = digest, now
            tail = hide_values("\n".join((facts.lines if facts is not None else [])[-60:]), st.secrets)
        facts_now = PaneFacts(
            pid=pane.pid if pane is not None else None,
            window=pane.window_name if pane is not None else None,
            live=pane is not None and not pane.dead,
            cpu_percent=st.cpu_percent if proc else None,
            rss_bytes=proc.rss_bytes if proc else None,
            exit_status=obs.exit_status if obs.pane_dead else None,  # EXITED, or STUCK in a crash loop
        )
        spend = Spend(reading=reading, history=st.spend_history, budget_state=budget,
                      task_id=held["task"] if held else None, cost_at_task_start=held.get("cost_at_start") if held else None)
        snap = agent_snapshot(rec, verdict, facts, reason, st.memory.time_in, facts_now, spend, self.git.progress(name), st.secrets)
        snap = self.loop.annotate(snap, resume_at, rec)
        return snap, tail

    def _secrets(self) -> set[str]:
        """Every value put into an agent's environment (injected or configured): no notification carries one."""
        return {v for st in self.states.values() for v in st.secrets} | {v for r in self._known_agents for v in r.spec.env.values()}

    def _injected_values(self, name: str) -> tuple[str, ...]:
        """What a person injected into the agent (secrets, often): kept out of the stored screen text
        too, should the agent print it, so that a shared store leaks none."""
        return tuple(self._overlay(name).values())

    def _overlay(self, name: str) -> dict[str, str]:
        """The agent's injected variables; none when its file cannot be read (`env` and `up` say
        why: the supervisor goes on supervising)."""
        try:
            return self.store.env_overlay(name)
        except StoreError:
            return {}

    def _rules(self, kind: str) -> RuleSet:
        if kind not in self.rulesets:
            self.rulesets[kind] = rules_with_user(kind, self.config.rules_for(kind))
        return self.rulesets[kind]

    def _meter(self, rec: AgentRecord, st: _AgentState) -> MeterReading | None:
        """The agent's spend, read from where the agent itself records it (for a command with
        `tokens` regexes, and aider without a history file: what it printed, logged by tmux pipe-pane)."""
        spec = rec.spec
        name = rec.name
        if st.meter is None:
            env = {**spec.env, **self._overlay(name)}
            try:
                st.meter = make_meter(
                    rec.kind,
                    cwd=spec.cwd,
                    env=env,
                    started_at=rec.first_launched_at or rec.launched_at or self.clock(),
                    price_overrides=self.config.prices,
                    regexes=spec.tokens,
                    ledger_path=ledger_file(self.config.state_dir, name),
                )
            except ValueError:
                return None
            if st.meter.reads_output:
                st.output = TailedFile(output_log(self.config.state_dir, name), max_read=OUTPUT_READ)
        path = st.transcript_path  # named by the kind's hooks; taken by a meter that reads transcripts
        if path and path not in st.transcripts and hasattr(st.meter, "add_transcript"):
            st.transcripts.add(path)
            st.meter.add_transcript(Path(path))
        printed: list[str] = []
        if st.output is not None:
            raw, _ = st.output.read_new()
            printed = [plain_line(line) for line in raw]
        reading = st.meter.poll(printed)
        return reading if reading.known else None

    @property
    def actions(self) -> FleetActions:
        """What the supervisor itself does to agents (budget pauses, queued text) goes through
        the same actions a person uses, logged as the supervisor's."""
        if self._actions is None:
            self._actions = FleetActions(self.config, actor="supervisor", store=self.store, tmux=self.tmux)
            if self.config.hosts:  # issue 22 point 7: one action channel per host, kept while the supervisor runs
                from mission_control.fleet.remote_actions import keep_channels

                keep_channels(self.config)
        return self._actions

    def _pause_for_budget(self, name: str, reason: str) -> None:
        try:
            self.actions.pause(name, reason=reason)
        except (ActionError, StoreError) as exc:
            print(f"mission-control supervise: could not pause {name}: {exc}", file=sys.stderr, flush=True)
        held = self.tasks.get(name)
        self.loop.budget_reached(name, reason, self.clock(), held["task"] if held else None)

    def _budget_event(self, name: str | None, st: _AgentState, state: str, cost: float | None,
                      budget: float | None, now: float) -> None:
        """A budget state crossed (ok, warn, over) goes into the event stream (issue 20 point 3).
        An agent's first look compares with its last stored snapshot, so a restarted supervisor
        does not record a crossing twice."""
        if st.budget_seen is None:
            stored = self._stored_budgets().get(name or "", "")
            st.budget_seen = stored if name is not None else state
        if state != st.budget_seen and self.record_changes and {state, st.budget_seen} & {WARN, OVER}:
            self._write(self.store.record_budget_event, name, state or "none", cost, budget, now)
        st.budget_seen = state

    def _stored_budgets(self) -> dict[str, str]:
        """Each agent's budget state in the snapshot the store held when this supervisor began."""
        if self._budgets_at_start is None:
            snap = self._read(self.store.latest_snapshot, None)
            self._budgets_at_start = {a.name: a.budget_state for a in snap.agents} if snap else {}
        return self._budgets_at_start

    def _fleet_budget(self, snaps: list[AgentSnapshot]) -> None:
        """At the fleet's budget, pause every running agent once."""
        total = sum(a.cost_usd or 0.0 for a in snaps)
        state = budget_state(total, self.config.budget_usd, self.config.budget_warn)
        self._budget_event(None, self._fleet_budget_state, state, total, self.config.budget_usd, self.clock())
        if self.acting and should_pause(state, self.config.budget_action, self.fleet_budget_paused):
            self.fleet_budget_paused = True
            for a in snaps:
                if a.status not in (Status.EXITED, Status.PAUSED):
                    self._pause_for_budget(a.name, f"fleet budget reached: ${total:.2f} of ${self.config.budget_usd:.2f}")

    def _watch_git(self, rec: AgentRecord) -> None:
        """Have the git watcher follow the agent's commits: its own worktree's branch, or its
        commits (by author) in the fleet's shared checkout."""
        name, spec = rec.name, rec.spec
        key = (rec.worktree, rec.branch, rec.base_commit, spec.cwd)
        if self._git_keys.get(name) == key:
            return
        self._git_keys[name] = key
        if rec.worktree and rec.branch and rec.base_commit:
            info = WorktreeInfo(
                path=Path(rec.worktree), branch=rec.branch,
                base_branch=rec.base_branch or "", base_commit=rec.base_commit,
            )
            self.git.watch(name, GitProbe.for_worktree(info))
        elif self.config.repo is not None and spec.cwd.resolve().is_relative_to(self.config.repo.resolve()):
            self.git.watch(name, GitProbe.for_shared_checkout(self.config.repo, name, rec.launched_at or 0))
        else:
            self.git.forget(name)

    def _deliver(self, agents: list[AgentRecord], snaps: list[AgentSnapshot]) -> None:
        """Type each queued text (a typed task, a handoff) once its agent sits quietly at its prompt."""
        if self.store_error is not None:  # typed text must be marked delivered, or it would be typed again
            return
        self._handed_over()
        pending = self._read(self.store.pending_deliveries, [])
        if not pending:
            return
        by_name = {s.name: s for s in snaps}
        recs = {r.name: r for r in agents}
        done: set[str] = set()
        for item in pending:
            name = item["agent"]
            snap, rec = by_name.get(name), recs.get(name)
            if snap is not None and rec is None and snap.host is not None and name not in done:
                done.add(name)  # an agent of another host: its host's fleet types it (in order, one at a time)
                if snap.status is not Status.UNREACHABLE and not self.handovers.busy(name, pending):
                    self.handovers.hand_over(item, snap.host, self.clock())
                continue
            if snap is None or rec is None or name in done:
                continue
            if self._typed_before(rec, item):
                done.add(name)
                continue
            if not (snap.at_prompt and snap.status in (Status.IDLE, Status.STUCK)):
                continue
            if not self._write(self.store.check_writable):
                return
            try:  # pasted and submitted by one tmux command that marks the pane with the text's id
                self.actions.type_text(rec, item["text"], mark=str(item["id"]))
            except TmuxError as exc:
                print(f"mission-control supervise: could not deliver to {name}: {exc}", file=sys.stderr, flush=True)
                continue
            self._write(self.store.mark_delivered, item["id"])
            self._note_typed(rec)
            self._write(self.store.log_action, "supervisor", f"deliver-{item['purpose']}", name, f"{len(item['text'])} chars", "typed at its prompt")
            done.add(name)

    def _handed_over(self) -> None:
        """The handovers to other hosts that ended: marked delivered once the host has it; a
        refusal said once (it is tried again after a while)."""
        for done in self.handovers.finished(self.clock()):
            item = done.item
            if done.ok:
                self._handover_said.pop(item["id"], None)
                if self._write(self.store.mark_delivered, item["id"]):
                    self._write(self.store.log_action, "supervisor", f"deliver-{item['purpose']}", item["agent"],
                                f"{len(item['text'])} chars", f"handed to host {done.host}: {done.message}")
            elif self._handover_said.get(item["id"]) != done.message:
                self._handover_said[item["id"]] = done.message
                self._say(f"could not hand a queued {item['purpose']} to {item['agent']} on host {done.host}: "
                          f"{done.message} (tried again)")

    def _note_typed(self, rec: AgentRecord) -> None:
        """Text was just typed at the agent's prompt: its screen then, and when (`_turn_evidence`)."""
        st = self.states.get(rec.name)
        self._typed[rec.name] = (st.memory.screen_hash if st else "", self.clock(), KINDS[rec.kind].enter_delay)

    def _turn_evidence(self, now: float) -> dict[str, float]:
        """Per agent that has taken a turn on the text last typed at its prompt, however short
        (one quicker than a tick is never seen WORKING), when that text was typed: the turn is
        a hook event after it, or, once its Enter is surely in (`TURN_SETTLE` after it), a screen
        other than the one it was typed at. The task board counts it as work on a task taken
        before that text was typed (`done_when = "idle"`). A restarted supervisor starts from
        the store's record of the last text typed at each agent (its screen then unknown: any
        screen counts, the text being submitted by the time it was recorded)."""
        if not self._typed_read:
            self._typed_read = True
            for name, at in self._read(self.store.last_typed, {}).items():
                self._typed.setdefault(name, ("", at, 0.0))
        out: dict[str, float] = {}
        for name, (digest, typed_at, enter_after) in self._typed.items():
            st = self.states.get(name)
            if st is None:
                continue
            if st.hook.at is not None and st.hook.at > typed_at:
                out[name] = typed_at
            elif now >= typed_at + enter_after + TURN_SETTLE and st.memory.screen_hash not in ("", digest):
                out[name] = typed_at
        return out

    def _typed_before(self, rec: AgentRecord, item: dict[str, Any]) -> bool:
        """Was this queued text typed by a supervisor killed before it recorded that (its pane
        carries the text's id)? Then it is recorded now, not typed again. Asked once per text
        per supervisor: only an earlier one can have typed it unrecorded."""
        if item["id"] in self._marks_checked:
            return False
        self._marks_checked.add(item["id"])
        try:
            typed = self.actions.typed_mark(rec) == str(item["id"])
        except TmuxError:
            return False
        if typed:
            self._typed[rec.name] = ("", self.clock(), 0.0)  # its screen then unknown: any screen counts
        if typed and self._write(self.store.mark_delivered, item["id"]):
            self._write(self.store.log_action, "supervisor", f"deliver-{item['purpose']}", rec.name, f"{len(item['text'])} chars",
                        "typed by the supervisor before a restart (its pane says so): not typed again")
        return typed

    def _status_changed(self, name: str, old: Status | None, new: Status, reason: str, evidence: str, now: float) -> None:
        self._write(self.store.record_status_change, name, old.value if old else None, new.value, reason, evidence, at=now)
        if new.needs_human:
            try:
                self.tmux.display(self.config.session, f"mission-control: {name} is {new.value}: {reason}")
            except TmuxError:
                pass
        if self.acting:
            held = self.tasks.get(name)
            self.loop.status_changed(name, new, reason, now, held["task"] if held else None)
        if self.config.on_status:
            env = dict(os.environ)
            env.update(MC_AGENT=name, MC_OLD_STATUS=old.value if old else "", MC_NEW_STATUS=new.value, MC_REASON=reason)
            spawn(["/bin/sh", "-c", self.config.on_status], env=env, cwd=str(self.config.path.parent))

    # -- the state store under faults -----------------------------------------

    def _read(self, call: Any, default: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except StoreError as exc:
            self._store_failed(exc)
            return default

    def _write(self, call: Any, *args: Any, **kwargs: Any) -> bool:
        try:
            call(*args, **kwargs)
            return True
        except StoreError as exc:
            self._store_failed(exc)
            return False

    def _say(self, line: str) -> None:
        print(f"mission-control supervise: {line}", file=sys.stderr, flush=True)

    def _store_failed(self, exc: StoreError) -> None:
        """Said once per fault (not every tick), in the supervisor's window."""
        if self.store_error is None or str(self.store_error) != str(exc):
            self._say(f"{exc} (supervising on: agents are still watched, and writing resumes when the store can take it)")
        self.store_error = exc

    def _store_works(self) -> None:
        if self.store_error is not None:
            self._say(f"state store {self.store.path} can be written again: snapshots resume")
            self._write(self.store.log_action, "supervisor", "store", None, str(self.store_error)[:300], "writable again")
            self.store_error = None

    def _check_store(self, write: bool) -> None:
        """Before each tick: is the file still the store (not deleted, not overwritten)? A deleted
        store is restored by the store handle itself; a damaged one is moved aside here and the
        fleet written into a new one from what this supervisor knows."""
        try:
            self.store.check_file()
        except StoreError as exc:
            self._store_failed(exc)
        if write and self.store_error is not None and self.store_error.kind == "damaged":
            try:
                self.store.replace_damaged()
                self.store_error = None
            except StoreError as exc:
                self._store_failed(exc)
        if write and self.store.damaged_aside is not None:  # a new, empty store (now, or when it was opened)
            try:
                self._rebuild_store()
                self.store.damaged_aside = None
            except StoreError as exc:
                self._store_failed(exc)
        if write and self.lock_fds and not (self.config.state_dir / LOCK_NAME).exists():
            self._relock()
        for note in self.store.notes:
            self._say(note)
            if write:
                self._write(self.store.log_action, "supervisor", "store", None, note, "supervising on")
        self.store.notes.clear()

    def _relock(self) -> None:
        """The state dir (or the lock in it) was deleted: without the lock file nobody can tell this
        supervisor runs, and `up` would start a second one. Take the lock again (the old
        descriptor stays open: it locks the deleted file only)."""
        try:
            ensure_private_dir(self.config.state_dir)
            self.lock_fds.append(acquire_lock(self.config.state_dir))
            self.store.notes.append(f"the supervisor lock {self.config.state_dir / LOCK_NAME} was deleted: taken again")
        except SupervisorRunning as exc:
            self._say(f"{exc}: this one stops")
            self.stop.set()
        except OSError as exc:
            self._say(f"cannot take the supervisor lock again: {exc}")

    def _rebuild_store(self) -> None:
        """A new store after a damaged one: the fleet, its agents and its task board, as this supervisor last read them."""
        cfg = self.config
        self.store.record_fleet(cfg.session, cfg.socket, str(cfg.path), self.clock(),
                                {"layout": cfg.layout, "state_dir": str(cfg.state_dir), "repo": str(cfg.repo) if cfg.repo else None})
        if not self._known_agents:  # damaged before this supervisor read it: the agents are the fleet's marked panes
            for pane in self.tmux.list_panes():
                spec = self.config.agent(pane.agent) if pane.session == cfg.session and pane.agent else None
                if spec is not None:
                    self._known_agents.append(AgentRecord.of_spec(spec, pane_id=pane.pane_id, launched_at=self.clock()))
        for rec in self._known_agents:
            self.store.record_agent(
                rec.name, kind=rec.kind, pane_id=rec.pane_id, window=rec.window, launched_at=rec.launched_at,
                task=rec.task, base_commit=rec.base_commit, branch=rec.branch, worktree=rec.worktree, spec=rec.spec_data(),
            )
        self.board.restore()
        self.store.set_meta(STOPPED_KEY, "0")
        self.hook_cursor = 0
        self.state.reset()

    # -- the loop -------------------------------------------------------------

    def run(self) -> None:
        interval = self.config.poll_interval
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # one bad tick must not end supervision
                print(f"mission-control supervise: tick failed: {exc!r}", file=sys.stderr, flush=True)
            took = time.monotonic() - began
            # never overlap; when a tick overruns, wait a full interval after it
            delay = interval - took if took < interval else interval
            self.stop.wait(delay)


def serve(config: FleetConfig) -> int:
    """`mission-control supervise`: hold the lock and tick until told to stop."""
    try:
        lock = acquire_lock(config.state_dir)
    except SupervisorRunning as exc:
        print(f"mission-control supervise: {exc}", file=sys.stderr)
        return 0
    store = Store(config.store_path, keeper=True)  # the lock first: only the fleet's one supervisor repairs its store
    tmux = Tmux(config.socket)
    tmux.enable_control(config.session)  # one persistent `tmux -C` client reads the panes
    sup = Supervisor(config, store, tmux)
    sup.lock_fds.append(lock)

    def _stop(*_: object) -> None:
        sup.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"mission-control supervisor for session {config.session!r} (pid {os.getpid()}); polling every {config.poll_interval:g}s", flush=True)
    metrics = None
    if config.metrics or sup._read(store.get_meta, None, METRICS_ADDRESS_KEY):  # prometheus_client is imported only for a fleet that serves
        from mission_control.fleet.metrics import serve_metrics

        metrics = serve_metrics(config, sup, sup._say)
    sup.git.start()
    if config.hosts:
        sup.hosts = HostView(config)
        sup.hosts.start()
    sup.run()
    sup.board.merges.stop()  # a running merge_check killed, its scratch worktree removed (the task stays queued)
    sup.git.stop()
    if metrics is not None:
        metrics.close()
    sup.loop.close(wait=config.notify.timeout)
    if sup.hosts:
        sup.hosts.close()
    tmux.close()
    for fd in sup.lock_fds:
        os.close(fd)
    return 0

