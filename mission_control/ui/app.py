"""The dashboard: renders the supervisor's snapshots and turns keys into requests.

Built by `create_app()`, which the CLI and the tests both call. A thread worker
reads the state store and posts `FleetObserved` (a newer one replaces a stale
queued one); handlers update the widgets. Reading the store never blocks the UI.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer

from mission_control.core.model import AgentSnapshot, FleetSnapshot
from mission_control.ui.screens.help_screen import HelpScreen
from mission_control.ui.source import FleetSource
from mission_control.ui.widgets.agent_table import AgentTable
from mission_control.ui.widgets.detail_panel import DetailPanel
from mission_control.ui.widgets.snapshot_age import SnapshotAge
from mission_control.ui.widgets.totals_bar import TotalsBar


class FleetActions(Protocol):
    """What the dashboard can ask of the fleet (the CLI hands in the real one)."""

    def zoom(self, agent: AgentSnapshot) -> str: ...


class FleetObserved(Message):
    """The worker read a (new) snapshot from the store."""

    def __init__(self, snapshot: FleetSnapshot | None, alive: bool) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.alive = alive

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetObserved)


class TailRead(Message):
    """The worker read the selected agent's pane tail and history."""

    def __init__(self, agent: str, tail: str, changes: list[dict[str, Any]]) -> None:
        super().__init__()
        self.agent = agent
        self.tail = tail
        self.changes = changes

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TailRead)


class SourceFailed(Message):
    """Reading the store failed (shown once, then retried)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class MissionControlApp(App[None]):
    TITLE = "mission-control"
    CSS = """
    Screen { layout: vertical; }
    #fleet-top { height: 1; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit (fleet keeps running)"),
        Binding("question_mark", "help", "Help"),
        Binding("enter,z", "zoom", "Zoom to pane"),
        Binding("n", "next_attention", "Next needing you"),
        Binding("o", "toggle_order", "Needs-you first"),
    ]

    def __init__(
        self, source: FleetSource, actions: FleetActions | None = None, *, poll_seconds: float = 0.5, live: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.source = source
        self.actions = actions
        self.poll_seconds = poll_seconds
        self.live = live
        self.snapshot: FleetSnapshot | None = None
        self.alive = True
        self.selected_name: str | None = None
        self._last_error: str | None = None

    def compose(self) -> ComposeResult:
        yield SnapshotAge(id="fleet-top")
        yield AgentTable(id="agents")
        yield TotalsBar(id="totals")
        yield DetailPanel(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(AgentTable).focus()
        if self.live:
            self.watch_store()
            self.set_interval(1.0, self.refresh_clock)
        else:
            self.post_message(FleetObserved(self.source.latest(), self.source.supervisor_alive()))

    # -- the worker: store -> messages ---------------------------------------

    @work(thread=True, exclusive=True, group="store")
    def watch_store(self) -> None:
        worker = self._current_worker()
        last_id, last_alive, last_tail_for = -1, None, None
        while not worker.is_cancelled:
            try:
                sid = self.source.snapshot_id()
                alive = self.source.supervisor_alive()
                if sid != last_id or alive != last_alive:
                    self.post_message(FleetObserved(self.source.latest(), alive))
                    last_id, last_alive = sid, alive
                    last_tail_for = None
                name = self.selected_name
                if name and (name, sid) != last_tail_for:
                    self.post_message(TailRead(name, self.source.tail(name), self.source.status_changes(name)))
                    last_tail_for = (name, sid)
            except Exception as exc:  # the store is busy or gone: say so, keep trying
                self.post_message(SourceFailed(str(exc)))
            time.sleep(self.poll_seconds)

    @staticmethod
    def _current_worker():  # pragma: no cover - thin wrapper
        from textual.worker import get_current_worker

        return get_current_worker()

    # -- handlers --------------------------------------------------------------

    def on_fleet_observed(self, message: FleetObserved) -> None:
        previous = self.snapshot
        self.snapshot, self.alive = message.snapshot, message.alive
        table = self.query_one(AgentTable)
        table.show(self.snapshot, self.clock())
        self.query_one(TotalsBar).show(self.snapshot)
        self.refresh_clock()
        if self.selected_name is None:
            self.selected_name = table.selected
        self._announce(previous, self.snapshot)
        self._show_detail(None)

    def _announce(self, before: FleetSnapshot | None, after: FleetSnapshot | None) -> None:
        """Ring the bell when an agent starts needing a human."""
        if before is None or after is None:
            return
        for a in after.agents:
            old = before.agent(a.name)
            if a.status.needs_human and (old is None or old.status is not a.status):
                self.bell()
                self.notify(f"{a.name} is {a.status.value}: {a.reason}", severity="warning", timeout=6)

    def on_tail_read(self, message: TailRead) -> None:
        if message.agent == self.selected_name:
            self._show_detail(message)

    def on_source_failed(self, message: SourceFailed) -> None:
        if message.error != self._last_error:
            self._last_error = message.error
            self.notify(f"cannot read the state store: {message.error}", severity="error", timeout=8)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected_name = event.row_key.value if event.row_key else None
        self._show_detail(None)
        if not self.live and self.selected_name:
            self.post_message(TailRead(self.selected_name, self.source.tail(self.selected_name), self.source.status_changes(self.selected_name)))

    def _show_detail(self, tail: TailRead | None) -> None:
        agent = self.snapshot.agent(self.selected_name) if (self.snapshot and self.selected_name) else None
        self.query_one(DetailPanel).show(agent, tail.tail if tail else None, tail.changes if tail else [], self.clock())

    def refresh_clock(self) -> None:
        snap = self.snapshot
        self.query_one(SnapshotAge).show(
            self.source.session, snap.taken_at if snap else None, self.alive, self.clock(), snap.tick_ms if snap else None
        )
        if snap is not None:
            self.query_one(AgentTable).show(snap, self.clock())

    # -- actions ---------------------------------------------------------------

    def selected_agent(self) -> AgentSnapshot | None:
        if self.snapshot is None or self.selected_name is None:
            return None
        return self.snapshot.agent(self.selected_name)

    def action_help(self) -> None:
        keys = [(b.key, b.description) for b in self.BINDINGS if isinstance(b, Binding)]
        self.push_screen(HelpScreen(keys))

    def action_zoom(self) -> None:
        agent = self.selected_agent()
        if agent is None or self.actions is None:
            return
        with self.suspend() if self.actions.needs_terminal() else _nullcontext():  # type: ignore[attr-defined]
            outcome = self.actions.zoom(agent)
        self.notify(outcome, timeout=4)

    def action_next_attention(self) -> None:
        if self.snapshot is None:
            return
        names = [a.name for a in self.query_one(AgentTable).ordered(self.snapshot)]
        needing = [a.name for a in self.query_one(AgentTable).ordered(self.snapshot) if a.status.needs_human]
        if not needing:
            self.notify("nobody needs you right now", timeout=3)
            return
        start = names.index(self.selected_name) if self.selected_name in names else -1
        after = [n for n in names[start + 1 :] + names[: start + 1] if n in needing]
        self.query_one(AgentTable).select_agent(after[0])

    def action_toggle_order(self) -> None:
        table = self.query_one(AgentTable)
        table.attention_first = not table.attention_first
        table.show(self.snapshot, self.clock())
        self.notify("agents needing you first" if table.attention_first else "fleet order", timeout=2)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def create_app(
    source: FleetSource, actions: FleetActions | None = None, *, live: bool = True, poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.time,
) -> MissionControlApp:
    """The dashboard app; the CLI, the screenshot script and the tests all build it here."""
    return MissionControlApp(source, actions, live=live, poll_seconds=poll_seconds, clock=clock)
