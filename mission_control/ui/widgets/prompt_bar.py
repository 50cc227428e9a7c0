"""The selected WAITING agent's prompt above the key hints: its question, its options as the agent
shows them, and exactly what each answer key sends (issue 21: answer without leaving the dashboard).

Read from the agent's screen text (the tail the detail panel shows) by its kind's `[[prompt]]`
tables (`core/prompts.py`), again only when that text or the agent changes. Hidden for an agent
that is not WAITING; for one whose prompt cannot be read, says to answer in its pane.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.prompts import Prompt, read_prompt
from mission_control.core.terminal_text import inert


def prompt_text(name: str, prompt: Prompt | None, keys: dict[str, str], reason: str = "") -> Text:
    """`name asks: question` then `1 Yes · 2 No · y → 1 · N → 2`; `keys`: answer id (`1`…`9`,
    `y`, `n`) -> the key that sends it, as shown (after the keymap)."""
    t = Text()
    t.append(inert(name), style="bold")
    if prompt is None:
        t.append(f": no options I can read ({inert(reason)})")
        t.append(f" · {keys.get('zoom', 'z')} to answer in its pane", style="dim")
        return t
    t.append(" asks: ")
    t.append(inert(prompt.question) or "—", style="bold")
    t.append("\n")
    sends = prompt.keys() if prompt.answerable and (prompt.send != "arrows" or prompt.selected is not None) else {}
    for i, option in enumerate(prompt.options):
        if i:
            t.append(" · ", style="dim")
        key = keys.get(str(option.number)) if str(option.number) in sends else None
        if key:
            t.append(f" {inert(key)} ", style="bold reverse")
            t.append(" ")
        t.append(inert(option.label), style="dim" if option.needs_text or not key else "")
    for answer in ("y", "n"):
        if answer in sends and keys.get(answer):
            t.append("  ")
            t.append(f" {inert(keys[answer])} ", style="bold reverse")
            t.append(f" = {sends[answer].number}")
    if not sends:
        t.append("\n")
        t.append(f"answer in its pane ({keys.get('zoom', 'z')}): {inert(prompt.why) or 'its highlighted option cannot be read'}", style="dim")
    return t


class PromptBar(Static):
    """The selected agent's prompt, when it is WAITING; hidden otherwise."""

    DEFAULT_CSS = """
    PromptBar { height: auto; max-height: 4; padding: 0 1; background: $warning 15%; display: none; }
    PromptBar.-shown { display: block; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.agent: str | None = None
        """The agent whose prompt is shown (None: nothing shown)."""
        self.prompt: Prompt | None = None
        """Its prompt as read from the text shown (what the answer keys act on; only while `agent` is set)."""
        self._read: tuple[str, str, str] | None = None
        self._shown: tuple[object, ...] | None = None

    def show(self, agent: AgentSnapshot | None, tail: str | None, keys: dict[str, str]) -> None:
        """Show `agent`'s prompt read from `tail` (None: the tail read last for it, if any)."""
        if agent is None or agent.status is not Status.WAITING:
            self.agent, self._shown = None, None  # what was read stays, to show again without reading again
            self.set_class(False, "-shown")
            return
        if tail is None:
            tail = self._read[2] if self._read and self._read[0] == agent.name else ""
        if self._read != (agent.name, agent.kind, tail):
            self._read = (agent.name, agent.kind, tail)
            self.prompt = read_prompt(agent.kind, tail) if tail else None
        self.agent = agent.name
        shown = (agent.name, self.prompt, agent.reason, tuple(sorted(keys.items())))
        if shown != self._shown:
            self._shown = shown
            self.update(prompt_text(agent.name, self.prompt, keys, agent.reason))
        self.set_class(True, "-shown")
