"""The event stream and the snapshot stream (issue 20 point 3): `events [--json] [--follow]
[--since SEQ]` and `status --json --watch`, as real subprocesses against a real fleet on a
throwaway tmux socket; the store's one sequence, its migration and its retention."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from helpers import Cli, retry_until, run_cli, shell_agent, up

from mission_control.adapters.store import EVENTS_PRUNED_KEY, RETENTION_SECONDS, SCHEMA_VERSION, Store
from mission_control.core.events import event_json, event_line, resume_note
from mission_control.core.tasks import Task
from mission_control.fleet.locate import load_config


# ------------------------------------------------------------------ the store: one sequence over every kind


def test_every_kind_of_event_gets_the_next_number_of_one_sequence(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.record_status_change("a", "WORKING", "WAITING", "asks", "ev", at=10.0)
    store.log_action("cli", "pause", "a", "by you", "paused a")
    store.add_task(lambda board: Task("t1", "do it", created_at=11.0, created_by="cli"))
    store.record_budget_event("a", "over", 5.5, 5.0, at=12.0)
    events = store.events_since(0)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["kind"] for e in events] == ["status", "action", "task", "budget"]
    assert events[0] | {"at": 0} == {"seq": 1, "at": 0, "kind": "status", "agent": "a", "old": "WORKING",
                                     "new": "WAITING", "reason": "asks"}
    assert events[2]["task"] == "t1" and events[2]["event"] == "add" and events[2]["state"] == "queued"
    assert events[3] | {"at": 0} == {"seq": 4, "at": 0, "kind": "budget", "agent": "a", "state": "over",
                                     "cost_usd": 5.5, "budget_usd": 5.0}
    assert store.events_since(2) == events[2:]
    assert store.events_since(1, limit=2) == events[1:3]
    assert store.event_bounds() == (0, 4)


def test_an_older_store_gets_the_stream_with_its_history_numbered_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    store.log_action("cli", "up", None, "", "ok")  # at: now (after the status change below)
    store.record_status_change("a", None, "STARTING", "", "", at=5.0)
    store.close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE events; DROP TRIGGER status_changes_event; DROP TRIGGER actions_event;"
                       " DROP TRIGGER task_events_event; UPDATE meta SET value='5' WHERE key='schema_version';")
    conn.close()
    again = Store(path)
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert [(e["seq"], e["kind"]) for e in again.events_since(0)] == [(1, "status"), (2, "action")]
    again.log_action("cli", "pause", "a", "", "ok")  # the triggers are back: the next number
    assert [e["seq"] for e in again.events_since(2)] == [3]
    assert Store(path).events_since(0) == again.events_since(0)  # opening a current store adds nothing


def test_retention_drops_events_with_their_rows_and_says_up_to_where(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    now = 10 * RETENTION_SECONDS
    old = now - RETENTION_SECONDS - 10
    store.record_status_change("a", None, "WORKING", "", "", at=old)
    store.record_budget_event(None, "warn", 8.0, 10.0, at=old)
    store.record_status_change("a", "WORKING", "IDLE", "", "", at=now)
    store.record_budget_event(None, "over", 10.0, 10.0, at=now)
    dropped = store.prune(now)
    assert dropped["events"] == 2
    assert [e["seq"] for e in store.events_since(0)] == [3, 4]
    assert store.event_bounds() == (2, 4)
    assert store.get_meta(EVENTS_PRUNED_KEY) == "2"
    assert store.prune(now)["events"] == 0 and store.event_bounds() == (2, 4)  # nothing more: the mark stays


def test_a_reader_resuming_is_told_what_retention_dropped_or_that_it_is_ahead() -> None:
    assert resume_note(5, 2, 9) == (5, None)
    since, note = resume_note(1, 4, 9)
    assert since == 1 and note is not None and "events 2..4 were dropped" in note
    since, note = resume_note(20, 0, 9)
    assert since == 9 and note is not None and "past this store's latest event (9)" in note


def test_an_event_is_one_line_whatever_its_text_holds() -> None:
    event = {"seq": 7, "at": 1.5, "kind": "action", "actor": "cli", "agent": "a", "action": "send",
             "detail": "two\nlines \x1b[31m", "outcome": "ok"}
    line = event_json(event)
    assert "\n" not in line and json.loads(line)["detail"] == "two\nlines \x1b[31m"
    assert json.loads(line)["at"] == "1970-01-01T00:00:01.500+00:00"
    assert "\n" not in event_line(event) and event_line(event).split()[0] == "7"


# ------------------------------------------------------------------ a real fleet, a real follower


class Stream:
    """A long-running `mission-control ...` subprocess whose stdout lines are collected by a thread."""

    def __init__(self, cli: Cli, cfg: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission_control", *args, "-c", str(cfg)], cwd=cli.cwd, env=cli.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                         for pipe, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe: Any, into: list[str]) -> None:
        for line in pipe:
            into.append(line)

    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines)]

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: its exit code and its stderr."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=20)
        for reader in self._readers:
            reader.join(timeout=5)
        return code, "".join(self.errors)


def _ok(cli: Cli, cfg: Path, *args: str) -> str:
    r = run_cli(cli, cfg, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _events(cli: Cli, cfg: Path, *args: str) -> list[dict[str, Any]]:
    """`events --json ARGS`, parsed."""
    return [json.loads(line) for line in _ok(cli, cfg, "events", "--json", *args).splitlines()]


def _has(objs: list[dict[str, Any]], **fields: Any) -> bool:
    return any(all(o.get(k) == v for k, v in fields.items()) for o in objs)


def test_events_follow_a_scripted_sequence_and_resume_without_gap_or_duplicate(cli: Cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, shell_agent("a1", "bash") + shell_agent("a2", "bash"))
    retry_until(lambda: {r.get("status") for r in json.loads(_ok(cli, cfg, "status", "--json"))} <= {"IDLE", "WORKING"},
                message="both agents up")
    follower = Stream(cli, cfg, "events", "--json", "--follow")
    watcher = Stream(cli, cfg, "status", "--json", "--watch")
    try:
        retry_until(lambda: watcher.lines, message="the first snapshot line")
        first = json.loads(watcher.lines[0])
        assert first["session"] == "t" and {a["name"] for a in first["agents"]} == {"a1", "a2"}
        _ok(cli, cfg, "pause", "a1")
        retry_until(lambda: _has(follower.objects(), kind="status", agent="a1", new="PAUSED"), message="a1 PAUSED")
        assert _has(follower.objects(), kind="action", action="pause", agent="a1")
        retry_until(lambda: any(_has(json.loads(line)["agents"], name="a1", status="PAUSED") for line in watcher.lines),
                    message="a snapshot line with a1 PAUSED")
        _ok(cli, cfg, "task", "add", "write the docs", "--id", "docs")
        retry_until(lambda: _has(follower.objects(), kind="task", task="docs", event="add"), message="task add")
        code, err = follower.interrupt()  # Ctrl-C: a clean exit, no traceback
        assert code == 130 and "Traceback" not in err, err
        seen = follower.objects()
        last = seen[-1]["seq"]
        # while nobody follows: resume, finish the task, a2 changes status
        _ok(cli, cfg, "resume", "a1")
        _ok(cli, cfg, "task", "done", "docs")
        _ok(cli, cfg, "pause", "a2")
        retry_until(lambda: _has(_events(cli, cfg, "--since", str(last)), kind="status", agent="a2", new="PAUSED"),
                    message="a2 PAUSED")
        resumed = Stream(cli, cfg, "events", "--json", "--follow", "--since", str(last))
        retry_until(lambda: _has(resumed.objects(), kind="status", agent="a1", old="PAUSED"), message="a1 resumed")
        _ok(cli, cfg, "resume", "a2")
        retry_until(lambda: _has(resumed.objects(), kind="status", agent="a2", old="PAUSED"), message="a2 resumed")
        code, err = resumed.interrupt()
        assert code == 130 and "Traceback" not in err, err
        after = resumed.objects()
        seqs = [o["seq"] for o in seen + after]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs  # every number once: no gap, no duplicate
        assert _has(after, kind="task", task="docs", event="done")
        assert _has(after, kind="action", action="continue", agent="a1")
        assert all(o["at"].endswith("+00:00") for o in seen + after)
        history = _events(cli, cfg)
        assert [o for o in history if o["seq"] >= seqs[0]][:len(seqs)] == seen + after  # the same events, whenever read
        code, err = watcher.interrupt()
        assert code == 130 and "Traceback" not in err, err
        assert all(json.loads(line)["agents"] for line in watcher.lines)
    finally:
        for stream in (follower, watcher):
            if stream.proc.poll() is None:
                stream.proc.kill()
        run_cli(cli, cfg, "down")


def test_a_closed_pipe_a_stopped_supervisor_and_a_pruned_seq_are_one_line_each(cli: Cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, shell_agent("a1", "bash"))
    try:
        follower = Stream(cli, cfg, "events", "--follow")
        _ok(cli, cfg, "pause", "a1")
        retry_until(lambda: any(" pause a1" in line for line in follower.lines), message="a human line for pause")
        _ok(cli, cfg, "down")  # the fleet goes down: the follower says so once and goes on
        retry_until(lambda: any(" down " in line for line in follower.lines), message="the down action")
        retry_until(lambda: any("its supervisor is not running" in line for line in follower.errors),
                    message="one line: the supervisor stopped")
        code, err = follower.interrupt()
        assert code == 130 and "Traceback" not in err and err.count("\n") == 1, err
        # `| head -1` on a fleet that is down (no event will come): the follower sees its reader gone, quietly
        for args in ("events --json --follow --since 0", "status --json --watch"):
            pipe = subprocess.run(f"{sys.executable} -m mission_control {args} -c {cfg} | head -1; echo ${{PIPESTATUS[0]}} >&2",
                                  shell=True, executable="/bin/bash", cwd=cli.cwd, env=cli.env(), capture_output=True,
                                  text=True, timeout=30)
            assert pipe.stderr == "141\n" and json.loads(pipe.stdout), (args, pipe.stderr)
        # an old seq retention has dropped: said in one line, then the oldest kept
        conn = sqlite3.connect(load_config(cfg).store_path)
        conn.execute("DELETE FROM events WHERE seq <= 2")
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '2')", (EVENTS_PRUNED_KEY,))
        conn.commit()
        conn.close()
        r = run_cli(cli, cfg, "events", "--json", "--since", "1")
        assert r.returncode == 0 and r.stderr.count("\n") == 1 and "events 2..2 were dropped" in r.stderr, r.stderr
        assert json.loads(r.stdout.splitlines()[0])["seq"] == 3
        r = run_cli(cli, cfg, "events", "--since", "-4")
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        r = run_cli(cli, cfg, "status", "--watch")
        assert r.returncode == 2 and "status --json --watch" in r.stderr
    finally:
        run_cli(cli, cfg, "down")


def test_no_store_is_one_line(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "agents.toml"
    cfg.write_text('[mission]\nsession = "never"\n' + shell_agent("a", "bash"))
    for args in (("events",), ("events", "--follow"), ("status", "--json", "--watch")):
        r = run_cli(cli, cfg, *args)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "never run" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not os.environ.get("MISSION_CONTROL_DEBUG")
