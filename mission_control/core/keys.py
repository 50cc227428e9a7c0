"""The dashboard's action table: every action a key can trigger, once.

Each row is (action id, default key, description, help group, and how the footer shows it): config validation of `[keys]`
takes the ids from here, the app builds its BINDINGS from here, the help screen lists the keys by
group from here, and a test checks that the README's keys table names every id. Adding an action
is a row here and an `action_<method>` on the app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyAction:
    id: str
    """The name people rebind it by in `[keys]` (e.g. `pause = "space"`)."""
    key: str
    """The default key(s), Textual's names, comma-separated."""
    description: str
    """What the footer and the help screen say it does."""
    group: str
    """The help screen's heading it is listed under."""
    footer: bool = False
    """Shown in the footer's key hints (the others are listed by `?`)."""
    method: str = ""
    """The app's action it runs (`action_<method>`), when not the same as `id`."""
    note: str = ""
    """A longer word the help screen adds after the description."""
    short: str = ""
    """A shorter description for a narrow footer (the description when empty)."""

    @property
    def action(self) -> str:
        return self.method or self.id


GROUPS = ("Agent", "Fleet", "Dashboard")
"""The help screen's headings, in order."""

ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("quit", "q", "Quit", "Dashboard", footer=True, note="the fleet keeps running"),
    KeyAction("help", "question_mark", "Help", "Dashboard", footer=True),
    KeyAction("zoom", "enter,z", "Zoom", "Agent", footer=True),
    KeyAction("next_attention", "n", "Next needing you", "Dashboard", footer=True, short="Next"),
    KeyAction("pause", "p", "Pause/continue", "Agent", footer=True, short="Pause"),
    KeyAction("resume", "r", "Resume", "Agent", footer=True),
    KeyAction("resume_all", "A", "Resume all STUCK", "Fleet"),
    KeyAction("pause_all", "P", "Pause/continue all", "Fleet",
              note="every running agent; when all are paused, continue them all"),
    KeyAction("inject", "e", "Inject env", "Agent", footer=True, short="Env"),
    KeyAction("reassign", "a", "Reassign", "Agent", footer=True, short="Move"),
    KeyAction("send", "t", "Send text", "Agent", footer=True, short="Send"),
    KeyAction("broadcast", "b", "Broadcast", "Fleet"),
    KeyAction("spawn", "s", "Spawn", "Fleet"),
    KeyAction("copy", "S", "Spawn a copy", "Fleet"),
    KeyAction("restart", "R", "Restart", "Agent"),
    KeyAction("kill", "K", "Kill", "Agent"),
    KeyAction("diagnose", "d", "Diagnose", "Agent"),
    KeyAction("merge", "m", "Merge branch", "Agent"),
    KeyAction("diff", "D", "Diff stat", "Agent"),
    KeyAction("order", "o", "Needs-you first", "Dashboard", method="toggle_order"),
    # answering the selected WAITING agent's prompt: the line above the footer shows what each key sends
    *(KeyAction(f"answer_{n}", str(n), "Answer: the option with this number", "Agent", method=f"answer('{n}')") for n in range(1, 10)),
    KeyAction("answer_yes", "y", "Answer yes", "Agent", method="answer('y')", note="the prompt line shows which option"),
    KeyAction("answer_no", "N", "Answer no", "Agent", method="answer('n')", note="n is next_attention"),
    # finding an agent
    KeyAction("filter", "slash", "Filter by name, kind, status, task", "Dashboard"),
    KeyAction("jump", "g", "Go to an agent by name", "Dashboard"),
    KeyAction("clear_filter", "escape", "Clear the filter", "Dashboard"),
)
"""Every dashboard action, in the footer's order."""

KEY_ACTIONS: tuple[str, ...] = tuple(a.id for a in ACTIONS)
"""The ids `[keys]` accepts."""
