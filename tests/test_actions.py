"""The human's hands, end to end: real tmux, real processes, the real CLI."""

from __future__ import annotations

import json
import os
import stat
import sys
from functools import partial
from pathlib import Path

import psutil
import pytest

from helpers import NOTIFIER, PROMPTER, pane_text, retry_until, rows, run_cli, shell_agent, status_of, write_scripts
from helpers import up as up_fleet
from mission_control.adapters.store import Store

pytestmark = pytest.mark.tmux

HOSTILE = "it's \"quoted\" $(touch pwned) `touch pwned2` $HOME \\n\nsecond line ünïcødé ☃  "


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    return write_scripts(tmp_path, notifier=NOTIFIER, prompter=PROMPTER)


up = partial(up_fleet, stuck_after=60)
"""This file's fleets: up, detached, STUCK after 60 s of silence."""


def test_pause_and_continue_by_command_survive_a_fresh_reader(cli, tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "worker"
kind = "shell"
command = "while true; do date +%s%N > {beat}; sleep 0.05; done"
""")
    retry_until(lambda: status_of(cli, cfg, "worker").get("status") == "WORKING")
    r = run_cli(cli, cfg, "pause", "worker")
    assert r.returncode == 0, r.stderr
    assert "paused worker" in r.stdout
    row = retry_until(lambda: (s := status_of(cli, cfg, "worker")).get("status") == "PAUSED" and s)
    assert row["reason"] == "paused by you"
    frozen = beat.read_text()
    # a new reader (another `status` process) sees the truth from the processes themselves
    retry_until(lambda: status_of(cli, cfg, "worker")["status"] == "PAUSED")
    assert beat.read_text() == frozen
    r = run_cli(cli, cfg, "continue", "worker")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: beat.read_text() != frozen, message="the agent runs again")
    retry_until(lambda: status_of(cli, cfg, "worker").get("status") == "WORKING")
    log = run_cli(cli, cfg, "log").stdout
    assert "pause" in log and "continue" in log


def test_pause_all_and_continue_all(cli, tmp_path: Path) -> None:
    """The emergency stop: every running agent paused in one command, the exited one left alone,
    and all of them running again with one more."""
    beats = {n: tmp_path / f"beat-{n}" for n in ("a", "b")}
    cfg = up(cli, tmp_path, "".join(
        f'[[agent]]\nname = "{n}"\nkind = "shell"\ncommand = "while true; do date +%s%N > {beats[n]}; sleep 0.1; done"\n'
        for n in beats) + '[[agent]]\nname = "gone"\nkind = "shell"\ncommand = "exit 0"\n')
    retry_until(lambda: all(b.exists() for b in beats.values()) and status_of(cli, cfg, "gone").get("status") == "EXITED")
    r = run_cli(cli, cfg, "pause")
    assert r.returncode == 2 and "give agent names or --all" in r.stderr
    r = run_cli(cli, cfg, "pause", "--all")
    assert r.returncode == 0, r.stderr
    assert "paused a" in r.stdout and "paused b" in r.stdout and "gone" not in r.stdout + r.stderr
    retry_until(lambda: all(status_of(cli, cfg, n).get("status") == "PAUSED" for n in beats), message="both paused")
    frozen = {n: b.read_text() for n, b in beats.items()}
    assert run_cli(cli, cfg, "pause", "--all").stdout.strip() == "mission-control: no agent to pause"
    assert {n: b.read_text() for n, b in beats.items()} == frozen
    r = run_cli(cli, cfg, "continue", "--all")
    assert r.returncode == 0 and "continued a" in r.stdout and "continued b" in r.stdout, r.stderr
    retry_until(lambda: all(beats[n].read_text() != frozen[n] for n in beats), message="both run again")
    assert status_of(cli, cfg, "gone")["status"] == "EXITED"


def test_pause_stops_children_that_left_the_group(cli, tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "forker"
kind = "shell"
command = "setsid sh -c 'while true; do sleep 0.1; done' & echo $! > {marker}; while true; do sleep 0.1; done"
""")
    retry_until(lambda: marker.exists() and marker.read_text().strip())
    child = psutil.Process(int(marker.read_text()))
    try:
        assert run_cli(cli, cfg, "pause", "forker").returncode == 0
        retry_until(lambda: child.status() == psutil.STATUS_STOPPED, message="the escaped child is stopped too")
        assert run_cli(cli, cfg, "continue", "forker").returncode == 0
        retry_until(lambda: child.status() != psutil.STATUS_STOPPED)
    finally:
        child.kill()  # it left the pane's session: killing the tmux server would not end it


def test_missing_key_story_inject_reaches_agent_byte_exact(cli, tmp_path: Path, scripts: dict[str, Path]) -> None:
    got = tmp_path / "got-key"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "notifier"
kind = "shell"
command = "{sys.executable} {scripts['notifier']} {got}"
""")
    row = retry_until(lambda: (s := status_of(cli, cfg, "notifier")).get("status") == "STUCK" and s)
    assert row["reason"] == "missing NOTIFICATION_KEY"
    r = run_cli(cli, cfg, "inject", "notifier", stdin=f"NOTIFICATION_KEY={HOSTILE}\n")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: got.exists(), message="the agent got its key")
    assert got.read_bytes() == HOSTILE.encode()  # quotes, $(), backticks, newline, unicode, trailing spaces
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    retry_until(lambda: "notified" in status_of(cli, cfg, "notifier").get("last_line", ""))
    assert status_of(cli, cfg, "notifier")["status"] != "STUCK"
    # the value is never shown or logged in full; the store is private
    secret_part = "touch pwned"
    shown = r.stdout + r.stderr + run_cli(cli, cfg, "log").stdout + json.dumps(cli.status("-c", str(cfg)))
    assert secret_part not in shown
    state = tmp_path / ".mission-control"
    assert stat.S_IMODE(os.stat(state / "state.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700


def test_inject_rejects_bad_names_with_one_line(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 1000"\n')
    r = run_cli(cli, cfg, "inject", "a", stdin="1BAD=x\n")
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "'1BAD' is not a valid environment variable name" in r.stderr
    r = run_cli(cli, cfg, "inject", "a", "1KEY=value")
    assert r.returncode != 0 and "'1KEY' is not a valid environment variable name" in r.stderr
    r = run_cli(cli, cfg, "inject", "nobody", stdin="K=v\n")
    assert r.returncode != 0 and "no agent named 'nobody'" in r.stderr


def test_inject_to_all_with_dotenv(cli, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text("OTHER=1\nAPI_TOKEN=old\n")
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "a"
kind = "shell"
cwd = "{work}"
command = "echo token=$API_TOKEN; sleep 1000"

[[agent]]
name = "b"
kind = "shell"
command = "echo token=$API_TOKEN; sleep 1000"
""")
    r = run_cli(cli, cfg, "inject", "--all", "--dotenv", stdin="API_TOKEN=s3cr3t-value-123\n")
    assert r.returncode == 0, r.stderr
    for pane in ("a", "b"):
        retry_until(lambda: "token=s3cr3t-value-123" in pane_text(cli, pane))
    assert (work / ".env").read_text() == "OTHER=1\nAPI_TOKEN=s3cr3t-value-123\n"
    assert stat.S_IMODE(os.stat(work / ".env").st_mode) == 0o600


def test_resume_types_prompt_only_at_the_prompt(cli, tmp_path: Path, scripts: dict[str, Path]) -> None:
    typed = tmp_path / "typed"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "p"
kind = "shell"
command = "{sys.executable} {scripts['prompter']} {typed}"
env = {{ SAY_STUCK = "1" }}
resume_prompt = "carry on please"
""")
    def supervised_stuck() -> dict:
        # the supervisor's own snapshot, not status's one-off poll before it (which holds a state one
        # tick, where the supervisor holds it two: its first snapshot may still say STARTING)
        r = run_cli(cli, cfg, "status", "--json")
        row = {a["name"]: a for a in json.loads(r.stdout or "[]")}.get("p", {})
        return not r.stderr and row.get("status") == "STUCK" and row

    row = retry_until(supervised_stuck)
    assert "the build server refuses me" in row["reason"]
    r = run_cli(cli, cfg, "resume", "p")
    assert r.returncode == 0, r.stderr
    assert "resume will type 'carry on please' + Enter" in r.stdout
    retry_until(lambda: typed.exists() and typed.read_text() == "carry on please\n")


def test_resume_refuses_to_type_into_a_running_turn(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, """
[[agent]]
name = "busy"
kind = "shell"
command = "echo 'STUCK: flaky'; while true; do echo step $RANDOM; sleep 0.1; done"
""")
    retry_until(lambda: status_of(cli, cfg, "busy").get("status") == "WORKING")
    r = run_cli(cli, cfg, "resume", "busy")
    assert "nothing to resume" in r.stdout + r.stderr or "not at its prompt" in r.stdout + r.stderr


def test_reassign_moves_the_task_with_a_handoff(cli, tmp_path: Path, scripts: dict[str, Path]) -> None:
    typed = tmp_path / "typed-b"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "a"
kind = "shell"
command = "{sys.executable} {scripts['prompter']} {tmp_path / 'typed-a'}"
task = "Make the notifier send a test message"
env = {{ SAY_STUCK = "1" }}

[[agent]]
name = "b"
kind = "shell"
command = "{sys.executable} {scripts['prompter']} {typed}"
""")
    retry_until(lambda: status_of(cli, cfg, "a").get("status") == "STUCK")
    retry_until(lambda: status_of(cli, cfg, "b").get("status") == "IDLE")
    r = run_cli(cli, cfg, "reassign", "a", "--to", "b")
    assert r.returncode == 0, r.stderr
    assert "moved from a (paused) to b" in r.stdout
    retry_until(lambda: typed.exists() and "Make the notifier send a test message" in typed.read_text(), message="handoff typed")
    text = typed.read_text()
    assert "taking over a task from agent a" in text
    assert "the build server refuses me" in text  # why it stopped / its last lines travel along
    # (the handoff may be typed in the tick that read the fleet just before the task moved)
    retry_until(lambda: (now := rows(cli, cfg))["b"]["task"] == "Make the notifier send a test message" and now["a"]["task"] is None,
                message="the snapshot shows the task moved")
    retry_until(lambda: status_of(cli, cfg, "a").get("status") == "PAUSED")
    assert [row["agent"] for row in Store(tmp_path / ".mission-control" / "state.db").task_history()] == ["a", "b"]


def test_windows_layout_gives_each_agent_a_window_named_after_it(cli, tmp_path: Path) -> None:
    cfg = up_fleet(cli, tmp_path, "".join(shell_agent(n, "while true; do date +%s%N; sleep 0.1; done") for n in ("a", "b")),
                   'layout = "windows"\n')
    assert run_cli(cli, cfg, "spawn", "c", "--kind", "shell", "--command", "sleep 1000").returncode == 0
    windows = cli.tmux("list-windows", "-t", "t", "-F", "#{window_name} #{window_panes}").split("\n")
    assert {"a 1", "b 1", "c 1"} <= set(windows), windows
    retry_until(lambda: all(status_of(cli, cfg, n).get("status") == "WORKING" for n in ("a", "b")))


def test_reassign_to_nobody_changes_nothing(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, '[[agent]]\nname = "a"\nkind = "shell"\ntask = "t"\ncommand = "while true; do sleep 0.1; done"\n')
    retry_until(lambda: status_of(cli, cfg, "a").get("status") not in (None, "STARTING"))
    r = run_cli(cli, cfg, "reassign", "a", "--to", "nobody")
    assert r.returncode == 1 and "no agent named 'nobody'" in r.stderr
    assert status_of(cli, cfg, "a")["status"] != "PAUSED" and status_of(cli, cfg, "a")["task"] == "t"


def test_send_broadcast_kill_restart_spawn(cli, tmp_path: Path, scripts: dict[str, Path]) -> None:
    ta, tb = tmp_path / "ta", tmp_path / "tb"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "a"
kind = "shell"
command = "{sys.executable} {scripts['prompter']} {ta}"

[[agent]]
name = "b"
kind = "shell"
command = "{sys.executable} {scripts['prompter']} {tb}"
""")
    retry_until(lambda: all(r["status"] == "IDLE" for r in rows(cli, cfg).values()))
    assert run_cli(cli, cfg, "send", "a", "only for a").returncode == 0
    retry_until(lambda: ta.exists() and ta.read_text() == "only for a\n")
    assert run_cli(cli, cfg, "broadcast", "everyone").returncode == 0
    retry_until(lambda: tb.exists() and tb.read_text() == "everyone\n" and ta.read_text().endswith("everyone\n"))

    assert run_cli(cli, cfg, "kill", "b").returncode == 0
    retry_until(lambda: status_of(cli, cfg, "b").get("status") == "EXITED")
    assert run_cli(cli, cfg, "restart", "b").returncode == 0
    retry_until(lambda: status_of(cli, cfg, "b").get("status") == "IDLE")

    r = run_cli(cli, cfg, "spawn", "c", "--copy", "a")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: status_of(cli, cfg, "c").get("status") == "IDLE")
    r = run_cli(cli, cfg, "spawn", "c", "--kind", "shell", "--command", "true")
    assert r.returncode != 0 and "already exists" in r.stderr
    r = run_cli(cli, cfg, "spawn", "d", "--kind", "shel", "--command", "true")
    assert r.returncode != 0 and "did you mean 'shell'" in r.stderr


def test_up_after_a_crash_resumes_agents_with_their_env(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, """
[[agent]]
name = "resumer"
kind = "shell"
command = "echo FIRST $MISSION_CONTROL_TASK; sleep 1000"
resume_command = "echo RESUMED note=$NOTE; sleep 1000"
task = "the long task"

[[agent]]
name = "plain"
kind = "shell"
command = "echo FIRST $MISSION_CONTROL_TASK; sleep 1000"
task = "the short task"
""")
    retry_until(lambda: "FIRST the long task" in pane_text(cli, "resumer"))
    assert run_cli(cli, cfg, "inject", "resumer", "NOTE=kept across crashes").returncode == 0
    retry_until(lambda: "RESUMED note=kept across crashes" in pane_text(cli, "resumer"))

    cli.tmux("kill-server")  # the crash
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    assert "recovered after a crash: resumed resumer; restarted from their task plain" in r.stdout
    retry_until(lambda: "RESUMED note=kept across crashes" in pane_text(cli, "resumer"))
    retry_until(lambda: "FIRST the short task" in pane_text(cli, "plain"))
    assert {r["name"]: r["task"] for r in cli.status("-c", str(cfg))} == {"resumer": "the long task", "plain": "the short task"}

    # a deliberate `down` means the next `up` starts afresh (the injected env is kept)
    assert run_cli(cli, cfg, "down").returncode == 0
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert "recovered" not in r.stdout
    retry_until(lambda: "FIRST the long task" in pane_text(cli, "resumer"))

    cli.tmux("kill-server")
    r = run_cli(cli, cfg, "up", "--no-attach", "--fresh")
    assert "recovered" not in r.stdout
    retry_until(lambda: "FIRST the long task" in pane_text(cli, "resumer"))


def test_text_for_a_busy_agent_waits_for_its_prompt(cli, tmp_path: Path, scripts: dict[str, Path]) -> None:
    typed = tmp_path / "typed"
    go = tmp_path / "go"
    cfg = up(cli, tmp_path, f"""
[[agent]]
name = "busy"
kind = "shell"
command = "while [ ! -e {go} ]; do echo working $RANDOM; sleep 0.1; done; {sys.executable} {scripts['prompter']} {typed}"
""")
    retry_until(lambda: status_of(cli, cfg, "busy").get("status") == "WORKING")
    r = run_cli(cli, cfg, "send", "busy", "after your turn")
    assert r.returncode == 0 and "queued" in r.stdout
    go.write_text("")  # the turn ends; the agent reaches its prompt
    retry_until(lambda: typed.exists() and typed.read_text() == "after your turn\n", message="delivered at the prompt")


def test_restarted_agent_that_keeps_failing_is_a_crash_loop(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, '[[agent]]\nname = "crasher"\nkind = "shell"\ncommand = "echo boom; exit 3"\n')
    retry_until(lambda: status_of(cli, cfg, "crasher").get("reason") == "failed: exit 3")
    for n in (2, 3):
        before = status_of(cli, cfg, "crasher")["since"]
        assert run_cli(cli, cfg, "restart", "crasher").returncode == 0
        if n == 2:  # the supervisor has seen this run fail before the next restart
            retry_until(lambda: (s := status_of(cli, cfg, "crasher"))["since"] != before and s["status"] == "EXITED")
    row = retry_until(lambda: (s := status_of(cli, cfg, "crasher")).get("status") == "STUCK" and s, message="crash loop")
    assert row["reason"] == "crash loop: failed 3 times in 10 min"
