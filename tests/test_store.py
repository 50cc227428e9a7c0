"""The state store: private files, versioned schema, many writers at once without a lost row."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mission_control.adapters.store import SCHEMA_VERSION, Store, StoreError
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status


def test_private_and_versioned(tmp_path: Path) -> None:
    store = Store(tmp_path / "state" / "state.db")
    store.log_action("t", "x", None, "", "ok")
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    for f in (tmp_path / "state").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    store.close()
    with pytest.raises(StoreError, match="newer"):
        Store(tmp_path / "s.db")


def test_snapshot_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    snap = FleetSnapshot(time.time(), "s", (AgentSnapshot("a", "shell", Status.STUCK, "missing X", since=1_700_000_000.0, commits=3),))
    store.write_snapshot(snap)
    back = store.latest_snapshot()
    assert back is not None and back.agents[0].status is Status.STUCK and back.agents[0].commits == 3
    assert back.agents[0].since == 1_700_000_000.0


WRITER = """
import sys
from mission_control.adapters.store import Store
s = Store(sys.argv[1])
for i in range(int(sys.argv[3])):
    s.log_action(sys.argv[2], "act", None, str(i), "ok")
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"w{i}", "200"]) for i in range(4)]
    reader = Store(db)
    while any(p.poll() is None for p in procs):
        reader.latest_snapshot()  # readers run alongside
    assert all(p.returncode == 0 for p in procs)
    rows = reader.actions(limit=10_000)
    assert len(rows) == 800
    for i in range(4):
        assert [r["detail"] for r in rows if r["actor"] == f"w{i}"] == [str(n) for n in range(200)]


def test_recorded_exit_belongs_to_the_launcher_that_wrote_it(tmp_path: Path) -> None:
    """A respawn's old launcher may write its status after the new run began: matched by pid."""
    from mission_control.adapters.supervisor_lock import exit_status_file, recorded_exit

    path = exit_status_file(tmp_path, "a")
    path.parent.mkdir(parents=True)
    path.write_text("4242 3\n")
    assert recorded_exit(tmp_path, "a", 4242) == 3
    assert recorded_exit(tmp_path, "a", 4243) is None  # the new run's launcher wrote nothing yet
    assert recorded_exit(tmp_path, "b", 4242) is None


def test_agents_are_typed_records_with_their_spec(tmp_path: Path) -> None:
    """`agents()` hands back `AgentRecord`s whose spec is an `AgentSpec` (env values read back from
    their private file); a row recorded without a full spec (an old store) reads with the defaults."""
    from mission_control.core.config import AgentSpec
    from mission_control.core.records import AgentRecord

    store = Store(tmp_path / "s.db")
    spec = {"name": "a", "kind": "shell", "command": "sh -c 'echo; x'", "cwd": str(tmp_path), "worktree": True,
            "task": "t", "env": {"K": "v;$(x)"}, "resume_prompt": "go on", "resume_command": None, "budget_usd": 2.5,
            "model": None, "index": 3, "base_branch": "main"}
    store.record_agent("a", kind="shell", pane_id="%1", window="w", launched_at=5.0, task="t", branch="mc/a", spec=spec)
    store.record_agent("old", kind="shell", pane_id=None, window=None, launched_at=None, task=None)
    a, old = store.agents()
    assert isinstance(a, AgentRecord) and isinstance(a.spec, AgentSpec)
    assert (a.name, a.pane_id, a.branch, a.base_branch, a.first_launched_at) == ("a", "%1", "mc/a", "main", 5.0)
    assert (a.spec.command, a.spec.cwd, a.spec.env, a.spec.budget_usd, a.spec.index) == (
        "sh -c 'echo; x'", tmp_path, {"K": "v;$(x)"}, 2.5, 3)
    assert b"v;$(x)" not in (tmp_path / "s.db").read_bytes()
    assert (old.spec.name, old.spec.kind, old.spec.env, old.spec.budget_usd, old.base_branch) == ("old", "shell", {}, None, None)
    store.record_agent("a", kind="shell", pane_id="%2", window="w", launched_at=6.0, task="t", spec=a.spec_data())
    again = store.agents()[0]
    assert again.spec == a.spec and again.base_branch == "main" and again.pane_id == "%2"


# -- the fleet's state: rows written when they change -------------------------------------


def _agents(k: int, quiet: int = 3, busy: int = 2) -> tuple[AgentSnapshot, ...]:
    """Tick k of a small fleet: `quiet` agents that never change, `busy` ones whose last line does."""
    out = [AgentSnapshot(f"q{i}", "shell", Status.IDLE, "at its prompt", since=1000.0, time_in={"IDLE": float(k)})
           for i in range(quiet)]
    out += [AgentSnapshot(f"b{i}", "shell", Status.WORKING, since=1000.0, last_line=f"step {k // (i + 1)}",
                          time_in={"WORKING": float(k), "STARTING": 2.0}) for i in range(busy)]
    return tuple(out)


def test_a_tick_with_nothing_changed_writes_nothing_but_the_heartbeat_time(tmp_path: Path) -> None:
    from mission_control.adapters.store import StateWriter

    store = Store(tmp_path / "s.db")
    writer = StateWriter(store)
    assert writer.write(FleetSnapshot(1000.0, "s", _agents(0, busy=0), tick_ms=3.0), {}) == 1
    conn = store._conn()
    changes = conn.total_changes
    files = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.glob("s.db*") if p.name != "s.db-tick"}
    for k in range(1, 6):  # only the time in its status grows
        assert writer.write(FleetSnapshot(1000.0 + k, "s", _agents(k, busy=0), tick_ms=4.0), {}) == 0
    assert conn.total_changes == changes
    assert {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.glob("s.db*") if p.name != "s.db-tick"} == files
    assert store.heartbeat_path.stat().st_mtime == 1005.0
    back = Store(tmp_path / "s.db").latest_snapshot()
    assert back is not None and back.taken_at == 1005.0
    assert [a.time_in for a in back.agents] == [{"IDLE": 5.0}] * 3  # carried to the latest tick
    assert Store(tmp_path / "s.db").latest_tick() == 1005.0


def test_readers_get_only_the_changed_rows_and_the_same_view_as_the_writer(tmp_path: Path) -> None:
    from mission_control.adapters.store import StateReader, StateWriter

    store = Store(tmp_path / "s.db")
    writer, reader = StateWriter(store), StateReader(Store(tmp_path / "s.db"))
    for k in range(12):
        agents = _agents(k)
        if k >= 7:  # q1 leaves the fleet at 7; at 9 a new agent comes in at the front
            agents = tuple(a for a in agents if a.name != "q1")
        if k >= 9:
            agents = (AgentSnapshot("new", "codex", Status.STARTING, since=1005.0, time_in={"STARTING": k - 9.0}), *agents)
        snap = FleetSnapshot(1000.0 + k, "s", agents, tick_ms=2.5, supervisor_pid=42)
        writer.write(snap, {})
        seen, changed = reader.read()
        assert seen is not None and seen.to_json() == snap.to_json()  # status --json shows the same
        expected = {"b0", "b1"} if k % 2 == 0 else {"b0"}  # b1's line changes every other tick
        if k == 7:  # gone, and those after it moved up one place
            expected |= {"q1", "q2", "b1"}
        if k == 9:  # everyone after the newcomer moved down one place: their rows are written again
            expected = {a.name for a in agents}
        assert changed == (None if k == 0 else frozenset(expected)), k
    again, changed = reader.read()
    assert again is seen and changed == frozenset()  # nothing new: the same object, nothing decoded


def test_a_reader_of_a_replaced_store_or_far_behind_reads_everything_again(tmp_path: Path) -> None:
    from mission_control.adapters.store import StateReader, StateWriter

    store = Store(tmp_path / "s.db")
    writer, reader = StateWriter(store), StateReader(store)
    writer.write(FleetSnapshot(1000.0, "s", _agents(0)), {})
    reader.read()
    reader.version = 10_000  # a reader of a store that was since replaced by a newer, shorter one
    snap, changed = reader.read()
    assert changed is None and snap is not None and len(snap.agents) == 5


def test_history_is_bounded_by_its_retention(tmp_path: Path) -> None:
    import mission_control.adapters.store as store_module

    store = Store(tmp_path / "s.db")
    now = time.time()
    old = now - store_module.RETENTION_SECONDS - 60
    for i in range(30):
        store.record_status_change("a", "IDLE", "WORKING", "r", "e", at=old if i < 10 else now)
        store.record_hook_event("a", "Stop", {}, at=old if i < 10 else now)
        store.queue_delivery("a", "task", f"t{i}", at=old if i < 10 else now)
    for row in store.pending_deliveries()[:20]:
        store.mark_delivered(row["id"])
    store.log_action("me", "pause", "a", "", "ok")
    rows = store_module.RETENTION_ROWS
    store_module.RETENTION_ROWS = 15
    try:
        dropped = store.prune(now)
    finally:
        store_module.RETENTION_ROWS = rows
    assert dropped["status_changes"] == 15 and len(store.status_changes(limit=100)) == 15  # the newest 15
    assert dropped["hook_events"] == 15 and len(store.hook_events_since(0)) == 15
    assert len(store.actions()) == 1
    # delivered ones past retention go; the 10 still waiting stay, however old
    assert len(store.pending_deliveries()) == 10


def test_an_older_store_loses_its_snapshots_table_and_keeps_the_rest(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "s.db"
    store = Store(db)
    store.log_action("me", "up", None, "", "ok")
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, taken_at REAL NOT NULL, data TEXT NOT NULL)")
    conn.execute("INSERT INTO snapshots(taken_at, data) VALUES (1, '{}')")
    conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    again = Store(db)
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert again._conn().execute("SELECT name FROM sqlite_master WHERE name='snapshots'").fetchone() is None
    assert [a["action"] for a in again.actions()] == ["up"]
    assert again.latest_snapshot() is None


def test_tables_read_every_tick_are_read_again_only_after_a_write(tmp_path: Path) -> None:
    """The supervisor's per-tick reads of agents, tasks and deliveries: a copy while nobody wrote
    the table (no query of it), a fresh read after any handle's or process's write."""
    reader, writer = Store(tmp_path / "s.db"), Store(tmp_path / "s.db")
    writer.record_agent("a1", kind="shell", pane_id="%1", window=None, launched_at=1.0, task=None, base_commit=None,
                        branch=None, worktree=None, spec={"name": "a1", "kind": "shell", "command": "true"})
    writer.queue_delivery("a1", "task", "do it")
    assert [r.name for r in reader.agents()] == ["a1"] and len(reader.pending_deliveries()) == 1
    statements: list[str] = []
    reader._conn().set_trace_callback(statements.append)
    first = reader.agents()
    first.clear()  # a caller's copy: the cached list is not the one handed out
    assert [r.name for r in reader.agents()] == ["a1"] and len(reader.pending_deliveries()) == 1
    assert not [s for s in statements if "FROM agents" in s or "FROM deliveries" in s], statements
    writer.update_agent("a1", pane_id="%2")
    subprocess.run([sys.executable, "-c", f"from mission_control.adapters.store import Store; "
                    f"Store({str(tmp_path / 's.db')!r}).mark_delivered(1)"], check=True)
    assert reader.agents()[0].pane_id == "%2" and reader.pending_deliveries() == []
    writer.record_task("t1", "do it", "a1", None, "", None)
    assert list(reader.current_tasks()) == ["t1"]
