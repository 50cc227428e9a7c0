"""The fleet's locks and per-agent files: one supervisor per fleet (and how others can tell it
runs), one `up` at a time per fleet, and where each agent's own files live."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = "supervisor.lock"
UP_LOCK_NAME = "up.lock"
"""Held by the `up` bringing the fleet up (or finding it running), for as long as it takes."""


class SupervisorRunning(Exception):
    """Another supervisor holds this fleet's lock."""


class LockBusy(Exception):
    """Another process held a fleet lock for longer than we would wait; `holder` is its pid."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def status_file(state_dir: Path, agent: str) -> Path:
    """The file an agent may write one status line to (`$MISSION_CONTROL_STATUS_FILE`)."""
    return state_dir / "agents" / agent / "status"


def output_log(state_dir: Path, agent: str) -> Path:
    """Everything an agent with `tokens` regexes printed (tmux pipe-pane), for its meter."""
    return status_file(state_dir, agent).parent / "output.log"


def hook_events_file(state_dir: Path, agent: str) -> Path:
    """Where the agent's hooks append their events (`hook_appender.py`), tailed by the supervisor."""
    return status_file(state_dir, agent).parent / "hook-events.jsonl"


LEDGER_NAME = "ollama-ledger.jsonl"


def ledger_file(state_dir: Path, agent: str) -> Path:
    """The built-in Ollama agent's record of every call (`mission-control agent`), for its meter."""
    return status_file(state_dir, agent).parent / LEDGER_NAME


def env_file(state_dir: Path, agent: str) -> Path:
    """The variables injected into an agent (JSON, 0600): kept out of the state store, so that
    sharing the store (a bug report) shares no secret value."""
    return status_file(state_dir, agent).parent / "env"


def spec_env_file(state_dir: Path, agent: str) -> Path:
    """The values of an agent's configured `env` (JSON, 0600): the store keeps its spec with the
    names only."""
    return status_file(state_dir, agent).parent / "spec-env"


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


def _take(path: Path, wait: float = 0.0) -> int:
    """An exclusive flock on `path`, waiting up to `wait` seconds; our pid written in it (fd
    returned). Raises LockBusy with the holder's pid."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise LockBusy(holder or "?") from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def acquire_lock(state_dir: Path) -> int:
    """Hold the fleet's supervisor lock for the life of this process (fd returned)."""
    try:
        return _take(state_dir / LOCK_NAME)
    except LockBusy as exc:
        raise SupervisorRunning(f"a supervisor already runs for this fleet (pid {exc.holder})") from None


@contextmanager
def held(path: Path, wait: float) -> Iterator[bool]:
    """Hold an exclusive flock on `path` for the body, waiting up to `wait` seconds for its holder;
    yields whether it had to wait. Raises LockBusy when the holder keeps it longer."""
    try:
        fd = _take(path)
        waited = False
    except LockBusy:
        fd = _take(path, wait)
        waited = True
    try:
        yield waited
    finally:
        os.close(fd)  # closing releases the flock


def up_lock(state_dir: Path, wait: float) -> AbstractContextManager[bool]:
    """The fleet's `up` lock (held by `up` and `down`: one of them at a time per fleet)."""
    return held(state_dir / UP_LOCK_NAME, wait)


def env_lock(state_dir: Path, agent: str, wait: float) -> AbstractContextManager[bool]:
    """An agent's lock on its injected variables, held across a change and the respawn it is for,
    so that a failed action puts back what it found and never undoes another's change."""
    folder = env_file(state_dir, agent).parent
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return held(folder / "env.lock", wait)


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
