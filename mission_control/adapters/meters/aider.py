"""aider's meter: its chat history file, else its analytics log, else the lines it printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from mission_control.adapters.meters.base import Meter, TailedFile, expand_path, find_git_root
from mission_control.core.pricing import CostLedger
from mission_control.core.tokens import ResponseBook
from mission_control.core.kinds.aider import AiderAnalyticsParser, AiderParser


class AiderMeter(Meter):
    """Aider's chat history file (`> Tokens: ...` lines; AIDER_CHAT_HISTORY_FILE, else
    `.aider.chat.history.md` at the git root or cwd), else its `--analytics-log` JSONL
    (AIDER_ANALYTICS_LOG, or a `.jsonl` in `transcript_paths`), else the screen lines
    given to `poll`. Aider's own session cost wins."""

    records = "aider-history"
    takes = ("transcript_paths",)
    reads_output = True

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
            p = expand_path(hist, self.env)
            found.append((p if p.is_absolute() else self.cwd / p, "history"))
        root = find_git_root(self.cwd) or self.cwd
        found.append((root / ".aider.chat.history.md", "history"))
        if root != self.cwd:
            found.append((self.cwd / ".aider.chat.history.md", "history"))
        log = self.env.get("AIDER_ANALYTICS_LOG")
        if log:
            p = expand_path(log, self.env)
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
