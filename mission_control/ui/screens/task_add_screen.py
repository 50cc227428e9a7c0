"""Add a task to the board: its prompt, and optionally priority, id, the tasks it comes after,
the role that takes it and whether a reviewer approves it (as `mission-control task add`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from mission_control.ui.requests import TaskAddRequest


class TaskAddScreen(ModalScreen[TaskAddRequest | None]):
    DEFAULT_CSS = """
    TaskAddScreen { align: center middle; }
    TaskAddScreen > Vertical { width: 90; height: auto; max-width: 100%; max-height: 100%; border: thick $primary; background: $surface; padding: 1 2; overflow-y: auto; }
    TaskAddScreen .task-add-pair { height: auto; }
    TaskAddScreen .task-add-pair Input { width: 1fr; }
    TaskAddScreen #task-add-buttons { height: auto; align-horizontal: right; }
    TaskAddScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("New task — idle agents with pull = true take the next ready one", markup=False)
            yield Input(placeholder="prompt (what the agent is to do)", id="task-prompt")
            with Horizontal(classes="task-add-pair"):
                yield Input(value="normal", placeholder="priority: high, normal, low or a number", id="task-priority")
                yield Input(placeholder="id (optional: task-<n>)", id="task-id")
            with Horizontal(classes="task-add-pair"):
                yield Input(placeholder="after: ids, comma-separated (optional)", id="task-after")
                yield Input(placeholder="role (optional)", id="task-role")
            yield Checkbox("a reviewer approves it before it is merged", id="task-review")
            with Horizontal(id="task-add-buttons"):
                yield Button("Add", variant="primary", id="add")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#task-prompt", Input).focus()
        # on a short terminal the dialog scrolls: start at its top, where it says what this is
        self.call_after_refresh(self.query_one(Vertical).scroll_home, animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._done() if event.button.id == "add" else self.dismiss(None)

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _done(self) -> None:
        prompt = self.query_one("#task-prompt", Input).value  # byte-exact: the board checks it
        if not prompt.strip():
            self.notify("give the task a prompt", severity="warning")
            return
        after = tuple(a.strip() for a in self._value("task-after").split(",") if a.strip())
        self.dismiss(TaskAddRequest(prompt, self._value("task-priority") or "normal", self._value("task-id") or None,
                                    after, self._value("task-role") or None, self.query_one("#task-review", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
