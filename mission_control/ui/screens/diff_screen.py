"""The diff view (`D`, issue 21 point 5): an agent's branch against its base — stats, the changed
files, and one file's diff at a time, scrollable and highlighted — from which `m` merges it (asks
first) and `t` sends the agent a follow-up instruction (typed at its prompt, queued while it works).

A full-screen modal: the fleet view's keys do not act while it is open. The diff is read through
the actions port (git, in an adapter) in a thread worker; the screen is there at once, saying it
is reading, then shows the files or the one-line reason it could not. Only the file shown is
rendered, and of it only the lines in sight (`DiffLines`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from mission_control.core.diff import BranchDiff, file_label, summary
from mission_control.core.keys import DIFF_ACTIONS
from mission_control.core.terminal_text import inert
from mission_control.ui.key_table import bindings_of, help_rows
from mission_control.ui.screens.help_screen import HelpScreen
from mission_control.ui.widgets.diff_lines import DiffLines
from mission_control.ui.widgets.key_hints import KeyHints

if TYPE_CHECKING:
    from mission_control.ui.app import MissionControlApp


class DiffScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    DiffScreen { background: $background; }
    DiffScreen #diff-top { height: auto; max-height: 2; padding: 0 1; background: $boost; }
    DiffScreen #diff-top.-error { color: $error; }
    DiffScreen #diff-files { width: 30%; min-width: 16; max-width: 48; height: 1fr; border: none; text-wrap: nowrap; text-overflow: ellipsis; }
    DiffScreen DiffLines { width: 1fr; border-left: solid $primary; }
    """
    BINDINGS = bindings_of(DIFF_ACTIONS)

    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent
        self.diff: BranchDiff | None = None
        self.error: str | None = None
        self.shown = 0
        """Index of the file shown."""

    @property
    def mc(self) -> "MissionControlApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(f"reading {inert(self.agent)}'s diff…", id="diff-top", markup=False)
        with Horizontal():
            yield OptionList(id="diff-files")
            yield DiffLines(id="diff-body")
        yield KeyHints()

    def on_mount(self) -> None:
        self.read_diff()

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def read_diff(self) -> None:
        """git runs here, off the UI thread; its one-line error is shown in the view."""
        try:
            diff = self.mc.actions.diff(self.agent)  # type: ignore[union-attr]
        except Exception as exc:
            self.mc.call_from_thread(self.failed, str(exc) or type(exc).__name__)
            return
        self.mc.call_from_thread(self.loaded, diff)

    def failed(self, error: str) -> None:
        self.error = " ".join(error.split())
        top = self.query_one("#diff-top", Static)
        top.update(Text(f"cannot show {inert(self.agent)}'s diff: {inert(self.error)}"))
        top.add_class("-error")

    def loaded(self, diff: BranchDiff) -> None:
        self.diff = diff
        self.query_one("#diff-top", Static).update(Text(inert(summary(diff))))
        files = self.query_one(OptionList)
        files.clear_options()
        files.add_options([Option(Text(inert(file_label(f))), id=str(i)) for i, f in enumerate(diff.files)])
        if not diff.files:
            files.add_option(Option(Text("no changes against its base", style="dim"), disabled=True))
        self.show_file(0)
        self.query_one(DiffLines).focus()

    def show_file(self, index: int) -> None:
        files = self.diff.files if self.diff else ()
        if not files:
            self.query_one(DiffLines).show(None)
            return
        self.shown = index % len(files)
        self.query_one(DiffLines).show(files[self.shown])
        listing = self.query_one(OptionList)
        if listing.highlighted != self.shown:
            listing.highlighted = self.shown

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and int(event.option.id) != self.shown:
            self.show_file(int(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.show_file(int(event.option.id))
            self.query_one(DiffLines).focus()

    # -- keys ----------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(help_rows(self, DIFF_ACTIONS, ("Diff",))))

    def action_next_file(self) -> None:
        self.show_file(self.shown + 1)

    def action_previous_file(self) -> None:
        self.show_file(self.shown - 1)

    def action_merge(self) -> None:
        self.mc.confirm_merge(self.agent)

    def action_send(self) -> None:
        self.mc.ask_send(self.agent)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Any:
        """Merge and send need a fleet to act on (a read-only dashboard has none)."""
        if action in ("merge", "send") and self.mc.actions is None:
            return False
        return True
