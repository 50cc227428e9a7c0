"""Small helpers to run a CLI in a throwaway tmux server and capture its screen."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT = 120, 40


class Pane:
    """One tmux server (own -L socket) with one 120x40 pane running `cmd`."""

    def __init__(self, name: str, cmd: str, cwd: str, env: dict[str, str]):
        self.sock = f"fixtures-{name}-{os.getpid()}"
        self.cwd = cwd
        env = dict(env)
        env.setdefault("PS1", "dev@fixture:\\W$ ")
        full_env = " ".join(f"{k}={_q(v)}" for k, v in env.items())
        # keep the pane after the program exits so we can capture the exit screen
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT),
                   "-s", "fx", "-c", cwd, "env -i " + full_env + " bash --noprofile --norc")
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._tmux("set-option", "-g", "history-limit", "5000")
        self.pane = self._tmux("display-message", "-p", "-t", "fx", "#{pane_id}").strip()
        if cmd:
            # run through the shell (not exec) so that an exited agent leaves a
            # shell prompt behind, as it does in a real tmux pane
            self.type(f"clear; {cmd}")
            self.keys("Enter")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True,
                              capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.pane, *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.pane, "-l", text)

    def capture(self, scrollback: int = 0) -> str:
        args = ["capture-pane", "-p", "-t", self.pane]
        if scrollback:
            args += ["-S", f"-{scrollback}"]
        return self._tmux(*args)

    def dead(self) -> bool:
        return self._tmux("display-message", "-p", "-t", self.pane, "#{pane_dead}").strip() == "1"

    def wait_for(self, pattern: str, timeout: float = 30.0, flags=re.I | re.M) -> bool:
        rx = re.compile(pattern, flags)
        end = time.time() + timeout
        while time.time() < end:
            if rx.search(self.capture()):
                return True
            time.sleep(0.3)
        return False

    def wait_stable(self, quiet: float = 2.0, timeout: float = 20.0) -> str:
        """Wait until the screen has not changed for `quiet` seconds."""
        end = time.time() + timeout
        last, since = self.capture(), time.time()
        while time.time() < end:
            time.sleep(0.3)
            cur = self.capture()
            if cur != last:
                last, since = cur, time.time()
            elif time.time() - since >= quiet:
                break
        return last

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def _q(v: str) -> str:
    return "'" + v.replace("'", "'\\''") + "'"


def trim(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n"


def make_repo(base: str | None = None) -> str:
    d = tempfile.mkdtemp(prefix="fxrepo-", dir=base)
    Path(d, "README.md").write_text("# demo\n\nA tiny demo project used for screen fixtures.\n")
    Path(d, "app.py").write_text("def add(a, b):\n    return a + b\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="fx", GIT_AUTHOR_EMAIL="fx@example.invalid",
               GIT_COMMITTER_NAME="fx", GIT_COMMITTER_EMAIL="fx@example.invalid")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=d, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=d, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=d, check=True, env=env)
    return d


def make_home(base: str | None = None) -> str:
    return tempfile.mkdtemp(prefix="fxhome-", dir=base)
