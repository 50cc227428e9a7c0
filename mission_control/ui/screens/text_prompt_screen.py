"""One line of text for an agent (send) or for every agent (broadcast)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from mission_control.core.terminal_text import inert


class TextPromptScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    TextPromptScreen { align: center middle; }
    TextPromptScreen > Vertical { width: 90; height: auto; max-width: 100%; max-height: 100%; border: thick $primary; background: $surface; padding: 1 2; overflow-y: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(inert(self.title_text), markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("Enter sends · Esc cancels", classes="dim")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value if event.value.strip() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
