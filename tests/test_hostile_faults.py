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

from helpers import pane_of, retry_until

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


# ---------------------------------------------------------------- the state store under faults (item 9)

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

from mission_control.core.config import load_text  # noqa: E402
from mission_control.ui.app import create_app  # noqa: E402
from mission_control.ui.widgets.snapshot_age import SnapshotAge  # noqa: E402


def start(cli, cfg: Path) -> None:
    """`up`, then wait until the supervisor itself reports both agents running (not a one-off poll)."""
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr

    def supervised() -> bool:
        r = cli("status", "--json", "-c", str(cfg))
        rows = json.loads(r.stdout) if r.returncode == 0 else []
        return not r.stderr and len(rows) == 2 and all(a["pid"] for a in rows)

    retry_until(supervised, timeout=45, message="the supervisor reports both agents")


def one_line(r: subprocess.CompletedProcess, *needles: str) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, (r.returncode, r.stdout, r.stderr)
    assert "internal error" not in lines[0] and "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def agents_alive(mark: str) -> list[str]:
    return [p for p in processes_with(f"sleep {mark}") if p.split(": ", 1)[1] == f"sleep {mark}"]


def agent_stopped(mark: str) -> bool:
    return any(psutil.Process(int(p.split(":")[0])).status() == psutil.STATUS_STOPPED for p in processes_with(f"sleep {mark}"))


def supervisor_pid(cfg: Path) -> int:
    return int((cfg.parent / ".mission-control" / "supervisor.lock").read_text())


def banner(app) -> str:
    return str(app.query_one(SnapshotAge).render())


async def wait_for(pilot, check, timeout: float = 30.0, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if check():
            return
    raise AssertionError(f"not within {timeout}s: {message}")


async def test_a_deleted_store_is_restored_with_nothing_lost(cli, tmp_path: Path) -> None:
    """`rm state.db*` while the fleet runs: the supervisor puts the store back from the copy it
    still has open (every row), says so, and goes on; status, log, actions and an open dashboard
    carry on (they said "no fleet running" and kept reading the deleted file)."""
    mark = marker()
    cfg = two_agents(tmp_path, mark)
    start(cli, cfg)
    config = load_text(cfg, cfg.read_text(), environ={"MISSION_CONTROL_SOCKET": cli.socket})
    app = create_app(config, poll_seconds=0.1)
    try:
        r = cli("pause", "a", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None, message="dashboard shows the fleet")
            store = tmp_path / ".mission-control" / "state.db"
            for f in (store, store.with_name("state.db-wal"), store.with_name("state.db-shm")):
                f.unlink(missing_ok=True)
            deleted_at = time.time()
            # the dashboard shows snapshots written after the deletion (into the restored file)
            await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.taken_at > deleted_at + 0.5,
                           message="fresh snapshots after the store was deleted")
            assert "STATE STORE" not in banner(app)
        rows = cli.status("-c", str(cfg))
        assert sorted(a["name"] for a in rows) == ["a", "b"]
        assert {a["name"]: a["status"] for a in rows}["a"] == "PAUSED"
        log = cli("log", "-c", str(cfg))
        assert log.returncode == 0, log.stderr
        assert "paused a" in log.stdout, log.stdout  # written before the deletion: not lost
        assert "was deleted while in use: restored it" in log.stdout
        r = cli("continue", "a", "-c", str(cfg))
        assert r.returncode == 0, r.stderr

        # only its WAL: the supervisor would write on into the deleted file, seen by nobody
        (tmp_path / ".mission-control" / "state.db-wal").unlink()
        retry_until(lambda: "state.db-wal deleted" in cli("log", "-c", str(cfg)).stdout, timeout=20,
                    message="the supervisor's writes are seen again")
        (tmp_path / ".mission-control" / "state.db-shm").unlink()  # and only the WAL's index
        retry_until(lambda: "state.db-shm deleted" in cli("log", "-c", str(cfg)).stdout, timeout=20,
                    message="the supervisor's writes are seen again")
        assert "paused a" in cli("log", "-c", str(cfg)).stdout

        # the whole state dir: the store and the supervisor's lock come back, so `up` sees the
        # supervisor running (it started a second one)
        subprocess.run(["rm", "-rf", str(tmp_path / ".mission-control")])  # the supervisor may put files back meanwhile
        retry_until(lambda: (tmp_path / ".mission-control" / "supervisor.lock").exists(), timeout=20, message="lock back")
        rows = retry_until(lambda: (r := cli("status", "--json", "-c", str(cfg))).returncode == 0 and json.loads(r.stdout),
                           timeout=20, message="status works again")
        assert sorted(a["name"] for a in rows) == ["a", "b"]
        r = cli("up", "--no-attach", "-c", str(cfg))
        assert r.returncode == 0 and "already running (2 agents)" in r.stdout and "restarted" not in r.stdout, r.stdout
        assert "paused a" in cli("log", "-c", str(cfg)).stdout
    finally:
        cli("down", "-c", str(cfg))


async def test_a_damaged_store_is_reported_then_moved_aside(cli, tmp_path: Path) -> None:
    """Garbage over the store (dd). With no supervisor running, status, log and pause each say in
    one line that the store is damaged and what to do (exit 1; the agent is not paused), and the
    dashboard says it in red. `up` restarts the supervisor, which moves the file aside, starts a
    new store with the fleet in it (from the fleet's panes) and everything works again. Damaged
    again while the supervisor runs: it does the same from what it knows, within a tick."""
    mark = marker()
    cfg = two_agents(tmp_path, mark)
    start(cli, cfg)
    config = load_text(cfg, cfg.read_text(), environ={"MISSION_CONTROL_SOCKET": cli.socket})
    app = create_app(config, poll_seconds=0.1)
    store = tmp_path / ".mission-control" / "state.db"
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None, message="dashboard shows the fleet")
            os.kill(supervisor_pid(cfg), signal.SIGKILL)
            await wait_for(pilot, lambda: "SUPERVISOR DOWN" in banner(app), message="supervisor down")
            with open(store, "r+b") as f:
                f.write(os.urandom(8192))
            for command in (("status",), ("log",), ("pause", "a"), ("dashboard",)):
                one_line(cli(*command, "-c", str(cfg)), f"state store {store} is damaged", "moves it aside")
            assert not agent_stopped(mark)
            await wait_for(pilot, lambda: "STATE STORE" in banner(app) and "damaged" in banner(app), message="red banner")

            r = cli("up", "--no-attach", "-c", str(cfg))
            assert r.returncode == 0 and "already running (2 agents)" in r.stdout and "supervisor" in r.stdout, r.stdout + r.stderr
            await wait_for(pilot, lambda: "STATE STORE" not in banner(app) and app.snapshot is not None
                           and len(app.snapshot.agents) == 2, message="the banner goes once a new store has the fleet")
        assert len(list(store.parent.glob("state.db.corrupt-*[0-9]"))) == 1
        assert sorted(a["name"] for a in cli.status("-c", str(cfg))) == ["a", "b"]
        r = cli("pause", "a", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
        retry_until(lambda: agent_stopped(mark), timeout=10)
        assert "was damaged: moved it aside as state.db.corrupt-" in cli("log", "-c", str(cfg)).stdout

        with open(store, "r+b") as f:  # again, with the supervisor running
            f.write(os.urandom(8192))
        retry_until(lambda: len(list(store.parent.glob("state.db.corrupt-*[0-9]"))) == 2, timeout=20, message="moved aside again")
        rows = retry_until(lambda: (r := cli("status", "--json", "-c", str(cfg))).returncode == 0 and json.loads(r.stdout),
                           timeout=20, message="status works again")
        assert sorted(a["name"] for a in rows) == ["a", "b"]
    finally:
        cli("down", "-c", str(cfg))


def mount(*args: str) -> None:
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount here (mount {' '.join(args)}: {r.stderr.strip()}): needs root with CAP_SYS_ADMIN")


def test_a_read_only_store_refuses_actions_in_one_line(cli, tmp_path: Path) -> None:
    """The state dir bind-mounted read-only (chmod does not stop root): status still reads it,
    pause says in one line that the store cannot be written and does nothing; writable again,
    pause works."""
    mark = marker()
    cfg = two_agents(tmp_path, mark)
    start(cli, cfg)
    state = tmp_path / ".mission-control"
    mount("--bind", "-o", "ro", str(state), str(state))
    try:
        r = cli("status", "-c", str(cfg))  # reads it, or says in one line why it cannot
        assert r.returncode == 0 and "a " in r.stdout or one_line(r, f"state store {state / 'state.db'}"), r.stderr
        one_line(cli("pause", "a", "-c", str(cfg)), f"state store {state / 'state.db'} cannot be written", "read-only")
        one_line(cli("kill", "b", "-c", str(cfg)), "cannot be written")
        assert not agent_stopped(mark) and len(agents_alive(mark)) == 2
    finally:
        subprocess.run(["umount", "-l", str(state)], capture_output=True)
    try:
        r = cli("pause", "a", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
    finally:
        cli("down", "-c", str(cfg))


def test_a_full_disk_is_survived_and_writing_resumes(cli, tmp_path: Path) -> None:
    """The state dir on a small tmpfs, filled up: the supervisor keeps supervising and says why
    its snapshots stopped, pause refuses in one line (nothing done); space freed, snapshots
    resume and pause works."""
    mark = marker()
    state = tmp_path / "state"
    state.mkdir()
    mount("-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(state))
    try:
        cfg = two_agents(tmp_path, mark, mission='state_dir = "state"')
        start(cli, cfg)
        filler = state / "filler"
        with open(filler, "wb", buffering=0) as f:  # unbuffered: no unwritten rest to flush at close
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        # something for the supervisor to write: b's process ends (a tick that changes nothing writes
        # nothing, and the agents may have settled before the disk filled: seen in CI under load)
        launcher = psutil.Process(int(cli.tmux("display", "-p", "-t", pane_of(cli, "b"), "#{pane_pid}").strip()))
        for proc in launcher.children(recursive=True) or [launcher]:
            proc.kill()

        def supervisor_says_full() -> bool:
            text = cli.tmux("capture-pane", "-p", "-t", "t:supervisor", "-S", "-50", check=False)
            return "disk is full" in text and text

        screen = retry_until(supervisor_says_full, timeout=30, message="the supervisor says the disk is full")
        assert "supervising on" in screen
        one_line(cli("pause", "a", "-c", str(cfg)), "cannot be written, the disk is full", "free space")
        assert not agent_stopped(mark)
        r = cli("status", "-c", str(cfg))  # reads it, or says in one line why it cannot
        assert r.returncode == 0 and "a " in r.stdout or one_line(r, "the disk is full"), r.stderr

        filler.unlink()

        def writing_again() -> bool:
            text = cli.tmux("capture-pane", "-p", "-t", "t:supervisor", "-S", "-50", check=False)
            return "can be written again" in text

        retry_until(writing_again, timeout=30, message="the supervisor writes again")
        r = cli("pause", "a", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
        retry_until(lambda: agent_stopped(mark), timeout=10)
        retry_until(lambda: "writable again" in cli("log", "-c", str(cfg)).stdout, timeout=10, message="logged")
    finally:
        cli("down", "-c", str(tmp_path / "agents.toml"))
        subprocess.run(["umount", "-l", str(state)], capture_output=True)


async def test_snapshots_that_stop_while_the_supervisor_runs_are_red() -> None:
    """The supervisor runs but writes nothing (a full or read-only disk): the growing age alone
    was shown dim/yellow; past STALE_SECONDS it is a red banner that says where to look."""
    from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
    from mission_control.ui.source import FixedSource
    from mission_control.ui.widgets.snapshot_age import STALE_SECONDS

    now = time.time()
    snap = FleetSnapshot(now - STALE_SECONDS - 5, "t", (AgentSnapshot("a", "shell", Status.WORKING, "", since=now - 60),))
    app = create_app(source=FixedSource(snap, alive=True), live=False, clock=lambda: now)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert "NO NEW SNAPSHOT" in banner(app) and "cannot write the state store" in banner(app)
        from mission_control.ui.widgets.snapshot_age import age_text

        assert age_text("t", snap.taken_at, True, now).style == "bold white on red"
        assert age_text("t", now - 2, True, now).style == "dim"  # a fresh one is not
