"""What the dashboard's dialogs return: typed requests, one dataclass each, never tuples.

A dialog is dismissed with one of these (or None when cancelled); the app turns it into a call
on the actions port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mission_control.core.env_overlay import EnvFix


@dataclass(frozen=True)
class InjectRequest:
    """The env dialog's answer."""

    fix: EnvFix | None
    """What to inject (None: only removing)."""
    all_agents: bool
    """Into every agent, not only the one it was opened for."""
    write_dotenv: bool
    """Also write the variables to the agent's working-dir .env."""
    unset: tuple[str, ...] = ()
    """Injected variables of this agent to forget."""


@dataclass(frozen=True)
class ReassignRequest:
    """The reassign dialog's answer: another agent or a new agent of a kind takes the task."""

    to_agent: str | None
    """The agent that takes the task (or None with `new_kind`)."""
    new_kind: str | None
    """The kind of a new agent to take it (or None with `to_agent`)."""
    old: str
    """pause or stop the previous agent."""


@dataclass(frozen=True)
class SpawnRequest:
    """The spawn dialog's answer."""

    name: str
    kind: str | None
    """None for a copy (the copied agent's kind)."""
    task: str | None
    command: str | None
    copy_of: str | None
    """The agent whose settings it takes."""
    host: str | None = None
    """The `[[host]]` whose fleet it starts in (None: this machine; a copy: where the copied agent runs)."""


FixAction = Literal["inject", "send", "zoom", "resume", "restart"]


@dataclass(frozen=True)
class FixRequest:
    """The diagnosis dialog's answer: apply its suggested fix to the diagnosed agent."""

    action: FixAction
    """What to do."""
    argument: str = ""
    """The variable to inject, or the text to send."""

    @property
    def label(self) -> str:
        """How the dialog offers it."""
        return {"inject": f"inject {self.argument}", "send": f"send {self.argument!r}", "zoom": "show its pane",
                "resume": "resume it", "restart": "restart it"}[self.action]


@dataclass(frozen=True)
class TaskAddRequest:
    """The add-task dialog's answer (what `mission-control task add` takes)."""

    prompt: str
    priority: str = "normal"
    """high, normal, low or a whole number (checked by the board: one line when it is none)."""
    task_id: str | None = None
    """None: the board names it `task-<n>`."""
    after: tuple[str, ...] = ()
    role: str | None = None
    review: bool = False
