"""The dashboard: renders the supervisor's snapshots and turns keys into requests.

Built and wired by `create_app()`, which the CLI and the tests both call. A thread
worker reads the state store and posts `FleetObserved` (a newer one replaces a stale
queued one; every message is in `ui/messages.py`); handlers update the widgets.
Reading the store never blocks the UI. Keys come from the one action table
(`core/keys.py`); each action runs in a worker, asking first where it should
(`ask_then`, `confirm_then`), and any worker's error is shown by one handler.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from textual import events, work
from textual.css.query import NoMatches
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Input, TextArea
from textual.worker import Worker, WorkerState

from mission_control.core.diagnosis import rule_diagnosis
from mission_control.core.keys import ACTIONS, GROUPS
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status, changed_agents
from mission_control.core.prompts import offered
from mission_control.core.terminal_text import inert
from mission_control.ui.key_table import bindings_of, field_opener_allowed, help_rows
from mission_control.ui.messages import ActionFinished, FleetObserved, StoreReadFailed, TailRead
from mission_control.ui.requests import FixRequest, InjectRequest, ReassignRequest, SpawnRequest
from mission_control.ui.screens.confirm_screen import ConfirmScreen
from mission_control.ui.screens.diagnosis_screen import DiagnosisScreen
from mission_control.ui.screens.diff_screen import DiffScreen
from mission_control.ui.screens.help_screen import HelpScreen
from mission_control.ui.screens.inject_env_screen import InjectEnvScreen
from mission_control.ui.screens.reassign_screen import ReassignScreen
from mission_control.ui.screens.spawn_screen import SpawnScreen
from mission_control.ui.screens.tasks_screen import TasksScreen
from mission_control.ui.screens.text_prompt_screen import TextPromptScreen
from mission_control.ui.screens.text_view_screen import TextViewScreen
from mission_control.ui.source import FleetSource, open_store_source
from mission_control.ui.widgets.agent_table import AgentTable
from mission_control.ui.widgets.detail_panel import DetailPanel
from mission_control.ui.widgets.find_bar import FILTER, JUMP, FindBar, jump_target
from mission_control.ui.widgets.prompt_bar import PromptBar
from mission_control.ui.widgets.key_hints import KeyHints
from mission_control.ui.widgets.snapshot_age import SnapshotAge
from mission_control.ui.widgets.totals_bar import TotalsBar

if TYPE_CHECKING:
    from mission_control.core.config import FleetConfig

__all__ = ["ActionFinished", "ActionsPort", "FleetObserved", "MissionControlApp", "create_app"]

T = TypeVar("T")
WATCH_RENEW = 10.0
"""Seconds between two renewals of the selected agent's `watch_tail` (each asks for twice that)."""


class TaskPort(Protocol):
    """What the Tasks view can ask of the task board (`create_app` wires `mission_control.fleet.tasks.TaskBoard`).
    Each method returns an outcome whose `str` or `message` says what happened, or raises with one line."""

    def add(self, prompt: str, *, task_id: str | None = None, priority: Any = "normal", after: tuple[str, ...] = (),
            role: str | None = None, review: bool = False) -> Any: ...
    def cancel(self, task_id: str) -> Any: ...
    def set_priority(self, task_id: str, priority: Any) -> Any: ...
    def assign(self, task_id: str, agent: str) -> Any: ...
    def review(self, task_id: str, verdict: str, text: str = "") -> Any: ...


class ActionsPort(Protocol):
    """What the dashboard can ask of the fleet (`create_app` wires `mission_control.fleet.actions.FleetActions`).
    Each method takes agent names and returns an `Outcome` (or a list of them), or raises with one line."""

    def needs_terminal(self) -> bool: ...
    def zoom(self, name: str) -> Any: ...
    def toggle_pause(self, name: str) -> Any: ...
    def pause_all(self) -> Any: ...
    def unpause_all(self) -> Any: ...
    def plan_resume(self, name: str) -> Any: ...
    def resume(self, name: str, plan: Any = None) -> Any: ...
    def resume_all_stuck(self) -> Any: ...
    def inject_env(self, names: list[str] | None, text: Any, *, write_dotenv: bool = False) -> Any: ...
    def injected_env(self, name: str) -> dict[str, str]: ...
    def unset_env(self, name: str, names: list[str]) -> Any: ...
    def reassign(self, from_name: str, to_name: str | None = None, *, new_kind: str | None = None, old: str = "pause") -> Any: ...
    def send(self, name: str, text: str) -> Any: ...
    def broadcast(self, text: str) -> Any: ...
    def restart(self, name: str) -> Any: ...
    def kill(self, name: str) -> Any: ...
    def spawn(self, name: str, kind: str | None = None, task: str | None = None, **kw: Any) -> Any: ...
    def merge(self, name: str) -> Any: ...
    def diff(self, name: str) -> Any: ...
    def diff_stat(self, name: str) -> str: ...
    def answer(self, name: str, choice: str, expected: Any = None) -> Any: ...


class MissionControlApp(App[None]):
    TITLE = "mission-control"
    CSS = """
    Screen { layout: vertical; }
    #fleet-top { height: auto; }
    """
    BINDINGS = bindings_of(ACTIONS)
    """From the one action table (`core/keys.py`); `[keys]` rebinds them by id."""

    def __init__(
        self, source: FleetSource, actions: ActionsPort | None = None, *, poll_seconds: float = 0.5, live: bool = True,
        clock: Callable[[], float] = time.time, keys: dict[str, str] | None = None, bell: bool = True,
        diagnose: Callable[[str], Any] | None = None, board: TaskPort | None = None,
    ) -> None:
        super().__init__()
        self.board = board
        """The task board the Tasks view acts on (None: read-only)."""
        self.keys = dict(keys or {})
        self.ring_bell = bell
        self.diagnose = diagnose
        self.clock = clock
        self.source = source
        self.actions = actions
        self.poll_seconds = poll_seconds
        self.live = live
        self.snapshot: FleetSnapshot | None = None
        self.alive = True
        self.selected_name: str | None = None
        self._typeahead: dict[Screen, list[str]] = {}
        """Characters typed in a burst after a key that opened a dialog, kept until its field exists (`on_key`)."""
        self._last_error: str | None = None
        self.store_problem: str | None = None
        """Why the state store could not be read (shown as a red banner until a read works again)."""

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notice (the app's and its screens'; they carry agents' reasons, action outcomes and
        error messages) shown inert and never read as markup."""
        kw = {} if timeout is None else {"timeout": timeout}
        super().notify(inert(message), title=inert(title), severity=severity, markup=False, **kw)

    def compose(self) -> ComposeResult:
        yield SnapshotAge(id="fleet-top")
        yield AgentTable(id="agents")
        yield TotalsBar(id="totals")
        yield DetailPanel(id="detail")
        yield FindBar(id="find")
        yield PromptBar(id="prompt")
        yield KeyHints()

    def on_mount(self) -> None:
        # What exists now (Textual, the widgets, their styles) lives as long as the dashboard: left
        # out of the collector's full passes, which otherwise walk it all and stall a tick ~50 ms
        gc.freeze()
        if self.keys:
            self.set_keymap(self.keys)
        self.query_one(AgentTable).focus()
        if self.live:
            self.watch_store()
            self.set_interval(1.0, self.refresh_clock)
        else:
            self._say_recovered(self.source.recent_actions(5))
            self.post_message(FleetObserved(self.source.latest(), self.source.supervisor_alive()))

    def _say_recovered(self, recent_actions: list[dict[str, Any]]) -> None:
        """Say so when the fleet came back after a crash in the last ten minutes."""
        for row in reversed(recent_actions):
            if row["action"] == "up" and row["outcome"].startswith("recovered") and self.clock() - row["at"] < 600:
                self.notify(f"fleet {row['outcome']}", title="back after a crash", timeout=20)
                break

    # -- the worker: store -> messages ---------------------------------------

    @work(thread=True, exclusive=True, group="store")
    def watch_store(self) -> None:
        worker = self._current_worker()
        last_snap, last_alive, last_tail_for = None, None, None
        failed, seen, watching = False, 0, (None, 0.0)
        try:  # the store is read here, off the UI thread, from the start
            self.call_from_thread(self._say_recovered, self.source.recent_actions(5))
        except Exception as exc:
            self.post_message(StoreReadFailed(str(exc)))
        while not worker.is_cancelled:
            try:
                snap, changed = self.source.read()  # only the agents' rows written since the last read
                alive = self.source.supervisor_alive()
                if snap is not last_snap or alive != last_alive or failed:
                    self.post_message(FleetObserved(snap, alive, changed=None if failed else changed))
                    last_snap, last_alive, failed = snap, alive, False
                    seen += 1
                name = self.selected_name
                if name and (name != watching[0] or time.monotonic() >= watching[1]):
                    self.source.watch_tail(name, 2 * WATCH_RENEW)  # its screen text stored every tick it changes
                    watching = (name, time.monotonic() + WATCH_RENEW)
                if name and (name, seen) != last_tail_for:  # its screen may have changed: a tick went by
                    self.post_message(TailRead(name, self.source.tail(name), self.source.status_changes(name)))
                    last_tail_for = (name, seen)
            except Exception as exc:  # the store is busy, damaged or gone: say so, keep trying
                self.post_message(StoreReadFailed(str(exc)))
                failed = True  # the next good read is shown (and clears the banner) even if nothing changed
            time.sleep(self.poll_seconds)

    @staticmethod
    def _current_worker():  # pragma: no cover - thin wrapper
        from textual.worker import get_current_worker

        return get_current_worker()

    # -- handlers --------------------------------------------------------------

    def on_fleet_observed(self, message: FleetObserved) -> None:
        """A tick costs what changed in it: `message.changed` (or, unknown, a comparison of each
        agent with the one shown) says which agents the table, the bell and the detail look at."""
        try:
            table = self.query_one(AgentTable)
        except NoMatches:
            return  # a read answered while the dashboard closes: its widgets are gone (seen in CI)
        self.store_problem = self._last_error = None
        previous = self.snapshot
        self.snapshot, self.alive = message.snapshot, message.alive
        changed = message.changed if previous is not None else None
        if changed is None and previous is not None and self.snapshot is not None:
            changed = changed_agents(previous, self.snapshot)
        self.query_one(TotalsBar).show(self.snapshot)
        self.refresh_clock(changed)  # the table too
        if self.selected_name is None:
            self.selected_name = table.selected
        self._announce(previous, self.snapshot, changed)
        self._show_detail(None)
        if table.filter_words and not self.query_one(FindBar).typing:
            self._end_find(focus=False)  # how many agents the filter leaves may have changed

    ANNOUNCE_EACH = 3
    """Up to this many agents starting to need a human in one tick get a notice each; more get one
    notice naming them all (a notice per agent piles up toasts that each tick draws again)."""

    def _announce(self, before: FleetSnapshot | None, after: FleetSnapshot | None,
                  changed: frozenset[str] | None = None) -> None:
        """Ring the bell when an agent starts needing a human (only `changed` agents can have)."""
        if before is None or after is None:
            return
        names = changed if changed is not None else [a.name for a in after.agents]
        needing = []
        for name in names:
            a, old = after.agent(name), before.agent(name)
            if a is not None and a.status.needs_human and (old is None or old.status is not a.status):
                needing.append(a)
        if not needing:
            return
        if self.ring_bell:
            self.bell()
        if len(needing) <= self.ANNOUNCE_EACH:
            for a in needing:
                self.notify(f"{a.name} is {a.status.value}: {a.reason}", severity="warning", timeout=6)
        else:
            needing.sort(key=lambda a: a.name)
            shown = ", ".join(f"{a.name} {a.status.value}" for a in needing[:12])
            more = f" and {len(needing) - 12} more" if len(needing) > 12 else ""
            self.notify(f"{len(needing)} agents need you: {shown}{more}", severity="warning", timeout=6)

    def on_tail_read(self, message: TailRead) -> None:
        if message.agent == self.selected_name:
            self._show_detail(message)

    def on_store_read_failed(self, message: StoreReadFailed) -> None:
        self.store_problem = message.error
        if message.error != self._last_error:
            self._last_error = message.error
            self.notify(f"cannot read the state store: {message.error}", severity="error", timeout=8)
        if self.screen.query(SnapshotAge):  # not while the app is closing
            self.refresh_clock()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: the focused table takes the key as its own `select_cursor`, so the
        app's `enter` binding never sees it; zoom from here, unless [keys] took enter from zoom."""
        if "enter" in self.keys.get("zoom", "enter").split(","):
            self.action_zoom()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected_name = event.row_key.value if event.row_key else None
        self._show_detail(None)
        if not self.live and self.selected_name:
            self.post_message(TailRead(self.selected_name, self.source.tail(self.selected_name), self.source.status_changes(self.selected_name)))

    def _show_detail(self, tail: TailRead | None) -> None:
        agent = self.snapshot.agent(self.selected_name) if (self.snapshot and self.selected_name) else None
        self.query_one(DetailPanel).show(agent, tail.tail if tail else None, tail.changes if tail else [], self.clock())
        self.query_one(PromptBar).show(agent, tail.tail if tail else None, self._answer_keys())

    def refresh_clock(self, changed: frozenset[str] | None = frozenset()) -> None:
        """The age line and the table's age cells (every second); `changed`: the agents that
        changed since the table last showed them (none, on a clock tick; None: unknown)."""
        snap = self.snapshot
        self.query_one(SnapshotAge).show(
            self.source.session, snap.taken_at if snap else None, self.alive, self.clock(), snap.tick_ms if snap else None,
            self.store_problem,
        )
        self.query_one(AgentTable).show(snap, self.clock(), changed)

    # -- actions ---------------------------------------------------------------

    def selected_agent(self) -> AgentSnapshot | None:
        if self.snapshot is None or self.selected_name is None:
            return None
        return self.snapshot.agent(self.selected_name)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_rows(self, ACTIONS, GROUPS)))

    # every action runs in a worker thread; its outcome comes back as ActionFinished, its error
    # to `on_worker_state_changed`

    def _agent_or_say(self) -> AgentSnapshot | None:
        agent = self.selected_agent()
        if agent is None:
            self.notify("select an agent first", severity="warning", timeout=3)
        elif self.actions is None:
            self.notify("read-only dashboard: no actions", severity="warning", timeout=3)
            return None
        return agent

    def perform(self, what: str, call: Callable[[], T], then: Callable[[T], None] | None = None) -> None:
        """Run `call` off the UI thread (a worker named `what`): its result is shown (an outcome, a
        list of them, or a text), or handed to `then` on the UI thread. If it raises, the one
        worker-error handler below says so."""

        def run() -> None:
            result = call()
            if then is not None:
                self.call_from_thread(then, result)
            elif isinstance(result, str):
                self.post_message(ActionFinished(what, [], text=result))
            else:
                self.post_message(ActionFinished(what, result if isinstance(result, list) else [result]))

        self.run_worker(run, name=what, group="actions", thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every action worker's error, shown here, in one place: one line, the dashboard goes on."""
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.group == "actions":
            error = worker.error
            self.notify(f"{worker.name}: {str(error) or type(error).__name__}", severity="error", timeout=8)

    def ask_then(self, screen: Screen[T | None], then: Callable[[T], None]) -> None:
        """Show a dialog; when the person answers (not cancel, not no), `then` gets the answer."""

        def answered(answer: T | None) -> None:
            if answer:
                then(answer)

        self.push_screen(screen, answered)

    def confirm_then(self, question: str, yes: str, what: str, call: Callable[[], Any]) -> None:
        """Ask first ("Kill …?", yes/cancel); only on yes, perform the action."""
        self.ask_then(ConfirmScreen(question, yes=yes), lambda _: self.perform(what, call))

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.text is not None:
            self.push_screen(TextViewScreen(message.what, message.text))
            return
        if len(message.outcomes) > 3:  # a fleet-wide action: one line, failures named
            failed = [o for o in message.outcomes if not getattr(o, "ok", True)]
            done = len(message.outcomes) - len(failed)
            text = f"{message.what}: {done} agents" + (f"; failed: {'; '.join(str(o) for o in failed[:5])}" if failed else "")
            self.notify(text, severity="error" if failed else "information", timeout=8)
            return
        for o in message.outcomes:
            self.notify(str(o), severity="information" if getattr(o, "ok", True) else "error", timeout=6)

    def action_zoom(self) -> None:
        if (agent := self._agent_or_say()):
            self._zoom(agent.name)

    def _zoom(self, name: str) -> None:
        if self.actions is None:
            return
        if self.actions.needs_terminal():
            if self.is_web:  # a browser tab (`web`) has no terminal to hand to tmux
                self.notify(f"zoom: {name}'s pane needs a terminal: `mission-control attach`", timeout=6)
                return
            with self.suspend():
                try:
                    outcome = self.actions.zoom(name)
                except Exception as exc:  # not a worker: the terminal is ours until it returns
                    outcome = f"zoom: {exc}"
            self.notify(str(outcome), timeout=4)
        else:
            self.perform("zoom", lambda: self.actions.zoom(name))

    def action_pause(self) -> None:
        if (agent := self._agent_or_say()):
            self.perform("pause", lambda: self.actions.toggle_pause(agent.name))

    def action_resume(self) -> None:
        if (agent := self._agent_or_say()):
            self._plan_resume(agent.name)

    def _plan_resume(self, name: str) -> None:
        """Work out what resume will do (it reads the pane, off the UI thread), then ask."""
        self.perform("resume", lambda: self.actions.plan_resume(name), then=lambda plan: self._confirm_resume(name, plan))

    def _confirm_resume(self, name: str, plan: Any) -> None:
        if plan.step.value == "attach":
            self._zoom(name)
        elif plan.step.value in ("nothing", "not-at-prompt"):
            self.notify(plan.description, timeout=6)
        else:
            self.confirm_then(f"Resume {name}: {plan.description}?", "Resume", "resume", lambda: self.actions.resume(name, plan))

    def action_pause_all(self) -> None:
        """The emergency stop: pause every running agent (asks first); when every live agent
        is paused already, continue them all."""
        if self.actions is None or self.snapshot is None:
            return
        live = [a for a in self.snapshot.agents if a.status is not Status.EXITED]
        running = [a for a in live if a.status is not Status.PAUSED]
        if not live:
            self.notify("no agent is running", severity="warning", timeout=3)
        elif running:
            self.confirm_then(f"Pause all {len(running)} running agents?", "Pause all", "pause all", self.actions.pause_all)
        else:
            self.confirm_then(f"Continue all {len(live)} paused agents?", "Continue all", "continue all", self.actions.unpause_all)

    def action_resume_all(self) -> None:
        if self.actions is not None:
            self.perform("resume all", self.actions.resume_all_stuck)

    def action_inject(self) -> None:
        if (agent := self._agent_or_say()):
            # the variable a STUCK agent is missing, read the way `diagnose` reads it
            self._inject(agent.name, rule_diagnosis(agent.status.value, agent.reason, agent.evidence, agent.kind).env_var or "")

    def _inject(self, name: str, suggested: str) -> None:
        agent = self.snapshot.agent(name) if self.snapshot else None
        if agent is not None and agent.host:  # its host lists them, over ssh (issue 22): off the UI thread
            self.perform("inject", lambda: self._injected(name), then=lambda got: self._ask_inject(name, suggested, *got))
        else:
            self._ask_inject(name, suggested, *self._injected(name))

    def _injected(self, name: str) -> tuple[dict[str, str], str | None]:
        """The agent's injected variables, masked (no value reaches the UI), or why they could not be read."""
        try:
            return self.actions.injected_env(name), None
        except Exception as exc:  # an unreadable env file, a host out of reach: said, and the dialog still opens
            return {}, str(exc)

    def _ask_inject(self, name: str, suggested: str, injected: dict[str, str], problem: str | None) -> None:
        if problem:
            self.notify(f"inject: {problem}", severity="error", timeout=8)
        self.ask_then(InjectEnvScreen(name, suggested, injected), lambda req: self.perform("inject", lambda: self._apply_inject(name, req)))

    def _apply_inject(self, name: str, req: InjectRequest) -> list[Any]:
        out = [self.actions.unset_env(name, list(req.unset))] if req.unset else []
        if req.fix is not None:
            out += self.actions.inject_env(None if req.all_agents else [name], req.fix, write_dotenv=req.write_dotenv)
        return out

    def action_reassign(self) -> None:
        if not (agent := self._agent_or_say()) or self.snapshot is None:
            return
        others = [a for a in self.snapshot.agents if a.name != agent.name]

        def reassign(req: ReassignRequest) -> None:
            self.perform("reassign", lambda: self.actions.reassign(agent.name, req.to_agent, new_kind=req.new_kind, old=req.old))

        self.ask_then(ReassignScreen(agent, others), reassign)

    def action_send(self) -> None:
        if (agent := self._agent_or_say()):
            self.ask_send(agent.name)

    def ask_send(self, name: str) -> None:
        """Ask for a line and send it to `name` (typed at its prompt; queued while it is busy)."""
        self.ask_then(TextPromptScreen(f"Send to {name} (typed, then Enter):"),
                      lambda text: self.perform("send", lambda: self.actions.send(name, text)))

    def action_broadcast(self) -> None:
        if self.actions is not None:
            self.ask_then(TextPromptScreen("Send to every running agent (typed, then Enter):"),
                          lambda text: self.perform("broadcast", lambda: self.actions.broadcast(text)))

    def action_restart(self) -> None:
        if (agent := self._agent_or_say()):
            self.perform("restart", lambda: self.actions.restart(agent.name))

    def action_kill(self) -> None:
        if (agent := self._agent_or_say()):
            self.confirm_then(f"Kill {agent.name}'s processes? Its pane stays; R restarts it.", "Kill", "kill",
                              lambda: self.actions.kill(agent.name))

    def action_spawn(self, copy: bool = False) -> None:
        if self.actions is None:
            return
        source = self.selected_agent() if copy else None
        if copy and source is None:
            self.notify("select the agent to copy", severity="warning", timeout=3)
            return

        def spawn(req: SpawnRequest) -> None:
            where = {"host": req.host} if req.host else {}  # issue 22: in that host's fleet
            self.perform("spawn", lambda: self.actions.spawn(req.name, req.kind, req.task, copy_of=req.copy_of, command=req.command,
                                                             **where))

        hosts = sorted({a.host for a in self.snapshot.agents if a.host}) if self.snapshot else []
        self.ask_then(SpawnScreen(copy_of=source.name if source else None, name=f"{source.name}-2" if source else "",
                                  hosts=hosts), spawn)

    def action_copy(self) -> None:
        self.action_spawn(copy=True)

    def action_merge(self) -> None:
        if (agent := self._agent_or_say()):
            self.confirm_merge(agent.name)

    def confirm_merge(self, name: str) -> None:
        self.confirm_then(f"Merge {name}'s branch into the base branch (--no-ff)? On a conflict nothing changes.",
                          "Merge", "merge", lambda: self.actions.merge(name))

    def action_diff(self) -> None:
        if (agent := self._agent_or_say()):
            self.push_screen(DiffScreen(agent.name))

    def action_diagnose(self) -> None:
        if not (agent := self._agent_or_say()):
            return
        if self.diagnose is None:
            self.notify("diagnosis is not available here", severity="warning", timeout=3)
            return
        self.notify(f"diagnosing {agent.name}…", timeout=2)
        name = agent.name
        self.perform("diagnose", lambda: self.diagnose(name), then=lambda found: self._show_diagnosis(name, *found))

    def _show_diagnosis(self, name: str, rules: Any, model: Any) -> None:
        # the fix goes to the diagnosed agent, whichever row is selected by now (a model may answer after a minute)
        self.ask_then(DiagnosisScreen(name, rules, model), lambda fix: self._apply_fix(name, fix))

    def _apply_fix(self, name: str, fix: FixRequest) -> None:
        if fix.action == "inject":
            self._inject(name, fix.argument)
        elif fix.action == "send":
            self.perform("send", lambda: self.actions.send(name, fix.argument))
        elif fix.action == "zoom":
            self._zoom(name)
        elif fix.action == "resume":
            self._plan_resume(name)
        elif fix.action == "restart":
            self.perform("restart", lambda: self.actions.restart(name))

    def action_next_attention(self) -> None:
        if self.snapshot is None:
            return
        names = [a.name for a in self.query_one(AgentTable).ordered(self.snapshot)]
        needing = [a.name for a in self.query_one(AgentTable).ordered(self.snapshot) if a.status.needs_human]
        if not needing:
            filtered = " among the agents the filter shows" if self.query_one(AgentTable).filter_words else ""
            self.notify(f"nobody{filtered} needs you right now", timeout=3)
            return
        start = names.index(self.selected_name) if self.selected_name in names else -1
        after = [n for n in names[start + 1 :] + names[: start + 1] if n in needing]
        self.query_one(AgentTable).select_agent(after[0])

    # -- the Tasks view (issue 19 point 8) and the diff view (issue 21 point 5): their own screens --

    def action_tasks(self) -> None:
        self.push_screen(TasksScreen())

    def action_toggle_order(self) -> None:
        table = self.query_one(AgentTable)
        table.attention_first = not table.attention_first
        table.show(self.snapshot, self.clock())
        self.notify("agents needing you first" if table.attention_first else "fleet order", timeout=2)

    # -- answering a prompt (issue 21): the prompt line shows what each key sends ----------------

    ANSWER_IDS = {**{f"answer_{n}": str(n) for n in range(1, 10)}, "answer_yes": "y", "answer_no": "n", "zoom": "zoom"}
    """Binding id -> the answer it sends (and `zoom`), for the prompt line's key names."""

    def _answer_keys(self) -> dict[str, str]:
        """Each answer (`1`…`9`, `y`, `n`) and `zoom` -> its key as shown, after the keymap."""
        cached = getattr(self, "_answer_key_names", None)
        if cached is None:
            cached = {}
            for active in self.screen.active_bindings.values():
                answer = self.ANSWER_IDS.get(active.binding.id or "")
                if active.node is self and answer and answer not in cached:
                    cached[answer] = self.get_key_display(active.binding)
            if cached:
                self._answer_key_names = cached
        return cached

    def action_answer(self, choice: str) -> None:
        """Send the selected WAITING agent the option this key shows on the prompt line; the action
        sends it only into that same prompt, still on its screen."""
        if len(self.screen_stack) > 1:  # a dialog is open: its keys are its own, never an answer
            return
        if not (agent := self._agent_or_say()):
            return
        bar = self.query_one(PromptBar)
        prompt = bar.prompt if bar.agent == agent.name else None
        if agent.status is not Status.WAITING:
            self.notify(f"{agent.name} is {agent.status.value}: nothing to answer", severity="warning", timeout=3)
        elif prompt is None and agent.host:  # its screen is on its host: read there, the choice checked there
            self.perform("answer", lambda: self.actions.answer(agent.name, choice))
        elif prompt is None:
            self.notify(f"no options I can read on {agent.name}'s screen: zoom in to answer", severity="warning", timeout=4)
        elif not prompt.answerable or choice not in prompt.keys():
            self.notify(f"nothing sent: {agent.name} offers {offered(prompt) if prompt.answerable else 'nothing to choose from here'}",
                        severity="warning", timeout=5)
        else:
            option = prompt.keys()[choice]
            self.perform("answer", lambda: self.actions.answer(agent.name, str(option.number), expected=prompt))

    # -- finding an agent (issue 21): `/` filters, `g` goes to one, esc clears ------------------

    def on_key(self, event: events.Key) -> None:
        """Characters typed right after a key that opened a text dialog (`t`, `e`, `s` ...), in the
        same burst (a paste, a fast typist, a slow ssh link), reach the fleet view's widgets while
        the dialog is not built yet: they are kept and become the start of the dialog's text, never
        lost and never actions."""
        if len(self.screen_stack) < 2 or not event.is_printable or not event.character:
            return
        # (a text field takes the characters typed into it: one that reaches this handler came from
        # the fleet view's widgets, or from a button of the dialog)
        self._typeahead.setdefault(self.screen, []).append(event.character)
        event.stop()
        self.call_after_refresh(self._type_ahead, self.screen, 0)

    def _type_ahead(self, screen: Screen, tries: int) -> None:
        """The kept characters into `screen`'s text field once it is built (given up after a few
        refreshes: a screen without one)."""
        if not self._typeahead.get(screen):
            return
        field = next(iter(screen.query("Input, TextArea")), None)
        if field is None:
            if tries < 20:
                self.call_after_refresh(self._type_ahead, screen, tries + 1)
            else:
                self._typeahead.pop(screen, None)
            return
        text = "".join(self._typeahead.pop(screen))
        if isinstance(field, Input):
            field.insert_text_at_cursor(text)
        elif isinstance(field, TextArea):
            field.insert(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`/` and `g` act at once (priority: a burst after them is the field's text), but are text
        themselves in a text field, and belong to the fleet view only."""
        return field_opener_allowed(self, action, ACTIONS)

    def action_filter(self) -> None:
        if len(self.screen_stack) == 1:
            self.query_one(FindBar).open(FILTER, " ".join(self.query_one(AgentTable).filter_words))

    def action_jump(self) -> None:
        if len(self.screen_stack) == 1:
            self.query_one(FindBar).open(JUMP)

    def action_clear_filter(self) -> None:
        if self.query_one(AgentTable).filter_words:
            self._apply_filter("")
            self._end_find()

    def on_find_bar_changed(self, message: FindBar.Changed) -> None:
        if message.mode == FILTER:
            self._apply_filter(message.text)
        else:
            self._jump(message.text)

    def on_find_bar_done(self, message: FindBar.Done) -> None:
        if message.mode == FILTER and not message.accepted:
            self._apply_filter("")
        elif message.mode == JUMP and message.accepted:
            self._jump(message.text)
        self._end_find()

    def _apply_filter(self, text: str) -> None:
        table = self.query_one(AgentTable)
        table.set_filter(text)
        table.show(self.snapshot, self.clock())
        if table.selected != self.selected_name:  # the selected agent was filtered out (or none is left)
            self.selected_name = table.selected
            self._show_detail(None)

    def _end_find(self, focus: bool = True) -> None:
        table = self.query_one(AgentTable)
        total = len(self.snapshot.agents) if self.snapshot else 0
        shown = len(table.ordered(self.snapshot)) if self.snapshot else 0
        self.query_one(FindBar).show_filter(" ".join(table.filter_words), shown, total)
        if focus:
            table.focus()

    def _jump(self, text: str) -> None:
        if self.snapshot is None:
            return
        name = jump_target((a.name for a in self.snapshot.agents), text)
        if name is None:
            return
        table = self.query_one(AgentTable)
        if table.filter_words and name not in {a.name for a in table.ordered(self.snapshot)}:
            self._apply_filter("")  # the filter hides it: going to it clears the filter
        table.select_agent(name)


def create_app(
    config: FleetConfig | None = None, *, source: FleetSource | None = None, actions: ActionsPort | None = None,
    diagnose: Callable[[str], Any] | None = None, live: bool = True, poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.time, keys: dict[str, str] | None = None, bell: bool | None = None,
    board: TaskPort | None = None,
) -> MissionControlApp:
    """The dashboard, wired; the CLI, the screenshot script and the tests all build it here.

    Given a fleet's `config`, it reads that fleet's state store (waiting a moment for the supervisor
    to repair a damaged or missing one), acts on the fleet through `FleetActions` and diagnoses
    through `diagnose`, all on that one store, with the config's `[keys]` and `bell`. Tests and
    screenshots hand in their own `source` (a `FixedSource`), and `actions`/`diagnose` when they act:
    what is handed in wins over what the config would wire; without a config, only that is used
    (no actions: a read-only dashboard)."""
    if config is not None:
        source = source or open_store_source(config)
        store = getattr(source, "store", None)  # one store for reading, acting and diagnosing (a connection per thread)
        if actions is None:
            from mission_control.fleet.actions import FleetActions

            actions = FleetActions(config, actor="dashboard", store=store)
            if config.hosts:  # issue 22 point 7: one action channel per host, kept while the dashboard runs
                from mission_control.fleet.remote_actions import keep_channels

                keep_channels(config)
        if diagnose is None:
            from mission_control.adapters.store import Store
            from mission_control.fleet.diagnose import diagnose as diagnose_agent

            diagnose = lambda name: diagnose_agent(config, store or Store(config.store_path), name)  # noqa: E731
        keys = config.keys if keys is None else keys
        bell = config.bell if bell is None else bell
        if board is None:
            from mission_control.adapters.store import Store
            from mission_control.fleet.tasks import TaskBoard

            board = TaskBoard(config, store or Store(config.store_path), actor="dashboard")
    if source is None:
        raise TypeError("create_app needs a fleet config or a source")
    return MissionControlApp(source, actions, live=live, poll_seconds=poll_seconds, clock=clock, keys=keys,
                             bell=True if bell is None else bell, diagnose=diagnose, board=board)
