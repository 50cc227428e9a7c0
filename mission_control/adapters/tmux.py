"""tmux on the fleet's own socket: build windows and panes, list them, read them.

Panes are addressed by id (`%N`). Every call goes through `run()` with an argv
list, so no value (task, env value, path) is ever interpreted by a shell.
One `list-panes -a` per tick returns what the supervisor needs of every pane.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
from dataclasses import dataclass
from typing import Mapping, Sequence

from mission_control.adapters.run import CommandError, run

SEP = "\x1f"  # unit separator: never appears in names we allow
PANE_FIELDS = (
    "session_name",
    "window_index",
    "window_name",
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_current_command",
    "history_size",
    "pane_width",
    "pane_height",
    "@mc_agent",
    "@mc_role",
)
_BUFFER_IDS = itertools.count(1)
PANE_FORMAT = SEP.join("#{%s}" % f for f in PANE_FIELDS)


class TmuxError(Exception):
    """tmux is missing or refused a command; `str()` is one line."""


@dataclass(frozen=True)
class PaneInfo:
    session: str
    window_index: int
    window_name: str
    pane_id: str
    pid: int | None
    dead: bool
    dead_status: int | None
    current_command: str
    history_size: int
    width: int
    height: int
    agent: str
    role: str


def _int(s: str) -> int | None:
    try:
        return int(s)
    except ValueError:
        return None


def parse_panes(text: str) -> list[PaneInfo]:
    panes = []
    for line in text.splitlines():
        parts = line.split(SEP)
        if len(parts) != len(PANE_FIELDS):
            continue
        panes.append(
            PaneInfo(
                session=parts[0],
                window_index=_int(parts[1]) or 0,
                window_name=parts[2],
                pane_id=parts[3],
                pid=_int(parts[4]),
                dead=parts[5] == "1",
                dead_status=_int(parts[6]) if parts[5] == "1" else None,
                current_command=parts[7],
                history_size=_int(parts[8]) or 0,
                width=_int(parts[9]) or 0,
                height=_int(parts[10]) or 0,
                agent=parts[11],
                role=parts[12],
            )
        )
    return panes


def env_args(env: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for key, value in env.items():
        out += ["-e", f"{key}={value}"]
    return out


class Tmux:
    """A tmux server on one socket (`tmux -L socket`)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    @staticmethod
    def available() -> bool:
        return shutil.which("tmux") is not None

    def cmd(self, *args: str, check: bool = True, timeout: float = 15.0) -> str:
        try:
            return run(["tmux", "-L", self.socket, *args], check=check, timeout=timeout)
        except CommandError as exc:
            raise TmuxError(f"tmux {args[0]}: {exc.stderr or exc}") from None

    # -- queries -------------------------------------------------------------

    def server_running(self) -> bool:
        try:
            self.cmd("list-sessions", "-F", "#{session_name}")
            return True
        except TmuxError:
            return False

    def sessions(self) -> list[str]:
        try:
            return self.cmd("list-sessions", "-F", "#{session_name}").split()
        except TmuxError:
            return []

    def has_session(self, session: str) -> bool:
        return session in self.sessions()

    def list_panes(self) -> list[PaneInfo]:
        """Every pane of the server, in one call."""
        try:
            return parse_panes(self.cmd("list-panes", "-a", "-F", PANE_FORMAT))
        except TmuxError:
            return []

    def capture(self, pane_id: str, history: int = 0, join: bool = True) -> str:
        args = ["capture-pane", "-p", "-t", pane_id]
        if join:
            args.append("-J")
        if history:
            args += ["-S", str(-history)]
        return self.cmd(*args)

    def session_option(self, session: str, name: str) -> str | None:
        try:
            out = self.cmd("show-options", "-t", session, "-v", "-q", name)
        except TmuxError:
            return None
        return out.rstrip("\n") or None

    # -- building --------------------------------------------------------------

    def new_session(
        self, session: str, window: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], width: int, height: int
    ) -> str:
        return self.cmd(
            "new-session", "-d", "-s", session, "-n", window, "-x", str(width), "-y", str(height),
            "-c", cwd, *env_args(env), "-P", "-F", "#{pane_id}", *argv,
        ).strip()

    def new_window(self, session: str, window: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> str:
        return self.cmd(
            "new-window", "-d", "-t", f"{session}:", "-n", window, "-c", cwd, *env_args(env),
            "-P", "-F", "#{pane_id}", *argv,
        ).strip()

    def split(self, target: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> str:
        return self.cmd(
            "split-window", "-d", "-t", target, "-c", cwd, *env_args(env), "-P", "-F", "#{pane_id}", *argv
        ).strip()

    def respawn(self, pane_id: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> None:
        self.cmd("respawn-pane", "-k", "-t", pane_id, "-c", cwd, *env_args(env), *argv)

    def select_layout(self, target: str, layout: str) -> None:
        self.cmd("select-layout", "-t", target, layout)

    def set_option(self, target: str, name: str, value: str, *, scope: str = "") -> None:
        args = ["set-option"]
        if scope:
            args.append(scope)
        self.cmd(*args, "-t", target, name, value)

    def window_of(self, pane_id: str) -> str:
        return self.cmd("display-message", "-p", "-t", pane_id, "#{window_id}").strip()

    def window_size(self, target: str) -> tuple[int, int]:
        out = self.cmd("display-message", "-p", "-t", target, "#{window_width} #{window_height}").split()
        return int(out[0]), int(out[1])

    def resize_window(self, target: str, width: int, height: int) -> None:
        self.cmd("resize-window", "-t", target, "-x", str(width), "-y", str(height))

    # -- driving ---------------------------------------------------------------

    def send_text(self, pane_id: str, text: str, enter: bool = True) -> None:
        """Type text literally (no key names, no shell), then Enter."""
        if text:
            self.cmd("send-keys", "-t", pane_id, "-l", "--", text)
        if enter:
            self.cmd("send-keys", "-t", pane_id, "Enter")

    def paste_text(self, pane_id: str, text: str) -> None:
        """Put `text` into the pane as one paste (bracketed when the program asked for it),
        through a tmux buffer read from stdin: any bytes, no shell, no key names."""
        buffer = f"mc-{os.getpid()}-{next(_BUFFER_IDS)}"
        try:
            run(["tmux", "-L", self.socket, "load-buffer", "-b", buffer, "-"], input=text)
        except CommandError as exc:
            raise TmuxError(f"tmux load-buffer: {exc.stderr or exc}") from None
        self.cmd("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id)

    def pipe_output(self, pane_id: str, path: str) -> None:
        """Append everything the pane prints to `path` (0600), unless a pipe is already open."""
        self.cmd("pipe-pane", "-o", "-t", pane_id, f"umask 077; exec cat >> {shlex.quote(path)}")

    def pane_alive(self, pane_id: str) -> bool:
        try:
            return self.cmd("display-message", "-p", "-t", pane_id, "#{pane_dead}").strip() == "0"
        except TmuxError:
            return False

    def kill_pane(self, pane_id: str) -> None:
        self.cmd("kill-pane", "-t", pane_id)

    def send_keys(self, pane_id: str, *keys: str) -> None:
        self.cmd("send-keys", "-t", pane_id, *keys)

    def display(self, target: str, message: str) -> None:
        self.cmd("display-message", "-t", target, message, check=False)

    def select_pane(self, pane_id: str, zoom: bool = False) -> None:
        window = self.window_of(pane_id)
        self.cmd("select-window", "-t", window)
        self.cmd("select-pane", "-t", pane_id)
        if zoom:
            self.cmd("resize-pane", "-Z", "-t", pane_id)

    def kill_session(self, session: str) -> None:
        self.cmd("kill-session", "-t", session)

    def kill_server(self) -> None:
        self.cmd("kill-server", check=False)

    def attach_argv(self, session: str) -> list[str]:
        return ["tmux", "-L", self.socket, "attach-session", "-t", session]
