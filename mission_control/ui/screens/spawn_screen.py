"""Spawn a new agent into the running fleet: kind, name and task (or a copy of the selected agent);
with agents on other hosts, where: this machine or one of them (issue 22)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from mission_control.core.kinds import KIND_NAMES
from mission_control.core.terminal_text import inert
from mission_control.ui.requests import SpawnRequest


LOCAL = "local"
"""The host choice for this machine (no `[[host]]` may be named so)."""


class SpawnScreen(ModalScreen[SpawnRequest | None]):
    DEFAULT_CSS = """
    SpawnScreen { align: center middle; }
    SpawnScreen > Vertical { width: 90; height: auto; max-width: 100%; max-height: 100%; border: thick $primary; background: $surface; padding: 1 2; overflow-y: auto; }
    SpawnScreen #spawn-buttons { height: auto; align-horizontal: right; }
    SpawnScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, copy_of: str | None = None, kind: str | None = None, name: str = "", task: str = "",
                 hosts: list[str] | None = None) -> None:
        super().__init__()
        self.hosts = hosts or []
        """Other hosts it may start on (issue 22): offered with this machine when there are any."""
        self.copy_of = copy_of
        self.kind = kind
        self.name_value = name
        self.task_value = task

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"New agent — a copy of {inert(self.copy_of)}" if self.copy_of else "New agent", markup=False)
            if not self.copy_of:
                yield Select([(k, k) for k in KIND_NAMES], value=self.kind or "shell", id="spawn-kind", allow_blank=False)
                if self.hosts:
                    yield Select([("on this machine", LOCAL), *((f"on host {inert(h)}", h) for h in self.hosts)],
                                 value=LOCAL, id="spawn-host", allow_blank=False)
            yield Input(value=self.name_value, placeholder="name (letters, digits, - and _)", id="spawn-name")
            yield Input(value=self.task_value, placeholder="task (optional)", id="spawn-task")
            if not self.copy_of:
                yield Input(placeholder="command (required for shell; default per kind)", id="spawn-command")
            with Horizontal(id="spawn-buttons"):
                yield Button("Spawn", variant="primary", id="spawn")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#spawn-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._done() if event.button.id == "spawn" else self.dismiss(None)

    def _done(self) -> None:
        name = self.query_one("#spawn-name", Input).value.strip()
        if not name:
            self.notify("give the new agent a name", severity="warning")
            return
        task = self.query_one("#spawn-task", Input).value.strip() or None
        if self.copy_of:
            self.dismiss(SpawnRequest(name, None, task, None, self.copy_of))
            return
        kind = str(self.query_one("#spawn-kind", Select).value)
        command = self.query_one("#spawn-command", Input).value.strip() or None
        host = str(self.query_one("#spawn-host", Select).value) if self.hosts else LOCAL
        self.dismiss(SpawnRequest(name, kind, task, command, None, host=None if host == LOCAL else host))

    def action_cancel(self) -> None:
        self.dismiss(None)
