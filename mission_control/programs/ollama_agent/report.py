"""What the agent leaves for the supervisor: its status lines and its token ledger."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mission_control.core.kinds.ollama import ollama_ledger_line

MAX_STATUS_CHARS = 300
MAX_STATUS_FILE_BYTES = 256 * 1024
"""Past this size the status file is started over with just the newest line."""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class StatusFile:
    """Appends one status line per change to `$MISSION_CONTROL_STATUS_FILE` (the
    supervisor reads the last line): `WORKING <what>`, `IDLE done: <summary>`,
    `STUCK <reason>`. Without a path it does nothing."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.last: str | None = None

    def write(self, state: str, text: str) -> str:
        line = " ".join(f"{state} {text}".split())
        if len(line) > MAX_STATUS_CHARS:
            line = line[: MAX_STATUS_CHARS - 1] + "…"
        self.last = line
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if _size(self.path) > MAX_STATUS_FILE_BYTES:  # keep it small: start it over, atomically
                    tmp = self.path.with_name(self.path.name + ".tmp")
                    tmp.write_text(line + "\n", encoding="utf-8")
                    os.replace(tmp, self.path)
                else:
                    with open(self.path, "a", encoding="utf-8") as f:
                        f.write(line + "\n")
            except OSError:
                pass  # a status file we cannot write must not stop the work
        return line

    def working(self, what: str) -> str:
        return self.write("WORKING", what)

    def idle(self, text: str) -> str:
        return self.write("IDLE", text)

    def stuck(self, reason: str) -> str:
        return self.write("STUCK", reason)


class Ledger:
    """One `ollama_ledger_line` per model call, appended as soon as the call ends.

    The meter keys a call by (ts, model, counts), so two calls are never given the
    same `ts`: a call stamped within the same clock tick as the previous one is
    moved a millisecond on."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._last_ts = 0.0
        self.calls = 0
        self.prompt_eval_count = 0
        self.eval_count = 0

    def record(self, model: str, prompt_eval_count: int | None, eval_count: int | None, ts: float | None = None) -> str:
        stamp = time.time() if ts is None else ts
        if stamp <= self._last_ts:
            stamp = self._last_ts + 0.001
        self._last_ts = stamp
        prompt, out = int(prompt_eval_count or 0), int(eval_count or 0)
        self.calls += 1
        self.prompt_eval_count += prompt
        self.eval_count += out
        line = ollama_ledger_line(stamp, model, prompt, out)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        return line
