"""The fleet's supervisor lock: one supervisor per fleet, and how others can tell it runs."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "supervisor.lock"


class SupervisorRunning(Exception):
    """Another supervisor holds this fleet's lock."""


def status_file(state_dir: Path, agent: str) -> Path:
    """The file an agent may write one status line to (`$MISSION_CONTROL_STATUS_FILE`)."""
    return state_dir / "agents" / agent / "status"


def output_log(state_dir: Path, agent: str) -> Path:
    """Everything an agent with `tokens` regexes printed (tmux pipe-pane), for its meter."""
    return status_file(state_dir, agent).parent / "output.log"


LEDGER_NAME = "ollama-ledger.jsonl"


def ledger_file(state_dir: Path, agent: str) -> Path:
    """The built-in Ollama agent's record of every call (`mission-control agent`), for its meter."""
    return status_file(state_dir, agent).parent / LEDGER_NAME


def env_file(state_dir: Path, agent: str) -> Path:
    """The variables injected into an agent (JSON, 0600): kept out of the state store, so that
    sharing the store (a bug report) shares no secret value."""
    return status_file(state_dir, agent).parent / "env"


def exit_status_file(state_dir: Path, agent: str) -> Path:
    """Where the agent's launcher writes `<its pid> <exit status>` when the agent ends."""
    return status_file(state_dir, agent).parent / "exit_status"


def recorded_exit(state_dir: Path, agent: str, launcher_pid: int) -> int | None:
    """The exit status the launcher with `launcher_pid` (the pane's own process) recorded, or None.
    Matched by pid, not by time: the launcher of the previous run, hung up by a respawn, may
    write its own status after the new run started."""
    try:
        pid, code = exit_status_file(state_dir, agent).read_text().split()
        return int(code) if int(pid) == launcher_pid else None
    except (OSError, ValueError):
        return None


def acquire_lock(state_dir: Path) -> int:
    """Hold the fleet's supervisor lock for the life of this process (fd returned)."""
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise SupervisorRunning(f"a supervisor already runs for this fleet (pid {holder or '?'})") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def supervisor_alive(state_dir: Path) -> bool:
    """True when some process holds the fleet's supervisor lock."""
    path = state_dir / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
