"""The state store: one SQLite database (WAL) in the fleet's state dir.

The supervisor writes the fleet's state (a row per agent, written only when something
about that agent changed, see `StateWriter`), pane tails and status changes; dashboards
and commands read them (`StateReader`: only the rows written since their last read);
anybody appends to the action log. History tables are bounded (`prune`, RETENTION_*). Each process (and each
thread) has its own connection, so readers never block the writer.
The dir is 0700, the files 0600. Environment values are kept out of the database on
purpose (secrets, often): the values a person injects into an agent live in a 0600
file per agent (`agents/<name>/env`), and so do the values of its configured `env`
(`agents/<name>/spec-env`; the spec in the database keeps the names, `agents()` puts
the values back and returns typed `AgentRecord`s, see core/records), so that the database and its WAL can be shared for a bug report
without a secret in them. A store written before that has its values moved out when
it is opened.

Faults are reported, never raw: every failure to open, read or write the store is one
`StoreError` naming the file, what is wrong and what to do. A handle notices when its file was
deleted or replaced under it (its inode changed): the supervisor's handle (`keeper`) restores a
deleted store from the copy it still has open, moves a damaged one aside (`replace_damaged`);
every other handle reopens the file that is there now, or says it is missing.
"""

from __future__ import annotations

import copy
import errno
import functools
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from mission_control.adapters.supervisor_lock import env_file, spec_env_file
from mission_control.core.errors import MissionControlError
from mission_control.core.config import AgentSpec
from mission_control.core.model import AgentSnapshot, FleetSnapshot
from mission_control.core.records import AgentRecord, agent_record, parse_spec, spec_json_fields
from mission_control.core.tasks import HELD, Task, unknown_task

SCHEMA_VERSION = 7
T = TypeVar("T")
STOPPED_KEY = "stopped_by_down"
"""meta key: "1" when the fleet was stopped by `down` (not by a crash)."""
LIMIT_KEY = "limit_wait:"
"""meta key prefix: an agent's wait for its usage limit's reset (fleet/loop.py; JSON of core.limit_reset.wait_text)."""
RESTART_KEY = "restart_state:"
"""meta key prefix: an agent's restarts by its restart policy (fleet/loop.py; JSON of core.restart.RestartState),
kept across supervisors, forgotten with the fleet (`reset_fleet`)."""
HEARTBEAT_SUFFIX = "-tick"
"""The file beside the store whose modification time is the supervisor's latest tick: a tick
that changed nothing writes nothing to the store, it only sets that time (no data written)."""
GONE_KEPT_VERSIONS = 1000
"""Rows of agents gone from the fleet are kept this many versions, for readers that are behind."""
RETENTION_SECONDS = 7 * 86400
RETENTION_ROWS = 20000
"""History tables (`status_changes`, `actions`, `hook_events`, and delivered `deliveries`) keep
the rows of the last 7 days, and at most the newest 20,000 rows each (`prune`): a week of a
busy fleet, a few MB. Pending deliveries are never pruned."""
EVENTS_PRUNED_KEY = "events_pruned_through"
"""meta key: the highest `events.seq` retention has dropped (`prune`): a reader resuming from an
older seq is told what it missed (issue 20 point 3)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    session TEXT NOT NULL,
    socket TEXT NOT NULL,
    config_path TEXT NOT NULL,
    launched_at REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    pane_id TEXT,
    window TEXT,
    launched_at REAL,
    base_commit TEXT,
    branch TEXT,
    worktree TEXT,
    task TEXT,
    spec TEXT NOT NULL DEFAULT '{}',
    removed INTEGER NOT NULL DEFAULT 0,
    first_launched_at REAL        -- its first launch: spend is counted from here across restarts
);
CREATE TABLE IF NOT EXISTS table_changes (
    tbl TEXT PRIMARY KEY,         -- a table readers keep a copy of
    n INTEGER NOT NULL            -- bumped by every write to it (triggers): an unchanged n, an unchanged table
);
CREATE TABLE IF NOT EXISTS fleet_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,     -- bumped by each write that changed anything
    floor INTEGER NOT NULL,       -- rows of agents gone before this version were dropped
    taken_at REAL NOT NULL,       -- the tick of that write (later ticks that changed nothing: the heartbeat file)
    session TEXT NOT NULL,
    tick_ms REAL,
    supervisor_pid INTEGER
);
CREATE TABLE IF NOT EXISTS agent_state (
    agent TEXT PRIMARY KEY,
    position INTEGER NOT NULL,    -- its place in the fleet's order
    version INTEGER NOT NULL,     -- the fleet_state version that last wrote it
    at REAL NOT NULL,             -- that write's tick: the agent has been in its status since at least then
    data TEXT                     -- its AgentSnapshot as JSON, fields at their default left out; NULL: gone
) WITHOUT ROWID;                  -- rows live in the key's b-tree and are updated in place: a page per change
CREATE TABLE IF NOT EXISTS pane_tails (
    agent TEXT PRIMARY KEY,
    captured_at REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tail_watch (
    agent TEXT PRIMARY KEY,
    until REAL NOT NULL           -- a dashboard shows the agent's screen text until then (renewed while it does)
);
CREATE TABLE IF NOT EXISTS status_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    agent TEXT NOT NULL,
    old TEXT,
    new TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS status_changes_agent ON status_changes(agent, id);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    agent TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS hook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    agent TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS hook_events_agent ON hook_events(agent, id);
CREATE TABLE IF NOT EXISTS task_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    task TEXT NOT NULL,           -- the task id
    prompt TEXT NOT NULL,
    agent TEXT NOT NULL,          -- who holds it from `at` on
    previous TEXT,                -- who held it before
    reason TEXT NOT NULL DEFAULT '',
    cost_at_start REAL            -- the holder's spend when it got the task
);
CREATE INDEX IF NOT EXISTS task_ledger_task ON task_ledger(task, id);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,          -- the task board (issue 19): a row per task, its fields those of core.tasks.Task
    seq INTEGER NOT NULL,         -- the order tasks were added in
    prompt TEXT NOT NULL,
    priority INTEGER NOT NULL,
    after_ids TEXT NOT NULL,      -- JSON list of task ids
    role TEXT,
    review INTEGER NOT NULL,
    done_when TEXT,
    state TEXT NOT NULL,          -- never 'blocked': that is computed (core.tasks.shown_state)
    owner TEXT,                   -- who holds it (also a task_ledger row: `record_task` writes both)
    reason TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    created_by TEXT NOT NULL,
    commits_at_start INTEGER,
    worked INTEGER NOT NULL,
    review_role TEXT,             -- the reviewers' role (NULL: reviewer); the next three: issue 19 points 5, 6
    reviews TEXT,                 -- a review task's: the task it reviews
    approved_at REAL,             -- when it joined the merge queue
    merge_sha TEXT                -- the commit of its owner's branch to merge
);
CREATE TABLE IF NOT EXISTS task_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    task TEXT NOT NULL,
    event TEXT NOT NULL,          -- add, take, worked, stuck, unstuck, done, cancel, priority, fail
    state TEXT NOT NULL,          -- the task's state after it
    agent TEXT,                   -- the agent it concerns
    detail TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}'  -- measurements at the event: the agent's cost_usd and commits
);
CREATE INDEX IF NOT EXISTS task_events_task ON task_events(task, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,
    purpose TEXT NOT NULL,        -- task | handoff | message
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL             -- NULL while it waits for the agent's prompt
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- one sequence over every kind (never reused: AUTOINCREMENT)
    at REAL NOT NULL,
    kind TEXT NOT NULL,           -- status | action | task (a row of that table, `ref`) | budget (its own `data`)
    ref INTEGER,                  -- the row's id in status_changes, actions or task_events
    data TEXT                     -- a budget event's fields (JSON); NULL for the others
);
CREATE TRIGGER IF NOT EXISTS status_changes_event AFTER INSERT ON status_changes BEGIN
    INSERT INTO events(at, kind, ref) VALUES (NEW.at, 'status', NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS actions_event AFTER INSERT ON actions BEGIN
    INSERT INTO events(at, kind, ref) VALUES (NEW.at, 'action', NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS task_events_event AFTER INSERT ON task_events BEGIN
    INSERT INTO events(at, kind, ref) VALUES (NEW.at, 'task', NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS agents_on_insert AFTER INSERT ON agents BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('agents', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS agents_on_update AFTER UPDATE ON agents BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('agents', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS agents_on_delete AFTER DELETE ON agents BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('agents', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS task_ledger_on_insert AFTER INSERT ON task_ledger BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('task_ledger', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS task_ledger_on_update AFTER UPDATE ON task_ledger BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('task_ledger', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS task_ledger_on_delete AFTER DELETE ON task_ledger BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('task_ledger', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_on_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tasks', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_on_update AFTER UPDATE ON tasks BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tasks', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_on_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tasks', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_on_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('deliveries', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_on_update AFTER UPDATE ON deliveries BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('deliveries', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_on_delete AFTER DELETE ON deliveries BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('deliveries', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tail_watch_on_insert AFTER INSERT ON tail_watch BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tail_watch', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tail_watch_on_update AFTER UPDATE ON tail_watch BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tail_watch', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tail_watch_on_delete AFTER DELETE ON tail_watch BEGIN
    INSERT INTO table_changes(tbl, n) VALUES ('tail_watch', 1) ON CONFLICT(tbl) DO UPDATE SET n = n + 1;
END;
"""

_MIGRATIONS = {
    # version -> statements that bring an older store up to it
    2: ["ALTER TABLE agents ADD COLUMN first_launched_at REAL"],
    3: [],  # injected values move out of the database (`_move_env_out`)
    4: ["DROP TABLE IF EXISTS snapshots"],  # a full snapshot per tick gives way to rows written when they change
    5: [],  # the task board: `tasks` and `task_events` (and the triggers on tasks) are made by _SCHEMA
    6: [],  # review and the merge queue: four columns of `tasks` (`_add_columns`: a v4 store gets the table from _SCHEMA)
    7: [],  # the event stream: `events` and its triggers are made by _SCHEMA, then filled from the history (`_fill_events`)
}
_ADDED_COLUMNS = {"tasks": {"review_role": "TEXT", "reviews": "TEXT", "approved_at": "REAL", "merge_sha": "TEXT"}}
"""Columns added to a table after it was made (schema 6): added where an older store lacks them."""


class StoreError(MissionControlError):
    """The store cannot be opened, read or written (or has a schema this version does not know):
    one line naming the file, what is wrong and what to do. `kind` says which fault it is:
    damaged, readonly, full, locked, missing, schema or other."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


_CODES = {11: "damaged", 26: "damaged", 8: "readonly", 13: "full", 5: "locked", 6: "locked", 14: "cantopen", 10: "io"}
"""SQLite primary result codes (CORRUPT, NOTADB, READONLY, FULL, BUSY, LOCKED, CANTOPEN, IOERR)."""
_ERRNOS = {errno.EROFS: "readonly", errno.EACCES: "readonly", errno.EPERM: "readonly", errno.ENOSPC: "full",
           errno.EDQUOT: "full", errno.ENOENT: "missing", errno.ENOTDIR: "cantopen", errno.EISDIR: "cantopen"}


def store_error(path: Path, exc: BaseException) -> StoreError:
    """What a sqlite3 or OS error on the store at `path` means, and what to do about it."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _CODES.get(code & 0xFF, "other") if isinstance(code, int) else "other"
        text = str(exc)
        if kind == "other" and ("malformed" in text or "not a database" in text):
            kind = "damaged"
    elif isinstance(exc, OSError):
        kind = _ERRNOS.get(exc.errno or 0, "io")
        text = exc.strerror or str(exc)
    else:
        kind, text = "other", str(exc)
    if kind in ("io", "cantopen", "other") and _disk_full(path.parent):
        kind = "full"  # SQLite says "disk I/O error" when it cannot grow its index on a full disk
    what = {
        "damaged": f"is damaged ({text}): the fleet's supervisor moves it aside as {path.name}.corrupt-<time> and "
                   "starts a new one; with no supervisor running, `mission-control up` does",
        "readonly": f"cannot be written ({text}): make {path.parent} writable (a read-only mount?) or set mission.state_dir "
                    "to a writable folder",
        "full": f"cannot be written, the disk is full ({text}): free space on it; the supervisor writes again once it can",
        "locked": f"is locked by another process ({text}): try again in a moment",
        "missing": f"is missing ({text}): the fleet's supervisor restores it on its next tick; with none running, "
                   "`mission-control up` starts a new one",
        "cantopen": f"cannot be opened ({text}): check that {path.parent} is a folder you can write to",
        "io": f"cannot be read or written ({text}): check the disk it is on",
    }.get(kind, f"failed: {text}: check the file and its folder")
    return StoreError(f"state store {path} {what}", "damaged" if kind == "damaged" else kind)


def _disk_full(folder: Path) -> bool:
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o777) != 0o700:  # a read-only folder that is already private is fine
        os.chmod(path, 0o700)


SQLITE_HEADER = b"SQLite format 3\x00"


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (a 0600 temp file beside it, then a rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Store:
    """A handle on the state store; safe to share between threads.

    `keeper`: this handle belongs to the fleet's supervisor, which repairs the store (restores
    it when deleted, replaces it when damaged) instead of only reporting."""

    def __init__(self, path: Path, *, keeper: bool = False) -> None:
        self.path = Path(path)
        self.keeper = keeper
        self.notes: list[str] = []
        """What this handle did to the store by itself (restored, reopened), for its owner to say."""
        self._orphans: list[Any] = []
        """Connections and descriptors of a store file that was deleted or replaced: never closed
        while this process lives. Closing one releases this process's locks on that file, and
        SQLite's last closer of a file deletes its WAL *by name* — the new store's WAL."""
        self._head: tuple[tuple[int, int], int] | None = None
        """(identity, descriptor) of the store file whose header `check_file` reads: kept open, as
        closing any descriptor of the file would drop this process's SQLite locks on it."""
        self._wal: tuple[Any, ...] | None = None
        """(device, inode) of the WAL and its index the keeper's connection uses (see `_check_wal`)."""
        self.damaged_aside: Path | None = None
        """Where `replace_damaged` moved a damaged store (its replacement is empty until the owner refills it)."""
        self._local = threading.local()
        self._reads: dict[str, tuple[Any, Any]] = {}
        """Per table, the last read of it and the table's change count then (`_cached`)."""
        self._specs: dict[tuple[str, str, str, str], AgentSpec] = {}
        """Agent specs parsed from their stored JSON (and env values), by what they were parsed from."""
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            error = store_error(self.path, exc)
            if not (keeper and error.kind == "damaged"):
                raise error from None
            self.replace_damaged()

    def _open(self) -> None:
        ensure_private_dir(self.path.parent)
        if not self.path.exists():
            for stale in self._companions(self.path):  # a WAL left by a deleted store must not be replayed into a new one
                stale.unlink(missing_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        if (self.path.stat().st_mode & 0o777) != 0o600:
            os.chmod(self.path, 0o600)
        conn = self._conn()
        version = self._schema_version(conn)
        if version is None:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: state store schema {version} is newer than this mission-control knows ({SCHEMA_VERSION})"
            )
        elif version < SCHEMA_VERSION:  # a current store is only read here: readers need no write access
            with self._transaction() as tx:
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS.get(target, []):
                        tx.execute(statement)
                tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.executescript(_SCHEMA)
            self._add_columns(conn)
            if version < 7:
                self._fill_events(conn)
        if version is not None:  # writes only when an older store still holds values
            self._move_env_out(conn, specs_too=version < 3)

    @staticmethod
    def _add_columns(conn: sqlite3.Connection) -> None:
        """The `_ADDED_COLUMNS` an older store's tables lack (`CREATE TABLE IF NOT EXISTS` keeps an old table as it was)."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @staticmethod
    def _fill_events(conn: sqlite3.Connection) -> None:
        """A store from before the event stream: its history (status changes, actions, task
        events) gets its sequence numbers, oldest first."""
        with _Transaction(conn):
            if conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]:
                return
            conn.execute(
                "INSERT INTO events(at, kind, ref) SELECT at, kind, id FROM ("
                " SELECT at, 'status' AS kind, id FROM status_changes UNION ALL SELECT at, 'action', id FROM actions"
                " UNION ALL SELECT at, 'task', id FROM task_events) ORDER BY at, kind, id")

    # -- connections -------------------------------------------------------

    @staticmethod
    def _companions(path: Path) -> list[Path]:
        return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._identity() != self._local.identity:
            self._file_moved(conn)  # deleted or replaced under us
            conn = None
        if conn is None:
            identity = self._identity()
            if identity is None:
                raise store_error(self.path, FileNotFoundError(errno.ENOENT, "deleted while the fleet runs?"))
            try:
                conn = self._connect(self.path)
            except sqlite3.OperationalError as exc:
                if store_error(self.path, exc).kind not in ("cantopen", "readonly"):
                    raise
                conn = self._connect_read_only()
            self._local.conn, self._local.identity = conn, identity
            if self.keeper:  # the WAL and index this connection opened (its first read makes them)
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                self._wal = self._companion_ids()
        return conn

    @staticmethod
    def _connect(target: Any, uri: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=10.0, isolation_level=None, check_same_thread=False, uri=uri)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only folder (a mount): reading still works, and every write says why it cannot.
        Opening may have to wait for a writer elsewhere (the index it cannot rebuild itself)."""
        for attempt in range(20):
            try:
                return self._connect(f"file:{urllib.parse.quote(str(self.path))}?mode=ro", uri=True)
            except sqlite3.OperationalError as exc:
                if attempt == 19:
                    if os.statvfs(self.path.parent).f_flag & os.ST_RDONLY:
                        raise OSError(errno.EROFS, f"read-only file system; {exc}") from None
                    raise
                time.sleep(0.05)
        raise AssertionError("not reached")

    def _file_moved(self, conn: sqlite3.Connection) -> None:
        """The file this thread's connection reads is no longer the one at the path."""
        self._local.conn = None
        if self._identity() is not None:  # replaced (restored by the supervisor, or by a person)
            if self.keeper and self._holds_fleet(conn) and not self._has_fleet(self.path):
                # deleted, and a command or a hook has since started an empty store in its place
                self._restore_from(conn, over=True)
                return
            self._orphans.append(conn)
            self.notes.append(f"state store {self.path} was replaced by another file: reading the new one")
            return
        if not self.keeper:
            self._orphans.append(conn)
            raise store_error(self.path, FileNotFoundError(errno.ENOENT, "deleted while the fleet runs?"))
        self._restore_from(conn)

    @staticmethod
    def _holds_fleet(conn: sqlite3.Connection) -> bool:
        try:
            return bool(conn.execute("SELECT COUNT(*) FROM fleet").fetchone()[0])
        except sqlite3.Error:
            return False

    @classmethod
    def _has_fleet(cls, path: Path) -> bool:
        try:
            other = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        except sqlite3.Error:
            return False
        try:
            return cls._holds_fleet(other)
        finally:
            other.close()

    def _restore_from(self, conn: sqlite3.Connection, over: bool = False,
                      why: str = "an empty one had been started in its place") -> None:
        """Put back a deleted store from what the connection still has open (every row, the
        unwritten WAL included): nothing is lost. Written beside it and linked into place, so
        nobody opens half a copy; a WAL the deleted file left behind is removed first."""
        ensure_private_dir(self.path.parent)
        tmp = self.path.with_name(f"{self.path.name}.restore-{os.getpid()}")
        try:
            copy = sqlite3.connect(tmp)
            try:
                conn.backup(copy)
            finally:
                copy.close()
            os.chmod(tmp, 0o600)
            if over:
                os.replace(tmp, self.path)
                for stale in self._companions(self.path):
                    stale.unlink(missing_ok=True)
                self.notes.append(f"state store {self.path} was deleted while in use ({why}): "
                                  "restored it from the supervisor's open copy")
                return
            for stale in self._companions(self.path):
                stale.unlink(missing_ok=True)
            try:
                os.link(tmp, self.path)
                self.notes.append(f"state store {self.path} was deleted while in use: restored it from the supervisor's open copy")
            except FileExistsError:
                self.notes.append(f"state store {self.path} was deleted while in use and has been put back: reading it")
        finally:
            self._orphans.append(conn)
            tmp.unlink(missing_ok=True)

    def check_file(self) -> None:
        """Look at the file itself (its header), as a connection with cached pages may not: a
        store overwritten with garbage raises StoreError (damaged) here."""
        identity = self._identity()
        if identity is None:
            self._conn()  # restores it (keeper) or says it is missing
            return
        try:
            if self._head is None or self._head[0] != identity:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                if self._head is not None:
                    self._orphans.append(self._head[1])
                self._head = (identity, fd)
            head = os.pread(self._head[1], len(SQLITE_HEADER), 0)
        except OSError as exc:
            raise store_error(self.path, exc) from None
        if head and head != SQLITE_HEADER:
            raise store_error(self.path, sqlite3.DatabaseError("file is not a database"))
        if self.keeper:
            self._check_wal()

    def _companion_ids(self) -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for companion in self._companions(self.path):
            try:
                st = os.stat(companion)
                out.append((st.st_dev, st.st_ino))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def _check_wal(self) -> None:
        """The supervisor's WAL or its index (-shm) deleted under it: its writes would go on into
        the deleted files, seen by nobody else. Each is the one its connection opened, or the
        store is put back from its open copy (which still reads them) under a new inode, so that
        every other handle reopens it."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._wal is None:
            return
        now = self._companion_ids()
        gone = [c.name for c, was, is_ in zip(self._companions(self.path), self._wal, now) if was is not None and was != is_]
        if not gone:
            self._wal = tuple(w if w is not None else n for w, n in zip(self._wal, now))  # made since: the baseline
            return
        self._local.conn = None
        self._wal = None
        try:
            self._restore_from(conn, over=True, why=f"{' and '.join(gone)} deleted")
        except (sqlite3.Error, OSError) as exc:
            raise store_error(self.path, exc) from None

    def replace_damaged(self) -> Path:
        """Move a damaged store aside (as state.db.corrupt-<time>, with its WAL) and start a new,
        empty one; returns where the damaged file went. The supervisor calls this, then writes
        back what it knows of the fleet."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._orphans.append(conn)
            self._local.conn = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():  # damaged twice within a second: keep both
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.path, aside)
            for old, new in zip(self._companions(self.path), self._companions(aside)):
                if old.exists():
                    os.replace(old, new)
            self._open()
        except (sqlite3.Error, OSError) as exc:
            raise store_error(self.path, exc) from None
        self.notes.append(f"state store {self.path} was damaged: moved it aside as {aside.name} and started a new one")
        self.damaged_aside = aside
        return aside

    def check_writable(self) -> None:
        """A real write (committed), so that an action can refuse before it acts when it could not
        be recorded: read-only, full, damaged, missing and locked stores raise StoreError here."""
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_write', ?)", (str(time.time()),))

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not row:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    def _end_failed_transaction(self) -> None:
        """After a failed write (a full disk fails COMMIT and leaves the transaction open), roll
        back: else every later statement of this connection would run inside that transaction,
        seen by nobody else, and hold the write lock."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass
            self._local.conn = None

    def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._conn().execute(sql, tuple(args)).lastrowid or 0

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._conn())

    # -- meta --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- the fleet record --------------------------------------------------

    def record_fleet(self, session: str, socket: str, config_path: str, launched_at: float, data: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO fleet(id, session, socket, config_path, launched_at, data) VALUES (1, ?, ?, ?, ?, ?)",
            (session, socket, config_path, launched_at, json.dumps(data)),
        )

    def fleet(self) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT session, socket, config_path, launched_at, data FROM fleet WHERE id=1").fetchone()
        if not row:
            return None
        return {"session": row[0], "socket": row[1], "config_path": row[2], "launched_at": row[3], **json.loads(row[4])}

    def record_agent(
        self,
        name: str,
        *,
        kind: str,
        pane_id: str | None,
        window: str | None,
        launched_at: float | None,
        task: str | None,
        base_commit: str | None = None,
        branch: str | None = None,
        worktree: str | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self._write(
            """INSERT INTO agents(name, kind, pane_id, window, launched_at, task, base_commit, branch, worktree, spec, removed,
                                  first_launched_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
               ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, pane_id=excluded.pane_id, window=excluded.window,
                 launched_at=excluded.launched_at, task=excluded.task,
                 first_launched_at=COALESCE(agents.first_launched_at, excluded.first_launched_at),
                 base_commit=COALESCE(excluded.base_commit, agents.base_commit),
                 branch=COALESCE(excluded.branch, agents.branch),
                 worktree=COALESCE(excluded.worktree, agents.worktree), spec=excluded.spec, removed=0""",
            (name, kind, pane_id, window, launched_at, task, base_commit, branch, worktree, self._spec_json(name, spec), launched_at),
        )

    def _spec_json(self, agent: str, spec: dict[str, Any] | None) -> str:
        """The spec as the database keeps it: its `env` values moved to the agent's spec-env file."""
        spec = dict(spec or {})
        env = spec.get("env") or {}
        path = spec_env_file(self.path.parent, agent)
        if env:
            ensure_private_dir(path.parent)
            write_private(path, json.dumps(env).encode())
            spec["env"] = {k: "" for k in env}
        else:
            path.unlink(missing_ok=True)
        return json.dumps(spec)

    def _spec_env(self, agent: str, names: dict[str, str]) -> dict[str, str]:
        """An agent's configured `env`, its values read back from its spec-env file."""
        path = spec_env_file(self.path.parent, agent)
        try:
            values = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise StoreError(f"{path}: missing: the values of {agent}'s env ({', '.join(names)}) are gone; "
                             f"`up --fresh` starts it again from its config") from None
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: cannot read the values of {agent}'s env ({exc}); "
                             f"`up --fresh` starts it again from its config") from None
        return {k: str(values.get(k, "")) for k in names} if isinstance(values, dict) else dict(names)

    def _cached(self, table: str, key: Any, read: Callable[[], T]) -> T:
        """`read()`, or what it returned last time when `table` has not been written since (the
        supervisor reads the agents, tasks and deliveries every tick; they rarely change)."""
        row = self._conn().execute("SELECT n FROM table_changes WHERE tbl=?", (table,)).fetchone()
        stamp = (row[0] if row else 0, self._identity(), key)
        hit = self._reads.get(table)
        if hit is not None and hit[0] == stamp:
            return copy.copy(hit[1])
        value = read()
        self._reads[table] = (stamp, value)
        return copy.copy(value)

    def change_count(self, table: str) -> int:
        """How many writes `table` has had (its `table_changes` counter): a reader that keeps a copy
        of what it read (the dashboard's Tasks view) reads again only when this moved."""
        row = self._conn().execute("SELECT n FROM table_changes WHERE tbl=?", (table,)).fetchone()
        return row[0] if row else 0

    def agents(self, include_removed: bool = False) -> list[AgentRecord]:
        """The fleet's agents in the order they were added, each spec read back with its env values."""
        return self._cached("agents", include_removed, lambda: self._read_agents(include_removed))

    def _read_agents(self, include_removed: bool) -> list[AgentRecord]:
        rows = self._conn().execute(
            "SELECT name, kind, pane_id, window, launched_at, task, base_commit, branch, worktree, spec, first_launched_at"
            " FROM agents" + ("" if include_removed else " WHERE removed=0") + " ORDER BY rowid"
        ).fetchall()
        keys = ("name", "kind", "pane_id", "window", "launched_at", "task", "base_commit", "branch", "worktree", "spec",
                "first_launched_at")
        out = []
        for row in rows:
            d = dict(zip(keys, row))
            data = spec_json_fields(d["spec"])
            if data.get("env"):
                data["env"] = self._spec_env(d["name"], data["env"])
            key = (d["name"], d["kind"], d["spec"], json.dumps(data.get("env")))
            spec = self._specs.get(key)
            if spec is None:  # parsed once per change (the supervisor reads every record every tick)
                spec = self._specs[key] = parse_spec(d["name"], d["kind"], data)
            base = data.get("base_branch")
            out.append(agent_record(d, spec, base if isinstance(base, str) else None))
        return out

    def update_agent(self, name: str, **fields: Any) -> None:
        allowed = {"pane_id", "window", "launched_at", "task", "base_commit", "branch", "worktree", "removed", "spec"}
        if "spec" in fields:
            fields["spec"] = self._spec_json(name, fields["spec"])
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown agent fields: {sorted(bad)}")
        sets = ", ".join(f"{k}=?" for k in fields)
        self._write(f"UPDATE agents SET {sets} WHERE name=?", (*fields.values(), name))

    # -- the fleet's current state: a row per agent, written when it changes -----

    @property
    def heartbeat_path(self) -> Path:
        return self.path.with_name(self.path.name + HEARTBEAT_SUFFIX)

    def write_state(self, snap: FleetSnapshot, rows: list[tuple[str, int, str]], gone: list[str],
                    tails: dict[str, str], *, only: bool = False) -> int:
        """One transaction: a new version of the fleet's state, with `rows` (agent, position, its
        snapshot's JSON) written, the agents in `gone` marked gone and the pane `tails`; `only`:
        the rows are the whole fleet (every other agent is gone). Returns the new version."""
        with self._transaction() as conn:
            head = conn.execute("SELECT version, floor FROM fleet_state WHERE id=1").fetchone()
            version, floor = (head[0] + 1, head[1]) if head else (1, 0)
            if only:
                written = {r[0] for r in rows}
                present = [n for (n,) in conn.execute("SELECT agent FROM agent_state WHERE data IS NOT NULL")]
                gone = [*gone, *(n for n in present if n not in written)]
            if version % 100 == 0 and version > GONE_KEPT_VERSIONS:  # agents gone long ago: forgotten
                floor = version - GONE_KEPT_VERSIONS
                conn.execute("DELETE FROM agent_state WHERE data IS NULL AND version < ?", (floor,))
            conn.execute(
                "INSERT INTO fleet_state(id, version, floor, taken_at, session, tick_ms, supervisor_pid) VALUES (1, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET version=excluded.version, floor=excluded.floor, taken_at=excluded.taken_at,"
                " session=excluded.session, tick_ms=excluded.tick_ms, supervisor_pid=excluded.supervisor_pid",
                (version, floor, snap.taken_at, snap.session, snap.tick_ms, snap.supervisor_pid))
            conn.executemany(  # an update in place (INSERT OR REPLACE would delete and insert: more pages)
                "INSERT INTO agent_state(agent, position, version, at, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT(agent) DO UPDATE"
                " SET position=excluded.position, version=excluded.version, at=excluded.at, data=excluded.data",
                [(name, position, version, snap.taken_at, data) for name, position, data in rows])
            conn.executemany("UPDATE agent_state SET data=NULL, version=? WHERE agent=?", [(version, n) for n in gone])
            if tails:
                conn.executemany(
                    "INSERT INTO pane_tails(agent, captured_at, text) VALUES (?, ?, ?) ON CONFLICT(agent) DO UPDATE"
                    " SET captured_at=excluded.captured_at, text=excluded.text",
                    [(name, snap.taken_at, text) for name, text in tails.items()],
                )
        return version

    def touch_heartbeat(self, at: float) -> None:
        """A tick that changed nothing: only the heartbeat file's time says it happened."""
        try:
            os.utime(self.heartbeat_path, (at, at))
        except FileNotFoundError:
            os.close(os.open(self.heartbeat_path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.utime(self.heartbeat_path, (at, at))

    def _heartbeat(self) -> float:
        try:
            return os.stat(self.heartbeat_path).st_mtime
        except OSError:
            return 0.0

    def state_since(self, version: int) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]], bool, float]:
        """What a reader at `version` needs: the fleet's head (version, floor, taken_at, session,
        tick_ms, supervisor_pid; None before the first write), the rows (agent, position, at, JSON
        or None when gone) written since, whether they are every agent's (a first read, or a reader
        too far behind or of another store), and the heartbeat's time. One read transaction."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            head = conn.execute(
                "SELECT version, floor, taken_at, session, tick_ms, supervisor_pid FROM fleet_state WHERE id=1").fetchone()
            full = head is None or version < head[1] or version > head[0] or version <= 0
            if head is None or version == head[0]:
                rows: list[tuple[Any, ...]] = []
            elif full:
                rows = conn.execute("SELECT agent, position, at, data FROM agent_state WHERE data IS NOT NULL").fetchall()
            else:
                rows = conn.execute("SELECT agent, position, at, data FROM agent_state WHERE version > ?", (version,)).fetchall()
        finally:
            conn.execute("COMMIT")
        return head, rows, full, self._heartbeat()

    def write_snapshot(self, snap: FleetSnapshot) -> int:
        """Write `snap` as the whole fleet's state (tests, tools): every agent's row."""
        return StateWriter(self).write(snap, {})

    def latest_snapshot(self) -> FleetSnapshot | None:
        return StateReader(self).read()[0]

    def latest_tick(self) -> float:
        """When the supervisor last looked at the fleet (0: never): its last write, or a later tick
        that changed nothing."""
        row = self._conn().execute("SELECT taken_at FROM fleet_state WHERE id=1").fetchone()
        return max(row[0], self._heartbeat()) if row else 0.0

    # -- history retention -------------------------------------------------

    def prune(self, now: float | None = None) -> dict[str, int]:
        """Drop history past its retention (RETENTION_SECONDS, RETENTION_ROWS): the number of rows
        dropped per table. The supervisor calls it every few minutes."""
        cutoff = (now or time.time()) - RETENTION_SECONDS
        dropped: dict[str, int] = {}
        with self._transaction() as conn:
            for table, time_col, extra in (("status_changes", "at", ""), ("actions", "at", ""), ("hook_events", "at", ""),
                                           ("deliveries", "created_at", " AND delivered_at IS NOT NULL")):
                newest = conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE ({time_col} < ? OR id <= ?){extra}", (cutoff, newest - RETENTION_ROWS))
                dropped[table] = cur.rowcount
            dropped["events"] = self._prune_events(conn, cutoff)
        return dropped

    @staticmethod
    def _prune_events(conn: sqlite3.Connection, cutoff: float) -> int:
        """The stream follows its tables: an event whose row was dropped goes too, and budget
        events (rows of their own) by the same retention. The highest seq dropped is kept in meta."""
        newest = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        gone = (
            "(kind = 'status' AND NOT EXISTS (SELECT 1 FROM status_changes s WHERE s.id = ref))"
            " OR (kind = 'action' AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.id = ref))"
            " OR (kind = 'task' AND NOT EXISTS (SELECT 1 FROM task_events t WHERE t.id = ref))"
            " OR (kind = 'budget' AND (at < ? OR seq <= ?))")
        args = (cutoff, newest - RETENTION_ROWS)
        top = conn.execute(f"SELECT MAX(seq) FROM events WHERE {gone}", args).fetchone()[0]
        if top is None:
            return 0
        count = conn.execute(f"DELETE FROM events WHERE {gone}", args).rowcount
        old = conn.execute("SELECT value FROM meta WHERE key=?", (EVENTS_PRUNED_KEY,)).fetchone()
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                     (EVENTS_PRUNED_KEY, str(max(top, int(old[0]) if old else 0))))
        return count

    def watch_tail(self, agent: str, until: float) -> None:
        """A dashboard shows `agent`'s screen text until `until`: the supervisor stores it each
        tick it changes (other agents' at most every TAIL_EVERY seconds)."""
        self._write("INSERT INTO tail_watch(agent, until) VALUES (?, ?) "
                    "ON CONFLICT(agent) DO UPDATE SET until = MAX(until, excluded.until)", (agent, until))

    def watched_tails(self, now: float) -> set[str]:
        """The agents some dashboard shows the screen text of now."""
        rows = self._cached("tail_watch", None, lambda: self._conn().execute("SELECT agent, until FROM tail_watch").fetchall())
        return {agent for agent, until in rows if until >= now}

    def pane_tail(self, agent: str) -> str:
        row = self._conn().execute("SELECT text FROM pane_tails WHERE agent=?", (agent,)).fetchone()
        return row[0] if row else ""

    def pane_tails_since(self, seen: dict[str, float]) -> dict[str, tuple[float, str]]:
        """The pane tails stored since a reader last read them (`seen`: agent -> the `captured_at` it
        read): {agent: (captured_at, text)}; only the changed ones' texts are read."""
        conn = self._conn()
        times = conn.execute("SELECT agent, captured_at FROM pane_tails").fetchall()
        out = {}
        for agent, at in times:
            if seen.get(agent) != at:
                row = conn.execute("SELECT captured_at, text FROM pane_tails WHERE agent=?", (agent,)).fetchone()
                if row is not None:
                    out[agent] = (row[0], row[1])
        return out

    # -- history -----------------------------------------------------------

    def record_status_change(
        self, agent: str, old: str | None, new: str, reason: str, evidence: str, at: float | None = None
    ) -> None:
        self._write(
            "INSERT INTO status_changes(at, agent, old, new, reason, evidence) VALUES (?, ?, ?, ?, ?, ?)",
            (at or time.time(), agent, old, new, reason, evidence),
        )

    def status_changes(self, agent: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT at, agent, old, new, reason, evidence FROM status_changes"
        args: tuple[Any, ...] = ()
        if agent:
            sql += " WHERE agent=?"
            args = (agent,)
        rows = self._conn().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("at", "agent", "old", "new", "reason", "evidence")
        return [dict(zip(keys, r)) for r in reversed(rows)]

    def log_action(self, actor: str, action: str, agent: str | None, detail: str, outcome: str) -> None:
        self._write(
            "INSERT INTO actions(at, actor, agent, action, detail, outcome) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), actor, agent, action, detail, outcome),
        )

    def actions(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT at, actor, agent, action, detail, outcome FROM actions ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        keys = ("at", "actor", "agent", "action", "detail", "outcome")
        return [dict(zip(keys, r)) for r in reversed(rows)]

    def last_person_action(self, agent: str, since: float, ignore: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The latest action on `agent` at or after `since` by anybody but the supervisor (other
        than the actions `ignore` names), as {"at", "action"} (None: nobody acted on it since)."""
        skip = "".join(" AND action!=?" for _ in ignore)
        row = self._conn().execute(
            f"SELECT at, action FROM actions WHERE agent=? AND at>=? AND actor!='supervisor'{skip} ORDER BY id DESC LIMIT 1",
            (agent, since, *ignore)).fetchone()
        return {"at": row[0], "action": row[1]} if row else None

    def record_hook_event(self, agent: str, event: str, data: dict[str, Any], at: float | None = None) -> None:
        self._write(
            "INSERT INTO hook_events(at, agent, event, data) VALUES (?, ?, ?, ?)",
            (at or time.time(), agent, event, json.dumps(data)),
        )

    def hook_events_since(self, after_id: int) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT id, at, agent, event, data FROM hook_events WHERE id > ? ORDER BY id", (after_id,)
        ).fetchall()
        return [{"id": r[0], "at": r[1], "agent": r[2], "event": r[3], "data": json.loads(r[4])} for r in rows]

    # -- the event stream (issue 20 point 3): one sequence over status changes, actions, task events, budget events --

    def record_budget_event(self, agent: str | None, state: str, cost_usd: float | None, budget_usd: float | None,
                            at: float | None = None) -> None:
        """An agent's spend (the fleet's, with `agent` None) crossed into budget `state` (ok, warn, over)."""
        data = {"agent": agent, "state": state, "cost_usd": cost_usd, "budget_usd": budget_usd}
        self._write("INSERT INTO events(at, kind, data) VALUES (?, 'budget', ?)", (at or time.time(), json.dumps(data)))

    def events_since(self, seq: int, limit: int = 500) -> list[dict[str, Any]]:
        """The events after `seq`, oldest first, at most `limit`: each a dict with `seq`, `at`
        (epoch seconds), `kind` and that kind's fields. An event whose row was dropped meanwhile
        (`up --fresh`) is left out."""
        rows = self._conn().execute(
            "SELECT e.seq, e.at, e.kind, e.data, s.agent, s.old, s.new, s.reason,"
            " a.actor, a.agent, a.action, a.detail, a.outcome, t.task, t.event, t.state, t.agent, t.detail"
            " FROM events e"
            " LEFT JOIN status_changes s ON e.kind = 'status' AND s.id = e.ref"
            " LEFT JOIN actions a ON e.kind = 'action' AND a.id = e.ref"
            " LEFT JOIN task_events t ON e.kind = 'task' AND t.id = e.ref"
            " WHERE e.seq > ? ORDER BY e.seq LIMIT ?", (seq, limit)).fetchall()
        out: list[dict[str, Any]] = []
        for r in rows:
            head = {"seq": r[0], "at": r[1], "kind": r[2]}
            if r[2] == "status" and r[6] is not None:
                out.append({**head, "agent": r[4], "old": r[5], "new": r[6], "reason": r[7]})
            elif r[2] == "action" and r[10] is not None:
                out.append({**head, "actor": r[8], "agent": r[9], "action": r[10], "detail": r[11], "outcome": r[12]})
            elif r[2] == "task" and r[13] is not None:
                out.append({**head, "task": r[13], "event": r[14], "state": r[15], "agent": r[16], "detail": r[17]})
            elif r[2] == "budget" and r[3]:
                out.append({**head, **json.loads(r[3])})
        return out

    def event_bounds(self) -> tuple[int, int]:
        """(the highest seq retention dropped, the latest seq): 0 when none."""
        conn = self._conn()
        pruned = conn.execute("SELECT value FROM meta WHERE key=?", (EVENTS_PRUNED_KEY,)).fetchone()
        latest = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        return (int(pruned[0]) if pruned else 0), (latest[0] if latest else 0)


    # -- injected variables: a 0600 file per agent beside the store, never in it ----------

    def env_path(self, agent: str) -> Path:
        return env_file(self.path.parent, agent)

    def env_overlay(self, agent: str) -> dict[str, str]:
        """The variables injected into `agent` (empty when none)."""
        path = self.env_path(agent)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: cannot read {agent}'s injected variables ({exc}); "
                             f"remove the file and inject them again") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise StoreError(f"{path}: {agent}'s injected variables are not a JSON object of strings; "
                             f"remove the file and inject them again")
        return data

    def set_env_overlay(self, agent: str, values: dict[str, str]) -> None:
        """Add (or replace) injected variables of `agent`."""
        self.replace_env_overlay(agent, {**self.env_overlay(agent), **values})

    def replace_env_overlay(self, agent: str, values: dict[str, str]) -> None:
        """`agent`'s injected variables become exactly `values` (none: the file goes). Atomic:
        a reader sees the old set or the new one, never half a file."""
        path = self.env_path(agent)
        if not values:
            path.unlink(missing_ok=True)
            return
        ensure_private_dir(path.parent)
        write_private(path, json.dumps(values).encode())

    def unset_env(self, agent: str, names: Iterable[str]) -> list[str]:
        """Remove injected variables of `agent`; returns the names that were set."""
        values = self.env_overlay(agent)
        removed = [n for n in dict.fromkeys(names) if n in values]
        if removed:
            self.replace_env_overlay(agent, {k: v for k, v in values.items() if k not in removed})
        return removed

    def _move_env_out(self, conn: sqlite3.Connection, *, specs_too: bool) -> None:
        """A store from before the per-agent files: its `env_overlays` rows move into the files
        ('*' rows, meant for every agent, into each agent's, under its own), the values of each
        agent's configured env into its spec-env file; then the old rows are dropped with
        secure_delete on and the WAL truncated, so no value stays behind."""
        overlays = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='env_overlays'").fetchone()
        rows = conn.execute("SELECT name, spec FROM agents").fetchall() if specs_too else []
        specs = [(name, json.loads(spec or "{}")) for name, spec in rows]
        with_values = [(name, spec) for name, spec in specs if spec.get("env")]
        if not overlays and not with_values:
            return
        conn.execute("PRAGMA secure_delete=ON")
        for name, spec in with_values:
            conn.execute("UPDATE agents SET spec=? WHERE name=?", (self._spec_json(name, spec), name))
        if overlays:
            self._move_overlays_out(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA secure_delete=OFF")

    def _move_overlays_out(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT agent, key, value FROM env_overlays ORDER BY agent = '*' DESC, at").fetchall()
        everyone = {k: v for a, k, v in rows if a == "*"}
        own: dict[str, dict[str, str]] = {}
        for agent, key, value in rows:
            if agent != "*":
                own.setdefault(agent, {})[key] = value
        names = [r[0] for r in conn.execute("SELECT name FROM agents").fetchall()] if everyone else []
        for agent in dict.fromkeys([*names, *own]):
            self.replace_env_overlay(agent, {**self.env_overlay(agent), **everyone, **own.get(agent, {})})
        conn.execute("DROP TABLE env_overlays")

    # -- task ledger: who holds which task, from when --------------------------

    def record_task(self, task: str, prompt: str, agent: str, previous: str | None, reason: str, cost_at_start: float | None, at: float | None = None) -> None:
        """`agent` holds `task` from now on (a ledger row); a task of the board gets its owner too."""
        with self._transaction() as conn:
            self._hold(conn, task, prompt, agent, previous, reason, cost_at_start, at or time.time())

    @staticmethod
    def _hold(conn: sqlite3.Connection, task: str, prompt: str, agent: str, previous: str | None, reason: str,
              cost_at_start: float | None, at: float) -> None:
        conn.execute(
            "INSERT INTO task_ledger(at, task, prompt, agent, previous, reason, cost_at_start) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, task, prompt, agent, previous, reason, cost_at_start),
        )
        if agent:  # '' releases it (finished or cancelled): the board keeps who held it last
            conn.execute(f"UPDATE tasks SET owner=? WHERE id=? AND state IN ({','.join('?' * len(HELD))})",
                         (agent, task, *sorted(HELD)))

    def task_history(self, task: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT at, task, prompt, agent, previous, reason, cost_at_start FROM task_ledger"
        args: tuple[Any, ...] = ()
        if task:
            sql += " WHERE task=?"
            args = (task,)
        rows = self._conn().execute(sql + " ORDER BY id", args).fetchall()
        keys = ("at", "task", "prompt", "agent", "previous", "reason", "cost_at_start")
        return [dict(zip(keys, r)) for r in rows]

    def current_tasks(self) -> dict[str, dict[str, Any]]:
        """Each task's latest holding, by task id (agent '' once a board task is finished: nobody holds it)."""
        def read() -> dict[str, dict[str, Any]]:
            return {row["task"]: row for row in self.task_history()}

        return self._cached("task_ledger", None, read)

    # -- the task board (issue 19): the queue, each task's state, its history ----------

    def tasks(self) -> list[Task]:
        """Every task of the board, in the order they were added (a copy kept while nobody wrote
        the table: the supervisor reads it every tick)."""
        return self._cached("tasks", None, lambda: self._board(self._conn()))

    @staticmethod
    def _board(conn: sqlite3.Connection) -> list[Task]:
        rows = conn.execute(f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks ORDER BY seq").fetchall()
        return [_task_of_row(row) for row in rows]

    def task_events(self, task: str | None = None) -> list[dict[str, Any]]:
        """A task's history (every task's with None), oldest first."""
        sql = "SELECT at, task, event, state, agent, detail, data FROM task_events"
        args: tuple[Any, ...] = ()
        if task is not None:
            sql += " WHERE task=?"
            args = (task,)
        keys = ("at", "task", "event", "state", "agent", "detail", "data")
        out = []
        for row in self._conn().execute(sql + " ORDER BY id", args).fetchall():
            item = dict(zip(keys, row))
            item["data"] = json.loads(item["data"] or "{}")
            out.append(item)
        return out

    def task_events_after(self, after_id: int, events: tuple[str, ...] = ("done",)) -> list[dict[str, Any]]:
        """The task events of the kinds `events` newer than the row `after_id`, oldest first, each with its `id`."""
        marks = ", ".join("?" for _ in events)
        rows = self._conn().execute(
            f"SELECT id, at, task, event, state, agent, detail FROM task_events WHERE id>? AND event IN ({marks}) ORDER BY id",
            (after_id, *events)).fetchall()
        keys = ("id", "at", "task", "event", "state", "agent", "detail")
        return [dict(zip(keys, r)) for r in rows]

    def add_task(self, make: Callable[[dict[str, Task]], Task], *, detail: str = "") -> Task:
        """Add the task `make(board)` returns (its `seq` given here), `make` called on the board as
        it is inside the same write transaction: two `task add`s at once cannot make a cycle or
        take one id twice. `make` raises to refuse; then nothing is written."""
        with self._transaction() as conn:
            task = make({t.id: t for t in self._board(conn)})
            seq = (conn.execute("SELECT MAX(seq) FROM tasks").fetchone()[0] or 0) + 1
            task = Task(**{**task.__dict__, "seq": seq})
            conn.execute(f"INSERT INTO tasks({', '.join(_TASK_COLUMNS)}) VALUES ({', '.join('?' * len(_TASK_COLUMNS))})",
                         _row_of_task(task))
            self._task_event(conn, task, "add", task.created_by or None, detail, {}, task.created_at)
        return task

    def change_task(
        self, task_id: str, change: Callable[[Task, dict[str, Task]], Task], *, event: str, agent: str | None = None,
        detail: str = "", data: dict[str, Any] | None = None, hold: tuple[str, str, float | None] | None = None,
        release: str | None = None, deliver: bool = False, at: float | None = None, deliver_text: str | None = None,
    ) -> Task:
        """One write transaction: the task as `change(task, board)` returns it (which raises to
        refuse: nothing is written), an event in its history, and what goes with it —
        `hold` (agent, reason, its spend now): the agent holds it (a ledger row, the agent's task);
        `deliver`: its prompt queued for its owner's prompt (a task taken is never lost nor typed twice);
        `release`: the reason nobody holds it any more (its agent's task is cleared);
        `deliver_text`: that text queued for its owner's prompt instead (a change request sent back)."""
        now = at or time.time()
        with self._transaction() as conn:
            board = {t.id: t for t in self._board(conn)}
            if task_id not in board:
                raise unknown_task(task_id, board)
            old = board[task_id]
            new = change(old, board)
            conn.execute(f"UPDATE tasks SET {', '.join(f'{c}=?' for c in _TASK_COLUMNS)} WHERE id=?",
                         (*_row_of_task(new), task_id))
            if hold is not None:
                who, why, cost = hold
                self._hold(conn, new.id, new.prompt, who, old.owner if old.owner != who else None, why, cost, now)
                conn.execute("UPDATE agents SET task=? WHERE name=?", (new.prompt, who))
            if (deliver or deliver_text is not None) and new.owner:
                conn.execute("INSERT INTO deliveries(agent, purpose, text, created_at) VALUES (?, 'task', ?, ?)",
                             (new.owner, new.prompt if deliver_text is None else deliver_text, now))
            if release is not None and old.owner and old.state in HELD:
                self._hold(conn, new.id, new.prompt, "", old.owner, release, None, now)
                conn.execute("UPDATE agents SET task=NULL WHERE name=? AND task=?", (old.owner, new.prompt))
                conn.execute("UPDATE deliveries SET delivered_at=-1 WHERE agent=? AND purpose='task' AND text=?"
                             " AND delivered_at IS NULL", (old.owner, new.prompt))
            self._task_event(conn, new, event, agent, detail, data or {}, now)
        return new

    @staticmethod
    def _task_event(conn: sqlite3.Connection, task: Task, event: str, agent: str | None, detail: str,
                    data: dict[str, Any], at: float) -> None:
        conn.execute("INSERT INTO task_events(at, task, event, state, agent, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (at, task.id, event, task.state, agent, detail, json.dumps(data)))

    # -- text waiting for an agent's prompt --------------------------------

    def queue_delivery(self, agent: str, purpose: str, text: str, at: float | None = None) -> None:
        self._write(
            "INSERT INTO deliveries(agent, purpose, text, created_at) VALUES (?, ?, ?, ?)",
            (agent, purpose, text, at or time.time()),
        )

    def queue_delivery_once(self, agent: str, purpose: str, text: str, at: float | None = None) -> bool:
        """Queue `text` unless a text for `agent` with this `purpose` was queued before (typed or
        not): whether it was queued now."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM deliveries WHERE agent=? AND purpose=? LIMIT 1", (agent, purpose)).fetchone():
                return False
            conn.execute("INSERT INTO deliveries(agent, purpose, text, created_at) VALUES (?, ?, ?, ?)",
                         (agent, purpose, text, at or time.time()))
            return True

    def pending_deliveries(self) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            rows = self._conn().execute(
                "SELECT id, agent, purpose, text, created_at FROM deliveries WHERE delivered_at IS NULL ORDER BY id"
            ).fetchall()
            return [dict(zip(("id", "agent", "purpose", "text", "created_at"), r)) for r in rows]

        return self._cached("deliveries", None, read)

    def mark_delivered(self, delivery_id: int, at: float | None = None) -> None:
        self._write("UPDATE deliveries SET delivered_at=? WHERE id=?", (at or time.time(), delivery_id))

    def reset_fleet(self) -> None:
        """`up --fresh`: forget the agents, their queued text and tasks, the task board and its
        history (not the logs)."""
        with self._transaction() as conn:
            for table in ("agents", "deliveries", "task_ledger", "pane_tails", "tasks", "task_events"):
                conn.execute(f"DELETE FROM {table}")
            for prefix in (RESTART_KEY, LIMIT_KEY):
                conn.execute("DELETE FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))

    def last_typed(self) -> dict[str, float]:
        """Per agent, when queued text was last typed at its prompt (marked delivered)."""
        rows = self._conn().execute("SELECT agent, MAX(delivered_at) FROM deliveries WHERE delivered_at > 0 GROUP BY agent")
        return {agent: at for agent, at in rows.fetchall()}

    def drop_deliveries(self, agent: str) -> None:
        self._write("UPDATE deliveries SET delivered_at=-1 WHERE agent=? AND delivered_at IS NULL", (agent,))


_TASK_COLUMNS = ("id", "seq", "prompt", "priority", "after_ids", "role", "review", "done_when", "state", "owner", "reason",
                 "created_at", "started_at", "finished_at", "created_by", "commits_at_start", "worked",
                 "review_role", "reviews", "approved_at", "merge_sha")
"""The `tasks` table's columns: `core.tasks.Task`'s fields (`after` as `after_ids`, a JSON list)."""


def _row_of_task(task: Task) -> tuple[Any, ...]:
    values = {**task.__dict__, "after_ids": json.dumps(list(task.after)), "review": int(task.review), "worked": int(task.worked)}
    return tuple(values[c] for c in _TASK_COLUMNS)


def _task_of_row(row: tuple[Any, ...]) -> Task:
    values = dict(zip(_TASK_COLUMNS, row))
    after = json.loads(values.pop("after_ids") or "[]")
    return Task(**{**values, "after": tuple(after), "review": bool(values["review"]), "worked": bool(values["worked"])})


class StateWriter:
    """The supervisor's side of the fleet's state: each tick, the rows of the agents that changed
    since its last write (a tick with nothing changed writes nothing: it sets the heartbeat's
    time). Its first write is the whole fleet; after a failed write it writes again what changed
    since the last write that worked."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.written: dict[str, tuple[int, tuple[Any, ...]]] | None = None
        """Per agent, its position and `change_key` as last written; None: nothing written yet."""

    def reset(self) -> None:
        """Write the whole fleet next time (a new, empty store)."""
        self.written = None

    def write(self, snap: FleetSnapshot, tails: dict[str, str]) -> int:
        """Write what changed; the new version, or 0 when nothing changed (only the heartbeat)."""
        keys: dict[str, tuple[int, tuple[Any, ...]]] = {}
        rows: list[tuple[str, int, str]] = []
        before = self.written or {}
        for position, agent in enumerate(snap.agents):
            key = keys[agent.name] = (position, agent.change_key())
            if before.get(agent.name) != key:
                rows.append((agent.name, position, json.dumps(agent.to_json(compact=True), separators=(",", ":"))))
        gone = [name for name in before if name not in keys]
        if self.written is not None and not rows and not gone and not tails:
            self.store.touch_heartbeat(snap.taken_at)
            return 0
        version = self.store.write_state(snap, rows, gone, tails, only=self.written is None)
        self.written = keys
        return version


class StateReader:
    """A reader's side: its first read takes every agent's row, later ones only the rows written
    since (a dashboard of 100 agents decodes the few that changed in a tick)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.version = -1
        self.rows: dict[str, tuple[int, float, AgentSnapshot]] = {}
        """Per agent: its position, when its row was written, its snapshot as written."""
        self.snapshot: FleetSnapshot | None = None

    def read(self) -> tuple[FleetSnapshot | None, frozenset[str] | None]:
        """The fleet now, and the agents whose rows changed since the last read (None: all of
        them, a first or full read). Agents show the time in their status up to the latest tick."""
        head, rows, full, beat = self.store.state_since(self.version)
        if head is None:
            self.version, self.rows, self.snapshot = -1, {}, None
            return None, None
        version, _, written_at, session, tick_ms, pid = head
        if full:
            self.rows = {}
        changed: set[str] = set()
        for name, position, at, data in rows:
            changed.add(name)
            if data is None:
                self.rows.pop(name, None)
            else:
                self.rows[name] = (position, at, AgentSnapshot.from_json(json.loads(data)))
        taken_at = max(written_at, beat)
        old = self.snapshot
        if old is not None and not changed and not full and version == self.version and old.taken_at == taken_at:
            return old, frozenset()
        self.version = version
        ordered = sorted(self.rows.values(), key=lambda row: row[0])
        self.snapshot = FleetSnapshot(
            taken_at=taken_at, session=session, tick_ms=tick_ms, supervisor_pid=pid,
            agents=tuple(agent.carried_to(at, taken_at) for _, at, agent in ordered),
        )
        return self.snapshot, (None if full else frozenset(changed))


def _reported(method: Any) -> Any:
    """A Store method whose sqlite3 and OS errors become one StoreError naming the store."""

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            self._end_failed_transaction()
            raise store_error(self.path, exc) from None

    return call


for _name, _method in list(vars(Store).items()):
    if callable(_method) and not _name.startswith("_") and not isinstance(_method, staticmethod):
        setattr(Store, _name, _reported(_method))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")  # on failure the Store method rolls back (`_end_failed_transaction`)
        else:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the transaction is already gone (the error that got us here ended it): report that one
