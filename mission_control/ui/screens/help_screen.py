"""Every key the dashboard knows, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mission_control.core.terminal_text import inert


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings_list = bindings

    def compose(self) -> ComposeResult:
        table = Table(title="mission-control keys", show_header=True, expand=True)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Does")
        for key, desc in self.bindings_list:
            table.add_row(Text(inert(key)), Text(inert(desc)))
        with VerticalScroll():
            yield Static(table)
            yield Static(
                "\nQuitting the dashboard leaves the fleet and its supervisor running.\n"
                "Reattach from anywhere: mission-control attach (over SSH: ssh host -t mission-control attach).",
                classes="dim",
            )
