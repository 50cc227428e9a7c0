"""Reading a usage limit's reset from the screen, and when the agent is resumed (issue 21 point 2).

Pure functions on a fake clock: every time is given, nothing waits."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import time

import pytest

from helpers import pane_text, retry_until, rows, shell_agent, up
from mission_control.adapters.store import Store
from mission_control.core.config import load_text
from mission_control.core.model import Status
from mission_control.core.records import AgentRecord
from mission_control.core.rules import rules_for
from mission_control.core.status import ScreenFacts
from mission_control.core.limit_reset import (
    JUST_PASSED, LimitWait, countdown, find_reset, follow_limit, parse_duration, reason_with_reset, resume_due,
)
from mission_control.fleet.loop import PersonLoop

ROME = ZoneInfo("Europe/Rome")
UTC = timezone.utc


def at(zone, *args) -> float:
    return datetime(*args, tzinfo=zone).timestamp()


def when(text: str, now: float, local=UTC) -> datetime | None:
    found = find_reset(text, now, local)
    return None if found is None else datetime.fromtimestamp(found.at, UTC)


NOW = at(UTC, 2026, 11, 30, 20, 0)  # 21:00 in Rome


@pytest.mark.parametrize("text, expected", [
    # Claude Code 2.x, in the zone it printed (Rome is UTC+1 in winter): 4:50am tomorrow there
    ("You've hit your limit · resets 4:50am (Europe/Rome)", datetime(2026, 12, 1, 3, 50, tzinfo=UTC)),
    ("You've hit your session limit · resets 12:50am (America/Los_Angeles)", datetime(2026, 12, 1, 8, 50, tzinfo=UTC)),
    # Claude Code 1.x
    ("Claude usage limit reached. Your limit will reset at 9am (America/Chicago).", datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
    # no zone printed: the local one (here UTC); 9am is past today, so tomorrow
    ("Your limit will reset at 9am", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
    ("Your limit will reset at 9 PM", datetime(2026, 11, 30, 21, 0, tzinfo=UTC)),
    ("resets 23:15", datetime(2026, 11, 30, 23, 15, tzinfo=UTC)),
    ("Rate limited. Try again at 4:12 p.m. (UTC)", datetime(2026, 12, 1, 16, 12, tzinfo=UTC)),
    # relative durations count from now
    ("You've hit your usage limit. Upgrade to Pro or try again in 4h 12m.", datetime(2026, 12, 1, 0, 12, tzinfo=UTC)),
    ("Please try again in 20s.", datetime(2026, 11, 30, 20, 0, 20, tzinfo=UTC)),
    ("try again in 2 hours and 5 minutes", datetime(2026, 11, 30, 22, 5, tzinfo=UTC)),
    ("resets in 1d 2h", datetime(2026, 12, 1, 22, 0, tzinfo=UTC)),
    # a dated reset (weekly limits)
    ("You've hit your weekly limit · resets Dec 3, 10am (Europe/Rome)", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
    ("■ You've hit your usage limit. Upgrade to Pro or try again at Dec 3rd, 2026 4:12 PM.", datetime(2026, 12, 3, 16, 12, tzinfo=UTC)),
    ("You've hit your weekly limit · resets Dec 2 at 9am", datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),
])
def test_a_printed_reset_is_read_in_its_zone(text: str, expected: datetime) -> None:
    assert when(text, NOW) == expected


@pytest.mark.parametrize("text", [
    "rate limit or quota", "resets 3 things", "reset at 25:00", "resets 13pm", "try again later",
    "resets 4:50am (Not/AZone)x",  # a zone that is not one reads as local, never a crash
])
def test_no_time_no_reset_and_no_crash(text: str) -> None:
    found = find_reset(text, NOW, UTC)
    assert found is None or text.endswith("x")


def test_the_local_zone_is_used_when_none_is_printed() -> None:
    # 21:00 in Rome; "resets 10pm" is in an hour there, not in UTC's 22:00 (two hours)
    assert when("resets 10pm", NOW, ROME) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)


def test_a_time_past_today_is_tomorrow_unless_it_just_passed() -> None:
    assert JUST_PASSED == 600
    assert when("resets 7:55pm", NOW) == datetime(2026, 11, 30, 19, 55, tzinfo=UTC)  # 5 min ago: just passed, due now
    assert when("resets 7:30pm", NOW) == datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # 30 min ago: tomorrow's
    assert when("resets 6pm", NOW) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_a_date_early_next_year_is_next_years_and_one_far_away_is_not_waited_for() -> None:
    assert when("resets Jan 2 at 9am", at(UTC, 2026, 12, 30, 20, 0)) == datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    assert when("resets Jan 20 at 9am", at(UTC, 2026, 12, 30, 20, 0)) is None  # beyond MAX_AHEAD: a misread


def test_a_daylight_saving_night_keeps_the_wall_clock_time() -> None:
    # the night Rome goes back from UTC+2 to UTC+1: 4:50am the next morning is 03:50 UTC
    now = at(ROME, 2026, 10, 24, 22, 0)
    assert when("resets 4:50am (Europe/Rome)", now) == datetime(2026, 10, 25, 3, 50, tzinfo=UTC)


def test_the_last_message_on_screen_wins() -> None:
    text = "You've hit your limit · resets 4:50am (Europe/Rome)\n...\nYou've hit your limit · resets 9am (Europe/Rome)"
    assert when(text, NOW) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_durations() -> None:
    assert parse_duration("4h 12m") == 4 * 3600 + 12 * 60
    assert parse_duration("1 day, 3 hours and 2 mins") == 86400 + 3 * 3600 + 120
    assert parse_duration("soon") is None


def test_the_reason_says_when_and_the_countdown_reads_well() -> None:
    found = find_reset("You've hit your limit · resets 4:50am (Europe/Rome)", NOW, UTC)
    assert reason_with_reset("rate limit or quota", found, UTC) == "rate limit or quota · resets 04:50 Europe/Rome"
    relative = find_reset("try again in 90m", NOW, ROME)
    assert reason_with_reset("rate limit or quota", relative, ROME) == "rate limit or quota · resets 22:30"
    assert reason_with_reset("rate limit or quota", find_reset("try again in 20s", NOW, UTC), UTC) == "rate limit or quota · resets 20:00:20"
    assert [countdown(s) for s in (-3, 0, 42, 185, 4 * 3600 + 12 * 60)] == ["now", "now", "42s", "3m05s", "4h12m"]


def test_a_duration_is_anchored_where_it_was_first_seen() -> None:
    """`try again in 2m` on every tick would push the reset back forever: the same message keeps its wait."""
    first = follow_limit(None, find_reset("try again in 2m", NOW, UTC), NOW, margin=30)
    later = follow_limit(first, find_reset("try again in 2m", NOW + 50, UTC), NOW + 50, margin=30)
    assert later is first and first.resume_at == NOW + 150
    other = follow_limit(first, find_reset("try again in 5m", NOW + 60, UTC), NOW + 60, margin=30)
    assert other is not first and other.seen_at == NOW + 60
    assert follow_limit(first, None, NOW + 70, margin=30) is None  # no longer on a limit: no wait


def test_resumed_at_the_reset_plus_margin_unless_the_person_acted() -> None:
    wait = LimitWait(find_reset("try again in 2m", NOW, UTC), seen_at=NOW, resume_at=NOW + 150)
    assert resume_due(wait, NOW + 149, None) is None
    assert resume_due(wait, NOW + 150, None) == "resume"
    assert resume_due(wait, NOW + 150, NOW - 5) == "resume"  # acted before the limit: not taking over
    assert resume_due(wait, NOW + 60, NOW + 10) == "skip"  # acted meanwhile: theirs now


# -- a real fleet -------------------------------------------------------------------------

LIMITED = "echo \"Rate limit reached for requests. Please try again in 4s.\"; printf '> '; read x; echo \"got: $x\"; sleep 1000"


def test_a_limited_agent_is_resumed_at_its_reset_unless_turned_off(cli, tmp_path) -> None:
    agents = shell_agent("limited", LIMITED) + shell_agent("manual", LIMITED, "auto_resume = false\n")
    cfg = up(cli, tmp_path, agents, "auto_resume_margin = 0.5\n")
    row = retry_until(lambda: (r := rows(cli, cfg).get("limited", {})).get("resume_at") and r, timeout=60,
                      message="a countdown to its resume")
    assert row["status"] == "STUCK" and row["reason"].startswith("rate limit or quota · resets ")
    manual = rows(cli, cfg)["manual"]
    assert manual["status"] == "STUCK" and "resets" in manual["reason"] and manual.get("resume_at") is None
    retry_until(lambda: "got: continue" in pane_text(cli, "limited", joined=True), timeout=60, message="resumed")
    store = Store(tmp_path / ".mission-control" / "state.db")
    logged = [a for a in store.actions(100) if a["action"] == "auto-resume"]
    assert [(a["agent"], a["actor"]) for a in logged] == [("limited", "supervisor")]
    assert "its limit reset: try again in 4s" in logged[0]["detail"]
    assert "got:" not in pane_text(cli, "manual", joined=True)  # auto_resume = false: left to the person


def test_a_person_acting_first_takes_it_over(tmp_path) -> None:
    """The wait is the supervisor's only while nobody acts on the agent: an action logged by a
    person after the limit was seen means they took over (logged, nothing typed)."""
    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n', environ={})
    store = Store(tmp_path / "state.db")
    typed: list[str] = []

    class Actions:
        def plan_resume(self, name):  # never reached: the person acted
            typed.append(name)

    loop = PersonLoop(config, store, tmux=None, actions=lambda: Actions(), say=lambda line: None, local=UTC)  # type: ignore[arg-type]
    rec = AgentRecord.of_spec(config.agents[0], pane_id="%1", launched_at=1.0)
    facts = ScreenFacts(rules_for("shell"), "Usage limit reached. Try again in 2m.\n> ")
    now = time.time()
    reason, resume_at = loop.limit(rec, Status.STUCK, "rate limit or quota", facts, now)
    assert resume_at == now + 120 + config.auto_resume_margin and "resets" in reason
    store.log_action("dashboard", "zoom", "a", "", "shown")  # looking is not taking over
    loop._resume_due({"a": rec}, now + 10)
    assert typed == [] and store.actions() and not [a for a in store.actions() if a["action"] == "auto-resume"]
    store.log_action("cli", "send", "a", "", "typed")
    loop._resume_due({"a": rec}, now + 10)
    assert typed == []
    assert [a["outcome"] for a in store.actions() if a["action"] == "auto-resume"] == ["not resumed: you acted on it since (send)"]
    assert loop.limit(rec, Status.STUCK, "rate limit or quota", facts, now + 11)[1] is None  # not again for the same limit


def test_the_dashboard_counts_down_and_counts_restarts() -> None:
    from mission_control.core.model import AgentSnapshot
    from mission_control.ui.widgets.agent_table import reason_cell, status_cell
    from mission_control.ui.widgets.detail_panel import describe

    a = AgentSnapshot(name="a", kind="shell", status=Status.STUCK, reason="rate limit or quota · resets 04:50 Europe/Rome",
                      since=900.0, resume_at=1125.0)
    assert str(reason_cell(a, 1000.0)) == "resumes in 2m05s · rate limit or quota · resets 04:50 Europe/Rome"
    assert str(reason_cell(a, 1124.5)) == "resuming now · rate limit or quota · resets 04:50 Europe/Rome"
    assert "resumes in 2m05s (at " in str(describe(a, [], 1000.0))
    plain = AgentSnapshot(name="a", kind="shell", status=Status.STUCK, reason="no progress")
    assert str(reason_cell(plain, 1000.0)) == "no progress" and "resumes" not in str(describe(plain, [], 1000.0))
    crashed = AgentSnapshot(name="a", kind="shell", status=Status.EXITED, exit_code=1, restarts=2)
    assert str(status_cell(crashed)) == "EXITED 1↻2" and "restarted 2 times" in str(describe(crashed, [], 1000.0))
    assert str(status_cell(AgentSnapshot(name="a", kind="shell", status=Status.STUCK, restarts=3))) == "STUCK ↻3"
    assert str(status_cell(AgentSnapshot(name="a", kind="shell", status=Status.EXITED, exit_code=127, restarts=3))) == "EXITED 127"


def test_a_new_supervisor_keeps_the_wait_and_does_not_resume_twice(tmp_path) -> None:
    """The wait lives in the store: a supervisor started again reads the same `try again in 2m`
    as the same limit (not two minutes more), and one already resumed is not resumed again."""
    from mission_control.core.limit_reset import wait_of_text, wait_text

    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n', environ={})
    store = Store(tmp_path / "state.db")
    rec = AgentRecord.of_spec(config.agents[0], pane_id="%1", launched_at=1.0)
    facts = ScreenFacts(rules_for("shell"), "Usage limit reached. Try again in 2m.\n> ")
    resumed: list[str] = []

    class Actions:
        def plan_resume(self, name):
            from mission_control.core.resume import ResumePlan, ResumeStep
            return ResumePlan(ResumeStep.PROMPT, "type")

        def resume(self, name, plan, why):
            resumed.append(why)
            from mission_control.fleet.actions import Outcome
            return Outcome(name, "resumed")

    def supervisor() -> PersonLoop:
        return PersonLoop(config, store, tmux=None, actions=lambda: Actions(), say=lambda line: None, local=UTC)  # type: ignore[arg-type]

    now = time.time()
    first = supervisor()
    assert first.limit(rec, Status.STUCK, "rate limit or quota", facts, now)[1] == now + 150
    first._keep_waits(["a"])
    second = supervisor()  # 100 s later, the same words on screen
    assert second.limit(rec, Status.STUCK, "rate limit or quota", facts, now + 100)[1] == now + 150
    second._resume_due({"a": rec}, now + 151)
    second._keep_waits(["a"])
    assert resumed == ["its limit reset: Try again in 2m"]
    third = supervisor()
    assert third.limit(rec, Status.STUCK, "rate limit or quota", facts, now + 160)[1] is None  # resumed already
    third._resume_due({"a": rec}, now + 170)
    assert resumed == ["its limit reset: Try again in 2m"]
    third.limit(rec, Status.WORKING, "output changing", facts, now + 180)  # it left the limit: the stored wait goes
    third._keep_waits(["a"])
    assert store.get_meta("limit_wait:a") == ""
    assert wait_of_text("{") is None and wait_of_text('{"at": "x"}') is None
    assert wait_of_text(wait_text(first.waits["a"], True)) == (first.waits["a"], True)
