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
    opens_field: bool = False
    """It opens a text field on the same screen: taken as soon as it is read, before the keys after it
    (a burst — a paste, a fast typist, a slow ssh link — is text for the field, never other actions);
    while a text field has the focus it is text itself."""

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
    KeyAction("diff", "D", "Diff view", "Agent", note="files, stats, the diff; m merges, t sends an instruction"),
    KeyAction("tasks", "T", "Tasks view", "Dashboard", footer=True, short="Tasks",
              note="the task board: add, prioritise, cancel, assign, review"),
    KeyAction("order", "o", "Needs-you first", "Dashboard", method="toggle_order"),
    # answering the selected WAITING agent's prompt: the line above the footer shows what each key sends
    *(KeyAction(f"answer_{n}", str(n), "Answer: the option with this number", "Agent", method=f"answer('{n}')") for n in range(1, 10)),
    KeyAction("answer_yes", "y", "Answer yes", "Agent", method="answer('y')", note="the prompt line shows which option"),
    KeyAction("answer_no", "N", "Answer no", "Agent", method="answer('n')", note="n is next_attention"),
    # finding an agent
    KeyAction("filter", "slash", "Filter by name, kind, status, task", "Dashboard", opens_field=True),
    KeyAction("jump", "g", "Go to an agent by name", "Dashboard", opens_field=True),
    KeyAction("clear_filter", "escape", "Clear the filter", "Dashboard"),
)
"""Every dashboard action, in the footer's order."""

KEY_ACTIONS: tuple[str, ...] = tuple(a.id for a in ACTIONS)
"""The ids `[keys]` accepts."""

# -- the Tasks view (`T`, issue 19 point 8) and the diff view (`D`, issue 21 point 5) -----------------
# Their own screens, with their own keys: while one is open, the fleet view's keys do not act
# (a key meant for a task never pauses an agent). Built into each screen's BINDINGS and its help.

TASK_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("tasks_close", "escape,T", "Fleet view", "Tasks", footer=True, method="close", short="Back"),
    KeyAction("task_help", "question_mark", "Help", "Tasks", footer=True, method="help"),
    KeyAction("task_add", "a", "Add task", "Tasks", footer=True, method="add", short="Add"),
    KeyAction("task_priority", "p", "Change priority", "Tasks", footer=True, method="priority", short="Prio"),
    KeyAction("task_cancel", "x", "Cancel task", "Tasks", footer=True, method="cancel", short="Cancel"),
    KeyAction("task_assign", "s", "Assign to the agent selected in the fleet view", "Tasks", footer=True,
              method="assign", short="Assign"),
    KeyAction("task_approve", "y", "Approve (review)", "Tasks", footer=True, method="approve", short="Approve"),
    KeyAction("task_changes", "c", "Request changes (review)", "Tasks", footer=True, method="changes", short="Changes"),
)
"""The Tasks view's keys, in its footer's order."""

DIFF_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("diff_close", "escape,q", "Fleet view", "Diff", footer=True, method="close", short="Back"),
    KeyAction("diff_help", "question_mark", "Help", "Diff", footer=True, method="help"),
    KeyAction("diff_next", "n,right_square_bracket", "Next file", "Diff", footer=True, method="next_file", short="Next"),
    KeyAction("diff_previous", "p,left_square_bracket", "Previous file", "Diff", footer=True, method="previous_file", short="Prev"),
    KeyAction("diff_merge", "m", "Merge the branch (asks first)", "Diff", footer=True, method="merge", short="Merge"),
    KeyAction("diff_send", "t", "Send a follow-up instruction", "Diff", footer=True, method="send", short="Send"),
)
"""The diff view's keys, in its footer's order (up/down, j/k, page up/down, space, home/end scroll the
file; tab moves to the file list, where enter shows the file picked)."""
