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
