"""How an agent is started (pure parts) and the launcher reading its launch file (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mission_control.programs import launcher
from mission_control.core.config import load_text
from mission_control.core.launch_plan import agent_command, builtin_command, launch_file_bytes, pane_argv, typed_task
from mission_control.core.limits import MAX_ARG_BYTES


def spec(tmp_path: Path, body: str):
    return load_text(tmp_path / "agents.toml", body).agents[0]


def test_builtin_command_runs_this_interpreter() -> None:
    assert builtin_command("mission-control demo coder", "/opt/my venv/bin/python3") == \
        "'/opt/my venv/bin/python3' -m mission_control demo coder"
    assert builtin_command("  mission-control\tagent --model m", "/py") == "/py -m mission_control\tagent --model m"
    assert builtin_command("mission-control", "/py") == "/py -m mission_control"
    for other in ("mission-controller x", "echo mission-control", "claude", "./mission-control up"):
        assert builtin_command(other, "/py") == other


def test_the_ollama_kind_runs_the_built_in_agent_with_this_interpreter(tmp_path: Path) -> None:
    s = spec(tmp_path, '[[agent]]\nname = "o"\nkind = "ollama"\nmodel = "m"\ntask = "t"\n')
    argv = agent_command(s, python="/venv/bin/python3")
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[2].startswith("/venv/bin/python3 -m mission_control agent ")
    assert argv[4:] == ["--model", "m", "--task", "t"]


def test_a_task_too_long_for_one_argument_is_typed_instead(tmp_path: Path) -> None:
    long_task = "x" * (MAX_ARG_BYTES + 1)
    s = spec(tmp_path, f'[[agent]]\nname = "c"\nkind = "claude"\ntask = "{long_task}"\n')
    assert long_task not in agent_command(s, python="/py")
    assert typed_task(s) == long_task
    short = spec(tmp_path, '[[agent]]\nname = "c"\nkind = "claude"\ntask = "short"\n')
    assert agent_command(short, python="/py")[-1] == "short" and typed_task(short) is None


def test_the_launcher_starts_exactly_what_its_launch_file_says_and_removes_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    value = "a;b\n$(x) ünï \x1b[2J" + "Q" * 50_000 + ";"
    script = f'printf "%s" "$V" > {out}; printf "\\n%s" "$PATH" "$1" "$(pwd)" >> {out}'
    launch = tmp_path / "launch-x"
    launch.write_bytes(launch_file_bytes(["/bin/sh", "-c", script, "name", "arg;"], {"V": value, "PATH": "/own:/bin:/usr/bin"}, str(tmp_path)))
    launch.chmod(0o600)
    r = subprocess.run(pane_argv(sys.executable, Path(launcher.__file__), launch), cwd="/", capture_output=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "V": "from-tmux"})
    assert r.returncode == 0, r.stderr
    assert not launch.exists()
    got_value, got_path, got_arg, got_cwd = out.read_text().split("\n")[-4:]
    assert out.read_bytes().startswith(value.encode()) and got_path == "/own:/bin:/usr/bin"
    assert got_arg == "arg;" and got_cwd == str(tmp_path)


def test_the_launcher_refuses_what_is_not_a_launch_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_text("rm -rf /")
    r = subprocess.run([sys.executable, "-I", "-S", launcher.__file__, str(bogus)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a launch file" in r.stderr
    assert bogus.read_text() == "rm -rf /"  # given any other file, it removes nothing
    r = subprocess.run([sys.executable, "-I", "-S", launcher.__file__, "/bin/sh", "-c", "echo hi"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
