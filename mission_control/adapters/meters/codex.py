"""Codex CLI's meter: its rollout files by day, picked by the `session_meta` line that names the cwd."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping

from mission_control.adapters.meters.base import (
    FollowingMeter, entry_mtime, expand_path, home_dir, list_dir, read_head_lines, same_dir,
)
from mission_control.core.kinds.codex import CodexRolloutParser, codex_session_meta


def codex_home(env: Mapping[str, str]) -> Path:
    """`$CODEX_HOME`, else `~/.codex`, as the agent\'s environment says."""
    value = env.get("CODEX_HOME")
    return expand_path(value, env) if value else home_dir(env) / ".codex"


class CodexMeter(FollowingMeter):
    """`<CODEX_HOME or ~/.codex>/sessions/YYYY/MM/DD/rollout-*.jsonl` whose `session_meta`
    names this cwd and a start at/after the launch."""

    records = "codex-rollouts"
    takes = ("transcript_paths",)

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
        for y in list_dir(root):
            if not (y.is_dir() and y.name.isdigit()) or int(y.name) < first.year:
                continue
            for m in list_dir(y.path):
                if not (m.is_dir() and m.name.isdigit()) or (int(y.name), int(m.name)) < (first.year, first.month):
                    continue
                for d in list_dir(m.path):
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
            for entry in list_dir(day):
                if not (entry.name.startswith("rollout-") and entry.name.endswith(".jsonl")):
                    continue
                path = Path(entry.path)
                if path in self._tails or self._decided(path) or (entry_mtime(entry) or 0) < self.cutoff:
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
