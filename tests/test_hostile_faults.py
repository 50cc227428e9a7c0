"""Faults made for real (issue 16, items 6 and 9): a failure late in `up` leaves nothing behind;
the state store deleted, corrupted, read-only or on a full disk is reported in one line naming
it and what to do, shown red in the dashboard, and survived by the supervisor."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import retry_until

pytestmark = pytest.mark.tmux


def marker() -> str:
    """A sleep duration no other process on the machine uses: finds this test's agents."""
    return f"{random.randint(100000, 999999)}.{random.randint(1000, 9999)}"


def processes_with(text: str) -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(p.info["cmdline"] or [])
        except psutil.Error:
            continue
        if text in line and p.pid != psutil.Process().pid:
            found.append(f"{p.pid}: {line}")
    return found


def two_agents(tmp_path: Path, mark: str, mission: str = "") -> Path:
    cfg = tmp_path / "agents.toml"
    cfg.write_text(
        f'[mission]\nsession = "t"\npoll_interval = 0.3\n{mission}\n'
        f'[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep {mark}"\n'
        f'[[agent]]\nname = "b"\nkind = "shell"\ncommand = "sleep {mark}"\n'
    )
    return cfg


def test_a_late_failure_in_up_takes_back_everything(cli, tmp_path: Path) -> None:
    """`up` after a crash rebuilds the fleet, then writes it to the store: with the store locked
    by another process that write fails (a sqlite3 error, which the rollback did not catch) once
    the session, the agents and the dashboard exist. Nothing of it may be left running, and the
    next `up` must start the fleet (not say "already running (0 agents)")."""
    mark = marker()
    cfg = two_agents(tmp_path, mark)
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    retry_until(lambda: len(processes_with(f"sleep {mark}")) >= 2, timeout=30, message="agents running")
    subprocess.run(["tmux", "-L", cli.socket, "kill-server"], check=True)  # a crash: no `down`
    retry_until(lambda: not processes_with(f"sleep {mark}") and not processes_with(str(cfg)), timeout=30,
                message="the crashed fleet's processes gone")

    lock = sqlite3.connect(tmp_path / ".mission-control" / "state.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process holds the store's write lock
    try:
        r = cli("up", "--no-attach", "-c", str(cfg), timeout=90)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "could not start the fleet" in lines[0], r.stdout + r.stderr
    assert "internal error" not in r.stderr
    assert not cli.server_running(), cli.tmux("list-panes", "-a", "-F", "#{session_name} #{pane_current_command}", check=False)
    assert not processes_with(f"sleep {mark}"), processes_with(f"sleep {mark}")
    assert not processes_with(str(cfg)), processes_with(str(cfg))  # no dashboard, no supervisor

    r = cli("up", "--no-attach", "-c", str(cfg))
    try:
        assert r.returncode == 0 and "started: 2 agents" in r.stdout, r.stdout + r.stderr
    finally:
        cli("down", "-c", str(cfg))
