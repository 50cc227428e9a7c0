"""Restart with backoff (issue 21 point 3): the pure decision on a fake clock, then a real fleet
whose scripted agent exits 1 every time, restarted until its crash loop, a clean exit left alone,
and the count surviving a supervisor restart."""

from __future__ import annotations

from pathlib import Path

from helpers import kill_hard, retry_until, role_pid, rows, run_cli, shell_agent, up
from mission_control.adapters.store import Store
from mission_control.core.restart import RESTART_DELAY_CAP, RESTART_WINDOW, RestartState, backoff, decide, restarted


def test_the_delay_doubles_up_to_its_cap() -> None:
    assert [backoff(5, n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert RESTART_DELAY_CAP == 300
    assert backoff(1000, 0) == 1000  # a delay above the cap is the person's choice


def test_decisions_on_a_fake_clock() -> None:
    state, now = RestartState(), 1000.0
    d, state = decide("on-failure", 0, 1.0, state, now, 5, 3)
    assert d.action == "none"  # a clean exit under on-failure stays EXITED
    d, state = decide("never", 1, 1.0, state, now, 5, 3)
    assert d.action == "none"
    d, state = decide("on-failure", 1, 1.0, state, now, 5, 3)
    assert (d.action, d.at) == ("wait", now + 5)
    d, state = decide("on-failure", 1, 1.0, state, now + 4.9, 5, 3)  # the delay counts from the first sight
    assert d.action == "wait"
    d, state = decide("on-failure", 1, 1.0, state, now + 5, 5, 3)
    assert d.action == "restart"
    state = restarted(state, now + 5)
    d, state = decide("on-failure", 2, 2.0, state, now + 6, 5, 3)  # the next run failed: twice the delay
    assert (d.action, d.at) == ("wait", now + 16)
    state = restarted(state, now + 16)
    state = restarted(state, now + 40)
    d, state = decide("on-failure", 2, 4.0, state, now + 41, 5, 3)
    assert (d.action, d.recent) == ("give-up", 3)
    assert state.total == 3
    # ten minutes on, the old restarts no longer count
    d, state = decide("always", 0, 5.0, state, now + 40 + RESTART_WINDOW, 5, 3)
    assert d.action == "wait" and d.recent == 0 and state.total == 3


def test_the_state_round_trips_and_a_damaged_one_starts_afresh() -> None:
    state = RestartState((1.0, 2.5), 7, 3.0, 4.0)
    assert RestartState.from_text(state.to_text()) == state
    for bad in (None, "", "{", "[]", '{"restarts": "x"}', '{"total": "many"}'):
        assert RestartState.from_text(bad) == RestartState()


# -- a real fleet -------------------------------------------------------------------------


def actions(cfg: Path, agent: str, what: str = "auto-restart") -> list[dict]:
    store = Store(cfg.parent / ".mission-control" / "state.db")
    try:
        return [a for a in store.actions(500) if a["agent"] == agent and a["action"] == what]
    finally:
        store.close()


def test_an_agent_failing_every_time_is_restarted_with_backoff_then_left_as_a_crash_loop(cli, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    crasher = shell_agent("crasher", f"echo run >> {runs}; echo boom; sleep 0.2; exit 1",
                          'restart = "on-failure"\nrestart_delay = 0.5\nmax_restarts = 2\n')
    clean = shell_agent("clean", f"echo ok >> {tmp_path / 'clean'}; exit 0", 'restart = "on-failure"\nrestart_delay = 0.5\n')
    cfg = up(cli, tmp_path, crasher + clean)
    row = retry_until(lambda: (r := rows(cli, cfg).get("crasher", {})).get("status") == "STUCK" and r,
                      timeout=60, message="crash loop after two restarts")
    assert row["reason"].startswith("crash loop: failed 3 times"), row
    assert row["restarts"] == 2 and row["exit_code"] == 1
    assert runs.read_text().count("run") == 3
    logged = actions(cfg, "crasher")
    assert [a["outcome"] for a in logged] == ["restarted crasher", "restarted crasher",
                                                 "crash loop: 2 restarts in 10 min, left alone"]
    assert "restart 1 of 2" in logged[0]["detail"] and "restart 2 of 2" in logged[1]["detail"]
    # the second restart waited twice as long as the first after its run died (0.5 s, then 1 s)
    assert "after 0.5s" in logged[0]["detail"] and "after 1s" in logged[1]["detail"]
    # the clean exit stays EXITED, never restarted
    assert rows(cli, cfg)["clean"]["status"] == "EXITED"
    assert (tmp_path / "clean").read_text() == "ok\n" and actions(cfg, "clean") == []
    # left alone: no fourth run
    retry_until(lambda: len(actions(cfg, "crasher")) == 3 and runs.read_text().count("run") == 3)


def test_the_restart_count_survives_a_supervisor_restart(cli, tmp_path: Path) -> None:
    """The count lives in the store: a new supervisor gives up after the same two restarts (a
    count lost with the old one would let it restart twice more: four runs)."""
    runs = tmp_path / "runs"
    body = shell_agent("crasher", f"echo run >> {runs}; sleep 0.3; exit 2", 'restart = "always"\nrestart_delay = 2\nmax_restarts = 2\n')
    cfg = up(cli, tmp_path, body)
    retry_until(lambda: len(actions(cfg, "crasher")) >= 1, timeout=60, message="a first restart")
    kill_hard(role_pid(cli, "supervisor"))
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0  # brings the supervisor back
    row = retry_until(lambda: (r := rows(cli, cfg).get("crasher", {})).get("status") == "STUCK" and r, timeout=60)
    assert row["restarts"] == 2 and runs.read_text().count("run") == 3, (row, runs.read_text())


def test_an_agent_the_person_killed_is_not_restarted(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, shell_agent("worker", "echo up; sleep 1000", 'restart = "always"\nrestart_delay = 0.2\n'))
    retry_until(lambda: rows(cli, cfg).get("worker", {}).get("pid"), timeout=60)
    assert run_cli(cli, cfg, "kill", "worker").returncode == 0
    retry_until(lambda: actions(cfg, "worker"), timeout=60, message="the policy's decision logged")
    assert [a["outcome"] for a in actions(cfg, "worker")] == ["not restarted: you killed it"]
    assert rows(cli, cfg)["worker"]["status"] == "EXITED"


def test_a_fresh_fleet_forgets_the_restarts(tmp_path: Path) -> None:
    from mission_control.adapters.store import LIMIT_KEY, RESTART_KEY

    store = Store(tmp_path / "state.db")
    store.set_meta(RESTART_KEY + "a", RestartState((1.0,), 1).to_text())
    store.set_meta(LIMIT_KEY + "a", "{}")
    store.set_meta("restart", "kept")  # a key that is no agent's
    store.reset_fleet()
    assert store.get_meta(RESTART_KEY + "a") is None and store.get_meta(LIMIT_KEY + "a") is None
    assert store.get_meta("restart") == "kept"
