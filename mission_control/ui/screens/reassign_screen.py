"""Reassign a stuck agent's task: to another agent (idle ones first) or a new agent of some kind."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from mission_control.core.kinds import KIND_NAMES
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.terminal_text import inert
from mission_control.ui.requests import ReassignRequest


_ORDER = {Status.IDLE: 0, Status.WAITING: 1, Status.WORKING: 2, Status.STARTING: 3, Status.STUCK: 4, Status.PAUSED: 5, Status.EXITED: 6, Status.UNREACHABLE: 7}


class ReassignScreen(ModalScreen[ReassignRequest | None]):
    DEFAULT_CSS = """
    ReassignScreen { align: center middle; }
    ReassignScreen > Vertical { width: 90; height: auto; max-width: 100%; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; overflow-y: auto; }
    ReassignScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, agent: AgentSnapshot, others: list[AgentSnapshot]) -> None:
        super().__init__()
        self.agent = agent
        self.others = sorted(others, key=lambda a: (_ORDER.get(a.status, 9), a.name))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Reassign {inert(self.agent.name)}'s task ({inert(self.agent.task or '—')[:60]}) to:", markup=False)
            options = [Option(Text(f"{inert(a.name):16} {inert(a.kind):8} {a.status.value}"), id=f"agent:{a.name}")
                       for a in self.others if a.status is not Status.EXITED]
            options += [Option(f"new agent of kind {kind}", id=f"kind:{kind}") for kind in KIND_NAMES]
            yield OptionList(*options, id="reassign-to")
            yield Static(f"and {inert(self.agent.name)}:", markup=False)
            with RadioSet(id="reassign-old"):
                yield RadioButton("is paused (can be continued later)", value=True, id="old-pause")
                yield RadioButton("is stopped", id="old-stop")
            yield Static("The new owner gets a handoff at its prompt: the task, why it moved, the last lines, "
                         "and the branch and commits to continue from.", classes="dim")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        what, _, value = (event.option.id or "").partition(":")
        old = "stop" if self.query_one("#old-stop", RadioButton).value else "pause"
        self.dismiss(ReassignRequest(value if what == "agent" else None, value if what == "kind" else None, old))

    def action_cancel(self) -> None:
        self.dismiss(None)
