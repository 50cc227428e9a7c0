"""tmux on the fleet's own socket: build windows and panes, list them, read them.

Panes are addressed by id (`%N`). Every call is an argv list, so no value (task, env value,
path) is ever interpreted by a shell, and every argument goes through `literal_arg` (tmux takes
an argument ending in `;` for a command separator).

Two roads, chosen by measurement:

* **Cold paths** (building the session, its windows and panes, options, respawn, kill: a few
  calls per `up`, `spawn`, `restart` or `down`) go through libtmux, the card's tmux library:
  its `Server` on our `-L` socket runs each command (`Tmux.build`, through `Server.cmd`, which
  takes an argv list), and killing uses its objects (`Pane.kill`, `Server.kill_session`,
  `Server.kill`). libtmux's higher-level builders are not used where they are not safe for our
  values: `Server.new_session`, `Session.new_window`, `Pane.split` and `Pane.respawn` take the
  pane's command as one *shell string* (tmux hands it to `sh -c`) where ours is an argv (the
  launcher and its launch file), pass `-e KEY=value` without escaping a value ending in `;`,
  and look the new object up again with a `list-*` format of every field libtmux knows (one
  more tmux process per pane, and fields tmux 3.3a does not have). So those commands are built
  here, as argv, and run by libtmux's `Server.cmd`. libtmux has no timeout of its own: a cold
  command waits for tmux, as `tmux` typed by a person would.
* **The tick** (every `poll_interval`, for every pane) stays hand-written: one batched
  `list-panes -a` and the captures go through one persistent control-mode client (`tmux -C`,
  see tmux_control) when enabled, else `run()` with a timeout. Measured with
  `benchmarks/bench.py --agents 30 --seconds 8` on 2 shared cores (two runs): the naive per-pane
  road (libtmux `capture_pane` per agent, a tmux process each) ticks in p50 150-290 ms against
  9-10 ms here, at ~19x the supervisor's CPU.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import shlex
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from mission_control.adapters.run import CommandError, run
from mission_control.adapters import tmux_control
from mission_control.core.errors import MissionControlError
from mission_control.core.terminal_text import inert

if TYPE_CHECKING:
    import libtmux

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
    "window_activity",
    "cursor_x",
    "cursor_y",
)
_BUFFER_IDS = itertools.count(1)
PANE_FORMAT = SEP.join("#{%s}" % f for f in PANE_FIELDS)


class TmuxError(MissionControlError):
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
    window_activity: int = 0
    """Second of the last output of any pane in its window (tmux 3.3a has no per-pane one); 0 unknown."""
    cursor_x: int = 0
    cursor_y: int = 0
    """Where its cursor is: a move says the pane printed (a terminal's own echo of typed keys included)."""


_ACTIVITY = PANE_FIELDS.index("window_activity")


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
                window_activity=_int(parts[_ACTIVITY]) or 0,
                cursor_x=_int(parts[_ACTIVITY + 1]) or 0,
                cursor_y=_int(parts[_ACTIVITY + 2]) or 0,
            )
        )
    return panes


def import_libtmux():
    """libtmux, imported on first use. libtmux reads `sys.stdout.encoding` as it is imported; in the
    dashboard, Textual has replaced sys.stdout with a print capture that has none (`inject` from the
    dashboard failed: "'_PrintCapture' object has no attribute 'encoding'"), so a stand-in with one
    is put there for the import."""
    if "libtmux" in sys.modules:
        return sys.modules["libtmux"]
    saved = sys.stdout
    if not hasattr(saved, "encoding"):
        sys.stdout = io.StringIO()
    try:
        import libtmux
        import libtmux.exc  # noqa: F401  (the cold paths' errors)
    finally:
        sys.stdout = saved
    return libtmux


def literal_arg(arg: str) -> str:
    """`arg` as tmux's command line reads it back unchanged: tmux takes an argument ending in `;`
    for a command separator (`send-keys -l 'abc;'` types `abc`), and reads a final `\\;` as a
    literal `;`."""
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def pipe_output_args(pane_id: str, path: str) -> list[str]:
    """The tmux command appending everything the pane prints to `path` (0600), unless a pipe is open."""
    return ["pipe-pane", "-o", "-t", pane_id, f"umask 077; exec cat >> {shlex.quote(path)}"]


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

    def cmd(self, *args: str, check: bool = True, timeout: float = 15.0, input: str | None = None) -> str:
        try:
            return run(["tmux", "-L", self.socket, *map(literal_arg, args)], check=check, timeout=timeout, input=input)
        except CommandError as exc:
            raise TmuxError(f"tmux {args[0]}: {exc.stderr or exc}") from None

    @functools.cached_property
    def server(self) -> "libtmux.Server":
        """libtmux's server object on this socket (no tmux process until a command runs).
        Imported here: libtmux takes 45-100 ms to import, paid by the cold paths only, never by
        `status`, the dashboard's start or the supervisor's tick."""
        return import_libtmux().Server(socket_name=self.socket)

    def build(self, *args: str) -> str:
        """A cold-path command (building, options, respawn) through libtmux's `Server.cmd`: an
        argv list on `-L socket`, every argument read back by tmux unchanged (`literal_arg`)."""
        return self.build_chain(args)

    def build_chain(self, *commands: Sequence[str]) -> str:
        """Several cold-path commands in one tmux process (`cmd1 ; cmd2`, the separator a bare `;`
        argument; every other argument read back unchanged): bringing up 300 agents starts
        hundreds fewer processes. tmux stops at the first command that fails."""
        args: list[str] = []
        for command in commands:
            if args:
                args.append(";")
            args += map(literal_arg, command)
        libtmux_exc = import_libtmux().exc
        try:
            proc = self.server.cmd(*args)
        except (libtmux_exc.TmuxCommandNotFound, OSError) as exc:
            raise TmuxError(f"tmux {commands[0][0]}: tmux is not installed (not found on PATH): {exc}") from None
        if proc.returncode != 0:
            raise TmuxError(f"tmux {' ; '.join(c[0] for c in commands)}: {' '.join(proc.stderr) or f'exit status {proc.returncode}'}")
        return "\n".join(proc.stdout)

    def _killed(self, what: str, kill: Callable[[], object]) -> None:
        """A libtmux kill, its failure one TmuxError line."""
        libtmux_exc = import_libtmux().exc
        try:
            kill()
        except libtmux_exc.LibTmuxException as exc:
            raise TmuxError(f"tmux {what}: {' '.join(map(str, exc.args)) or exc}") from None
        except OSError as exc:
            raise TmuxError(f"tmux {what}: {exc}") from None

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
        """Every pane of the server, in one call (through the control client when enabled)."""
        try:
            return parse_panes(self.query("list-panes", "-a", "-F", PANE_FORMAT))
        except TmuxError:
            return []

    # -- capture: through a control-mode client when enabled, else a process each --

    CONTROL_RETRY_SECONDS = 5.0
    _control: "tmux_control.ControlClient | None" = None
    _control_session: str | None = None
    _control_retry_at = 0.0
    control_error: str | None = None
    """Why the control client is not in use (None while it is, or was never enabled)."""

    def enable_control(self, session: str) -> bool:
        """From now on capture through one persistent `tmux -C` client attached to `session`
        (see tmux_control); whenever it is unavailable, one process per capture as before,
        and it is connected again later. True if it is connected now.
        MISSION_CONTROL_TMUX_CONTROL=0 in the environment turns it off."""
        if os.environ.get("MISSION_CONTROL_TMUX_CONTROL", "1") == "0":
            self.control_error = "turned off by MISSION_CONTROL_TMUX_CONTROL=0"
            return False
        self._control_lock = threading.Lock()
        self._control_session = session
        self._control_retry_at = 0.0
        return self.control() is not None

    def control(self) -> "tmux_control.ControlClient | None":
        """The live control client, (re)connected when needed; None when there is none."""
        client = self._control
        if client is not None and client.alive:
            return client
        if self._control_session is None:
            return None
        with self._control_lock:
            client = self._control
            if client is not None:
                if client.alive:
                    return client
                self.control_error = client.dead_reason
                client.close()
                self._control = None  # it died: try once right away (the server may be back)
            elif time.monotonic() < self._control_retry_at:
                return None
            try:
                self._control = tmux_control.ControlClient(self.socket, self._control_session)
                self.control_error = None
            except tmux_control.ControlError as exc:
                self.control_error = str(exc)
                self._control_retry_at = time.monotonic() + self.CONTROL_RETRY_SECONDS
            return self._control

    def query(self, *args: str) -> str:
        """A command that only reads (its output, as `cmd` gives it): through the control
        client when enabled, ~0.1 ms, else (or if it just died) a process, ~3-6 ms."""
        client = self.control()
        if client is not None:
            try:
                return client.command(*args)
            except tmux_control.ControlCommandError as exc:
                raise TmuxError(f"tmux {args[0]}: {exc}") from None
            except tmux_control.ControlError:
                pass
        return self.cmd(*args)

    def capture(self, pane_id: str, history: int = 0, join: bool = True) -> str:
        return self.query(*tmux_control.capture_args(pane_id, history, join))

    def capture_changed(
        self, panes: Sequence[PaneInfo], history: int = 0, join: bool = True,
        written: "tmux_control.Written | None" = None,
    ) -> dict[str, str]:
        """A screen for each pane (pane id -> `capture` text), captured again only when it may
        have changed since the last call, else the previous one; `written` as in
        `ControlClient.capture_changed`. Panes that cannot be captured (gone since they were
        listed) are left out. Without a control client: one process per pane."""
        return self.start_capture_changed(panes, history, join, written)()

    def start_capture_changed(
        self, panes: Sequence[PaneInfo], history: int = 0, join: bool = True,
        written: "tmux_control.Written | None" = None,
    ) -> Callable[[], dict[str, str]]:
        """`capture_changed` in two halves: the captures are requested now; calling the
        result waits for them (do other work meanwhile, e.g. read the agents' hook files)."""
        client = self.control()
        if client is not None:
            try:
                finish = client.start_capture_changed(panes, history, join, written)
            except tmux_control.ControlError:
                pass
            else:
                def collect() -> dict[str, str]:
                    try:
                        return finish()
                    except tmux_control.ControlError:
                        return self._capture_each(panes, history, join)

                return collect
        return lambda: self._capture_each(panes, history, join)

    def _capture_each(self, panes: Sequence[PaneInfo], history: int, join: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in panes:
            try:
                out[p.pane_id] = self.capture(p.pane_id, history, join)
            except TmuxError:
                pass
        return out

    def close(self) -> None:
        """Stop the control client, if any (no tmux client is left behind)."""
        self._control_session = None
        client, self._control = self._control, None
        if client is not None:
            client.close()

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
        return self.build(
            "new-session", "-d", "-s", session, "-n", window, "-x", str(width), "-y", str(height),
            "-c", cwd, *env_args(env), "-P", "-F", "#{pane_id}", *argv,
        ).strip()

    def new_window(self, session: str, window: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> str:
        return self.build(
            "new-window", "-d", "-t", f"{session}:", "-n", window, "-c", cwd, *env_args(env),
            "-P", "-F", "#{pane_id}", *argv,
        ).strip()

    def split(self, target: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], relayout: str | None = None) -> str:
        """A new pane after `target`; `relayout`: then lay the window out so (`tiled` makes room for
        the next split), in the same tmux process."""
        split = ["split-window", "-d", "-t", target, "-c", cwd, *env_args(env), "-P", "-F", "#{pane_id}", *argv]
        if relayout is None:
            return self.build(*split).strip()
        return self.build_chain(split, ["select-layout", "-t", target, relayout]).strip()

    def respawn(self, pane_id: str, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> None:
        self.build("respawn-pane", "-k", "-t", pane_id, "-c", cwd, *env_args(env), *argv)

    def select_layout(self, target: str, layout: str) -> None:
        self.build("select-layout", "-t", target, layout)

    def set_option(self, target: str, name: str, value: str, *, scope: str = "") -> None:
        args = ["set-option"]
        if scope:
            args.append(scope)
        self.build(*args, "-t", target, name, value)

    def window_of(self, pane_id: str) -> str:
        return self.cmd("display-message", "-p", "-t", pane_id, "#{window_id}").strip()

    def window_size(self, target: str) -> tuple[int, int]:
        out = self.cmd("display-message", "-p", "-t", target, "#{window_width} #{window_height}").split()
        return int(out[0]), int(out[1])

    def resize_window(self, target: str, width: int, height: int) -> None:
        self.cmd("resize-window", "-t", target, "-x", str(width), "-y", str(height))

    def windows(self, session: str) -> list[tuple[str, str, list[str]]]:
        """The session's windows in order: (window id, name, its pane ids in pane order)."""
        out: dict[str, tuple[str, str, list[str]]] = {}
        rows = self.cmd("list-panes", "-s", "-t", session, "-F", f"#{{window_id}}{SEP}#{{window_name}}{SEP}#{{pane_id}}")
        for line in rows.splitlines():
            parts = line.split(SEP)
            if len(parts) == 3:
                out.setdefault(parts[0], (parts[0], parts[1], []))[2].append(parts[2])
        return list(out.values())

    def break_pane(self, pane_id: str, window: str) -> str:
        """Move a pane (its process keeps running) into a new window of its own; its window id."""
        return self.cmd("break-pane", "-d", "-s", pane_id, "-n", window, "-P", "-F", "#{window_id}").strip()

    def join_pane(self, pane_id: str, target_pane: str) -> None:
        """Move a pane (its process keeps running) into target's window, right after target."""
        self.cmd("join-pane", "-d", "-s", pane_id, "-t", target_pane)

    def rename_window(self, window: str, name: str) -> None:
        self.cmd("rename-window", "-t", window, name)

    def move_window_after(self, window: str, after: str) -> None:
        """Put the window right after `after` in the session's window list, without making it the current one."""
        self.cmd("move-window", "-a", "-d", "-s", window, "-t", after)  # -d: the person stays where they are

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
        self.cmd("load-buffer", "-b", buffer, "-", input=text)
        self.cmd("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id)

    def paste_submit(self, pane_id: str, text: str, enter_after: float, mark: tuple[str, str] | None = None) -> None:
        """Paste `text` into the pane and press Enter `enter_after` seconds later, as one command
        list the tmux server runs whole (the Enter sent by a job of the server, `run-shell -b -d`):
        a caller killed once it is sent leaves no text unsubmitted on the pane's input line. The
        job runs a `tmux send-keys` process of its own: a tmux command (`run-shell -C`) would be
        queued on a client, and dropped when that client goes (the supervisor's control client
        dies with it). `mark` (option, value): set on the pane in the same list, so that a
        caller started again can tell the text was typed (`pane_option`) and never types it twice."""
        buffer = f"mc-{os.getpid()}-{next(_BUFFER_IDS)}"
        self.cmd("load-buffer", "-b", buffer, "-", input=text)
        tmux = shlex.quote(shutil.which("tmux") or "tmux").replace("#", "##")  # run-shell expands formats
        self.build_chain(
            *([["set-option", "-p", "-t", pane_id, mark[0], mark[1]]] if mark else []),
            ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id],
            ["run-shell", "-b", "-d", f"{max(0.0, enter_after):g}",
             f"{tmux} -S #{{q:socket_path}} send-keys -t {shlex.quote(pane_id)} Enter"],
        )

    def pane_option(self, pane_id: str, name: str) -> str | None:
        """A user option of the pane (`@...`), None when unset or the pane is gone."""
        try:
            value = self.cmd("show-options", "-p", "-q", "-v", "-t", pane_id, name).strip()
        except TmuxError:
            return None
        return value or None

    def pipe_output(self, pane_id: str, path: str) -> None:
        """Append everything the pane prints to `path` (0600), unless a pipe is already open."""
        self.cmd(*pipe_output_args(pane_id, path))

    def close_pipe(self, pane_id: str) -> None:
        """Close the pane's output pipe, if any (`pipe-pane` with no command; tmux refuses it for
        a dead pane, whose pipe is gone already)."""
        self.cmd("pipe-pane", "-t", pane_id, check=False)

    def live_pane_pid(self, pane_id: str) -> int | None:
        """The pid of the pane's process, None when the pane is dead or gone."""
        for pane in self.list_panes():
            if pane.pane_id == pane_id:
                return None if pane.dead else pane.pid
        return None

    def pane_alive(self, pane_id: str) -> bool:
        try:
            return self.query("display-message", "-p", "-t", pane_id, "#{pane_dead}").strip() == "0"
        except TmuxError:
            return False

    def kill_pane(self, pane_id: str) -> None:
        self._killed("kill-pane", import_libtmux().Pane(server=self.server, pane_id=pane_id).kill)

    def send_keys(self, pane_id: str, *keys: str) -> None:
        self.cmd("send-keys", "-t", pane_id, *keys)

    def display(self, target: str, message: str) -> None:
        # to each person's client explicitly: left to itself tmux may pick the
        # supervisor's control client (see tmux_control), where nobody would see it.
        # The message is a tmux format: "#(cmd)" in it would run cmd, so every '#' is doubled,
        # and what an agent wrote (its reason) is shown inert
        message = inert(message).replace("#", "##")
        try:
            rows = [r.split(SEP) for r in self.query(
                "list-clients", "-t", target, "-F", f"#{{client_name}}{SEP}#{{client_control_mode}}").splitlines()]
        except TmuxError:
            rows = []
        people = [r[0] for r in rows if r[-1] != "1"]
        if not people and not rows:
            self.cmd("display-message", "-t", target, message, check=False)
        for client in people:
            self.cmd("display-message", "-c", client, "-t", target, message, check=False)

    def select_pane(self, pane_id: str, zoom: bool = False) -> None:
        window = self.window_of(pane_id)
        self.cmd("select-window", "-t", window)
        self.cmd("select-pane", "-t", pane_id)
        if zoom:
            self.cmd("resize-pane", "-Z", "-t", pane_id)

    def kill_session(self, session: str) -> None:
        self._killed("kill-session", lambda: self.server.kill_session(session))

    def kill_server(self) -> None:
        """Kill the fleet's tmux server; one that is not running (or refuses) is left as it is."""
        try:
            self._killed("kill-server", self.server.kill)
        except TmuxError:
            pass

    def attach_argv(self, session: str, message: str | None = None) -> list[str]:
        """tmux attach, showing `message` on the status line once attached (when given)."""
        argv = ["tmux", "-L", self.socket, "attach-session", "-t", session]
        if message:
            argv += [";", "display-message", "-d", "10000", message.replace("#", "##")]
        return argv
