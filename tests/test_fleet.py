"""End to end: a real tmux server on a throwaway socket, real processes, real git."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from helpers import fleet, gone, kill_hard, pane_ids, pane_of, retry_until, rows, shell_agent, up

pytestmark = pytest.mark.tmux

REQUIRED_KEYS = {
    "name", "kind", "status", "reason", "since", "pane_id", "pid", "task", "tokens_in", "tokens_out",
    "cost_usd", "commits", "cpu_percent", "rss_bytes", "last_line",
}

HOSTILE = "it's \"quoted\" $(touch pwned) `touch pwned2` $HOME\nsecond line ünïcødé ☃"


def test_up_status_twice_and_down(cli, tmp_path: Path) -> None:
    cfg = fleet(
        tmp_path,
        """
[[agent]]
name = "talker"
kind = "shell"
command = "while true; do echo tick; sleep 0.2; done"

[[agent]]
name = "asker"
kind = "shell"
command = "echo 'Deploy to production? (y/n)'; read answer; echo got $answer; sleep 1000"

[[agent]]
name = "failer"
kind = "shell"
command = "echo boom; exit 3"

[[agent]]
name = "reporter"
kind = "shell"
command = "echo 'STUCK missing NOTIFICATION_KEY' > $MISSION_CONTROL_STATUS_FILE; sleep 1000"
""",
    )
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    before = pane_ids(cli)

    def settled():
        now = rows(cli, cfg)
        want = {"talker": "WORKING", "asker": "WAITING", "failer": "EXITED", "reporter": "STUCK"}
        return now if all(now.get(n, {}).get("status") == s for n, s in want.items()) else None

    seen = retry_until(settled, timeout=45, message="every agent reaches its state")
    for row in seen.values():
        assert REQUIRED_KEYS <= set(row)
        assert row["since"] and "T" in row["since"]
        assert row["pane_id"].startswith("%")
    assert seen["failer"]["reason"] == "failed: exit 3"
    assert seen["failer"]["exit_code"] == 3
    assert seen["reporter"]["reason"] == "reported: missing NOTIFICATION_KEY"
    assert seen["asker"]["reason"] == "yes/no question"
    assert seen["talker"]["last_line"] == "tick"
    assert seen["talker"]["cost_usd"] is None  # unknown, never made up

    # again: nothing new starts
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0 and "already running" in r.stdout
    assert pane_ids(cli) == before

    # from another directory, without -c: found through the tmux session
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rows2 = cli.status(cwd=elsewhere)
    assert {r["name"] for r in rows2} == {"talker", "asker", "failer", "reporter"}

    pids = []
    for line in cli.tmux("list-panes", "-a", "-F", "#{pane_pid} #{pane_dead}").splitlines():
        pid, dead = line.split()
        if dead == "0":
            pids.append(int(pid))
            pids += [c.pid for c in psutil.Process(int(pid)).children(recursive=True)]
    r = cli("down", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    assert not cli.server_running()
    retry_until(lambda: all(gone(p) for p in pids),
                timeout=10, message="no process of the fleet survives down")
    assert cli.status(cwd=elsewhere) == []


def test_down_kills_daemonised_children(cli, tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "forker"
kind = "shell"
command = "setsid sleep 1000 & echo $! > {marker}; sleep 1000"
""", stuck_after=30)
    retry_until(lambda: marker.exists() and marker.read_text().strip(), message="child started")
    child = int(marker.read_text())
    assert psutil.pid_exists(child)
    assert cli("down", "-c", str(cfg)).returncode == 0
    retry_until(lambda: gone(child),
                timeout=10, message="the daemonised child is gone too")


def test_task_and_env_reach_agent_byte_exact(cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fake = tmp_path / "fakeclaude"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'task': os.environ.get('MISSION_CONTROL_TASK'), 'secret': os.environ.get('SECRET'),"
        f" 'agent': os.environ.get('MISSION_CONTROL_AGENT'), 'status_file': os.environ.get('MISSION_CONTROL_STATUS_FILE')}},"
        f" open({str(out / 'seen.json')!r}, 'w'))\nimport time; time.sleep(1000)\n"
    )
    fake.chmod(0o755)
    up(cli, tmp_path,
       f'[[agent]]\nname = "c1"\nkind = "claude"\ncommand = {json.dumps(str(fake))}\ncwd = {json.dumps(str(out))}\n'
       f"task = {json.dumps(HOSTILE)}\nenv = {{ SECRET = {json.dumps(HOSTILE)} }}\n")
    seen_file = out / "seen.json"
    retry_until(lambda: seen_file.exists() and seen_file.stat().st_size > 0, message="the fake agent ran")
    seen = json.loads(seen_file.read_text())
    assert seen["argv"][-1] == HOSTILE  # claude takes its first prompt as an argument
    assert seen["argv"][0] == "--settings"  # ...after the hooks settings given through its own option
    assert json.loads(Path(seen["argv"][1]).read_text())["hooks"]["Notification"]
    assert seen["task"] == HOSTILE
    assert seen["secret"] == HOSTILE
    assert seen["agent"] == "c1"
    assert seen["status_file"].endswith("/agents/c1/status")
    assert not (out / "pwned").exists() and not (out / "pwned2").exists()
    assert not (tmp_path / "pwned").exists()


def test_pause_survives_tmux_sigcont(cli, tmp_path: Path) -> None:
    """The launcher keeps the agent in its own group: SIGSTOP to it sticks, status shows PAUSED."""
    cfg = up(cli, tmp_path, """
[[agent]]
name = "worker"
kind = "shell"
command = "while true; do echo working; sleep 0.1; done"
""", stuck_after=30)
    retry_until(lambda: rows(cli, cfg).get("worker", {}).get("status") == "WORKING")
    pane_pid = int(cli.tmux("list-panes", "-t", "t:fleet", "-F", "#{pane_pid} #{@mc_agent}").split("\n")[-2].split()[0])
    launcher = psutil.Process(pane_pid)
    (agent,) = launcher.children()
    assert os.getpgid(agent.pid) == agent.pid != os.getpgid(launcher.pid)
    os.killpg(agent.pid, signal.SIGSTOP)
    seen = retry_until(lambda: (r := rows(cli, cfg))["worker"]["status"] == "PAUSED" and r)
    assert seen["worker"]["reason"] == "paused"
    time.sleep(0.5)  # give tmux every chance to (wrongly) continue it
    assert agent.status() == psutil.STATUS_STOPPED
    os.killpg(agent.pid, signal.SIGCONT)
    retry_until(lambda: rows(cli, cfg)["worker"]["status"] == "WORKING")


def test_supervisor_is_one_per_fleet_and_restarted_by_up(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, """
[[agent]]
name = "a"
kind = "shell"
command = "sleep 1000"
""", stuck_after=30)
    lock = tmp_path / ".mission-control" / "supervisor.lock"
    retry_until(lambda: lock.exists() and lock.read_text().strip(), message="supervisor holds its lock")
    pid = int(lock.read_text())
    second = cli("supervise", "-c", str(cfg), timeout=20)
    assert second.returncode == 0 and "already runs" in second.stderr
    kill_hard(pid)
    r = cli("status", "--json", "-c", str(cfg))
    assert r.returncode == 0 and "no supervisor is running" in r.stderr
    assert json.loads(r.stdout)[0]["name"] == "a"
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert "restarted" in r.stdout
    retry_until(lambda: lock.read_text().strip() not in ("", str(pid)), message="a new supervisor")  # read once: it is rewritten


def test_status_without_any_fleet_is_empty(cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("status", "--json", cwd=empty)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_status_without_tmux_is_one_line(cli, tmp_path: Path) -> None:
    r = cli("status", "--json", PATH=str(Path(sys.executable).parent) + ":/nonexistent")
    if Path("/usr/bin/tmux").exists() and str(Path(sys.executable).parent) == "/usr/bin":
        pytest.skip("python and tmux share a folder")
    assert r.returncode == 1
    assert r.stderr.strip() == "mission-control: tmux is not installed (not found on PATH): install it, e.g. `apt-get install tmux`"


def test_a_quiet_fleet_costs_the_store_nothing_while_a_busy_agent_writes_only_its_row(cli, tmp_path: Path) -> None:
    """Real supervisor, real store: once two agents wait at their prompts, ticks go on (the
    heartbeat's time moves) and the store is not written; a third agent printing gets its row
    written, and only its row, each tick it prints."""
    from mission_control.adapters.store import StateReader, Store

    cfg = up(cli, tmp_path, shell_agent("quiet1", "printf '$ '; read x; sleep 1000")
             + shell_agent("quiet2", "printf '$ '; read x; sleep 1000")
             + shell_agent("busy", "i=0; printf '$ '; read x; while true; do i=$((i+1)); echo step $i; sleep 0.2; done"))
    store = Store(tmp_path / ".mission-control" / "state.db")
    retry_until(lambda: {r["name"]: r["status"] for r in rows(cli, cfg).values()} == dict.fromkeys(("quiet1", "quiet2", "busy"), "IDLE"),
                message="all three at their prompts")
    db = [tmp_path / ".mission-control" / n for n in ("state.db", "state.db-wal")]

    def version() -> int:
        return store._conn().execute("SELECT version FROM fleet_state").fetchone()[0]

    def quiet_spell() -> bool:  # three ticks in a row that wrote nothing
        v, t, sizes = version(), store.latest_tick(), [p.stat().st_size for p in db]
        retry_until(lambda: store.latest_tick() > t + 0.8, message="ticks go on")
        return version() == v and [p.stat().st_size for p in db] == sizes

    retry_until(quiet_spell, timeout=60, message="a quiet fleet writes nothing")
    reader = StateReader(store)
    reader.read()
    cli.tmux("send-keys", "-t", pane_of(cli, "busy"), "go", "Enter")
    seen: set[str] = set()

    def busy_written() -> bool:
        _, changed = reader.read()
        seen.update(changed or ())
        return version() > 0 and any(r["status"] == "WORKING" for r in rows(cli, cfg).values())

    retry_until(busy_written, message="the busy agent works")
    for _ in range(5):
        t = store.latest_tick()
        retry_until(lambda: store.latest_tick() > t, message="a tick")
        _, changed = reader.read()
        seen.update(changed or ())
    assert seen == {"busy"}


def test_a_busy_agents_screen_text_is_stored_every_tick_only_while_a_dashboard_shows_it(cli, tmp_path: Path) -> None:
    from mission_control.adapters.store import Store

    # the dashboard `up` starts shows the first agent's screen text: the busy one comes second
    up(cli, tmp_path, shell_agent("first", "printf '$ '; read x")
       + shell_agent("busy", "i=0; while true; do i=$((i+1)); echo step $i; sleep 0.1; done"))
    store = Store(tmp_path / ".mission-control" / "state.db")

    def stored() -> float:
        row = store._conn().execute("SELECT captured_at FROM pane_tails WHERE agent='busy'").fetchone()
        return row[0] if row else 0.0

    first = retry_until(lambda: stored() and store.latest_tick() > stored() + 2 and stored(), message="a first tail")
    assert stored() == first  # unwatched: its changing text is not rewritten every tick (TAIL_EVERY)
    store.watch_tail("busy", time.time() + 30)
    seen: set[float] = set()
    retry_until(lambda: seen.add(stored()) or len(seen) >= 4, message="watched: stored each tick")
    assert "step" in store.pane_tail("busy")
