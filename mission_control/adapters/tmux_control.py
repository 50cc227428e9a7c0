"""A persistent tmux control-mode client: pane captures in ~0.1 ms instead of a process each.

One `tmux -L SOCKET -C attach-session -t =SESSION -f ignore-size,no-output` process lives
as long as the supervisor. Commands are written to its stdin, one per line; tmux answers
each with a `%begin TIME NUMBER FLAGS` ... `%end|%error TIME NUMBER FLAGS` block (FLAGS 1:
a command we sent), in the order they were sent, so replies are matched first-in
first-out and many commands can be in flight at once (`run_many`). Any thread may call.
A reply that does not come within the timeout, a dead client (`%exit`, EOF) or a dead
server fails every waiting call with `ControlError`, and the client stays dead: `Tmux`
then falls back to one subprocess per call and connects a new client later.

The client must not disturb the fleet: `ignore-size` keeps it out of every window-size
computation (the fleet also uses `window-size manual`), `no-output` keeps every pane's
output bytes away from it (and, see below, keeps the server safe), and it never sends
keys. tmux does count it as an attached client of the session: `display-message` must
name the people's clients (`Tmux.display` does), or tmux may show it to this one.

Which panes may have changed: a signature, the window's activity, the processes' writes
----------------------------------------------------------------------------------------
`capture_changed` captures a pane again when its signature from the tick's one
`list-panes` differs (session, pid, dead, exit status, width, height, history size,
cursor position), when it has not been captured for `refresh_every` seconds, or when its
window printed anything since the second of its last capture (`#{window_activity}`: any
byte a pane parses, a redraw in place included) AND its own processes wrote since. tmux
3.3a has no per-pane activity (`#{pane_activity}` is empty), so in a window of several
agents the window's activity alone would capture every pane whenever one of them prints.
What tells them apart is `written(pane)` (`ProcessTable.written`): the bytes the pane's
process tree passed to write(), `wchar` of `/proc/PID/io` summed over the tree (a write to
the terminal counts; a reaped child's bytes move into its parent, so the sum only grows),
and the tree's pids. It is read only for panes whose window printed, ~5 µs a process. A
pane whose tree wrote is captured, and once more on the next look even if it wrote nothing
since: tmux may not have parsed the last bytes when it answered. Every pane still gets a
screen every tick: the last one when nothing says it changed (the same `str` object, so
its hash is not even recomputed).

What `written` cannot see, the rest catches: the terminal's own echo of typed keys moves
the cursor (signature); a process outside the tree that holds the terminal (a daemonized
child), or a write the kernel does not count as write() (io_uring), waits for the refresh.
Where `/proc/PID/io` cannot be read (not Linux, another user's or a non-dumpable process)
`written` is None and the pane is captured whenever its window printed, as without it.

Cursor position, history size or title alone would be blind to redraws in place (a
spinner or "Thinking… (12s)" rewritten on its row moves neither): in the signature they
only add what `written` misses. `%output` notifications would be per pane and exact, and
cheap when switched off per pane after the first one each tick (`refresh-client -A
%N:off`, on again before the capture). But they make the client "behind" on panes that printed, and tmux up to at
least 3.6a segfaults when such a pane is respawned (tmux/tmux#5499, reproduced here on
3.3a); worse, with that design at 100 agents the 3.3a server segfaulted in both 20 s
runs, no respawn involved. A server crash is the whole fleet, so this client runs with
`no-output`: tmux never keeps pane data for it.

Measured on `benchmarks/bench.py`'s fleet (`--strategies`; the %output row with that
earlier design): 100 agents in the `split` layout, 2 vCPU Xeon, tmux 3.3a, 1 s ticks, 20 s
each; the capture step alone after one `list-panes`, its wall time, and CPU in % of one
core (capturing process + tmux server, whose work on the agents' own output is the first row).

    mixed agents (every window busy)      wall/tick   captures/tick   CPU %
      list-panes only, no capture              —             0           8.5
      one `tmux capture-pane` per pane      472 ms          100          52.7
      control client, every pane            9.5 ms          100          12.0
      control client, signature             8.6 ms          100          11.1
      control client, %output per pane           tmux server crashed
    quiet agents (17 in 20 at a prompt)
      list-panes only, no capture              —             0           4.3
      one `tmux capture-pane` per pane      438 ms          100          46.0
      control client, every pane            5.7 ms          100           5.1
      control client, signature             4.2 ms           48           4.9

The same four ways and the written-bytes signal (this), in one later run of 10 s each, the
machine shared with other work (so compare within a block, not with the one above); its
wall time includes the pass over /proc it needs (~10 µs of CPU a process, here ~1 ms for
100 processes), which the supervisor makes every tick anyway:

    mixed agents                          wall/tick   captures/tick   CPU %
      one `tmux capture-pane` per pane      316 ms          100          31.2
      control client, every pane            4.4 ms          100           7.1
      control client, signature             4.2 ms          100           7.6
      signature + written (this)            8.8 ms           66           7.6
    quiet agents
      one `tmux capture-pane` per pane      297 ms          100          27.5
      control client, every pane            3.9 ms          100           3.0
      control client, signature             2.1 ms           51           2.8
      signature + written (this)           15.5 ms           28           3.2

The control client is the win: it adds 13x (busy) to 50x (quiet) less CPU than a
process per pane, and 50-100x less wall time. The window's activity alone captures a
window with any busy agent whole; with the written bytes the captures follow the panes
that print: 66 of 100 in the mixed fleet (its 50 streaming and spinning agents every
tick, the bursty ones twice a burst, and ~10 forced refreshes), 28 in the quiet one
(15 + ~10 refreshes). A capture costs tmux little, so the CPU stays about the same
(the /proc pass included); the supervisor in those runs: 1.8 % (mixed) and 1.3 % (quiet)
of one core, tick p50 31 / 16 ms, p99 56 / 25 ms.
"""

from __future__ import annotations

import itertools
import locale
import os
import random
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Protocol, Sequence

from mission_control.adapters.run import CommandError, popen

DEFAULT_TIMEOUT = 5.0
"""Seconds to wait for tmux's reply before the client is declared dead."""
REFRESH_EVERY = 10.0
"""Seconds after which a screen is captured again even if nothing says it changed."""


class ControlError(Exception):
    """The control client is not usable (not started, died, timed out); `str()` is one line."""


class ControlCommandError(Exception):
    """tmux answered a command with `%error`; `str()` is tmux's message."""


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+,./:@%")


def quote(arg: str) -> str:
    """One argument in tmux's command syntax (control mode parses each line like a config line)."""
    if "\n" in arg or "\r" in arg:
        raise ValueError("a control-mode command cannot contain a newline")
    if arg and all(c in _SAFE for c in arg) and not arg.startswith("%"):
        return arg
    if "'" not in arg:
        return "'" + arg + "'"
    # double quotes: escape what tmux expands inside them
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + escaped + '"'


def command_line(args: Sequence[str]) -> str:
    return " ".join(quote(a) for a in args)


def capture_args(pane_id: str, history: int = 0, join: bool = True) -> list[str]:
    """The same `capture-pane` as `Tmux.capture` runs as a process."""
    args = ["capture-pane", "-p", "-t", pane_id]
    if join:
        args.append("-J")
    if history:
        args += ["-S", str(-history)]
    return args


def _decode(lines: list[bytes], encoding: str) -> str:
    """Reply lines -> the text `subprocess.run(text=True, errors="replace")` would give."""
    if not lines:
        return ""
    text = (b"\n".join(lines) + b"\n").decode(encoding, errors="replace")
    if "\r" in text:  # universal newlines, as in text mode
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


class _Batch:
    """Replies to commands written together; `done` is set when all are in (or the client died)."""

    __slots__ = ("replies", "left", "done", "failure")

    def __init__(self, n: int) -> None:
        self.replies: list[tuple[bool, list[bytes]] | None] = [None] * n
        self.left = n
        self.done = threading.Event()
        self.failure: str | None = None
        if n == 0:
            self.done.set()


class PaneLike(Protocol):
    """What `capture_changed` reads of a pane (`tmux.PaneInfo`). A `window_activity` of 0
    (unknown) means "captured every time"."""

    pane_id: str
    session: str
    pid: int | None
    dead: bool
    dead_status: int | None
    width: int
    height: int
    history_size: int
    window_activity: int
    cursor_x: int
    cursor_y: int


@dataclass
class _Cached:
    screen: str
    signature: Hashable
    due: float
    """Monotonic time after which it is captured again regardless."""
    second: int
    """Wall-clock second in which it was captured: window activity in or after it means "maybe changed"."""
    written: Hashable = None
    """What its process tree had written when it was captured (`written`); None unknown."""
    settle: bool = True
    """Captured while its tree was writing: tmux may not have parsed the last bytes yet, so
    it is captured once more even if its tree wrote nothing since."""


@dataclass
class CaptureStats:
    """What `capture_changed` did, for benchmarks and logs."""

    ticks: int = 0
    captured: int = 0
    reused: int = 0
    failed: int = 0
    unwritten: int = 0
    """Panes in a window that printed, not captured as their process tree wrote nothing."""
    seconds: float = 0.0
    last_captured: int = 0
    last_panes: tuple[str, ...] = ()
    """The panes captured (or tried) by the last call."""
    written: int = 0
    """Bytes written to the client's stdin (commands), so a benchmark can tell them from its other writes."""


Written = Callable[[PaneLike], Hashable]
"""What a pane's process tree has written so far (`ProcessTable.written`); None when unknown."""


class ControlClient:
    """One `tmux -C` client attached to `session` on `socket`; thread-safe."""

    _ids = itertools.count(1)

    def __init__(
        self, socket: str, session: str, *, timeout: float = DEFAULT_TIMEOUT, tmux: str = "tmux",
        refresh_every: float = REFRESH_EVERY,
    ) -> None:
        self.socket = socket
        self.session = session
        self.timeout = timeout
        self.refresh_every = refresh_every
        self.encoding = locale.getpreferredencoding(False)
        self.stats = CaptureStats()
        self._lock = threading.Lock()  # guards writes and the reply queue together (their orders must match)
        self._pending: deque[tuple[_Batch | None, int]] = deque()
        self._cache: dict[str, _Cached] = {}
        self._dead: str | None = None
        self._closing = False
        self.notifications = 0
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        argv = [tmux, "-L", socket, "-C", "attach-session", "-t", f"={session}", "-f", "ignore-size,no-output"]
        try:
            self._proc = popen(argv, env=env)
        except CommandError as exc:
            raise ControlError(f"cannot start a tmux control client: {exc}") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        self._finalizer = weakref.finalize(self, _reap, self._proc)
        # the first block is tmux's answer to `attach-session` itself
        startup = _Batch(1)
        self._pending.append((startup, 0))
        self._startup = True
        self._reader = threading.Thread(target=self._read_loop, name=f"tmux-control-{next(self._ids)}", daemon=True)
        self._reader.start()
        if not startup.done.wait(timeout):
            self._fail(f"tmux control client: no answer to attach within {timeout:g}s")
            reason = self._dead
            self.close()
            raise ControlError(reason or "tmux control client did not start")
        if startup.failure is not None:
            self.close()
            raise ControlError(startup.failure)
        ok, lines = startup.replies[0] or (False, [])
        if not ok:
            msg = _decode(lines, self.encoding).strip() or "attach failed"
            self.close()
            raise ControlError(f"cannot attach a tmux control client to session {session!r} on socket {socket!r}: {msg}")

    # -- state -----------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._dead is None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def dead_reason(self) -> str | None:
        return self._dead

    # -- commands --------------------------------------------------------------

    def run_many(self, commands: Sequence[Sequence[str]], timeout: float | None = None) -> list[list[bytes] | ControlCommandError]:
        """Send every command at once; their output lines (or the error tmux gave), in order.

        Raises ControlError when the client is (or goes) dead or a reply is late."""
        return self._collect(self._send(commands), commands, timeout)

    def _send(self, commands: Sequence[Sequence[str]]) -> _Batch:
        batch = _Batch(len(commands))
        if not commands:
            return batch
        data = "".join(command_line(c) + "\n" for c in commands).encode()
        with self._lock:
            self._check()
            for i in range(len(commands)):
                self._pending.append((batch, i))
            self._write_locked(data)
        return batch

    def _collect(self, batch: _Batch, commands: Sequence[Sequence[str]], timeout: float | None) -> list[list[bytes] | ControlCommandError]:
        wait = self.timeout if timeout is None else timeout
        if not batch.done.wait(wait):
            self._fail(f"tmux control client: no reply to {commands[0][0]!r} within {wait:g}s")
        if batch.failure is not None:
            raise ControlError(batch.failure)
        out: list[list[bytes] | ControlCommandError] = []
        for reply in batch.replies:
            ok, lines = reply or (False, [])
            out.append(lines if ok else ControlCommandError(_decode(lines, self.encoding).strip() or "command failed"))
        return out

    def command(self, *args: str, timeout: float | None = None) -> str:
        """Run one tmux command; its output as text. ControlCommandError when tmux refuses it."""
        reply = self.run_many([args], timeout)[0]
        if isinstance(reply, ControlCommandError):
            raise reply
        return _decode(reply, self.encoding)

    def capture(self, pane_id: str, history: int = 0, join: bool = True) -> str:
        """`capture-pane -p` of one pane, identical to the output of `tmux capture-pane -p`."""
        return self.command(*capture_args(pane_id, history, join))

    def capture_many(self, pane_ids: Iterable[str], history: int = 0, join: bool = True) -> dict[str, str | ControlCommandError]:
        ids = list(pane_ids)
        replies = self.run_many([capture_args(p, history, join) for p in ids])
        return {
            p: (r if isinstance(r, ControlCommandError) else _decode(r, self.encoding)) for p, r in zip(ids, replies)
        }

    # -- which panes changed ----------------------------------------------------

    def capture_changed(
        self, panes: Sequence[PaneLike], history: int = 0, join: bool = True, written: Written | None = None
    ) -> dict[str, str]:
        """A screen for every pane: captured again when it may have changed, else the last one.
        `written(pane)`: what the pane's process tree has written so far (see the module's
        docstring), None when unknown; without it a window's panes are captured together.

        Panes tmux cannot capture (gone since they were listed) are left out."""
        return self.start_capture_changed(panes, history, join, written)()

    def start_capture_changed(
        self, panes: Sequence[PaneLike], history: int = 0, join: bool = True, written: Written | None = None
    ) -> Callable[[], dict[str, str]]:
        """`capture_changed` in two halves: the captures are sent now, and calling the result
        waits for them, so the caller can do other work while tmux answers. One at a time."""
        started = time.perf_counter()
        now = time.monotonic()
        second = int(time.time())  # window_activity has a resolution of one second
        wanted: list[str] = []
        sigs: dict[str, Hashable] = {}
        wrote: dict[str, Hashable] = {}
        settles: dict[str, bool] = {}
        unwritten = 0
        for p in panes:
            sig = (
                p.session, p.pid, p.dead, p.dead_status, p.width, p.height, p.history_size,
                p.cursor_x, p.cursor_y, history, join,
            )
            sigs[p.pane_id] = sig
            entry = self._cache.get(p.pane_id)
            activity = p.window_activity
            if entry is not None and entry.signature == sig and entry.due > now and activity and activity < entry.second:
                continue  # its window printed nothing since it was captured
            key = written(p) if written is not None else None
            if (
                entry is not None and entry.signature == sig and entry.due > now and activity
                and key is not None and key == entry.written and not entry.settle
            ):
                unwritten += 1  # its window printed, but not its processes
                continue
            wrote[p.pane_id] = key
            # captured while its tree writes (or not known): once more next time
            settles[p.pane_id] = key is None or entry is None or key != entry.written
            wanted.append(p.pane_id)
        commands = [capture_args(p, history, join) for p in wanted]
        batch = self._send(commands)
        sent = time.perf_counter() - started

        def finish() -> dict[str, str]:
            t0 = time.perf_counter()
            replies = self._collect(batch, commands, None) if commands else []
            failed = 0
            for pane_id, reply in zip(wanted, replies):
                if isinstance(reply, ControlCommandError):
                    self._cache.pop(pane_id, None)
                    failed += 1
                    continue
                screen = _decode(reply, self.encoding)
                old = self._cache.get(pane_id)
                # first sight: spread the forced re-captures over the period instead of all at once
                due = now + (self.refresh_every * random.uniform(0.5, 1.0) if old is None else self.refresh_every)
                if old is not None and old.screen == screen:
                    screen = old.screen  # the same object: its hash is already computed
                self._cache[pane_id] = _Cached(screen, sigs[pane_id], due, second, wrote[pane_id], settles[pane_id])
            out: dict[str, str] = {}
            for p in panes:
                entry = self._cache.get(p.pane_id)
                if entry is not None:
                    out[p.pane_id] = entry.screen
            for gone in set(self._cache) - set(sigs):
                del self._cache[gone]
            s = self.stats
            s.ticks += 1
            s.last_captured = len(wanted) - failed
            s.last_panes = tuple(wanted)
            s.captured += s.last_captured
            s.reused += len(out) - s.last_captured
            s.failed += failed
            s.unwritten += unwritten
            s.seconds += sent + time.perf_counter() - t0
            return out

        return finish

    # -- life ------------------------------------------------------------------

    def close(self, timeout: float = 2.0) -> None:
        """Detach (EOF on its stdin) and wait for the client to exit; kill it if it does not."""
        with self._lock:
            self._closing = True
            if self._dead is None:
                self._dead = "tmux control client closed"
            try:
                self._proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self._proc.wait(timeout)
        except Exception:
            self._proc.kill()
            try:
                self._proc.wait(timeout)
            except Exception:
                pass
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout)
        try:
            self._proc.stdout.close()  # type: ignore[union-attr]
        except OSError:
            pass
        self._finalizer.detach()

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------

    def _check(self) -> None:
        if self._dead is not None:
            raise ControlError(self._dead)

    def _write_locked(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._in, view)
                self.stats.written += n
                view = view[n:]
        except OSError as exc:
            self._mark_dead_locked(f"tmux control client went away ({exc.strerror or exc})")
            raise ControlError(self._dead or "tmux control client went away") from None

    def _fail(self, reason: str) -> None:
        """Give up on this connection: replies can no longer be matched to requests."""
        with self._lock:
            self._mark_dead_locked(reason)
        try:
            self._proc.kill()
        except OSError:
            pass

    def _mark_dead_locked(self, reason: str) -> None:
        if self._dead is None:
            self._dead = reason
        while self._pending:
            batch, _ = self._pending.popleft()
            if batch is not None and batch.failure is None:
                batch.failure = self._dead
                batch.done.set()

    def _finish(self, ok: bool, lines: list[bytes]) -> None:
        with self._lock:
            if not self._pending:
                return
            batch, index = self._pending.popleft()
        if batch is None:
            return
        batch.replies[index] = (ok, lines)
        batch.left -= 1
        if batch.left == 0:
            batch.done.set()

    def _read_loop(self) -> None:
        buf = bytearray()
        block_guard: bytes | None = None
        block_ours = False
        block_lines: list[bytes] = []
        exit_reason = ""
        fd = self._out
        while True:
            try:
                chunk = os.read(fd, 1 << 18)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            end = buf.rfind(b"\n")
            if end < 0:
                continue
            lines = bytes(buf[:end]).split(b"\n")
            del buf[: end + 1]
            for line in lines:
                if block_guard is not None:
                    if line[:1] == b"%" and (line.startswith(b"%end ") or line.startswith(b"%error ")):
                        kind, _, guard = line.partition(b" ")
                        if guard == block_guard:
                            if block_ours or self._startup:
                                self._startup = False
                                self._finish(kind == b"%end", block_lines)
                            block_guard, block_lines = None, []
                            continue
                    block_lines.append(line)
                    continue
                if line.startswith(b"%begin "):
                    block_guard = line[7:]
                    block_ours = block_guard.endswith(b" 1")
                    block_lines = []
                    continue
                if line.startswith(b"%exit"):
                    exit_reason = line[6:].decode(errors="replace").strip()
                    continue
                self.notifications += 1  # %session-changed, %layout-change, ...: not needed
        with self._lock:
            if self._closing:
                reason = "tmux control client closed"
            elif exit_reason:
                reason = f"tmux control client exited: {exit_reason}"
            else:
                reason = "tmux control client exited (the tmux server or the session is gone)"
            self._mark_dead_locked(reason)


def _reap(proc: object) -> None:
    """Last resort when a client is garbage-collected unclosed."""
    try:
        proc.kill()  # type: ignore[attr-defined]
        proc.wait(1)  # type: ignore[attr-defined]
    except Exception:
        pass
