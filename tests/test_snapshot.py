"""Observing an agent, in its three parts: the adapter read (process tree, status file, exit
status), the CPU arithmetic and the snapshot assembly (both pure)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mission_control.adapters.pane_reading import StatusWord, read_pane
from mission_control.adapters.processes import ProcessTable
from mission_control.adapters.supervisor_lock import exit_status_file
from mission_control.adapters.tmux import PaneInfo
from mission_control.core.model import Status
from mission_control.core.progress import GitProgress
from mission_control.core.records import agent_record, parse_spec
from mission_control.core.rules import rules_with_user
from mission_control.core.snapshot import PaneFacts, Spend, agent_snapshot, cpu_percent
from mission_control.core.status import ScreenFacts, Verdict
from mission_control.core.tokens import MeterReading
from mission_control.core.model import TokenUsage


def test_cpu_percent_of_one_core_between_two_readings() -> None:
    assert cpu_percent(None, None, 3.0, 10.0) is None  # the first reading
    assert cpu_percent(1.0, 10.0, 1.5, 10.0) is None  # no time between them
    assert cpu_percent(1.0, 10.0, 1.5, 9.0) is None  # a clock that went back
    assert cpu_percent(1.0, 10.0, 1.5, 11.0) == 50.0
    assert cpu_percent(1.0, 10.0, 4.0, 12.0) == 150.0  # two cores busy
    assert cpu_percent(2.0, 10.0, 2.0001, 13.0) == 0.0


def _pane(pid: int | None, dead: bool = False, status: int | None = None) -> PaneInfo:
    return PaneInfo(session="s", window_index=0, window_name="w1", pane_id="%3", pid=pid, dead=dead, dead_status=status,
                    current_command="sh", history_size=0, width=80, height=24, agent="a", role="agent")


def test_snapshot_is_built_from_what_was_read() -> None:
    rec = agent_record(
        {"name": "a", "kind": "shell", "pane_id": "%3", "window": "w1", "launched_at": 1.0, "task": "fix it",
         "base_commit": "abc", "branch": "mc/a", "worktree": "/w", "first_launched_at": 1.0},
        parse_spec("a", "shell", {"budget_usd": 4.0}), "main")
    screen = "$ make\nbuilding with sk-secret\n$ \n"
    facts = ScreenFacts(rules_with_user("shell", []), screen)
    verdict = Verdict(status=Status.WORKING, reason="output moving", since=5.0, evidence="e", changed=False,
                      previous=None, turns=2)
    reading = MeterReading(usage=TokenUsage(input=10, output=5, cache_read=1, cache_write=0), cost_usd=1.2345678,
                           cost_source="prices", models=("m",))
    progress = GitProgress(commits=2, ahead=2, lines_added=7, recent=tuple({"sha": str(i)} for i in range(10)))
    snap = agent_snapshot(
        rec, verdict, facts, "output moving", {"WORKING": 3.04},
        PaneFacts(pid=42, window="w1", live=True, cpu_percent=12.5, rss_bytes=1000),
        Spend(reading=reading, history=(1.0,), budget_state="ok", task_id="t1", cost_at_task_start=0.2),
        progress, ("sk-secret",))
    assert (snap.name, snap.kind, snap.status, snap.since, snap.pane_id, snap.pid, snap.task, snap.budget_usd) == (
        "a", "shell", Status.WORKING, 5.0, "%3", 42, "fix it", 4.0)
    assert (snap.tokens_in, snap.tokens_out, snap.cost_usd, snap.task_id, snap.task_cost_usd) == (10, 5, 1.234568, "t1", 1.034568)
    assert (snap.cpu_percent, snap.rss_bytes, snap.window, snap.exit_code, snap.turns) == (12.5, 1000, "w1", None, 2)
    assert (snap.commits, snap.lines_added, len(snap.recent_commits), snap.time_in) == (2, 7, 8, {"WORKING": 3.0})
    assert "sk-secret" not in snap.last_line and snap.last_line.startswith("building with")
    gone = agent_snapshot(rec, verdict, None, "pane is gone", {}, PaneFacts(exit_status=3),
                          Spend(reading=None, history=(), budget_state=""), None, ())
    assert (gone.pid, gone.cost_usd, gone.task_cost_usd, gone.at_prompt, gone.exit_code, gone.commits) == (
        None, None, None, False, 3, None)


def test_read_pane_usage_and_recorded_exit(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        procs = ProcessTable()
        procs.refresh()
        read = read_pane(_pane(child.pid), procs, tmp_path, "a")
        assert read.usage is not None and child.pid in read.usage.pids and read.usage.rss_bytes > 0
        assert read.exit_status is None
    finally:
        child.kill()
        child.wait()
    assert read_pane(None, procs, tmp_path, "a").usage is None
    assert read_pane(_pane(7, dead=True, status=4), procs, tmp_path, "a").exit_status == 4
    path = exit_status_file(tmp_path, "a")  # tmux lost it: the launcher's record answers
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("7 9\n")
    assert read_pane(_pane(7, dead=True), procs, tmp_path, "a").exit_status == 9
    assert read_pane(_pane(8, dead=True), procs, tmp_path, "a").exit_status is None  # another run's launcher


def test_status_word_is_the_last_line_and_reread_only_on_change(tmp_path: Path) -> None:
    path = tmp_path / "status"
    word = StatusWord(path)
    assert word.read() == (None, None)
    path.write_text("working\n\nDONE: all green\n\n")
    text, at = word.read()
    assert text == "DONE: all green" and at == path.stat().st_mtime
    path.write_text("rewritten\n")
    os.utime(path, (at, at))  # the same mtime: not read again
    assert word.read() == (text, at)
    path.unlink()
    assert word.read() == (None, at)
