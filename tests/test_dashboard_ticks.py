"""The dashboard's cost per tick follows what changed (issue 18 item 1): rows of unchanged agents
are not rendered again, the cursor stays on its agent, and what the table keeps is bounded."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, AsyncIterator

from test_dashboard import DATA, fixed_app
from textual.widgets import DataTable

from mission_control.core.model import FleetSnapshot, Status
from mission_control.ui.messages import FleetObserved
from mission_control.ui.widgets.agent_table import DATATABLE_CACHES, AgentTable


@asynccontextmanager
async def quiet_app() -> AsyncIterator[tuple[Any, Any, AgentTable]]:
    """The dashboard on the fixed fleet, running at 170x42 with its bell silenced: (app, pilot, table)."""
    app = fixed_app()
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        yield app, pilot, app.query_one(AgentTable)


def changed_copy(snap: FleetSnapshot, **by_name: dict) -> FleetSnapshot:
    return replace(snap, agents=tuple(replace(a, **by_name[a.name]) if a.name in by_name else a for a in snap.agents))


async def test_only_rows_of_changed_agents_are_rendered_again() -> None:
    async with quiet_app() as (app, pilot, table):
        rendered: list[str] = []
        original = DataTable._render_line

        def counting(self, y, *args, **kwargs):  # type: ignore[no-untyped-def]
            rendered.append(self._get_offsets(y)[0].value)
            return original(self, y, *args, **kwargs)

        DataTable._render_line = counting  # type: ignore[method-assign]
        try:
            snap = changed_copy(app.snapshot, tester={"last_line": "built-42-files"}, coder={"cost_usd": 9.99})
            app.post_message(FleetObserved(snap, True, changed=frozenset({"tester", "coder"})))
            await pilot.pause()
            assert "$9.99" in app.export_screenshot() and "built-42-files" in app.export_screenshot()
        finally:
            DataTable._render_line = original  # type: ignore[method-assign]
        assert rendered and set(rendered) == {"tester", "coder"}, rendered
        # changed=None: the table tells by itself which agents changed
        rendered.clear()
        DataTable._render_line = counting  # type: ignore[method-assign]
        try:
            app.post_message(FleetObserved(changed_copy(snap, asker={"cost_usd": 7.77}), True))
            await pilot.pause()
            assert "$7.77" in app.export_screenshot()
        finally:
            DataTable._render_line = original  # type: ignore[method-assign]
        assert set(rendered) == {"asker"}, rendered
        assert table.row_count == len(snap.agents)


async def test_the_cursor_stays_on_its_agent_when_rows_move_come_and_go() -> None:
    async with quiet_app() as (app, pilot, table):
        table.select_agent("asker")
        await pilot.pause()
        assert table.selected == "asker"
        snap = app.snapshot
        reordered = replace(snap, agents=tuple(reversed(snap.agents)))
        app.post_message(FleetObserved(reordered, True))
        await pilot.pause()
        assert table.selected == "asker" == app.selected_name
        assert [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)] == [a.name for a in reordered.agents]
        # one agent leaves, one comes: the table shows exactly the fleet, the cursor still on asker
        newcomer = replace(snap.agents[0], name="newcomer", status=Status.IDLE)
        changed = replace(reordered, agents=tuple(a for a in reordered.agents if a.name != "tester") + (newcomer,))
        app.post_message(FleetObserved(changed, True, changed=frozenset({"tester", "newcomer"})))
        await pilot.pause()
        names = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        assert names == [a.name for a in changed.agents] and "tester" not in names
        assert table.selected == "asker"
        assert "newcomer" in app.export_screenshot()


async def test_what_the_table_keeps_is_bounded_over_many_ticks() -> None:
    """Every tick changes the text of every agent: DataTable's caches stay within the sizes they
    were cut to, and the table's own keep a few renderings per row, not one per tick."""
    async with quiet_app() as (app, pilot, table):
        snap = app.snapshot
        for k in range(60):
            agents = tuple(replace(a, last_line=f"step {k} " + "x" * k, cpu_percent=float(k), since=DATA["now"] - k,
                                   status=(Status.WORKING, Status.IDLE)[k % 2]) for a in snap.agents)
            app.post_message(FleetObserved(replace(snap, agents=agents, taken_at=snap.taken_at + k), True))
            await pilot.pause()
        for name, size in DATATABLE_CACHES.items():
            cache = getattr(table, name)
            assert cache.maxsize == size and len(cache) <= size, name
        assert len(table._lines) <= table.row_count + 1  # the rows and the header
        assert all(len(lines) <= 17 for lines in table._lines.values())
        assert all(len(r) <= 17 for r in table._rendered.values())
        assert len(table._cells) == table.row_count * len(table.columns)


def test_a_newer_snapshot_carries_what_changed_in_the_one_it_replaces() -> None:
    older = FleetObserved(None, True, changed=frozenset({"a"}))
    newer = FleetObserved(None, True, changed=frozenset({"b"}))
    assert older.can_replace(newer) and newer.changed == {"a", "b"}
    unknown = FleetObserved(None, True)
    assert newer.can_replace(unknown) and unknown.changed is None
    assert FleetObserved(None, True, changed=frozenset({"c"})).can_replace(FleetObserved(None, False)) is True


async def test_many_agents_needing_a_human_in_one_tick_get_one_notice() -> None:
    app = fixed_app()
    rang: list[int] = []
    app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        before = len(app._notifications)
        snap = app.snapshot
        waiting = replace(snap, agents=tuple(replace(a, status=Status.WAITING if a.name != "asker" else Status.STUCK) for a in snap.agents))
        app.post_message(FleetObserved(waiting, True))
        await pilot.pause()
        notices = [n.message for n in app._notifications][before:]
        assert len(notices) == 1 and notices[0].startswith(f"{len(snap.agents)} agents need you: "), notices
        assert all(a.name in notices[0] for a in snap.agents) and len(rang) == 1


async def test_plain_cells_take_a_short_path_that_renders_what_datatable_renders() -> None:
    """`AgentTable._plain_cell` must give, character for character and style for style, what
    DataTable's own rendering gives, for every plain cell, under every row style the table uses."""
    from rich.segment import Segment
    from rich.style import Style

    async with quiet_app() as (app, pilot, table):
        widths = [c.get_render_width(table) for c in table.ordered_columns]
        short = 0
        for row in range(table.row_count):
            for column, width in enumerate(widths):
                for base in (Style(), Style(bgcolor="grey15"), Style(color="red", bold=True)):
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        fast = table._plain_cell(row, column, base, width, cursor, hover)
                        if fast is None:
                            continue
                        short += 1
                        table._update_count += 1  # past DataTable's own cache
                        slow = DataTable._render_cell(table, row, column, base, width, cursor, hover)

                        def chars(lines: list[list[Segment]]) -> list[tuple[str, Style | None]]:
                            return [(ch, seg.style) for line in lines for seg in line for ch in seg.text]

                        assert chars(fast) == chars(slow), (row, column, base, cursor, hover)
        assert short > table.row_count * 3  # most cells of a row are plain text
