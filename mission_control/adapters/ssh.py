"""Commands on another host over `ssh` (issue 22): ssh's own authentication and host key checks,
one master connection per host (ControlMaster, its socket in a 0700 folder of ours) shared by
every command to that host, values on stdin, never on a command line."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mission_control.adapters import run as run_module
from mission_control.adapters.store import ensure_private_dir
from mission_control.core.config import HostSpec
from mission_control.core.hosts import ssh_argv

SSH_CONFIG_ENV = "MISSION_CONTROL_SSH_CONFIG"
"""A file handed to ssh as its config (`ssh -F FILE`); ssh itself finds ~/.ssh through the password
database, not $HOME, so tests and unusual setups name theirs here."""
UNREACHABLE = 255
"""ssh's own exit status when it could not connect or log in (the remote command's are its own)."""


def control_dir() -> Path:
    """Where the master connections' sockets live: short (a socket path has ~100 bytes), private."""
    path = Path(tempfile.gettempdir()) / f"mc-ssh-{os.getuid()}"
    ensure_private_dir(path)
    return path


@dataclass(frozen=True)
class SshHost:
    """How to run a command on one host."""

    host: HostSpec

    def argv(self, remote: list[str] | str, *, tty: bool = False) -> list[str]:
        identity = str(self.host.identity) if self.host.identity else None
        ssh_config = os.environ.get(SSH_CONFIG_ENV) or None
        # ssh's %C hashes the resolved host, port and user: two aliases of one account with other keys
        # or settings would share a master connection; ours hashes what we were given as well
        ours = hashlib.sha256(repr((self.host.ssh, self.host.port, identity, ssh_config)).encode()).hexdigest()[:12]
        return ssh_argv(self.host.ssh, remote, port=self.host.port, identity=identity, ssh_config=ssh_config,
                        control_path=str(control_dir() / f"{ours}-%C"), tty=tty)

    def run(self, remote: list[str] | str, *, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `remote` there: its exit status, stdout and stderr (255: ssh could not reach it).
        A command that does not answer within `timeout` is one 255 with a line saying so."""
        argv = self.argv(remote)
        try:
            return run_module.runner(argv, input if input is not None else "", timeout, None)
        except FileNotFoundError:
            return subprocess.CompletedProcess(argv, UNREACHABLE, "", "ssh is not installed (not found on PATH)")
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, UNREACHABLE, "", f"no answer within {timeout:g} s")

    def close(self) -> None:
        """End the host's master connection (`ssh -O exit`; `down`): no ssh of ours is left
        running for ControlPersist's minute after the fleets are stopped. Nothing to end is fine."""
        argv = self.argv("")[:-1]
        argv[1:1] = ["-O", "exit"]
        try:
            run_module.runner(argv, "", 10.0, None)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            pass
