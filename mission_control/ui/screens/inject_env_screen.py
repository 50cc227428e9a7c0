"""The env-fix dialog: NAME=value lines (multi-line values allowed), scope, and whether to write .env;
and the variables injected into the agent so far (names, masked values), each of which can be removed.

The values appear only in this dialog's text area; they go straight to the action,
which keeps them in the agent's private env file and logs and shows them masked. The
dialog is given the injected variables already masked: no stored value reaches the UI."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, RadioButton, RadioSet, Static, TextArea

from mission_control.core.env_overlay import EnvTextError, parse_env_text
from mission_control.core.terminal_text import inert
from mission_control.ui.requests import InjectRequest


class InjectEnvScreen(ModalScreen[InjectRequest | None]):
    DEFAULT_CSS = """
    InjectEnvScreen { align: center middle; }
    InjectEnvScreen > Vertical { width: 90; height: auto; max-width: 100%; max-height: 100%; border: thick $primary; background: $surface; padding: 1 2; overflow-y: auto; }
    InjectEnvScreen TextArea { height: 8; }
    InjectEnvScreen #inject-error { color: $error; height: auto; }
    InjectEnvScreen #inject-current { height: auto; max-height: 8; }
    InjectEnvScreen #inject-buttons { height: auto; align-horizontal: right; }
    InjectEnvScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, agent: str, suggested: str = "", injected: dict[str, str] | None = None) -> None:
        super().__init__()
        self.agent = agent
        self.suggested = suggested
        self.injected = dict(injected or {})
        """Name -> masked value of what is injected into the agent now."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Inject environment into {inert(self.agent)} — one NAME=value per line; "
                         "a line without NAME= continues the value above. Values are taken literally.", markup=False)
            yield TextArea(f"{self.suggested}=" if self.suggested else "", id="inject-text", soft_wrap=True)
            with RadioSet(id="inject-scope"):
                yield RadioButton(Text(f"only {inert(self.agent)}"), value=True, id="scope-one")
                yield RadioButton("every agent", id="scope-all")
            yield Checkbox("also write to the agent's working-dir .env (0600)", id="inject-dotenv")
            if self.injected:
                yield Static(f"Injected into {self.agent} now — tick to remove (it keeps them until it restarts):", markup=False)
                with Vertical(id="inject-current"):
                    for name, masked in self.injected.items():
                        yield Checkbox(f"remove {name}={masked}", id=f"unset-{name}", classes="unset")
            else:
                yield Static(f"Nothing injected into {self.agent} yet.", classes="dim", markup=False)
            yield Static("", id="inject-error")
            yield Static("The agent is restarted with the new environment and resumes its conversation "
                         "(or its task, for kinds that cannot resume).", classes="dim")
            with Horizontal(id="inject-buttons"):
                yield Button("Apply (ctrl+s)", variant="primary", id="apply")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        # on a short terminal the dialog scrolls: start at its top, where it says what to type
        self.call_after_refresh(self.query_one(Vertical).scroll_home, animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_apply() if event.button.id == "apply" else self.dismiss(None)

    def action_apply(self) -> None:
        text = self.query_one(TextArea).text
        unset = tuple(box.id.removeprefix("unset-") for box in self.query(".unset").results(Checkbox) if box.value and box.id)
        fix = None
        if text.strip() not in ("", f"{self.suggested}=") or not unset:
            try:
                fix = parse_env_text(text)
            except EnvTextError as exc:
                self.query_one("#inject-error", Static).update(Text(inert(exc)))
                return
        all_agents = self.query_one("#scope-all", RadioButton).value
        self.dismiss(InjectRequest(fix, all_agents, self.query_one("#inject-dotenv", Checkbox).value, unset))

    def action_cancel(self) -> None:
        self.dismiss(None)
