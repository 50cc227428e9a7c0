"""Token meters, the I/O half: find each agent's own records and tail them.

`make_meter(kind, ...)` returns a meter whose `poll()` is cheap enough to call
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

import hashlib
import os
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from mission_control.core.pricing import REPORTED, CostLedger, Overrides
from mission_control.core.tokens import (
    AiderAnalyticsParser,
    AiderParser,
    ClaudeTranscriptParser,
    CodexRolloutParser,
    GeminiChatParser,
    MeterReading,
    OllamaLedgerParser,
    OpenCodeParser,
    RegexMeterParser,
    RegexSpec,
    ResponseBook,
    claude_line_meta,
    codex_session_meta,
    gemini_session_meta,
    load_json_line,
)

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
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _expand(value: str, env: Mapping[str, str]) -> Path:
    if value == "~" or value.startswith("~/"):
        return home_dir(env) / value[2:]
    return Path(value)


def claude_config_dir(env: Mapping[str, str]) -> Path:
    value = env.get("CLAUDE_CONFIG_DIR")
    return _expand(value, env) if value else home_dir(env) / ".claude"


def codex_home(env: Mapping[str, str]) -> Path:
    value = env.get("CODEX_HOME")
    return _expand(value, env) if value else home_dir(env) / ".codex"


def gemini_dir(env: Mapping[str, str]) -> Path:
    value = env.get("GEMINI_CLI_HOME")
    return (_expand(value, env) if value else home_dir(env)) / ".gemini"


def opencode_data_dir(env: Mapping[str, str]) -> Path:
    value = env.get("XDG_DATA_HOME")
    base = _expand(value, env) if value else home_dir(env) / ".local" / "share"
    return base / "opencode"


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
    if not recorded:
        return False
    if recorded in forms or os.path.normpath(recorded) in forms:
        return True
    try:
        return os.path.realpath(recorded) in forms
    except OSError:
        return False


def _mtime(path: Path | str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _scandir(path: Path | str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _entry_mtime(entry: os.DirEntry[str]) -> float | None:
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

    kind = "?"
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


class _FollowingMeter(Meter):
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


# ---- Claude Code


class ClaudeMeter(_FollowingMeter):
    """`<CLAUDE_CONFIG_DIR or ~/.claude>/projects/<slug>/<session>.jsonl`, sidechain files
    (`<slug>/agent-*.jsonl`) and subagent files (`<slug>/<session>/subagents/*.jsonl`)."""

    kind = "claude"

    def __init__(self, *, transcript_paths: Iterable[Path] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.parser = ClaudeTranscriptParser(self.book)
        self._parsers.append(self.parser)
        self.explicit: list[Path] = [Path(p) for p in (transcript_paths or [])]

    @property
    def projects_dir(self) -> Path:
        return claude_config_dir(self.env) / "projects"

    def add_transcript(self, path: Path) -> None:
        """A transcript named by a hook (e.g. SessionStart's `transcript_path`).

        Once any transcript is named, the meter follows named transcripts (and
        their subagent files) only, and stops looking for sessions by cwd.
        """
        path = Path(path)
        if path not in self.explicit:
            self.explicit.append(path)
        self._next_scan = None

    def _make_parser(self, path: Path) -> Any:
        return self.parser  # one parser, one book: a response in two files counts once

    def rescan(self) -> None:
        if self.explicit:
            for path in self.explicit:
                self.follow(path)
                self._follow_children(path)
            return
        for slug in _scandir(self.projects_dir):
            if not slug.is_dir() or (_entry_mtime(slug) or 0) < self.cutoff:
                continue  # nothing was created in it since the launch
            for entry in _scandir(slug.path):
                if entry.is_file() and entry.name.endswith(".jsonl"):
                    self._consider(Path(entry.path), entry)
                elif entry.is_dir() and (_entry_mtime(entry) or 0) >= self.cutoff:
                    sub = Path(entry.path) / "subagents"
                    if (_mtime(sub) or 0) >= self.cutoff:
                        for f in _scandir(sub):
                            if f.is_file() and f.name.endswith(".jsonl"):
                                self._consider(Path(f.path), f)

    def _follow_children(self, transcript: Path) -> None:
        session_id = transcript.stem
        for f in _scandir(transcript.parent / session_id / "subagents"):
            if f.name.endswith(".jsonl"):
                self.follow(Path(f.path))
        for f in _scandir(transcript.parent):
            path = Path(f.path)
            if f.name.startswith("agent-") and f.name.endswith(".jsonl") and path not in self._tails:
                if not self._decided(path):
                    meta = self._identity(path)
                    if meta is not None:
                        self._remember(path, meta[2] == session_id)
                if self._verdicts.get(path, (0, False))[1]:
                    self.follow(path)

    def _identity(self, path: Path) -> tuple[str, float | None, str | None] | None:
        """(cwd, first timestamp, session id) from the first line that names a cwd."""
        first_ts: float | None = None
        for line in read_head_lines(path):
            meta = claude_line_meta(line)
            if meta is None:
                continue
            if first_ts is None and meta.timestamp is not None:
                first_ts = meta.timestamp
            if meta.cwd:
                return meta.cwd, first_ts, meta.session_id
        return None

    def _consider(self, path: Path, entry: os.DirEntry[str]) -> None:
        if path in self._tails or self._decided(path):
            return
        if (_entry_mtime(entry) or 0) < self.cutoff:
            return  # untouched since before the launch: not a session of this agent
        ident = self._identity(path)
        if ident is None:
            return  # no cwd line yet: decide at a later scan
        cwd, started, _sid = ident
        ok = same_dir(cwd, self.cwd_forms) and (started is None or started >= self.cutoff)
        self._remember(path, ok)
        if ok:
            self.follow(path)


# ---- Codex CLI


class CodexMeter(_FollowingMeter):
    """`<CODEX_HOME or ~/.codex>/sessions/YYYY/MM/DD/rollout-*.jsonl` whose `session_meta`
    names this cwd and a start at/after the launch."""

    kind = "codex"

    def __init__(self, *, transcript_paths: Iterable[Path] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.explicit = [Path(p) for p in (transcript_paths or [])]

    def _make_parser(self, path: Path) -> Any:
        return CodexRolloutParser(self.book, file_key=str(path), since=self.cutoff)

    def _on_reset(self, path: Path) -> None:
        old = self._line_parsers[path]
        new = self._make_parser(path)
        new.skipped_lines = old.skipped_lines
        self._parsers[self._parsers.index(old)] = new
        self._line_parsers[path] = new

    def _day_dirs(self) -> list[Path]:
        """The existing `sessions/YYYY/MM/DD` folders from the day before the launch on."""
        root = codex_home(self.env) / "sessions"
        first = date.fromtimestamp(max(self.cutoff, 0)) - timedelta(days=1)
        days: list[Path] = []
        for y in _scandir(root):
            if not (y.is_dir() and y.name.isdigit()) or int(y.name) < first.year:
                continue
            for m in _scandir(y.path):
                if not (m.is_dir() and m.name.isdigit()) or (int(y.name), int(m.name)) < (first.year, first.month):
                    continue
                for d in _scandir(m.path):
                    if not (d.is_dir() and d.name.isdigit()):
                        continue
                    try:
                        day = date(int(y.name), int(m.name), int(d.name))
                    except ValueError:
                        continue
                    if day >= first:
                        days.append(Path(d.path))
        return sorted(days)

    def rescan(self) -> None:
        for path in self.explicit:
            self.follow(path)
        if self.explicit:
            return
        for day in self._day_dirs():
            for entry in _scandir(day):
                if not (entry.name.startswith("rollout-") and entry.name.endswith(".jsonl")):
                    continue
                path = Path(entry.path)
                if path in self._tails or self._decided(path) or (_entry_mtime(entry) or 0) < self.cutoff:
                    continue
                head = read_head_lines(path, limit=1 << 20)
                meta = codex_session_meta(head[0]) if head else None
                if meta is None:
                    if head:
                        self._remember(path, False)
                    continue
                ok = same_dir(meta.cwd, self.cwd_forms) and (meta.started is None or meta.started >= self.cutoff)
                self._remember(path, ok)
                if ok:
                    self.follow(path)


# ---- Gemini CLI


def gemini_project_hash(path: str) -> str:
    """gemini-cli's project hash: sha256 of the project root path."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


class GeminiMeter(Meter):
    """`<GEMINI_CLI_HOME or ~>/.gemini/tmp/<project>/chats/session-*.jsonl` (and subagent
    chats in `chats/<parent session>/`; legacy `session-*.json` documents are re-read when
    they change). `<project>` is the slug `projects.json` maps this cwd to, any directory
    whose `.project_root` names it, or the legacy sha256 of the path."""

    kind = "gemini"

    def __init__(self, *, transcript_paths: Iterable[Path] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.explicit = [Path(p) for p in (transcript_paths or [])]
        self._tails: dict[Path, tuple[TailedFile, GeminiChatParser]] = {}
        self._docs: dict[Path, tuple[WholeFile, GeminiChatParser]] = {}
        self._rejected: set[Path] = set()
        self._hashes = {gemini_project_hash(f) for f in self.cwd_forms}

    def project_dirs(self) -> list[Path]:
        base = gemini_dir(self.env)
        tmp = base / "tmp"
        found: list[Path] = []
        try:
            registry = load_json_line((base / "projects.json").read_text(encoding="utf-8"))
        except OSError:
            registry = None
        projects = registry.get("projects") if isinstance(registry, dict) else None
        if isinstance(projects, dict):
            for path, slug in projects.items():
                if isinstance(slug, str) and same_dir(path, self.cwd_forms):
                    found.append(tmp / slug)
        for entry in _scandir(tmp):
            if entry.is_dir():
                marker = Path(entry.path) / ".project_root"
                try:
                    owner = marker.read_text(encoding="utf-8").strip()
                except OSError:
                    continue
                if same_dir(owner, self.cwd_forms):
                    found.append(Path(entry.path))
        for h in self._hashes:
            found.append(tmp / h)
        unique: list[Path] = []
        for p in found:
            if p not in unique and p.is_dir():
                unique.append(p)
        return unique

    def rescan(self) -> None:
        if self.explicit:
            for path in self.explicit:
                self._follow(path)
            return
        for project in self.project_dirs():
            chats = project / "chats"
            for entry in _scandir(chats):
                if entry.is_dir() and (_entry_mtime(entry) or 0) >= self.cutoff:
                    for f in _scandir(entry.path):  # a session's subagent chats
                        self._consider(Path(f.path), f)
                elif entry.is_file() and entry.name.startswith("session-"):
                    self._consider(Path(entry.path), entry)

    def _consider(self, path: Path, entry: os.DirEntry[str]) -> None:
        if path in self._tails or path in self._docs or path in self._rejected:
            return
        if not (path.name.endswith(".jsonl") or path.name.endswith(".json")):
            return
        if (_entry_mtime(entry) or 0) < self.cutoff:
            return
        if path.name.endswith(".jsonl"):
            head = read_head_lines(path, limit=1 << 20)
            if not head:
                return
            meta = gemini_session_meta(head[0])
        else:
            try:
                meta = gemini_session_meta(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                return
        if meta is None:
            self._rejected.add(path)
            return
        ok = (meta.started is None or meta.started >= self.cutoff) and (
            meta.project_hash is None or meta.project_hash in self._hashes
        )
        if not ok:
            self._rejected.add(path)
            return
        self._follow(path)

    def _follow(self, path: Path) -> None:
        if path in self._tails or path in self._docs:
            return
        parser = GeminiChatParser(self.book, file_key=str(path))
        self._parsers.append(parser)
        self._add_source(path)
        if path.name.endswith(".json"):
            self._docs[path] = (WholeFile(path), parser)
        else:
            self._tails[path] = (TailedFile(path), parser)

    def _read(self, new_lines: Sequence[str]) -> None:
        for tail, parser in self._tails.values():
            lines, _reset = tail.read_new()
            parser.feed(lines)
        for whole, parser in self._docs.values():
            text = whole.read_if_changed()
            if text is not None:
                parser.feed_document(text)


# ---- OpenCode


class OpenCodeMeter(Meter):
    """OpenCode's SQLite store `<XDG_DATA_HOME or ~/.local/share>/opencode/opencode*.db`
    (tables `session(directory, time_created)`, `message(session_id, time_updated, data)`),
    or the older JSON store `storage/session/*/<id>.json` + `storage/message/<id>/*.json`.
    Assistant messages carry opencode's own cost, which wins."""

    kind = "opencode"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.parser = OpenCodeParser(self.book)
        self._parsers.append(self.parser)
        self._sessions: dict[Path, set[str]] = {}  # db -> session ids
        self._watermark: dict[Path, int] = {}
        self._db_sig: dict[Path, tuple[Any, ...]] = {}
        self._json_sessions: set[str] = set()
        self._json_sigs: dict[Path, tuple[int, int]] = {}

    @property
    def data_dir(self) -> Path:
        return opencode_data_dir(self.env)

    def _databases(self) -> list[Path]:
        return sorted(p for p in _scandir_paths(self.data_dir) if p.name.startswith("opencode") and p.name.endswith(".db"))

    def _connect(self, db: Path) -> sqlite3.Connection:
        return sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.2)

    def rescan(self) -> None:
        cutoff_ms = int(self.cutoff * 1000)
        forms = sorted(self.cwd_forms)
        for db in self._databases():
            try:
                con = self._connect(db)
                try:
                    marks = ",".join("?" * len(forms))
                    rows = con.execute(
                        f"SELECT id FROM session WHERE directory IN ({marks}) AND time_created >= ?", (*forms, cutoff_ms)
                    ).fetchall()
                finally:
                    con.close()
            except sqlite3.Error:
                continue
            ids = {r[0] for r in rows}
            if ids - self._sessions.get(db, set()):
                self._db_sig.pop(db, None)  # new sessions: query messages again
            self._sessions[db] = self._sessions.get(db, set()) | ids
            if ids:
                self._add_source(db)
        self._rescan_json()

    def _rescan_json(self) -> None:
        storage = self.data_dir / "storage"
        for project in _scandir(storage / "session"):
            if not project.is_dir() or (_entry_mtime(project) or 0) < self.cutoff:
                continue
            for f in _scandir(project.path):
                sid = f.name[:-5] if f.name.endswith(".json") else None
                if not sid or sid in self._json_sessions:
                    continue
                try:
                    info = load_json_line(Path(f.path).read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    continue
                if not info or not same_dir(info.get("directory"), self.cwd_forms):
                    continue
                created = info.get("time", {}).get("created") if isinstance(info.get("time"), dict) else None
                if isinstance(created, (int, float)) and created / 1000.0 < self.cutoff:
                    continue
                self._json_sessions.add(sid)
                self._add_source(storage / "message" / sid)

    def _read(self, new_lines: Sequence[str]) -> None:
        for db, ids in self._sessions.items():
            if not ids:
                continue
            sig = tuple((_stat_sig(db), _stat_sig(Path(str(db) + "-wal"))))
            if self._db_sig.get(db) == sig:
                continue
            try:
                con = self._connect(db)
                try:
                    marks = ",".join("?" * len(ids))
                    rows = con.execute(
                        f"SELECT id, data, time_updated FROM message WHERE session_id IN ({marks}) "
                        "AND time_updated >= ? ORDER BY time_updated",
                        (*sorted(ids), self._watermark.get(db, 0)),
                    ).fetchall()
                finally:
                    con.close()
            except sqlite3.Error:
                continue
            self._db_sig[db] = sig
            for mid, data, updated in rows:
                self.parser.feed_message(str(mid), data if isinstance(data, str) else str(data))
                if isinstance(updated, int):
                    self._watermark[db] = max(self._watermark.get(db, 0), updated)
        storage = self.data_dir / "storage" / "message"
        for sid in self._json_sessions:
            for f in _scandir(storage / sid):
                path = Path(f.path)
                sig = _stat_sig(path)
                if sig is None or self._json_sigs.get(path) == sig:
                    continue
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                self._json_sigs[path] = sig
                self.parser.feed_message(path.stem, text)


def _stat_sig(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _scandir_paths(path: Path) -> list[Path]:
    return [Path(e.path) for e in _scandir(path)]


# ---- Aider


def find_git_root(path: Path) -> Path | None:
    for p in (path, *path.parents):
        if (p / ".git").exists():
            return p
    return None


class AiderMeter(Meter):
    """Aider's chat history file (`> Tokens: ...` lines; AIDER_CHAT_HISTORY_FILE, else
    `.aider.chat.history.md` at the git root or cwd), else its `--analytics-log` JSONL
    (AIDER_ANALYTICS_LOG, or a `.jsonl` in `transcript_paths`), else the screen lines
    given to `poll`. Aider's own session cost wins."""

    kind = "aider"

    def __init__(self, *, transcript_paths: Iterable[Path] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.explicit = [Path(p) for p in (transcript_paths or [])]
        self._tail: TailedFile | None = None
        self._file_parser: AiderParser | AiderAnalyticsParser | None = None
        self.screen = AiderParser(self.book, key_prefix="aider-screen")
        self._parsers.append(self.screen)

    def candidates(self) -> list[tuple[Path, str]]:
        found: list[tuple[Path, str]] = []
        for p in self.explicit:
            found.append((p, "analytics" if p.suffix == ".jsonl" else "history"))
        hist = self.env.get("AIDER_CHAT_HISTORY_FILE")
        if hist:
            p = _expand(hist, self.env)
            found.append((p if p.is_absolute() else self.cwd / p, "history"))
        root = find_git_root(self.cwd) or self.cwd
        found.append((root / ".aider.chat.history.md", "history"))
        if root != self.cwd:
            found.append((self.cwd / ".aider.chat.history.md", "history"))
        log = self.env.get("AIDER_ANALYTICS_LOG")
        if log:
            p = _expand(log, self.env)
            found.append((p if p.is_absolute() else self.cwd / p, "analytics"))
        return found

    def rescan(self) -> None:
        if self._tail is not None:
            return
        for path, form in self.candidates():
            if path.is_file():
                self._use_file(path, form)
                return

    def _use_file(self, path: Path, form: str) -> None:
        # What the screen showed before the file appeared is in the file too: start over.
        self.book = ResponseBook()
        self.ledger = CostLedger(self.overrides, default_free=self.default_free)
        self._parsers = []
        self._tail = TailedFile(path)
        if form == "analytics":
            self._file_parser = AiderAnalyticsParser(self.book, since=self.cutoff)
        else:
            self._file_parser = AiderParser(self.book, since=self.cutoff)
        self._parsers.append(self._file_parser)
        self._add_source(path)

    def _read(self, new_lines: Sequence[str]) -> None:
        if self._tail is None:
            self.screen.feed(new_lines)
            return
        lines, _reset = self._tail.read_new()
        assert self._file_parser is not None
        self._file_parser.feed(lines)

    def reported_cost(self) -> float | None:
        parser = self._file_parser if self._tail is not None else self.screen
        return parser.reported_cost if parser is not None else None


# ---- Ollama (built-in agent)


class OllamaMeter(_FollowingMeter):
    """The built-in agent's ledger (`ollama_ledger_line` format). Free unless overridden."""

    kind = "ollama"
    default_free = True

    def __init__(self, *, ledger_path: Path | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.ledger_path = Path(ledger_path) if ledger_path else None
        self.parser = OllamaLedgerParser(self.book, since=self.cutoff)
        self._parsers.append(self.parser)

    def _make_parser(self, path: Path) -> Any:
        return self.parser

    def rescan(self) -> None:
        if self.ledger_path is not None:
            self.follow(self.ledger_path)


# ---- Any command


class RegexMeter(Meter):
    """A shell command's output lines matched with the regexes from agents.toml."""

    kind = "shell"

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

    kind = "shell"

    def reading(self) -> MeterReading:
        return MeterReading.unknown()


# --------------------------------------------------------------------------

KINDS_WITH_FILES = ("claude", "codex", "aider", "gemini", "opencode", "ollama")


def make_meter(
    kind: str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    started_at: float,
    price_overrides: Overrides | None = None,
    regexes: Mapping[str, Any] | None = None,
    ledger_path: Path | None = None,
    transcript_paths: Sequence[Path] | None = None,
    slack: float = DEFAULT_SLACK,
    rescan_every: float = DEFAULT_RESCAN,
    clock: Callable[[], float] = time.monotonic,
) -> Meter:
    """The meter for one agent. Unknown kinds and shell commands without regexes get a
    meter whose readings are "unknown". Raises ValueError only for an invalid regex."""
    common: dict[str, Any] = dict(
        cwd=Path(cwd),
        env=env,
        started_at=started_at,
        price_overrides=price_overrides,
        slack=slack,
        rescan_every=rescan_every,
        clock=clock,
    )
    if kind == "claude":
        return ClaudeMeter(transcript_paths=transcript_paths, **common)
    if kind == "codex":
        return CodexMeter(transcript_paths=transcript_paths, **common)
    if kind == "gemini":
        return GeminiMeter(transcript_paths=transcript_paths, **common)
    if kind == "opencode":
        return OpenCodeMeter(**common)
    if kind == "aider":
        return AiderMeter(transcript_paths=transcript_paths, **common)
    if kind == "ollama":
        return OllamaMeter(ledger_path=ledger_path, **common)
    spec = RegexSpec.from_config(regexes)
    if spec is not None:
        return RegexMeter(spec=spec, **common)
    return UnknownMeter(**common)


__all__ = [
    "AiderMeter",
    "ClaudeMeter",
    "CodexMeter",
    "GeminiMeter",
    "Meter",
    "OllamaMeter",
    "OpenCodeMeter",
    "RegexMeter",
    "TailedFile",
    "UnknownMeter",
    "WholeFile",
    "claude_config_dir",
    "codex_home",
    "effective_env",
    "gemini_dir",
    "gemini_project_hash",
    "make_meter",
    "opencode_data_dir",
]
