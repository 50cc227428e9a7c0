"""`[keys]`: a key bound to two actions of one view (after the rebinding) is one config line and
exit 2, unless the other action is rebound too; the Tasks view's (`task_*`) and the diff view's
(`diff_*`) keys are rebindable like the fleet view's, and the keys in force are the ones that act
and the ones the help lists (Textual's pilot on fixed data; `check` and `up` as the user runs them)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from test_dashboard import DATA, RecordingActions
from test_dashboard_diff import DiffActions, loaded, small_diff
from test_dashboard_tasks import RecordingBoard, fixed_board, fleet_snapshot
from textual.keys import _normalize_key_list

from mission_control.core.config import ConfigError, load_text
from mission_control.core.keys import KEY_ACTIONS, VIEWS, key_names
from mission_control.core.model import FleetSnapshot
from mission_control.ui.app import MissionControlApp, create_app
from mission_control.ui.screens.diff_screen import DiffScreen
from mission_control.ui.screens.tasks_screen import TasksScreen
from mission_control.ui.source import FixedSource
from mission_control.ui.widgets.diff_lines import DiffLines

AGENT = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n\n[keys]\n'
"""A fleet of one, then `[keys]` on line 6: the entry under test is on line 7."""


def keys_of(body: str) -> dict[str, str]:
    return load_text(Path("/cfg/agents.toml"), AGENT + body, environ={}).keys


def refusal(body: str) -> str:
    with pytest.raises(ConfigError) as err:
        keys_of(body)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("/cfg/agents.toml:"), msg
    return msg


REFUSED = {
    # [keys] body: the one line, whole (after the file name)
    'pause = "r"\n': ":7: keys.pause = 'r' is also resume's key: rebind resume too, or pick another key",
    'pause = "r"\nresume = "r"\n': ":8: keys.resume = 'r' is also given to pause (keys.pause): pick another key for one of them",
    'quit = "x"\nhelp = "?"\npause = "x,question_mark"\n': ":9: keys.pause = 'x,question_mark': its 'x' is also given to quit (keys.quit): pick another key for one of them",
    'order = "slash"\n': ":7: keys.order = 'slash' is also filter's key: rebind filter too, or pick another key",
    'zoom = "/"\n': ":7: keys.zoom = '/' is also filter's key: rebind filter too, or pick another key",
    'answer_no = "n"\n': ":7: keys.answer_no = 'n' is also next_attention's key: rebind next_attention too, or pick another key",
    'task_add = "p"\n': ":7: keys.task_add = 'p' is also task_priority's key: rebind task_priority too, or pick another key",
    'task_add = "T"\n': ":7: keys.task_add = 'T' is also task_close's key: rebind task_close too, or pick another key",
    'diff_next = "m"\n': ":7: keys.diff_next = 'm' is also diff_merge's key: rebind diff_merge too, or pick another key",
    'order = "up"\n': ":7: keys.order = 'up' is the table's key to move the selection in the fleet view: pick another key",
    'zoom = "z"\npause = "enter"\n': ":8: keys.pause = 'enter' is the table's select key (it zooms) in the fleet view (only zoom can have it): pick another key",
    'pause = "tab"\n': ":7: keys.pause = 'tab' is the key that moves the focus in the fleet view: pick another key",
    'task_add = "j"\n': ":7: keys.task_add = 'j' is the table's key to move the selection in the Tasks view: pick another key",
    'task_add = "ctrl+q"\n': ":7: keys.task_add = 'ctrl+q' is Textual's own quit key in the Tasks view: pick another key",
    'diff_send = "space"\n': ":7: keys.diff_send = 'space' is a key that scrolls the file (or moves in the file list) in the diff view: pick another key",
    'pausee = "r"\n': ":7: keys.pausee: unknown action (did you mean 'pause'?)",
    'task_ad = "A"\n': ":7: keys.task_ad: unknown action (did you mean 'task_add'?)",
    'pause = ","\n': ":7: keys.pause = ',' is not a key name (a comma separates keys: write comma for ,)",
    'pause = " "\n': ":7: keys.pause = ' ' is not a key name",
    'pause = "\\u001b"\n': ":7: keys.pause = '\\x1b' is not a key name",
    f'pause = "{"x" * 100_000}"\n': ":7: keys.pause = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not a key name",
}


@pytest.mark.parametrize("body", list(REFUSED), ids=[f"refused{i}" for i in range(len(REFUSED))])
def test_a_key_left_on_two_actions_of_one_view_is_one_line(body: str) -> None:
    assert refusal(body) == "/cfg/agents.toml" + REFUSED[body]


def test_a_megabyte_value_that_is_a_key_list_is_not_quoted_whole() -> None:
    msg = refusal(f'pause = "{",".join(["r"] * 300_000)}"\n')
    assert len(msg) < 200 and "resume's key" in msg, msg


ACCEPTED = [
    'pause = "r"\nresume = "p"\n',  # a swap
    'pause = "space"\n',
    'next_attention = "f"\nanswer_no = "n"\n',
    'help = "h"\npause = "?"\n',
    'tasks = "p"\npause = "x"\n',
    'task_add = "A"\n',  # the fleet view's A is resume_all: another view
    'task_priority = "x"\ntask_cancel = "p"\n',
    'diff_next = "f"\ndiff_previous = "b"\n',
    'task_close = "escape"\n',  # T no longer closes the Tasks view, escape still does
    'zoom = "enter, z"\n',
    'zoom = "enter"\n',
    'order = "left"\n',  # the fleet table fits its width: left and right are free
    'task_add = "tab"\n',  # the Tasks view's own binding wins over focus movement there
    'quit = "ctrl+q"\n',
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_a_key_moved_with_the_action_that_had_it_is_accepted(body: str) -> None:
    assert keys_of(body)


def test_key_names_are_textuals_own() -> None:
    """The pure core names a key as Textual will once the keymap is applied (`?` is `question_mark`),
    so two spellings of one key are seen as one."""
    for key in [*string.printable.strip(), "ctrl+r", "f5", "space", "é", "€", "§", "ß", "½"]:
        assert [name for _, name in key_names(key)] == _normalize_key_list(key).split(","), key


def test_the_ids_are_the_bindings_and_each_view_says_its_own() -> None:
    ids = {view.name: {a.id for a in view.actions} for view in VIEWS}
    assert {b.id for b in MissionControlApp.BINDINGS} == ids["the fleet view"]
    assert {b.id for b in TasksScreen.BINDINGS} == ids["the Tasks view"]
    assert {b.id for b in DiffScreen.BINDINGS} == ids["the diff view"]
    assert all(i.startswith("task_") for i in ids["the Tasks view"]) and all(i.startswith("diff_") for i in ids["the diff view"])
    assert not any(i.startswith(("task_", "diff_")) for i in ids["the fleet view"])
    assert len(KEY_ACTIONS) == len(set(KEY_ACTIONS))


def names(actions: RecordingActions) -> list[str]:
    return [c[0] for c in actions.calls]


async def test_swapped_fleet_keys_act_and_the_help_lists_them() -> None:
    actions = RecordingActions()
    app = create_app(source=FixedSource(FleetSnapshot.from_json(DATA["snapshot"]), tails=DATA["tails"]), actions=actions,
                     live=False, clock=lambda: DATA["now"], bell=False, keys=keys_of('pause = "r"\nresume = "p"\n'))
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        assert names(actions) == ["toggle_pause"]
        await pilot.press("p")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert names(actions).count("toggle_pause") == 1, actions.calls  # p resumes now, it pauses nothing
        while len(app.screen_stack) > 1:  # resume may ask first
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        listed = dict(app.screen.bindings_list)
        assert listed["r"] == "Pause/continue" and listed["p"] == "Resume", listed


async def test_the_tasks_views_keys_are_rebound_and_listed_by_its_help() -> None:
    board = RecordingBoard()
    source = FixedSource(fleet_snapshot(), tails=DATA["tails"], board=fixed_board())
    keys = keys_of('task_add = "A"\ntask_priority = "x"\ntask_cancel = "p"\n')
    app = create_app(source=source, live=False, clock=lambda: DATA["now"], bell=False, board=board, keys=keys)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        await pilot.pause()
        tasks = app.screen
        assert isinstance(tasks, TasksScreen)
        from textual.widgets._footer import FooterKey

        footer = {k.key_display: k.description for k in tasks.query(FooterKey)}
        assert footer.get("A") == "Add" and footer.get("x") == "Prio" and footer.get("p") == "Cancel", footer
        await pilot.press("a")  # no longer add
        await pilot.pause()
        assert app.screen is tasks
        await pilot.press("A")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TaskAddScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("x")  # priority now
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TextPromptScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("p")  # cancel now: asks first
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        listed = dict(app.screen.bindings_list)
        assert listed["A"] == "Add task" and listed["x"] == "Change priority" and listed["p"] == "Cancel task", listed
        assert "a" not in listed
    assert board.calls == []


async def test_the_diff_views_keys_are_rebound_and_listed_by_its_help() -> None:
    actions = DiffActions(small_diff())
    app = create_app(source=FixedSource(FleetSnapshot.from_json(DATA["snapshot"]), tails=DATA["tails"]), actions=actions,
                     live=False, clock=lambda: DATA["now"], bell=False,
                     keys=keys_of('diff_next = "f"\ndiff_previous = "b"\n'))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        first = screen.query_one(DiffLines).file.path
        await pilot.press("n")  # no longer next
        await pilot.pause()
        assert screen.query_one(DiffLines).file.path == first
        await pilot.press("f")
        await pilot.pause()
        assert screen.query_one(DiffLines).file.path != first
        await pilot.press("b")
        await pilot.pause()
        assert screen.query_one(DiffLines).file.path == first
        await pilot.press("question_mark")
        await pilot.pause()
        listed = dict(app.screen.bindings_list)
        assert listed["f"] == "Next file" and listed["b"] == "Previous file", listed


WIDE_DIFF = "".join(
    f"diff --git a/{name} b/{name}\nnew file mode 100644\n--- /dev/null\n+++ b/{name}\n@@ -0,0 +1,300 @@\n"
    + "".join(f"+line_{i} = {'x' * 300}\n" for i in range(300)) for name in ("wide.py", "wider.py"))
"""Two files taller and wider than the view: its scroll keys have somewhere to go."""

PROBE = {"the fleet view": "order", "the Tasks view": "task_add", "the diff view": "diff_send"}
"""The action each view's probe binds to a key: its effect is easy to see (the order flips, a dialog opens)."""

TAKEN = [(view.name, name) for view in VIEWS for t in view.taken for _, name in key_names(t.keys)]


async def probe_runs(view: str, key: str) -> bool:
    """Bind the view's probe action to `key` (past the config check), press it there: did it run?"""
    from mission_control.core.diff import BranchDiff, parse_diff
    from mission_control.ui.widgets.agent_table import AgentTable

    keys = {PROBE[view]: key, **({"zoom": "z"} if key == "enter" else {})}
    actions = DiffActions(BranchDiff(agent="coder", branch="b", base="main", files=parse_diff(WIDE_DIFF)))
    app = create_app(source=FixedSource(fleet_snapshot(), tails=DATA["tails"], board=fixed_board()), actions=actions,
                     live=False, clock=lambda: DATA["now"], bell=False, board=RecordingBoard(), keys=keys)
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        if view == "the Tasks view":
            await pilot.press("T")
        elif view == "the diff view":
            await loaded(pilot, app)
            if key == "enter":  # the file list's key: on the file list
                app.screen.query_one("#diff-files").focus()
        await pilot.pause()
        screen, order = app.screen, app.query_one(AgentTable).attention_first
        await pilot.press(key)
        await pilot.pause()
        return app.screen is not screen or app.query_one(AgentTable).attention_first != order or not app.is_running and key != "ctrl+q"


@pytest.mark.parametrize("view, key", TAKEN, ids=[f"{v.split()[1]}-{k}" for v, k in TAKEN])
async def test_a_taken_key_really_is_taken_where_the_table_says(view: str, key: str) -> None:
    """`View.taken` is measured: an action bound there past the check never runs (so the check
    refuses nothing that would have worked) — and the same probe on a free key does run."""
    assert not await probe_runs(view, key)


@pytest.mark.parametrize("view", list(PROBE))
async def test_the_probe_runs_on_a_free_key(view: str) -> None:
    assert await probe_runs(view, "f5")


NAVIGATION = ("up", "down", "left", "right", "home", "end", "pageup", "pagedown", "ctrl+pageup", "ctrl+pagedown",
              "ctrl+home", "ctrl+end", "j", "k", "enter", "space", "tab", "shift+tab", "ctrl+q")
"""The keys Textual's tables, lists and scrolling views bind, and tab's focus movement and ctrl+q."""
FREE = [(view, key) for view in PROBE for key in NAVIGATION if (view, key) not in TAKEN]


@pytest.mark.parametrize("view, key", FREE, ids=[f"{v.split()[1]}-{k}" for v, k in FREE])
async def test_a_navigation_key_not_in_the_table_is_free_there(view: str, key: str) -> None:
    """The other half of the measure: what the check lets through does run."""
    assert await probe_runs(view, key)
