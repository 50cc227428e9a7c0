"""A read-only text (a branch's diff stat, a diagnosis) in a scrollable box."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mission_control.core.terminal_text import inert


class TextViewScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    TextViewScreen { align: center middle; }
    TextViewScreen > VerticalScroll { width: 100; height: auto; max-width: 100%; max-height: 85%; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(inert(self.title_text), classes="bold", markup=False)
            yield Static(inert(self.text, lines=True), markup=False)
            yield Static("Esc closes", classes="dim")
