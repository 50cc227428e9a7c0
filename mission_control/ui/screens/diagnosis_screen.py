"""A diagnosis of a stuck agent, with one key to apply its suggested fix."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mission_control.core.diagnosis import Diagnosis
from mission_control.core.terminal_text import inert
from mission_control.ui.requests import FixRequest


def _fix(d: Diagnosis | None) -> FixRequest | None:
    """The request for the diagnosis's fix, when it can be applied from here."""
    if d is None:
        return None
    if d.suggested_action == "inject_env" and d.env_var:
        return FixRequest("inject", d.env_var)
    if d.suggested_action == "send" and d.message:
        return FixRequest("send", d.message)
    if d.suggested_action == "attach":
        return FixRequest("zoom")
    if d.suggested_action in ("resume", "restart"):
        return FixRequest(d.suggested_action)
    return None


class DiagnosisScreen(ModalScreen[FixRequest | None]):
    """Dismissed with a `FixRequest` when the person applies the fix, else None."""

    DEFAULT_CSS = """
    DiagnosisScreen { align: center middle; }
    DiagnosisScreen > VerticalScroll { width: 100; height: auto; max-width: 100%; max-height: 85%; border: thick $accent; background: $surface; padding: 1 2; }
    DiagnosisScreen .diag-source { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape,q", "dismiss_none", "Close"), Binding("f", "apply", "Apply the fix")]

    def __init__(self, agent: str, rules: Diagnosis, model: Diagnosis | None) -> None:
        super().__init__()
        self.agent = agent
        self.rules = rules
        self.model = model
        # the model's fix when it gave an applicable one, else the rules'
        self.fix = _fix(model) or _fix(rules)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(f"Why is {inert(self.agent)} stuck?", markup=False)
            for d in (self.rules, self.model):
                if d is None:
                    continue
                if d.error:  # the model could not be asked: `d` repeats the rules' answer, so say only why
                    yield Static(f"(the model could not be asked: {inert(d.error)})", markup=False, classes="diag-source")
                    continue
                yield Static(f"{'rules' if d.source == 'rules' else 'model'}:", classes="diag-source")
                yield Static(inert(d.summary, lines=True), markup=False)
                if d.command:
                    yield Static(f"run: {inert(d.command)}", markup=False)
            if self.fix:
                yield Static(f"\nf: {inert(self.fix.label)} · esc: close", markup=False)
            else:
                yield Static("\nesc: close", markup=False)

    def action_apply(self) -> None:
        self.dismiss(self.fix)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
