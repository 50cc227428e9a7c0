"""Hostile values on their way to an agent: byte-exact, never on a command line, never parsed by tmux.

Real tmux on a throwaway socket, real processes. A `tmux` shim first on PATH logs every
argv the fleet gives tmux, so "never on a command line" is checked, not hoped for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, retry_until, run_cli

pytestmark = pytest.mark.tmux

REAL_TMUX = subprocess.run(["sh", "-c", "command -v tmux"], capture_output=True, text=True).stdout.strip()

HOSTILE = "it's \"quoted\" $(touch pwned) `touch pwned2` $HOME \\ \x1b]0;OWNED\x07\nsecond line ünïcødé ☃;"


def toml_str(value: str) -> str:
    """A TOML basic string holding `value` exactly (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def tmux_shim(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with a `tmux` that logs its argv (NUL-separated) and runs the real one."""
    bin_dir, log = tmp_path / "shim", tmp_path / "tmux-argv.log"
    bin_dir.mkdir()
    shim = bin_dir / "tmux"
    shim.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> {log}\nprintf '\\n' >> {log}\nexec {REAL_TMUX} \"$@\"\n")
    shim.chmod(0o755)
    return bin_dir, log


DUMP = (
    "printf '%s' \"$SECRET_A\" > env_a; printf '%s' \"$SECRET_B\" > env_b; "
    "printf '%s' \"${MISSION_CONTROL_TASK-UNSET}\" > task_env; cat \"$MISSION_CONTROL_TASK_FILE\" > task_file; "
    "printf '%s' \"$PATH\" > path; printf '%s' \"$INJECTED\" > injected; echo ready; sleep 600"
)


def test_values_reach_the_agent_byte_exact_and_never_a_command_line(cli, tmp_path: Path) -> None:
    secret_a = "sk-A-" + HOSTILE  # ends in `;`: tmux would read a command separator
    secret_b = "sk-B-" + "Q" * 40000 + "\n;"  # over tmux's ~16 KB command limit
    big_task = ("task line with $(rm -rf /) and ; and \x1b[2J\n" * 30000)[: 1000 * 1000]  # ~1 MB: not one argument
    small_task = "do it; then " + HOSTILE
    bin_dir, log = tmux_shim(tmp_path)
    work_a, work_b = tmp_path / "a", tmp_path / "b"
    work_a.mkdir(), work_b.mkdir()
    cfg = tmp_path / "agents.toml"
    cfg.write_text(f"""
[mission]
session = "t"
poll_interval = 0.3

[[agent]]
name = "a"
kind = "shell"
cwd = "{work_a}"
command = {toml_str(DUMP)}
task = {toml_str(big_task)}
env = {{ SECRET_A = {toml_str(secret_a)}, SECRET_B = {toml_str(secret_b)}, PATH = "/opt/own/bin:/usr/bin:/bin" }}

[[agent]]
name = "b"
kind = "shell"
cwd = "{work_b}"
command = {toml_str(DUMP)}
task = {toml_str(small_task)}
""")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert r.returncode == 0, r.stderr
    retry_until(lambda: (work_a / "path").exists() and (work_b / "path").exists(), message="both agents ran")
    retry_until(lambda: (work_a / "task_file").stat().st_size == len(big_task.encode()), message="task file copied")

    assert (work_a / "env_a").read_bytes() == secret_a.encode()
    assert (work_a / "env_b").read_bytes() == secret_b.encode()
    assert (work_a / "path").read_text() == "/opt/own/bin:/usr/bin:/bin"  # the agent's own PATH wins over tmux's
    assert (work_a / "task_file").read_bytes() == big_task.encode()
    assert (work_a / "task_env").read_text() == "UNSET"  # too long for one environment string: only the file
    assert (work_b / "task_env").read_bytes() == small_task.encode()
    assert (work_b / "task_file").read_bytes() == small_task.encode()
    # the PATH given to agents starts with the folder of the interpreter mission-control runs on
    assert (work_b / "path").read_text().split(":")[0] == str(Path(sys.executable).parent)

    # inject a secret ending in `;`, longer than tmux takes: it reaches the respawned agent
    injected = "sk-INJ-" + "Z" * 30000 + "\n-----END KEY-----;"
    (work_a / "injected").unlink()
    r = run_cli(cli, cfg, "inject", "a", stdin=f"INJECTED={injected}\n")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: (work_a / "injected").exists() and (work_a / "injected").stat().st_size > 0, message="injected")
    assert (work_a / "injected").read_bytes() == injected.encode()
    (work_a / "injected").unlink()
    r = run_cli(cli, cfg, "restart", "a")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: (work_a / "injected").exists() and (work_a / "injected").stat().st_size > 0, message="restarted")
    assert (work_a / "injected").read_bytes() == injected.encode()

    # no value ever stood on tmux's command line, and no launch file is left behind
    argv_log = log.read_bytes()
    assert argv_log, "the shim saw the fleet's tmux commands"
    for value in (secret_a, secret_b, injected, big_task[:200], "sk-A-", "sk-B-", "sk-INJ-"):
        assert value.encode() not in argv_log
    assert not list((tmp_path / ".mission-control" / "agents").glob("*/launch-*"))
    r = run_cli(cli, cfg, "down")
    assert r.returncode == 0, r.stderr


def test_builtin_commands_run_on_this_interpreter_without_python_on_path(cli, tmp_path: Path) -> None:
    """`mission-control demo ...` as a command works where no `python` is on PATH (stock Debian)."""
    cfg = tmp_path / "agents.toml"
    cfg.write_text("""
[mission]
session = "t"
poll_interval = 0.3
repo = "repo"
init_repo = true

[[agent]]
name = "coder"
kind = "shell"
worktree = true
command = "mission-control demo coder --step-seconds 0.3 --idle-seconds 1"
task = "write code"
""")
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    assert subprocess.run(["sh", "-c", "command -v python"], env=bare, capture_output=True).returncode != 0
    r = cli("up", "--no-attach", "-c", str(cfg), **bare)
    assert r.returncode == 0, r.stderr
    rows = retry_until(
        lambda: (rows := cli.status("-c", str(cfg), **bare)) and (rows[0]["commits"] or 0) >= 1 and rows,
        message="the demo agent commits",
    )
    assert rows[0]["status"] != "EXITED", rows[0]
    r = cli("down", "-c", str(cfg), **bare)
    assert r.returncode == 0, r.stderr


def test_an_argument_ending_in_a_semicolon_reaches_tmux_whole(tmux_socket: str) -> None:
    from mission_control.adapters.tmux import Tmux

    tmux = Tmux(tmux_socket)
    pane = tmux.new_session("s", "w", ["sh", "-c", "stty -echo; echo ready; exec cat"], cwd="/", env={}, width=80, height=10)
    retry_until(lambda: "ready" in tmux.capture(pane), message="cat reads, without echo")
    want = ["abc;", ";", "x\\;", ";;"]
    for text in want:
        tmux.send_text(pane, text)
    lines = retry_until(lambda: (lines := tmux.capture(pane).split("\n"))[len(want)] and lines,
                        message="cat prints every line")
    assert lines[1: len(want) + 1] == want, lines


def test_oversized_values_are_refused_with_one_line(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "agents.toml"
    cfg.write_text(f'[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 600"\nenv = {{ BIG = "{"Q" * 200_000}" }}\n')
    r = cli("check", "-c", str(cfg))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "env" in r.stderr and "BIG" in r.stderr and "Q" * 100 not in r.stderr
    cfg.write_text(f'[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 600"\ntask = "{"T" * 1_100_000}"\n')
    r = cli("check", "-c", str(cfg))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "task" in r.stderr and "T" * 100 not in r.stderr

    # an inject too large for the kernel changes nothing: the agent restarts as before
    cfg.write_text('[mission]\nsession = "t"\npoll_interval = 0.3\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 600"\n')
    assert cli("up", "--no-attach", "-c", str(cfg)).returncode == 0
    r = run_cli(cli, cfg, "inject", "a", stdin="BIGVAL=" + "Q" * 1_000_000 + "\n")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "BIGVAL" in r.stderr and "Q" * 100 not in r.stderr
    r = run_cli(cli, cfg, "restart", "a")
    assert r.returncode == 0, r.stderr
    assert run_cli(cli, cfg, "down").returncode == 0
