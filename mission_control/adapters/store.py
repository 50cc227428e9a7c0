"""The state store: one SQLite database (WAL) in the fleet's state dir.

The supervisor writes snapshots, pane tails and status changes; dashboards and
commands read them; anybody appends to the action log. Each process (and each
thread) has its own connection, so readers never block the writer.
Nothing else keeps state in loose files. The dir is 0700, the files 0600.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from mission_control.core.model import FleetSnapshot

SCHEMA_VERSION = 2
STOPPED_KEY = "stopped_by_down"
"""meta key: "1" when the fleet was stopped by `down` (not by a crash)."""
KEEP_SNAPSHOTS = 600

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
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pane_tails (
    agent TEXT PRIMARY KEY,
    captured_at REAL NOT NULL,
    text TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS env_overlays (
    agent TEXT NOT NULL,          -- an agent's name, or '*' for every agent
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (agent, key)
);
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
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,
    purpose TEXT NOT NULL,        -- task | handoff | message
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL             -- NULL while it waits for the agent's prompt
);
"""

_MIGRATIONS = {
    # version -> statements that bring an older store up to it
    2: ["ALTER TABLE agents ADD COLUMN first_launched_at REAL"],
}


class StoreError(Exception):
    """The store cannot be opened or has a schema this version does not know."""


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


class Store:
    """A handle on the state store; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        ensure_private_dir(self.path.parent)
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
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

    # -- connections -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=10000")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: cannot open the state store: {exc}") from None
            self._local.conn = conn
        return conn

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not row:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
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
            (name, kind, pane_id, window, launched_at, task, base_commit, branch, worktree, json.dumps(spec or {}), launched_at),
        )

    def agents(self, include_removed: bool = False) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT name, kind, pane_id, window, launched_at, task, base_commit, branch, worktree, spec, first_launched_at"
            " FROM agents" + ("" if include_removed else " WHERE removed=0") + " ORDER BY rowid"
        ).fetchall()
        keys = ("name", "kind", "pane_id", "window", "launched_at", "task", "base_commit", "branch", "worktree", "spec",
                "first_launched_at")
        out = []
        for row in rows:
            d = dict(zip(keys, row))
            d["spec"] = json.loads(d["spec"] or "{}")
            out.append(d)
        return out

    def update_agent(self, name: str, **fields: Any) -> None:
        allowed = {"pane_id", "window", "launched_at", "task", "base_commit", "branch", "worktree", "removed", "spec"}
        if "spec" in fields:
            fields["spec"] = json.dumps(fields["spec"])
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown agent fields: {sorted(bad)}")
        sets = ", ".join(f"{k}=?" for k in fields)
        self._write(f"UPDATE agents SET {sets} WHERE name=?", (*fields.values(), name))

    # -- snapshots ---------------------------------------------------------

    def write_snapshot(self, snap: FleetSnapshot) -> int:
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO snapshots(taken_at, data) VALUES (?, ?)", (snap.taken_at, json.dumps(snap.to_json()))
            )
            rowid = cur.lastrowid or 0
            if rowid % 50 == 0:
                conn.execute("DELETE FROM snapshots WHERE id <= ?", (rowid - KEEP_SNAPSHOTS,))
        return rowid

    def latest_snapshot(self) -> FleetSnapshot | None:
        row = self._conn().execute("SELECT data FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
        return FleetSnapshot.from_json(json.loads(row[0])) if row else None

    def latest_snapshot_id(self) -> int:
        row = self._conn().execute("SELECT MAX(id) FROM snapshots").fetchone()
        return int(row[0] or 0)

    def write_tails(self, tails: dict[str, str], at: float) -> None:
        if not tails:
            return
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO pane_tails(agent, captured_at, text) VALUES (?, ?, ?)",
                [(name, at, text) for name, text in tails.items()],
            )

    def pane_tail(self, agent: str) -> str:
        row = self._conn().execute("SELECT text FROM pane_tails WHERE agent=?", (agent,)).fetchone()
        return row[0] if row else ""

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


    # -- environment overlays (secret: the file is 0600, values are never logged) --

    def set_env_overlay(self, agent: str, values: dict[str, str], at: float | None = None) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO env_overlays(agent, key, value, at) VALUES (?, ?, ?, ?)",
                [(agent, k, v, at or time.time()) for k, v in values.items()],
            )

    def env_overlay(self, agent: str) -> dict[str, str]:
        """The overlay for one agent: fleet-wide ('*') values first, its own on top."""
        rows = self._conn().execute(
            "SELECT agent, key, value FROM env_overlays WHERE agent IN ('*', ?) ORDER BY agent = '*' DESC, at",
            (agent,),
        ).fetchall()
        out: dict[str, str] = {}
        for _agent, key, value in rows:
            out[key] = value
        return out

    # -- task ledger -------------------------------------------------------

    def record_task(self, task: str, prompt: str, agent: str, previous: str | None, reason: str, cost_at_start: float | None, at: float | None = None) -> None:
        self._write(
            "INSERT INTO task_ledger(at, task, prompt, agent, previous, reason, cost_at_start) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at or time.time(), task, prompt, agent, previous, reason, cost_at_start),
        )

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
        """Each task's latest holding, by task id."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.task_history():
            out[row["task"]] = row
        return out

    # -- text waiting for an agent's prompt --------------------------------

    def queue_delivery(self, agent: str, purpose: str, text: str, at: float | None = None) -> None:
        self._write(
            "INSERT INTO deliveries(agent, purpose, text, created_at) VALUES (?, ?, ?, ?)",
            (agent, purpose, text, at or time.time()),
        )

    def pending_deliveries(self) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT id, agent, purpose, text, created_at FROM deliveries WHERE delivered_at IS NULL ORDER BY id"
        ).fetchall()
        return [dict(zip(("id", "agent", "purpose", "text", "created_at"), r)) for r in rows]

    def mark_delivered(self, delivery_id: int, at: float | None = None) -> None:
        self._write("UPDATE deliveries SET delivered_at=? WHERE id=?", (at or time.time(), delivery_id))

    def reset_fleet(self) -> None:
        """`up --fresh`: forget the agents, their queued text and tasks (not the logs)."""
        with self._transaction() as conn:
            for table in ("agents", "deliveries", "task_ledger", "pane_tails"):
                conn.execute(f"DELETE FROM {table}")

    def drop_deliveries(self, agent: str) -> None:
        self._write("UPDATE deliveries SET delivered_at=-1 WHERE agent=? AND delivered_at IS NULL", (agent,))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
