"""Every key the dashboard knows, with what it does, by group (the rows come from `core/keys.py`)."""

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
    HelpScreen > VerticalScroll { width: 80; height: auto; max-width: 100%; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows
        """(help group, key as bound now, what it does), in the order shown."""

    @property
    def bindings_list(self) -> list[tuple[str, str]]:
        """(key, what it does) of every row."""
        return [(key, desc) for _, key, desc in self.rows]

    def compose(self) -> ComposeResult:
        table = Table(title="mission-control keys", show_header=True, expand=True)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Does")
        group = None
        for heading, key, desc in self.rows:
            if heading != group:
                if group is not None:
                    table.add_section()
                table.add_row(Text(inert(heading), style="bold"), "")
                group = heading
            table.add_row(Text(inert(key)), Text(inert(desc)))
        with VerticalScroll():
            yield Static(table)
            yield Static(
                "\nQuitting the dashboard leaves the fleet and its supervisor running.\n"
                "Reattach from anywhere: mission-control attach (over SSH: ssh host -t mission-control attach).",
                classes="dim",
            )
