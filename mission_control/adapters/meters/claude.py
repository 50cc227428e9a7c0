"""Claude Code's meter: its JSONL transcripts, found by the cwd and start recorded inside them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from mission_control.adapters.meters.base import (
    FollowingMeter, entry_mtime, expand_path, file_mtime, home_dir, list_dir, read_head_lines, same_dir,
)
from mission_control.core.kinds.claude import ClaudeTranscriptParser, claude_line_meta


def claude_config_dir(env: Mapping[str, str]) -> Path:
    """`$CLAUDE_CONFIG_DIR`, else `~/.claude`, as the agent\'s environment says."""
    value = env.get("CLAUDE_CONFIG_DIR")
    return expand_path(value, env) if value else home_dir(env) / ".claude"


class ClaudeMeter(FollowingMeter):
    """`<CLAUDE_CONFIG_DIR or ~/.claude>/projects/<slug>/<session>.jsonl`, sidechain files
    (`<slug>/agent-*.jsonl`) and subagent files (`<slug>/<session>/subagents/*.jsonl`)."""

    records = "claude-transcripts"
    takes = ("transcript_paths",)

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
        for slug in list_dir(self.projects_dir):
            if not slug.is_dir() or (entry_mtime(slug) or 0) < self.cutoff:
                continue  # nothing was created in it since the launch
            for entry in list_dir(slug.path):
                if entry.is_file() and entry.name.endswith(".jsonl"):
                    self._consider(Path(entry.path), entry)
                elif entry.is_dir() and (entry_mtime(entry) or 0) >= self.cutoff:
                    sub = Path(entry.path) / "subagents"
                    if (file_mtime(sub) or 0) >= self.cutoff:
                        for f in list_dir(sub):
                            if f.is_file() and f.name.endswith(".jsonl"):
                                self._consider(Path(f.path), f)

    def _follow_children(self, transcript: Path) -> None:
        session_id = transcript.stem
        for f in list_dir(transcript.parent / session_id / "subagents"):
            if f.name.endswith(".jsonl"):
                self.follow(Path(f.path))
        for f in list_dir(transcript.parent):
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
        if (entry_mtime(entry) or 0) < self.cutoff:
            return  # untouched since before the launch: not a session of this agent
        ident = self._identity(path)
        if ident is None:
            return  # no cwd line yet: decide at a later scan
        cwd, started, _sid = ident
        ok = same_dir(cwd, self.cwd_forms) and (started is None or started >= self.cutoff)
        self._remember(path, ok)
        if ok:
            self.follow(path)
