"""One long-lived action channel per host (issue 22 point 7: key-to-remote-agent latency).

A one-shot `ssh host mission-control WORDS` pays Python's start and imports on the host (~180 ms)
for every action. A process that acts often (the dashboard, the supervisor) keeps instead one
`mission-control host-channel` per host, started once over the host's ssh master connection: it
reads one JSON request per line on stdin (`words`, `stdin`, `actor`: who the host's action log
names, `dashboard@laptop`) and answers one JSON line (`code`, `stdout`, `stderr`), running the
CLI's own code in-process, one request at a time.

What a request carries (injected values, typed text) travels inside the JSON on ssh's stdin, never
on a command line. A request never runs twice: a channel that dies while a request is in flight is
one failure line ("may or may not have been done"), not a retry; a channel that is dead before the
request is sent is restarted (or the one-shot ssh is used) for it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mission_control.adapters.ssh import SshHost
from mission_control.core.config import HostSpec
from mission_control.core.hosts import ACTOR_ENV, ACTOR_PATTERN

PROTOCOL = 1
"""The version of the request/answer lines; the host says it in its first (ready) line."""
START_TIMEOUT = 30.0
"""How long a new channel may take to say it is ready (ssh, the host's Python start)."""
RETRY_AFTER = 60.0
"""After a channel could not be started (an older mission-control there, no link), actions use the
one-shot ssh for this long before the channel is tried again."""


class ChannelLost(Exception):
    """The channel died or stopped answering while a request was in flight: it may have run."""


class ChannelUnusable(Exception):
    """The channel could not take the request (not started, dead before the request was sent):
    nothing ran; the caller may use the one-shot ssh."""


@dataclass
class HostChannel:
    """The laptop's end of one host's channel."""

    host: HostSpec
    remote_line: str
    """The remote shell line that starts `mission-control host-channel` in the host's config folder."""
    proc: subprocess.Popen[bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    """One request at a time per host."""
    failed_at: float | None = None
    """When the channel last could not be started (the one-shot ssh is used until RETRY_AFTER)."""
    _buffer: bytes = b""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _start(self) -> None:
        if self.failed_at is not None and time.monotonic() - self.failed_at < RETRY_AFTER:
            raise ChannelUnusable("channel failed to start recently")
        self.close()
        try:
            self.proc = subprocess.Popen(SshHost(self.host).argv(self.remote_line), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.failed_at = time.monotonic()
            raise ChannelUnusable(str(exc)) from exc
        self._buffer = b""
        try:
            ready = json.loads(self._read_line(START_TIMEOUT))
            if not isinstance(ready, dict) or ready.get("ready") != PROTOCOL:
                raise ChannelLost("not a channel's ready line")
        except (ChannelLost, ValueError) as exc:
            self.failed_at = time.monotonic()
            self.close()
            raise ChannelUnusable(str(exc)) from exc
        self.failed_at = None

    def _read_line(self, timeout: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelLost(f"no answer within {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ChannelLost("the channel ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def open(self) -> bool:
        """Start the channel now if it is not running (so the first action does not wait for it):
        whether it runs."""
        with self.lock:
            if not self.alive():
                try:
                    self._start()
                except ChannelUnusable:
                    return False
            return True

    def request(self, words: list[str], stdin: str, actor: str, timeout: float) -> tuple[int, str, str]:
        """Run `words` on the host through the channel: (exit code, stdout, stderr).
        ChannelUnusable: nothing ran. ChannelLost: the request was sent and its fate is unknown."""
        with self.lock:
            if not self.alive():
                self._start()
            assert self.proc is not None and self.proc.stdin is not None
            line = json.dumps({"words": words, "stdin": stdin, "actor": actor}).encode() + b"\n"
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                # the host runs only whole lines: a line that did not get through in full never runs
                self.close()
                raise ChannelUnusable(str(exc)) from exc
            try:
                answer = json.loads(self._read_line(timeout))
                return int(answer["code"]), str(answer["stdout"]), str(answer["stderr"])
            except (ChannelLost, ValueError, KeyError, TypeError) as exc:
                self.close()
                raise ChannelLost(str(exc)) from exc

    def close(self) -> None:
        """End the channel: its stdin closed (the host's end returns), ssh ended if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def serve(run: Callable[[list[str]], int], config: str, commands: tuple[str, ...]) -> int:
    """The host's end: one JSON request per line on stdin, one JSON answer per line on stdout,
    each request `run(words + ["-c", config])` in this process (only `commands`: the first word) with its stdin/stdout/stderr as text.
    The protocol's own descriptors are kept apart first: what a command or its children write to
    fds 0/1 cannot reach the laptop as an answer. Returns when stdin ends."""
    wire_in = os.fdopen(os.dup(0), "rb", buffering=0)
    wire_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    wire_out.write(json.dumps({"ready": PROTOCOL}).encode() + b"\n")
    buffer = b""
    while True:
        chunk = wire_in.read(65536)
        if not chunk:
            return 0  # a line without its newline at the end is not a whole request: never run
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            wire_out.write(json.dumps(_one(run, raw, config, commands)).encode() + b"\n")


def _one(run: Callable[[list[str]], int], raw: bytes, config: str, commands: tuple[str, ...]) -> dict[str, object]:
    try:
        req = json.loads(raw)
        words = req["words"]
        text = req.get("stdin", "")
        if not (isinstance(words, list) and words and all(isinstance(w, str) for w in words) and isinstance(text, str)):
            raise ValueError("words must be a list of strings, stdin a string")
        if words[0] not in commands:
            raise ValueError(f"{words[0]!r} is not an action a channel runs")
        actor = req.get("actor")
        if actor is not None and not (isinstance(actor, str) and ACTOR_PATTERN.fullmatch(actor)):
            raise ValueError("actor must be 1 to 64 letters, digits and . _ - @ : +")
    except (ValueError, KeyError, TypeError) as exc:
        return {"code": 2, "stdout": "", "stderr": f"mission-control: host-channel: not a request ({exc})\n"}
    out, err = io.StringIO(), io.StringIO()
    saved_in, saved_actor = sys.stdin, os.environ.get(ACTOR_ENV)
    sys.stdin = io.StringIO(text)
    if actor is not None:  # who the action log names (`dashboard@laptop`), for this request only
        os.environ[ACTOR_ENV] = actor
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run([*words, "-c", config])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin = saved_in
        if saved_actor is None:
            os.environ.pop(ACTOR_ENV, None)
        else:
            os.environ[ACTOR_ENV] = saved_actor
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
