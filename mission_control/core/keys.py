"""The dashboard's action table: every action a key can trigger, once.

Each row is (action id, default key, description, help group, and how the footer shows it): config validation of `[keys]`
takes the ids from here, the app builds its BINDINGS from here, the help screen lists the keys by
group from here, and a test checks that the README's keys table names every id. Adding an action
is a row here and an `action_<method>` on the app. The fleet view, the Tasks view and the diff view
each have their table (`VIEWS`); `[keys]` rebinds any of them by id, and `keys_problem` refuses a
binding that leaves one key on two actions of one view (which one would act?).
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass
from typing import Callable, Mapping


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

# -- the Tasks view (`T`, issue 19 point 8) and the diff view (`D`, issue 21 point 5) -----------------
# Their own screens, with their own keys: while one is open, the fleet view's keys do not act
# (a key meant for a task never pauses an agent). Built into each screen's BINDINGS and its help.

TASK_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("task_close", "escape,T", "Fleet view", "Tasks", footer=True, method="close", short="Back"),
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

@dataclass(frozen=True)
class TakenKeys:
    """Keys a view's own widgets take before any action can (the focused table moves its cursor on
    `up`): an action bound to one of them would never run."""

    keys: str
    """Textual's names, comma-separated."""
    what: str
    """What they do there, for the config error."""
    but: str = ""
    """The one action that may have them (the table's `enter` zooms: zoom's only)."""


@dataclass(frozen=True)
class View:
    """A view with keys of its own: only the view in front acts on a key, so one key may serve one
    action in each view (`p` pauses in the fleet view, changes a priority in the Tasks view), never
    two in one."""

    name: str
    actions: tuple[KeyAction, ...]
    taken: tuple[TakenKeys, ...] = ()
    """Keys its widgets take first (measured by pressing them: tests/test_keys_config.py)."""


_TABLE_KEYS = "up,down,j,k,pageup,pagedown,home,end,ctrl+home,ctrl+end,ctrl+pageup,ctrl+pagedown"
_QUIT = TakenKeys("ctrl+q", "Textual's own quit key")

VIEWS: tuple[View, ...] = (
    View("the fleet view", ACTIONS, (TakenKeys(_TABLE_KEYS, "the table's key to move the selection"),
                                      TakenKeys("enter", "the table's select key (it zooms)", but="zoom"),
                                      TakenKeys("tab,shift+tab", "the key that moves the focus"))),
    View("the Tasks view", TASK_ACTIONS, (TakenKeys(_TABLE_KEYS, "the table's key to move the selection"),
                                          TakenKeys("enter", "the table's select key"), _QUIT)),
    View("the diff view", DIFF_ACTIONS, (TakenKeys(_TABLE_KEYS.replace(",ctrl+home,ctrl+end", "") + ",left,right,space",
                                                   "a key that scrolls the file (or moves in the file list)"),
                                         TakenKeys("enter", "the file list's key to show the file picked"), _QUIT)),
)
"""The views and their keys, in the README's order."""

KEY_ACTIONS: tuple[str, ...] = tuple(a.id for view in VIEWS for a in view.actions)
"""The ids `[keys]` accepts: the fleet view's as they are, the Tasks view's start with `task_`, the
diff view's with `diff_` (no fleet view id does, so a name says its view)."""

KEY_NAME_REPLACEMENTS = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                         "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}
"""Textual's shorter names for some characters' unicode names (a test holds `key_names` to Textual's
own normalisation, which the pure core cannot import)."""


MAX_KEY_NAME = 40
"""Longer than any key Textual names (`ctrl+shift+left_square_bracket` is 30): no key, never pressed."""


def key_names(value: str) -> list[tuple[str, str]]:
    """The keys a `[keys]` value binds, each as (written, Textual's name): comma-separated, a single
    character that is not a letter or digit named by its unicode name (`?` is `question_mark`, `/`
    is `slash`), so `"?"` and `"question_mark"` are seen as the same key."""
    out = []
    for written in value.split(","):
        written = written.strip()
        name = written
        if len(written) == 1 and not written.isalnum():
            name = unicodedata.name(written, written).lower().replace("-", "_").replace(" ", "_")
            name = KEY_NAME_REPLACEMENTS.get(name, name)
        out.append((written, name))
    return out


def keys_problem(keys: Mapping[str, str], shown: Callable[[str], str] = repr) -> tuple[str, str] | None:
    """The first `[keys]` entry that cannot work, as (its id, the one line that says so): an unknown
    id (with the nearest one), a value that is no key name, or a key that, with `[keys]` applied, is
    left on two actions of one view or on one its widgets take first (`View.taken`). Textual would
    silently give such a key to one of them, so `pause = "r"` alone is refused (`r` is resume's)
    while `pause = "r"` with `resume = "x"` is a swap that works. `shown` quotes a value for the
    line (cut short: a value may be megabytes)."""
    for action, value in keys.items():
        if action not in KEY_ACTIONS:
            hint = difflib.get_close_matches(action, list(KEY_ACTIONS), n=1)
            return action, (f"keys.{action}: unknown action (did you mean {hint[0]!r}?)" if hint
                            else f"keys.{action}: unknown action; use one of: {', '.join(KEY_ACTIONS)}")
        for written, _ in key_names(value):
            if not written or " " in written or not written.isprintable() or len(written) > MAX_KEY_NAME:
                comma = " (a comma separates keys: write comma for ,)" if "," in value else ""
                return action, f"keys.{action} = {shown(value)} is not a key name{comma}"
    for view in VIEWS:
        owner: dict[str, str] = {}
        for a in view.actions:
            if a.id not in keys:
                owner.update((name, a.id) for _, name in key_names(a.key))
        taken = {name: t for t in view.taken for _, name in key_names(t.keys)}
        ids = {a.id for a in view.actions}
        for action in (action for action in keys if action in ids):  # in the file's order: the later one is named
            names = key_names(keys[action])
            for written, name in names:
                which = "" if len(names) == 1 else f": its {written!r}"
                said = f"keys.{action} = {shown(keys[action])}{which}"
                if name in taken and taken[name].but != action:
                    only = f" (only {taken[name].but} can have it)" if taken[name].but else ""
                    return action, f"{said} is {taken[name].what} in {view.name}{only}: pick another key"
                other = owner.setdefault(name, action)
                if other == action:
                    continue
                if other in keys:
                    return action, f"{said} is also given to {other} (keys.{other}): pick another key for one of them"
                return action, f"{said} is also {other}'s key: rebind {other} too, or pick another key"
    return None
