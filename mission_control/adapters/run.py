"""The one place where mission-control starts a subprocess.

Tests and benchmarks can swap `runner` to observe or replace every call.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable, Sequence


class CommandError(Exception):
    """A command could not be run or failed; `str()` is one readable line."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        first = self.stderr.splitlines()[0] if self.stderr else f"exit status {returncode}"
        super().__init__(f"{argv[0]} {' '.join(argv[1:3])}...: {first}")


def _default_runner(argv: Sequence[str], input: str | None, timeout: float, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, env=env, errors="replace"
    )


runner: Callable[[Sequence[str], str | None, float, dict[str, str] | None], subprocess.CompletedProcess[str]] = _default_runner


def run(argv: Sequence[str], *, input: str | None = None, timeout: float = 15.0, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run argv (never through a shell) and return its stdout."""
    try:
        proc = runner(argv, input, timeout, env)
    except FileNotFoundError:
        raise CommandError(argv, None, f"{argv[0]} is not installed (not found on PATH)") from None
    except subprocess.TimeoutExpired:
        raise CommandError(argv, None, f"timed out after {timeout:g}s") from None
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr or proc.stdout)
    return proc.stdout


def spawn(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> int | None:
    """Start argv in the background, detached from our terminal; returns its pid (None if it cannot start)."""
    try:
        proc = subprocess.Popen(
            list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError:
        return None
    return proc.pid


def _default_popen(argv: Sequence[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        bufsize=0, close_fds=True,
    )


popener: Callable[[Sequence[str], dict[str, str] | None], subprocess.Popen[bytes]] = _default_popen


def popen(argv: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-lived argv with binary pipes on stdin/stdout (e.g. a `tmux -C` client).

    Raises CommandError when it cannot start."""
    try:
        return popener(argv, env)
    except FileNotFoundError:
        raise CommandError(argv, None, f"{argv[0]} is not installed (not found on PATH)") from None
    except OSError as exc:
        raise CommandError(argv, None, str(exc)) from None


def interactive(argv: Sequence[str]) -> int:
    """Run argv on our own terminal (e.g. `tmux attach`) and wait for it."""
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    return subprocess.call(list(argv), env=env)
