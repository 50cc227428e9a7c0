"""Gemini CLI's meter: its chat files under the project's folder of `~/.gemini/tmp/`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from mission_control.adapters.meters.base import (
    Meter, TailedFile, WholeFile, entry_mtime, expand_path, home_dir, list_dir, read_head_lines, same_dir,
)
from mission_control.core.tokens import load_json_line
from mission_control.core.kinds.gemini import GeminiChatParser, gemini_session_meta


def gemini_dir(env: Mapping[str, str]) -> Path:
    """`$GEMINI_CLI_HOME/.gemini`, else `~/.gemini`, as the agent\'s environment says."""
    value = env.get("GEMINI_CLI_HOME")
    return (expand_path(value, env) if value else home_dir(env)) / ".gemini"


def gemini_project_hash(path: str) -> str:
    """gemini-cli's project hash: sha256 of the project root path."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


class GeminiMeter(Meter):
    """`<GEMINI_CLI_HOME or ~>/.gemini/tmp/<project>/chats/session-*.jsonl` (and subagent
    chats in `chats/<parent session>/`; legacy `session-*.json` documents are re-read when
    they change). `<project>` is the slug `projects.json` maps this cwd to, any directory
    whose `.project_root` names it, or the legacy sha256 of the path."""

    records = "gemini-chats"
    takes = ("transcript_paths",)

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
        for entry in list_dir(tmp):
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
            for entry in list_dir(chats):
                if entry.is_dir() and (entry_mtime(entry) or 0) >= self.cutoff:
                    for f in list_dir(entry.path):  # a session's subagent chats
                        self._consider(Path(f.path), f)
                elif entry.is_file() and entry.name.startswith("session-"):
                    self._consider(Path(entry.path), entry)

    def _consider(self, path: Path, entry: os.DirEntry[str]) -> None:
        if path in self._tails or path in self._docs or path in self._rejected:
            return
        if not (path.name.endswith(".jsonl") or path.name.endswith(".json")):
            return
        if (entry_mtime(entry) or 0) < self.cutoff:
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
