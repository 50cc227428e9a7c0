"""Shared test fixtures: a real tmux server on a throwaway socket, the CLI on it, a git identity.
The plain helpers they build on (`retry_until`, `Cli`, `run_cli`, ...) live in helpers.py."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import ROOT, Cli, retry_until, run_cli, write_config  # noqa: F401  (re-exported for older imports)


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


@pytest.fixture
def cli(tmux_socket: str, tmp_path: Path) -> Cli:
    return Cli(tmux_socket, tmp_path)


@pytest.fixture
def fleet_config(tmp_path: Path) -> Callable[[str], Path]:
    def make(body: str) -> Path:
        return write_config(tmp_path, body)

    return make


@pytest.fixture
def ssh_box(tmp_path: Path) -> Any:
    """A second host over a real sshd on loopback (issue 22), or the test skipped with the reason."""
    from helpers import SshBox, sshd_missing

    reason = sshd_missing()
    if reason:
        pytest.skip(reason)
    box = SshBox(tmp_path / "box").start()
    yield box
    box.stop()
