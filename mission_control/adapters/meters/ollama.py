"""The built-in Ollama agent's meter: the ledger it appends to in the agent's state folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mission_control.adapters.meters.base import FollowingMeter
from mission_control.core.kinds.ollama import OllamaLedgerParser


class OllamaMeter(FollowingMeter):
    """The built-in agent's ledger (`ollama_ledger_line` format). Free unless overridden."""

    records = "mission-control-ledger"
    takes = ("ledger_path",)
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
