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
