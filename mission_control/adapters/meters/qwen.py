"""Qwen Code's meter: its chat files under `<runtime dir>/projects/<cwd slug>/chats/`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from mission_control.adapters.meters.base import (
    FollowingMeter, entry_mtime, expand_path, home_dir, list_dir, read_head_lines, same_dir,
)
from mission_control.core.kinds.claude import claude_line_meta
from mission_control.core.kinds.qwen import QwenChatParser, qwen_project_slug


def qwen_runtime_dir(env: Mapping[str, str]) -> Path:
    """Where qwen-code writes its chats, as the agent's environment says: `$QWEN_RUNTIME_DIR`,
    else `$QWEN_HOME`, else `~/.qwen`."""
    for name in ("QWEN_RUNTIME_DIR", "QWEN_HOME"):
        value = env.get(name)
        if value:
            return expand_path(value, env)
    return home_dir(env) / ".qwen"


class QwenMeter(FollowingMeter):
    """`<runtime dir>/projects/<slug of the cwd>/chats/<session>.jsonl`, each file taken when
    a record in its head names this cwd; only calls made since the launch are counted (a
    `qwen --continue` appends to the file of an older session)."""

    records = "qwen-chats"
    takes = ("transcript_paths",)

    def __init__(self, *, transcript_paths: Iterable[Path] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.parser = QwenChatParser(self.book, since=self.cutoff)
        self._parsers.append(self.parser)
        self.explicit = [Path(p) for p in (transcript_paths or [])]

    def _make_parser(self, path: Path) -> Any:
        return self.parser

    def chat_dirs(self) -> list[Path]:
        projects = qwen_runtime_dir(self.env) / "projects"
        return sorted({projects / qwen_project_slug(form) / "chats" for form in self.cwd_forms})

    def rescan(self) -> None:
        if self.explicit:
            for path in self.explicit:
                self.follow(path)
            return
        for chats in self.chat_dirs():
            for entry in list_dir(chats):
                if entry.is_file() and entry.name.endswith(".jsonl"):
                    self._consider(Path(entry.path), entry)

    def _consider(self, path: Path, entry: os.DirEntry[str]) -> None:
        if path in self._tails or self._decided(path):
            return
        if (entry_mtime(entry) or 0) < self.cutoff:
            return  # untouched since the launch: not this agent's session
        for line in read_head_lines(path):
            meta = claude_line_meta(line)  # the same identity fields: cwd, sessionId, timestamp
            if meta is not None and meta.cwd:
                ok = same_dir(meta.cwd, self.cwd_forms)
                self._remember(path, ok)
                if ok:
                    self.follow(path)
                return
