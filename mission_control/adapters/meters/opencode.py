"""OpenCode's meter: its SQLite database (read-only), or its older JSON store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Mapping, Sequence

from mission_control.adapters.meters.base import (
    Meter, entry_mtime, expand_path, home_dir, list_dir, list_dir_paths, same_dir, stat_sig,
)
from mission_control.core.tokens import load_json_line
from mission_control.core.kinds.opencode import OpenCodeParser


def opencode_data_dir(env: Mapping[str, str]) -> Path:
    """`$XDG_DATA_HOME/opencode`, else `~/.local/share/opencode`, as the agent\'s environment says."""
    value = env.get("XDG_DATA_HOME")
    base = expand_path(value, env) if value else home_dir(env) / ".local" / "share"
    return base / "opencode"


class OpenCodeMeter(Meter):
    """OpenCode's SQLite store `<XDG_DATA_HOME or ~/.local/share>/opencode/opencode*.db`
    (tables `session(directory, time_created)`, `message(session_id, time_updated, data)`),
    or the older JSON store `storage/session/*/<id>.json` + `storage/message/<id>/*.json`.
    Assistant messages carry opencode's own cost, which wins."""

    records = "opencode-db"

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
        return sorted(p for p in list_dir_paths(self.data_dir) if p.name.startswith("opencode") and p.name.endswith(".db"))

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
        for project in list_dir(storage / "session"):
            if not project.is_dir() or (entry_mtime(project) or 0) < self.cutoff:
                continue
            for f in list_dir(project.path):
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
            sig = tuple((stat_sig(db), stat_sig(Path(str(db) + "-wal"))))
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
            for f in list_dir(storage / sid):
                path = Path(f.path)
                sig = stat_sig(path)
                if sig is None or self._json_sigs.get(path) == sig:
                    continue
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                self._json_sigs[path] = sig
                self.parser.feed_message(path.stem, text)
