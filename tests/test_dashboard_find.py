"""The dashboard's answer keys and finding an agent (issue 21, points 1 and 6), with Textual's pilot
on fixed data: the prompt line says what each key sends and the keys send exactly that (to the
actions port, which re-reads the screen itself: tests/test_answer.py); `/` filters, `g` goes to an
agent, esc clears; snapshots of both at 80x24 and 120x40; a tick with a filter on 300 agents
renders only the changed rows in sight."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_dashboard import DATA, RecordingActions, screen_text
from textual.widgets import DataTable

from mission_control.core.model import FleetSnapshot, Status
from mission_control.ui.app import create_app
from mission_control.ui.messages import FleetObserved
from mission_control.ui.source import FixedSource
from mission_control.ui.widgets.agent_table import AgentTable
from mission_control.ui.widgets.find_bar import FindBar, jump_target
from mission_control.ui.widgets.prompt_bar import PromptBar

ASKER_SCREEN = (
    "Applied edit to migrations/0004_orders.py\n"
    "Commit 8c1e2aa asker: add orders\n"
    "Run the migration against the shared staging database? (Y)es/(N)o/(D)on't ask again [Yes]:"
)


def answer_app(actions: RecordingActions | None = None, keys: dict[str, str] | None = None, size_agents: int = 0):
    snap = FleetSnapshot.from_json(DATA["snapshot"])
    tails = dict(DATA["tails"], asker=ASKER_SCREEN)
    return create_app(source=FixedSource(snap, tails=tails), actions=actions or RecordingActions(), live=False,
                      clock=lambda: DATA["now"], keys=keys, bell=False)


def answers(actions: RecordingActions) -> list[tuple]:
    return [(c[1], c[2]["expected"].question) for c in actions.calls if c[0] == "answer"]


async def select(app, pilot, name: str) -> None:
    await pilot.press("g", *name, "enter")
    await pilot.pause()
    assert app.selected_name == name


async def test_the_prompt_line_shows_what_each_key_sends_and_the_keys_send_it() -> None:
    actions = RecordingActions()
    app = answer_app(actions)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.query_one(PromptBar)
        assert not bar.display  # coder is WORKING: no prompt line
        await pilot.press("1", "y")
        await pilot.pause()
        assert answers(actions) == []
        await select(app, pilot, "asker")
        assert bar.display and bar.prompt is not None
        text = "\n".join(screen_text(app))
        assert "asker asks: Run the migration against the shared staging database?" in text
        assert " 1  Yes ·  2  No ·  3  Don't ask again   y  = 1   N  = 2" in text
        await pilot.press("y")
        await pilot.press("N")
        await pilot.press("3")
        await pilot.press("7")  # offered nothing: nothing sent
        await app.workers.wait_for_complete()
        await pilot.pause()
    question = "Run the migration against the shared staging database?"
    assert answers(actions) == [(("asker", "1"), question), (("asker", "2"), question), (("asker", "3"), question)]


async def test_n_stays_next_attention_and_answer_keys_are_rebindable() -> None:
    """`n` goes to the next agent needing you (it never answers); `N` answers no, unless rebound."""
    actions = RecordingActions()
    app = answer_app(actions, keys={"answer_no": "x", "answer_yes": "Y"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n")  # coder -> notifier (STUCK)
        await pilot.pause()
        assert app.selected_name == "notifier"
        await pilot.press("n")
        await pilot.pause()
        assert app.selected_name == "asker"
        text = "\n".join(screen_text(app))
        assert " Y  = 1   x  = 2" in text
        await pilot.press("n")  # on to the next needing you, nothing answered
        await pilot.press("N", "y")  # no longer bound
        await pilot.pause()
        assert app.selected_name == "notifier" and answers(actions) == []
        await pilot.press("n", "x")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert [a[0] for a in answers(actions)] == [("asker", "2")]


async def test_a_waiting_agent_without_a_readable_prompt_says_to_zoom() -> None:
    actions = RecordingActions()
    snap = FleetSnapshot.from_json(DATA["snapshot"])
    app = create_app(source=FixedSource(snap, tails={"asker": "thinking about it\n> "}), actions=actions, live=False,
                     clock=lambda: DATA["now"], bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await select(app, pilot, "asker")
        assert "asker: no options I can read (yes/no question) · z to answer in its pane" in "\n".join(screen_text(app))
        await pilot.press("1")
        await pilot.pause()
    assert answers(actions) == []


def test_jump_target() -> None:
    names = ["coder", "tester", "test-2", "asker"]
    assert jump_target(names, "test-2") == "test-2"
    assert jump_target(names, "TE") == "tester"
    assert jump_target(names, "sk") == "asker"
    assert jump_target(names, "") is None and jump_target(names, "zz") is None


async def test_filter_by_name_kind_status_or_task_and_esc_clears() -> None:
    app = answer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(AgentTable)

        def rows() -> list[str]:
            return [k.value for k in table.rows]

        await pilot.press("slash", *"waiting")
        await pilot.pause()
        assert rows() == ["asker"] and app.selected_name == "asker"
        for text, want in (("codex", ["tester"]), ("digest", ["notifier"]), ("er", ["coder", "tester", "notifier", "asker"]),
                           ("er idle", ["tester"]), ("nobody", [])):
            await pilot.press(*["backspace"] * 12, *text)
            await pilot.pause()
            assert rows() == want, text
        assert app.selected_name is None  # nothing is selected behind an empty filter: keys act on no hidden agent
        await pilot.press(*["backspace"] * 12, *"stuck", "enter")
        await pilot.pause()
        assert rows() == ["notifier"] and table.has_focus
        assert "filter 'stuck': 1 of 5 agents · / edits · esc clears" in "\n".join(screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert rows() == ["coder", "tester", "notifier", "asker", "local"]
        assert not app.query_one(FindBar).display
        # esc while typing also clears
        await pilot.press("slash", "l", "o", "c", "escape")
        await pilot.pause()
        assert len(rows()) == 5 and not app.query_one(FindBar).display


async def test_go_to_an_agent_even_one_the_filter_hides() -> None:
    app = answer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("g", "l", "o")
        await pilot.pause()
        assert app.selected_name == "local"  # as you type
        await pilot.press("enter")
        await pilot.press("slash", *"codex", "enter", "g", *"ask", "enter")
        await pilot.pause()
        assert app.selected_name == "asker" and not app.query_one(AgentTable).filter_words


FILTER_VIEWS = {
    "filtered": ("slash", *"er idle", "enter"),
    "typing-filter": ("slash", *"wait"),
    "prompt-line": ("g", *"asker", "enter"),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", list(FILTER_VIEWS))
def test_find_and_answer_snapshot(snap_compare, view: str, size: tuple[int, int]) -> None:
    app = answer_app()

    async def keys(pilot) -> None:
        await pilot.pause()
        await pilot.press(*FILTER_VIEWS[view])
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=keys)


async def test_a_tick_under_a_filter_on_300_agents_renders_only_changed_rows_in_sight() -> None:
    base = FleetSnapshot.from_json(DATA["snapshot"]).agents[0]
    agents = tuple(replace(base, name=f"agent-{i:03d}", status=Status.WAITING if i % 3 == 0 else Status.WORKING,
                           task=f"task {i}") for i in range(300))
    snap = replace(FleetSnapshot.from_json(DATA["snapshot"]), agents=agents)
    app = create_app(source=FixedSource(snap), live=False, clock=lambda: DATA["now"], bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"waiting", "enter")
        await pilot.pause()
        table = app.query_one(AgentTable)
        assert table.row_count == 100
        rendered: list[str] = []
        original = DataTable._render_line

        def counting(self, y, *args, **kwargs):  # type: ignore[no-untyped-def]
            rendered.append(self._get_offsets(y)[0].value)
            return original(self, y, *args, **kwargs)

        changed = {"agent-003": {"cost_usd": 9.99}, "agent-297": {"cost_usd": 8.88}, "agent-004": {"cost_usd": 7.77}}
        after = replace(snap, agents=tuple(replace(a, **changed[a.name]) if a.name in changed else a for a in agents))
        DataTable._render_line = counting  # type: ignore[method-assign]
        try:
            app.post_message(FleetObserved(after, True, changed=frozenset(changed)))
            await pilot.pause()
        finally:
            DataTable._render_line = original  # type: ignore[method-assign]
        # agent-003 is in sight and changed; agent-297 changed out of sight; agent-004 is filtered out
        assert set(rendered) == {"agent-003"}, rendered


async def test_a_key_given_in_keys_wins_over_a_default() -> None:
    """`answer_no = "n"` with next_attention moved away (alone, the config is refused:
    tests/test_keys_config.py): the key does one thing, the one the person chose."""
    actions = RecordingActions()
    app = answer_app(actions, keys={"answer_no": "n", "next_attention": "f"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await select(app, pilot, "asker")
        await pilot.press("n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.selected_name == "asker"
    assert [a[0] for a in answers(actions)] == [("asker", "2")]

async def test_answer_keys_do_nothing_while_a_dialog_is_open() -> None:
    actions = RecordingActions()
    app = answer_app(actions)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await select(app, pilot, "asker")
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("y", "1", "N", "slash", "g")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen" and not app.screen_stack[0].query_one(FindBar).display
    assert answers(actions) == []


async def test_keys_typed_right_after_slash_go_into_the_filter_not_to_the_action_keys() -> None:
    """A fast typist (or a paste, or keys over a slow ssh link) sends `/asker` in one burst: the
    terminal delivers all of it before the bar's input has been focused. Every key after `/` is
    filter text; none reaches the action keys (`a` moves the selected agent's task, `r` resumes)."""
    from textual import events

    actions = RecordingActions()
    app = answer_app(actions)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, char in (("slash", "/"), ("a", "a"), ("s", "s"), ("k", "k"), ("e", "e"), ("r", "r")):
            app.post_message(events.Key(key, char))  # one burst: no pause between them
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert actions.calls == []
        assert list(app.query_one(AgentTable).filter_words) == ["asker"]
        assert [a.name for a in app.query_one(AgentTable).ordered(app.snapshot)] == ["asker"]


async def test_slash_and_g_typed_in_the_filter_are_text() -> None:
    app = answer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash", "g", "slash", "x")
        await pilot.pause()
        from textual.widgets import Input

        assert app.query_one("#find-input", Input).value == "g/x"


async def test_characters_typed_right_after_t_are_the_dialogs_text_not_lost_nor_actions() -> None:
    """`t` then `please rerun` in one burst: the send dialog opens after the burst was read; its
    characters are the dialog's text (they reached the fleet view's widgets first), and none of
    them acts (`p` pauses, `r` resumes)."""
    from textual import events
    from textual.widgets import Input

    actions = RecordingActions()
    app = answer_app(actions)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.post_message(events.Key("t", "t"))
        for char in "pr rn":
            app.post_message(events.Key("space" if char == " " else char, char))
        await pilot.pause()
        await pilot.pause()
        await pilot.press("u", "n")  # and what is typed once it has the focus follows
        assert app.screen.query_one(Input).value == "pr rnun"
        assert actions.calls == []
