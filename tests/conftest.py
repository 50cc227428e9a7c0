"""Shared test fixtures: a real tmux server on a throwaway socket, real git repos,
and a deadline-based `retry_until` instead of fixed sleeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent


def retry_until(check: Callable[[], Any], timeout: float = 45.0, interval: float = 0.1, message: str = "") -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {message or check} (last: {last!r})")


@pytest.fixture
def tmux_socket() -> Any:
    """A tmux socket name unique to this test; its server is killed afterwards."""
    name = f"mct-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


class Cli:
    """Runs `python -m mission_control ...` as a user would, on the test's socket."""

    def __init__(self, socket: str, cwd: Path) -> None:
        self.socket = socket
        self.cwd = cwd

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("TMUX", None)
        env["MISSION_CONTROL_SOCKET"] = self.socket
        env.update(extra)
        return env

    def __call__(self, *args: str, timeout: float = 60, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mission_control", *args],
            cwd=cwd or self.cwd, env=self.env(**extra), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def status(self, *args: str, **kw: Any) -> list[dict[str, Any]]:
        r = self("status", "--json", *args, **kw)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def tmux(self, *args: str, check: bool = True) -> str:
        r = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {args}: {r.stderr}")
        return r.stdout

    def server_running(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "list-sessions"], capture_output=True).returncode == 0


@pytest.fixture
def cli(tmux_socket: str, tmp_path: Path) -> Cli:
    return Cli(tmux_socket, tmp_path)


def write_config(folder: Path, body: str, name: str = "agents.toml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


@pytest.fixture
def fleet_config(tmp_path: Path) -> Callable[[str], Path]:
    def make(body: str) -> Path:
        return write_config(tmp_path, body)

    return make


def run_cli(cli: Cli, cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mission-control ARGS -c CFG` on the test's socket, with `stdin` fed in."""
    return subprocess.run(
        [sys.executable, "-m", "mission_control", *args, "-c", str(cfg)],
        cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, input=stdin, timeout=60,
    )
