"""The dashboard, driven with Textual's pilot: fixed data, and a real store written while it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from helpers import ROOT, retry_until
from mission_control.adapters.store import Store
from mission_control.core.config import load_text
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.ui.app import create_app
from mission_control.ui.source import FixedSource
from mission_control.ui.widgets.agent_table import AgentTable
from mission_control.ui.widgets.snapshot_age import SnapshotAge

DATA = json.loads((ROOT / "tests" / "data" / "dashboard_fixed.json").read_text())


def fixed_app(alive: bool = True):
    snap = FleetSnapshot.from_json(DATA["snapshot"])
    source = FixedSource(snap, tails=DATA["tails"], alive=alive)
    return create_app(source=source, live=False, clock=lambda: DATA["now"])


def test_main_screen_snapshot(snap_compare) -> None:
    assert snap_compare(fixed_app(), terminal_size=(170, 42))


# -- small terminals (issue 14 item 5: a laptop over SSH; issue 21: 120 columns) -----------------------


def split_dashboard_size(columns: int, lines: int) -> tuple[int, int]:
    """The dashboard pane's size in the default `split` layout in a terminal of columns x lines:
    tmux's status line and the pane's border title (`pane-border-status top`) take one line each."""
    from mission_control.core.layouts import dashboard_share, parse_layout, plan

    path = ROOT / "layouts" / "split.toml"
    preset = parse_layout(path, path.read_text())
    fleet = plan(preset, ["coder", "tester", "docs", "notifier", "asker"], columns, lines - 1)[0]
    return (dashboard_share(preset, columns, lines - 1) if fleet.agents else columns), lines - 2


def test_the_split_dashboard_pane_at_80x24_and_100x30() -> None:
    assert split_dashboard_size(80, 24) == (80, 22)  # the dashboard has the first window alone
    assert split_dashboard_size(100, 30) == (45, 28)  # beside three agents


@pytest.mark.parametrize("size", [(80, 24), (120, 40), split_dashboard_size(100, 30)], ids=["80x24", "120x40", "split-pane-100x30"])
def test_small_screen_snapshot(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(fixed_app(), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), split_dashboard_size(80, 24), split_dashboard_size(100, 30), (100, 30), (120, 40), (40, 20)])
async def test_every_agent_readable_without_scrolling_sideways(size: tuple[int, int]) -> None:
    """Each agent's name, status, cost and commits in full, the totals and the key hints whole,
    and no horizontal scrollbar — at any of these sizes."""
    app = fixed_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)
        assert not table.show_horizontal_scrollbar
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert list(table.columns)[:2] == ["name", "status"] and {"cost", "commits"} <= set(table.columns)
        text = screen_text(app)
        for a in app.snapshot.agents:
            row = next(line for line in text if line.lstrip().startswith(a.name + " "))
            for cell in (str(table.get_cell(a.name, k)) for k in ("status", "cost", "commits")):
                assert cell in row and "…" not in cell, (cell, row)
        assert "commits 14" in "\n".join(text) and "EXITED 1" in "\n".join(text)
        hints = text[-1]
        assert "? Help" in hints and "…" not in hints


def screen_text(app) -> list[str]:
    """What the screen shows, line by line, as `export_screenshot` renders it but in plain text."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()



async def test_table_shows_every_agent_and_honest_unknowns() -> None:
    app = fixed_app()
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)
        assert table.row_count == 5
        row = table.get_row("local")
        assert "—" in [str(c) for c in row]  # unknown cost stays unknown
        assert str(table.get_cell("notifier", "status")) == "STUCK"
        assert str(table.get_cell("tester", "for")) == "30s"


async def test_keys_next_attention_order_and_help() -> None:
    app = fixed_app()
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)
        assert table.selected == "coder"
        await pilot.press("n")
        assert table.selected == "notifier"
        await pilot.press("n")
        assert table.selected == "asker"
        await pilot.press("n")
        assert table.selected == "notifier"
        await pilot.press("o")
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(2)] == ["notifier", "asker"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_supervisor_down_is_said_plainly() -> None:
    app = fixed_app(alive=False)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        text = str(app.query_one(SnapshotAge).render())
        assert "SUPERVISOR DOWN" in text


@pytest.mark.parametrize("alive", [True, False])
async def test_the_top_line_is_read_whole_on_a_narrow_pane(alive: bool) -> None:
    """45 columns (the split's dashboard at 100x30): the age line leaves the tick out rather than
    cut it; the supervisor-down warning wraps rather than lose its remedy."""
    app = fixed_app(alive=alive)
    async with app.run_test(size=(45, 28)) as pilot:
        await pilot.pause()
        top = " ".join(line.strip() for line in screen_text(app)[:3])
        if alive:
            assert "mission-control · snapshot 1s old" in top and "tick" not in top
        else:
            assert "run `mission-control up` to restart it" in top


async def test_live_store_updates_only_changed_cells(tmp_path: Path) -> None:
    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n', environ={})
    store = Store(config.store_path)
    now = time.time()
    store.write_snapshot(FleetSnapshot(now, "mission-control", (AgentSnapshot("a", "shell", Status.WORKING, "output changing", since=now),)))
    app = create_app(config, poll_seconds=0.05)
    async with app.run_test(size=(150, 40)) as pilot:
        table = app.query_one(AgentTable)

        async def cell(name: str) -> str:
            await pilot.pause(0.05)
            return str(table.get_cell("a", name)) if table.row_count else ""

        deadline = time.monotonic() + 10
        while await cell("status") != "WORKING" and time.monotonic() < deadline:
            pass
        assert await cell("status") == "WORKING"
        updates: list[str] = []
        original = table._set_cells

        def spy(name: str, cells: dict) -> bool:  # the cells whose text changed are put into the table
            from mission_control.ui.widgets.agent_table import cell_text

            updates.extend(k for k, v in cells.items() if table._cells.get((name, k)) != cell_text(v))
            return original(name, cells)

        table._set_cells = spy  # type: ignore[method-assign]
        store.write_snapshot(FleetSnapshot(time.time(), "mission-control", (AgentSnapshot("a", "shell", Status.STUCK, "missing KEY", since=now),)))
        deadline = time.monotonic() + 10
        while await cell("status") != "STUCK" and time.monotonic() < deadline:
            pass
        assert await cell("status") == "STUCK"
        assert "status" in updates and set(updates) <= {"status", "reason", "for"}, updates


async def test_a_tick_renders_only_the_cells_it_changed() -> None:
    """DataTable alone would render every visible cell again after any update; the table
    renders just the changed one, and shows its new value."""
    from dataclasses import replace

    from textual.widgets import DataTable

    app = fixed_app()
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)
        rendered: list[tuple[int, int]] = []
        original, plain = DataTable._render_cell, AgentTable._plain_cell

        def counting(self, row_index, column_index, *args, **kwargs):
            rendered.append((row_index, column_index))
            return original(self, row_index, column_index, *args, **kwargs)

        def counting_plain(self, row_index, column_index, *args, **kwargs):  # the short path for plain text
            rendered.append((row_index, column_index))
            return plain(self, row_index, column_index, *args, **kwargs)

        DataTable._render_cell = counting  # type: ignore[method-assign]
        AgentTable._plain_cell = counting_plain  # type: ignore[method-assign]
        try:
            snap = app.snapshot
            changed = replace(snap, agents=tuple(replace(a, cost_usd=12.34) if a.name == "tester" else a for a in snap.agents))
            table.show(changed, DATA["now"])
            await pilot.pause()
            assert "$12.34" in app.export_screenshot()
        finally:
            DataTable._render_cell = original  # type: ignore[method-assign]
            AgentTable._plain_cell = plain  # type: ignore[method-assign]
        row = [a.name for a in table.ordered(changed)].index("tester")
        column = list(table.columns).index("cost")
        assert rendered and set(rendered) == {(row, column)}, rendered


async def test_a_live_dashboard_says_the_fleet_came_back_after_a_crash(tmp_path: Path) -> None:
    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n', environ={})
    store = Store(config.store_path)
    store.log_action("up", "up", None, "1 agents", "recovered after a crash: resumed none; restarted from their task a")
    app = create_app(config, poll_seconds=0.05)
    said: list[str] = []
    app.notify = lambda text, **kw: said.append(text)  # type: ignore[method-assign]
    async with app.run_test(size=(150, 40)) as pilot:
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            await pilot.pause(0.05)
    assert said == ["fleet recovered after a crash: resumed none; restarted from their task a"]


class RecordingActions:
    """Stands in for the fleet's actions: the UI's job is to turn keys into the right requests
    (the real actions are exercised end to end in test_actions.py)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.injected: dict[str, str] = {}
        """What `injected_env` answers (names -> masked values)."""

    def needs_terminal(self) -> bool:
        return False

    def __getattr__(self, name: str):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == "plan_resume":
                from mission_control.core.resume import resume_plan

                return resume_plan(args[0], Status.STUCK, True, "continue")
            if name == "diff_stat":
                return " a.py | 2 +-"
            if name == "diff":
                from mission_control.core.diff import BranchDiff, parse_diff

                text = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
                return BranchDiff(agent=args[0], branch=f"mc/{args[0]}", base="main", files=parse_diff(text))
            if name == "injected_env":
                return dict(self.injected)
            from mission_control.fleet.actions import Outcome

            return Outcome(args[0] if args else None, f"{name} done")

        return record


async def test_enter_zooms_into_the_selected_agent() -> None:
    """The focused table takes enter as its own (select the row): it must still zoom, as the README says."""
    for keys, zooms in ((None, True), ({"zoom": "x"}, False), ({"zoom": "x,enter"}, True)):
        actions = RecordingActions()
        app = acting_app(actions, keys=keys)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("down", "enter")
            await pilot.pause()
            await app.workers.wait_for_complete()
        assert [c for c in actions.calls if c[0] == "zoom"] == ([("zoom", ("tester",), {})] if zooms else []), (keys, actions.calls)


def acting_app(actions: RecordingActions, keys: dict[str, str] | None = None):
    snap = FleetSnapshot.from_json(DATA["snapshot"])
    return create_app(source=FixedSource(snap, tails=DATA["tails"]), actions=actions, live=False, clock=lambda: DATA["now"], keys=keys)


def names(actions: RecordingActions) -> list[str]:
    return [c[0] for c in actions.calls]


async def test_keys_become_requests_for_the_selected_agent() -> None:
    actions = RecordingActions()
    app = acting_app(actions)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("n")  # the STUCK notifier
        assert app.query_one(AgentTable).selected == "notifier"
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert actions.calls[-1][:2] == ("toggle_pause", ("notifier",))

        # inject: the dialog offers the missing variable; the value goes to the action only
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "InjectEnvScreen"
        await pilot.press(*"s3cret", "enter", *"line2")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        name, args, kwargs = actions.calls[-1]
        assert name == "inject_env" and args[0] == ["notifier"]
        assert args[1].values == {"NOTIFICATION_KEY": "s3cret\nline2"}

        # resume says what it will do, and asks first
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert names(actions)[-2:] == ["plan_resume", "resume"]

        # kill asks first; "n" leaves the agent alone
        await pilot.press("K")
        await pilot.pause()
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert "kill" not in names(actions)

        # reassign: pick the first other agent (idle ones are listed first)
        await pilot.press("a")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ReassignScreen"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        name, args, kwargs = actions.calls[-1]
        assert name == "reassign" and args[0] == "notifier" and kwargs["old"] == "pause"

        await pilot.press("t")
        await pilot.pause()
        await pilot.press(*"hello", "enter")
        await app.workers.wait_for_complete()
        assert actions.calls[-1][:2] == ("send", ("notifier", "hello"))

        await pilot.press("D")
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "DiffScreen" and app.screen.diff.files[0].path == "a.py"


async def test_pause_everything_asks_first_and_says_it_in_one_line() -> None:
    actions = RecordingActions()
    app = acting_app(actions)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("P")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        running = [a for a in app.snapshot.agents if a.status.value not in ("EXITED", "PAUSED")]
        assert app.screen.question == f"Pause all {len(running)} running agents?"
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert "pause_all" not in names(actions)
        await pilot.press("P")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert names(actions)[-1] == "pause_all"

        from mission_control.fleet.actions import Outcome
        from mission_control.ui.messages import ActionFinished

        shown: list[str] = []
        app.notify = lambda text, **kw: shown.append(text)  # type: ignore[method-assign]
        outcomes = [Outcome(f"a{i}", f"paused a{i}") for i in range(9)] + [Outcome("z", "z is not running: nothing to pause", ok=False)]
        app.post_message(ActionFinished("pause all", outcomes))
        await pilot.pause()
        assert shown == ["pause all: 9 agents; failed: z is not running: nothing to pause"]


async def test_keys_can_be_rebound_from_agents_toml() -> None:
    config = load_text(Path("/tmp/agents.toml"), '[keys]\npause = "P"\npause_all = "W"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n', environ={})
    actions = RecordingActions()
    app = acting_app(actions, keys=config.keys)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert "toggle_pause" not in names(actions)
        await pilot.press("P")
        await app.workers.wait_for_complete()
        assert names(actions) == ["toggle_pause"]
        await pilot.press("question_mark")  # help lists the keys as bound now
        await pilot.pause()
        listed = dict(app.screen.bindings_list)
        assert listed.get("P") == "Pause/continue" and "p" not in listed


async def test_diagnose_key_offers_the_fix_in_one_key() -> None:
    from mission_control.core.diagnosis import rule_diagnosis

    actions = RecordingActions()
    snap = FleetSnapshot.from_json(DATA["snapshot"])

    import threading

    answer = threading.Event()  # the model takes its time; meanwhile the person moves on

    def diagnose(name: str):
        answer.wait(10)
        a = snap.agent(name)
        return rule_diagnosis(a.status.value, a.reason, a.evidence, a.kind), None

    app = create_app(source=FixedSource(snap, tails=DATA["tails"]), actions=actions, live=False, clock=lambda: DATA["now"], diagnose=diagnose)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.press("d")
        await pilot.press("down")  # another row is selected by the time the diagnosis comes
        assert app.query_one(AgentTable).selected != "notifier"
        answer.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "DiagnosisScreen"
        await pilot.press("f")  # apply: the inject dialog, with the variable filled in
        await pilot.pause()
        assert app.screen.__class__.__name__ == "InjectEnvScreen"
        assert app.screen.agent == "notifier"  # the diagnosed agent, not the one selected now
        from textual.widgets import TextArea

        assert app.screen.query_one(TextArea).text == "NOTIFICATION_KEY="


def test_every_key_is_rebindable_by_the_name_the_readme_gives() -> None:
    from mission_control.core.keys import KEY_ACTIONS
    from mission_control.ui.app import MissionControlApp
    from mission_control.ui.screens.diff_screen import DiffScreen
    from mission_control.ui.screens.tasks_screen import TasksScreen

    ids = {b.id for view in (MissionControlApp, TasksScreen, DiffScreen) for b in view.BINDINGS if getattr(b, "id", None)}
    assert ids == set(KEY_ACTIONS)
    readme = (ROOT / "README.md").read_text()
    for name in KEY_ACTIONS:
        assert f"`{name}`" in readme, name


def test_columns_fit_every_width_and_keep_the_essentials() -> None:
    from mission_control.ui.widgets.agent_table import CELL_PADDING, ESSENTIAL, PRIORITY, fit_columns

    content = {"name": 8, "kind": 6, "window": 8, "host": 5}
    essentials = fit_columns(0, content)
    floor = sum(w + CELL_PADDING for _, _, w in essentials)
    assert [k for k, _, _ in essentials] == list(ESSENTIAL)
    for width in range(floor, 260):
        columns = fit_columns(width, content)
        keys = [k for k, _, _ in columns]
        assert sum(w + CELL_PADDING for _, _, w in columns) <= width, width
        assert set(ESSENTIAL) <= set(keys)
        assert set(keys) == set(PRIORITY[: len(keys)]), keys  # what shows is always the most important
        assert all(w >= len(label) for _, label, w in columns)
    assert "window" not in [k for k, _, _ in fit_columns(300, {"name": 8})]  # one window: nothing to say
    assert [k for k, _, _ in fit_columns(300, content)][-1] == "last" and dict((k, w) for k, _, w in fit_columns(300, content))["last"] > 60


def test_the_window_column_only_when_it_tells_something() -> None:
    from dataclasses import replace

    from mission_control.ui.widgets.agent_table import content_widths

    agents = list(FleetSnapshot.from_json(DATA["snapshot"]).agents)
    assert content_widths(agents)["window"] == len("agents-2")
    assert "window" not in content_widths([replace(a, window="fleet") for a in agents])  # all in one window
    assert "window" not in content_widths([replace(a, window=a.name) for a in agents])  # the `windows` layout


def test_totals_wrap_between_whole_items() -> None:
    from mission_control.ui.widgets.totals_bar import totals_text

    snap = FleetSnapshot.from_json(DATA["snapshot"])
    wide = totals_text(snap, width=None).plain
    assert "\n" not in wide and "EXITED 1" in wide and "commits 14" in wide
    for width in (38, 43, 60, 78, 98, 118):
        lines = totals_text(snap, width=width).plain.split("\n")
        assert all(len(line) <= width for line in lines), (width, lines)
        assert " ".join(lines).split() == wide.split()  # every word still there, none cut
        assert len(lines) <= (2 if width >= 78 else 4)


def test_key_hints_shrink_whole_and_keep_help() -> None:
    from mission_control.ui.widgets.key_hints import Hint, fit_hints, hint_width

    hints = [Hint("quit", "q", "Quit"), Hint("help", "?", "Help"), Hint("next_attention", "n", "Next needing you"),
             Hint("pause", "p", "Pause/continue"), Hint("send", "t", "Send text")]
    assert fit_hints(hints, 200) == (False, hints)
    compact, shown = fit_hints(hints, 62)
    assert compact and [h.description for h in shown] == ["Quit", "Help", "Next needing you", "Pause/continue", "Send text"]
    compact, shown = fit_hints(hints, 36)
    assert [h.description for h in shown] == ["Quit", "Help", "Next", "Pause", "Send"]
    compact, shown = fit_hints(hints, 14)
    assert [h.id for h in shown] == ["quit", "help"] and sum(hint_width(h, True) for h in shown) <= 14
    assert [h.id for h in fit_hints(hints, 3)[1]] == ["help"]
    assert [h.id for h in fit_hints(hints, 35)[1]] == ["quit", "help", "next_attention", "pause"]  # the last left out


async def test_a_resize_fits_the_table_and_the_footer_again() -> None:
    """An SSH window made smaller (and larger again) while the dashboard runs."""
    app = fixed_app()
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)
        assert "rss" in table.columns and table.selected == "coder"
        await pilot.press("down")
        await pilot.resize_terminal(45, 28)
        await pilot.pause()
        await pilot.pause()
        assert list(table.columns) == ["name", "status", "cost", "commits"]
        assert not table.show_horizontal_scrollbar and table.selected == "tester"
        text = screen_text(app)
        assert text[-1].split() == ["q", "Quit", "?", "Help", "z", "Zoom", "n", "Next", "p", "Pause", "r", "Resume"]
        await pilot.resize_terminal(170, 42)
        await pilot.pause()
        await pilot.pause()
        assert "rss" in table.columns and table.selected == "tester"
        assert "Next needing you" in screen_text(app)[-1]


async def test_inject_prefills_the_variable_named_beside_the_agents_own_reason() -> None:
    """The agent said why (`STUCK: cannot continue without credentials`) and the screen named the
    variable: the reason carries both, and the inject dialog offers that variable."""
    import copy

    data = copy.deepcopy(DATA["snapshot"])
    agent = next(a for a in data["agents"] if a["name"] == "notifier")
    agent["reason"] = "reported: cannot continue without credentials (missing PAYMENTS_TOKEN)"
    agent["evidence"] = "printed: STUCK: cannot continue without credentials"
    actions = RecordingActions()
    app = create_app(source=FixedSource(FleetSnapshot.from_json(data), tails=DATA["tails"]), actions=actions, live=False, clock=lambda: DATA["now"])
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "InjectEnvScreen"
        await pilot.press(*"tok", "ctrl+s")
        await app.workers.wait_for_complete()
        name, args, _ = actions.calls[-1]
        assert name == "inject_env" and args[1].values == {"PAYMENTS_TOKEN": "tok"}


# -- every screen and dialog, as a person sees it (issue 17: a snapshot of each, at 80x24 and 120x40) ----


DIALOGS = {
    "help": ("question_mark",),
    "inject": ("n", "e"),
    "reassign": ("n", "a"),
    "spawn": ("s",),
    "spawn-copy": ("S",),
    "send": ("n", "t"),
    "diff": ("D",),
    "diagnosis": ("n", "d"),
    "confirm-kill": ("n", "K"),
    "confirm-merge": ("m",),
    "confirm-resume": ("n", "r"),
    "confirm-pause-all": ("P",),
}
"""Each screen or dialog, and the keys that open it from the main screen."""


def dialog_app():
    from mission_control.core.diagnosis import rule_diagnosis

    snap = FleetSnapshot.from_json(DATA["snapshot"])
    actions = RecordingActions()
    actions.injected = {"OPENAI_API_KEY": "sk-…(51)"}

    def diagnose(name: str):
        a = snap.agent(name)
        return rule_diagnosis(a.status.value, a.reason, a.evidence, a.kind), None

    return create_app(source=FixedSource(snap, tails=DATA["tails"]), actions=actions, diagnose=diagnose, live=False,
                      clock=lambda: DATA["now"], bell=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("dialog", list(DIALOGS))
def test_dialog_snapshot(snap_compare, dialog: str, size: tuple[int, int]) -> None:
    app = dialog_app()
    app.notify = lambda *args, **kw: None  # type: ignore[method-assign]  # toasts time out: the dialog is what is compared

    async def open_it(pilot) -> None:
        await pilot.pause()
        for key in DIALOGS[dialog]:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_it)


async def test_every_dialog_is_reached_by_its_keys() -> None:
    """What each snapshot above shows is the dialog named (a key rebound or an action renamed would
    otherwise leave it comparing the main screen)."""
    expected = {"help": "HelpScreen", "inject": "InjectEnvScreen", "reassign": "ReassignScreen", "spawn": "SpawnScreen",
                "spawn-copy": "SpawnScreen", "send": "TextPromptScreen", "diff": "DiffScreen",
                "diagnosis": "DiagnosisScreen"}
    for dialog, keys in DIALOGS.items():
        app = dialog_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for key in keys:
                await pilot.press(key)
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert app.screen.__class__.__name__ == expected.get(dialog, "ConfirmScreen"), dialog


async def test_an_action_that_fails_is_one_line_and_the_dashboard_goes_on() -> None:
    """Every worker's error reaches the one handler: a notice naming the action and why."""
    from mission_control.fleet.actions import ActionError

    class Failing(RecordingActions):
        def toggle_pause(self, name: str):
            raise ActionError(f"{name} is not running: nothing to pause")

    app = acting_app(Failing())
    shown: list[tuple[str, str]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.notify = lambda text, severity="information", **kw: shown.append((text, severity))  # type: ignore[method-assign]
        await pilot.pause()
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert shown == [("pause: coder is not running: nothing to pause", "error")]
        assert app.is_running


def test_the_real_actions_offer_all_the_dashboard_asks() -> None:
    """`create_app` wires `FleetActions` where the UI expects its `ActionsPort`: each method the port
    names exists on the real class (a rename on one side would otherwise surface only at a key press)."""
    import inspect

    from mission_control.fleet.actions import FleetActions
    from mission_control.ui.app import ActionsPort

    asked = [n for n, _ in inspect.getmembers(ActionsPort, inspect.isfunction) if not n.startswith("_")]
    assert len(asked) > 15
    assert [n for n in asked if not callable(getattr(FleetActions, n, None))] == []


def test_a_detail_read_landing_after_the_panel_lost_its_children_draws_nothing() -> None:
    """A tail read answered while the dashboard closes reached a panel whose children were gone:
    a NoMatches traceback (seen in CI); it now draws nothing."""
    from mission_control.ui.widgets.detail_panel import DetailPanel

    DetailPanel().show(None, None, [])  # no children mounted


async def test_a_fleet_read_landing_while_the_dashboard_closes_draws_nothing() -> None:
    """A snapshot answered while the app tears its screen down reached a handler whose table was
    gone: a NoMatches traceback (seen in CI, tests/test_hosts_worktree.py); it now draws nothing."""
    from mission_control.ui.messages import FleetObserved
    from mission_control.ui.widgets.agent_table import AgentTable

    snap = FleetSnapshot.from_json(DATA["snapshot"])
    app = create_app(source=FixedSource(snap, tails=DATA["tails"]), live=False, clock=lambda: DATA["now"], bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.query_one(AgentTable).remove()
        app.post_message(FleetObserved(snap, True))
        await pilot.pause()
