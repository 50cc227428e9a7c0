"""Token meters, the I/O half: what every meter shares (files followed, the environment, pricing).

Each kind's meter (a module beside this one) is a `Meter` whose `poll()` is cheap enough to call
every second: it stats the files it follows and reads only the bytes appended
since the last poll (a partial last line waits for the next poll; a file that
shrank or was replaced is read again from 0, which the parsers make harmless),
and looks for new session files at most every `rescan_every` seconds.

Paths are resolved with the agent's environment (`env`, the variables its
launch sets, over the supervisor's own `os.environ`): HOME, CLAUDE_CONFIG_DIR,
CODEX_HOME, GEMINI_CLI_HOME, XDG_DATA_HOME, AIDER_CHAT_HISTORY_FILE,
AIDER_ANALYTICS_LOG.

What belongs to an agent: records of its working directory (as recorded
inside them, never decoded from a folder name) whose session started at or
after its launch (`started_at - slack`), or the transcripts named explicitly
(`transcript_paths`, e.g. from Claude Code hooks). A session resumed from
before the launch is not counted unless named explicitly: keep the agent's
first `started_at` across restarts of the same agent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mission_control.core.pricing import REPORTED, CostLedger, Overrides
from mission_control.core.tokens import MeterReading, RegexMeterParser, RegexSpec, ResponseBook

DEFAULT_SLACK = 30.0
DEFAULT_RESCAN = 5.0
MAX_READ = 8 << 20  # bytes read from one file in one poll; the rest waits for the next
HEAD_LIMIT = 4 << 20  # bytes read looking for a session's identity line

# --------------------------------------------------------------------------
# Environment and paths


def effective_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The agent's environment: its own variables over the supervisor's."""
    merged = dict(os.environ)
    merged.update(env or {})
    return merged


def home_dir(env: Mapping[str, str]) -> Path:
    """The agent's HOME (the supervisor's when it sets none)."""
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def expand_path(value: str, env: Mapping[str, str]) -> Path:
    """A path from one of the agent's variables, `~` read as the agent's HOME."""
    if value == "~" or value.startswith("~/"):
        return home_dir(env) / value[2:]
    return Path(value)


def path_forms(path: str | os.PathLike[str]) -> set[str]:
    """Spellings under which a directory may be recorded (as given, normalised, symlinks resolved)."""
    text = os.fspath(path)
    forms = {text, os.path.normpath(text)}
    try:
        forms.add(os.path.realpath(text))
    except OSError:
        pass
    return forms


def same_dir(recorded: str | None, forms: set[str]) -> bool:
    """Is the directory a record names one of `forms` (see `path_forms`)?"""
    if not recorded:
        return False
    if recorded in forms or os.path.normpath(recorded) in forms:
        return True
    try:
        return os.path.realpath(recorded) in forms
    except OSError:
        return False


def file_mtime(path: Path | str) -> float | None:
    """Its modification time, or None when it cannot be read."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def list_dir(path: Path | str) -> list[os.DirEntry[str]]:
    """Its entries, or none when it cannot be listed."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def entry_mtime(entry: os.DirEntry[str]) -> float | None:
    """An entry's modification time, or None when it is gone."""
    try:
        return entry.stat().st_mtime
    except OSError:
        return None


# --------------------------------------------------------------------------
# Tailing


class TailedFile:
    """Reads what was appended to a file since the last call, whole lines only."""

    def __init__(self, path: Path, *, max_read: int = MAX_READ) -> None:
        self.path = Path(path)
        self.offset = 0
        self.inode: int | None = None
        self.device: int | None = None
        self.max_read = max_read
        self.resets = 0

    def read_new(self) -> tuple[list[str], bool]:
        """(complete new lines, whether the file was replaced or shrank and is read anew)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return [], False
        reset = False
        if self.inode is not None and (st.st_ino != self.inode or st.st_dev != self.device or st.st_size < self.offset):
            self.offset = 0
            self.resets += 1
            reset = True
        self.inode, self.device = st.st_ino, st.st_dev
        if st.st_size <= self.offset:
            return [], reset
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, self.max_read))
        except OSError:
            return [], reset
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= self.max_read:  # one line longer than a whole read: skip it whole
                self.offset += len(data)
            return [], reset
        chunk = data[: end + 1]
        self.offset += len(chunk)
        text = chunk.decode("utf-8", errors="replace")
        return text.splitlines(), reset


class WholeFile:
    """A file rewritten whole (not appended to): its text when it changed, else None."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._sig: tuple[int, int, int] | None = None

    def read_if_changed(self) -> str | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sig == self._sig:
            return None
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        self._sig = sig
        return text


def read_head_lines(path: Path, *, limit: int = HEAD_LIMIT) -> list[str]:
    """The complete lines at the start of a file (up to `limit` bytes)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return []
    end = data.rfind(b"\n")
    if end < 0:
        return []
    return data[: end + 1].decode("utf-8", errors="replace").splitlines()


# --------------------------------------------------------------------------
# Meters


class Meter:
    """One agent's meter. `poll(new_lines)` -> `MeterReading`; never raises on bad records."""

    records: str | None = None
    """The records format it reads (`KindSpec.records`); None: not a kind's own records."""
    takes: tuple[str, ...] = ()
    """Which of `make_meter`'s `transcript_paths` and `ledger_path` it is given."""
    reads_output: bool = False
    """It counts what the agent printed (the lines given to `poll`): the supervisor logs the pane's output for it."""
    """Which of `make_meter`'s `transcript_paths` and `ledger_path` it is given."""
    default_free = False

    def __init__(
        self,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        started_at: float = 0.0,
        price_overrides: Overrides | None = None,
        slack: float = DEFAULT_SLACK,
        rescan_every: float = DEFAULT_RESCAN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cwd = Path(cwd)
        self.env = effective_env(env)
        self.started_at = float(started_at)
        self.slack = slack
        self.cutoff = self.started_at - slack
        self.overrides = dict(price_overrides or {})
        self.rescan_every = rescan_every
        self.clock = clock
        self._next_scan: float | None = None
        self.cwd_forms = path_forms(self.cwd)
        self.book = ResponseBook()
        self.ledger = CostLedger(self.overrides, default_free=self.default_free)
        self._parsers: list[Any] = []
        self._sources: list[str] = []

    # subclasses fill these in
    def rescan(self) -> None:
        """Look for new records of this agent (called at most every `rescan_every` s)."""

    def _read(self, new_lines: Sequence[str]) -> None:
        """Read what is new in the records already found."""

    def reported_cost(self) -> float | None:
        """A total the agent itself reported, which wins over pricing the tokens."""
        return None

    def poll(self, new_lines: Sequence[str] = ()) -> MeterReading:
        now = self.clock()
        if self._next_scan is None or now >= self._next_scan:
            self._next_scan = now + self.rescan_every
            try:
                self.rescan()
            except OSError:
                pass
        try:
            self._read(new_lines)
        except OSError:
            pass
        return self.reading()

    def _add_source(self, path: Path | str) -> None:
        text = os.fspath(path)
        if text not in self._sources:
            self._sources.append(text)

    def skipped_lines(self) -> int:
        return sum(getattr(p, "skipped_lines", 0) for p in self._parsers)

    def reading(self) -> MeterReading:
        self.ledger.apply(self.book.drain_changes())
        reported = self.reported_cost()
        if reported is not None:
            cost, source = reported, REPORTED
        else:
            cost, source = self.ledger.total, self.ledger.source
        return MeterReading(
            usage=self.book.total,
            cost_usd=cost,
            cost_source=source,
            models=self.book.models,
            responses=len(self.book),
            skipped_lines=self.skipped_lines(),
            usage_by_model=self.book.by_model,
            cost_by_model=self.ledger.by_model,
            sources=tuple(self._sources),
        )


class FollowingMeter(Meter):
    """A meter that follows a set of appended-to files, each with its own line parser."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._tails: dict[Path, TailedFile] = {}
        self._line_parsers: dict[Path, Any] = {}
        self._verdicts: dict[Path, tuple[int, bool]] = {}

    def _make_parser(self, path: Path) -> Any:
        raise NotImplementedError

    def follow(self, path: Path) -> None:
        path = Path(path)
        if path in self._tails:
            return
        self._tails[path] = TailedFile(path)
        parser = self._make_parser(path)
        self._line_parsers[path] = parser
        if parser not in self._parsers:
            self._parsers.append(parser)
        self._add_source(path)

    def _remember(self, path: Path, accepted: bool) -> None:
        try:
            self._verdicts[path] = (os.stat(path).st_ino, accepted)
        except OSError:
            pass

    def _decided(self, path: Path) -> bool:
        verdict = self._verdicts.get(path)
        if verdict is None:
            return False
        try:
            return os.stat(path).st_ino == verdict[0]
        except OSError:
            return True

    def _read(self, new_lines: Sequence[str]) -> None:
        for path, tail in list(self._tails.items()):
            lines, reset = tail.read_new()
            if reset:
                self._on_reset(path)
            parser = self._line_parsers[path]
            for line in lines:
                parser.feed_line(line)

    def _on_reset(self, path: Path) -> None:
        """A followed file was replaced or shrank; it is read again from 0."""


def stat_sig(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns): changes when the file is written; None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def list_dir_paths(path: Path) -> list[Path]:
    """Its entries' paths, or none when it cannot be listed."""
    return [Path(e.path) for e in list_dir(path)]


def find_git_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` holding `.git`."""
    for p in (path, *path.parents):
        if (p / ".git").exists():
            return p
    return None


# ---- Any command


class RegexMeter(Meter):
    """A shell command's output lines matched with the regexes from agents.toml."""

    reads_output = True

    def __init__(self, *, spec: RegexSpec, **kw: Any) -> None:
        super().__init__(**kw)
        self.parser = RegexMeterParser(spec, self.book)
        self._parsers.append(self.parser)

    def _read(self, new_lines: Sequence[str]) -> None:
        self.parser.feed(new_lines)

    def reported_cost(self) -> float | None:
        return self.parser.reported_cost


class UnknownMeter(Meter):
    """No way to count this agent's tokens: readings say "unknown", not zero."""

    def reading(self) -> MeterReading:
        return MeterReading.unknown()
