"""Finding an agent fast (issue 21): `/` filters the table by name, kind, status or task as you
type, `g` goes to the agent whose name you type; one line above the key hints, which keeps
showing the filter (and `esc clears`) while it is on.

The bar only edits and shows text; the app applies it (`AgentTable.set_filter`, `select_agent`),
so the table stays the one place that decides which rows are drawn.
"""

from __future__ import annotations

from typing import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from mission_control.core.terminal_text import inert

FILTER, JUMP = "filter", "jump"
"""The bar's two modes: filter the table, go to an agent."""


def jump_target(names: Iterable[str], text: str) -> str | None:
    """The agent `text` names: its exact name, else the first whose name starts with it, else the
    first whose name holds it (case-insensitive); None for empty text or no such agent."""
    want = text.strip().lower()
    if not want:
        return None
    names = list(names)
    for test in (lambda n: n == want, lambda n: n.startswith(want), lambda n: want in n):
        found = next((n for n in names if test(n.lower())), None)
        if found is not None:
            return found
    return None


class FindBar(Horizontal):
    """The `/` and `g` input line; while a filter is on, the line that says so."""

    DEFAULT_CSS = """
    FindBar { height: 1; display: none; padding: 0 1; background: $boost; }
    FindBar.-shown { display: block; }
    FindBar #find-label { width: auto; padding: 0 1 0 0; }
    FindBar #find-input { border: none; height: 1; padding: 0; width: 1fr; background: $boost; }
    FindBar #find-input.-hidden { display: none; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    class Changed(Message):
        """The text being typed changed."""

        def __init__(self, mode: str, text: str) -> None:
            super().__init__()
            self.mode = mode
            self.text = text

    class Done(Message):
        """Enter (`accepted`) or esc ended the typing."""

        def __init__(self, mode: str, text: str, accepted: bool) -> None:
            super().__init__()
            self.mode = mode
            self.text = text
            self.accepted = accepted

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.mode: str | None = None
        """FILTER or JUMP while typing, None otherwise."""

    def compose(self) -> ComposeResult:
        yield Static("", id="find-label", markup=False)
        yield Input(id="find-input", placeholder="")

    @property
    def typing(self) -> bool:
        return self.mode is not None

    def open(self, mode: str, text: str = "") -> None:
        """Start typing a filter (FILTER) or an agent's name (JUMP)."""
        self.mode = mode
        label, hint = ("/", "name, kind, status or task · enter keeps it · esc clears") if mode == FILTER else (
            "go to", "an agent's name · enter · esc")
        self.query_one("#find-label", Static).update(label)
        field = self.query_one("#find-input", Input)
        field.placeholder = hint
        field.value = text
        field.set_class(False, "-hidden")
        self.set_class(True, "-shown")
        # focused now, not after the keys already read: `/asker` arriving in one burst (a paste, a
        # fast typist, a slow ssh link) is all filter text, never `a` (move) and `r` (resume)
        self.screen.set_focus(field)

    def show_filter(self, text: str, shown: int, total: int) -> None:
        """Not typing: the filter in force and what it leaves (hidden when there is none)."""
        self.mode = None
        self.query_one("#find-input", Input).set_class(True, "-hidden")
        if not text:
            self.set_class(False, "-shown")
            return
        self.query_one("#find-label", Static).update(f"filter {inert(text)!r}: {shown} of {total} agents · / edits · esc clears")
        self.set_class(True, "-shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.mode is not None:
            self.post_message(self.Changed(self.mode, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.mode is not None:
            self.post_message(self.Done(self.mode, event.value, True))

    def action_cancel(self) -> None:
        if self.mode is not None:
            self.post_message(self.Done(self.mode, self.query_one("#find-input", Input).value, False))
