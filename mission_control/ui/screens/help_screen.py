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


def merged(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Consecutive rows that do the same (the answer keys `1`…`9`) as one row: `1…9` (or `a, b`)."""
    runs: list[tuple[str, list[str], str]] = []
    for group, key, desc in rows:
        if runs and runs[-1][0] == group and runs[-1][2] == desc:
            runs[-1][1].append(key)
        else:
            runs.append((group, [key], desc))
    return [(group, f"{keys[0]}…{keys[-1]}" if len(keys) > 2 else ", ".join(keys), desc) for group, keys, desc in runs]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; height: auto; max-width: 100%; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = merged(rows)
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
