"""What the supervisor reads about one agent each tick besides its screen: its process tree's
usage (from the tick's process table), the last line of its status file (its own word: read
again only when the file's mtime moved) and a dead pane's exit status (tmux's, or the one the
launcher wrote down when tmux lost it).

The I/O half of observing an agent; `core.snapshot` does the arithmetic and the assembly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mission_control.adapters.processes import ProcessTable, TreeUsage
from mission_control.adapters.supervisor_lock import recorded_exit
from mission_control.adapters.tmux import PaneInfo

WORD_READ = 4096
"""Bytes read from the end of a status file: its last line is all that counts."""


class StatusWord:
    """An agent's status file (`MISSION_CONTROL_STATUS_FILE`): its last non-blank line and when
    it was written, read again only when the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mtime: float | None = None
        self.word: str | None = None
        """The last non-blank line (None: no file, or nothing in it)."""
        self.at: float | None = None
        """When the file was last written (its mtime) as last read."""

    def read(self) -> tuple[str | None, float | None]:
        """(its last line, when written); a file that is gone says nothing, one that cannot be
        read now keeps what it said last."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            self.word = None
            return None, self.at
        if mtime == self.mtime:
            return self.word, self.at
        self.mtime = mtime
        try:
            with open(self.path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.path) - WORD_READ))
                text = f.read().decode(errors="replace")
        except OSError:
            return self.word, self.at
        lines = [ln for ln in text.splitlines() if ln.strip()]
        self.word, self.at = (lines[-1] if lines else None), mtime
        return self.word, self.at


@dataclass(frozen=True)
class PaneReading:
    """One agent's pane, processes and files as read this tick."""

    usage: TreeUsage | None
    """Its process tree (None: no pane, a dead one, or its process is gone)."""
    exit_status: int | None
    """A dead pane's exit status (None while it runs, or when nobody knows)."""


def read_pane(pane: PaneInfo | None, procs: ProcessTable, state_dir: Path, name: str) -> PaneReading:
    """The agent's process tree usage and, for a dead pane, its exit status."""
    if pane is None:
        return PaneReading(usage=None, exit_status=None)
    usage = procs.usage(pane.pid) if not pane.dead else None
    exit_status = pane.dead_status
    if pane.dead and exit_status is None and pane.pid:
        # tmux 3.3a can lose a respawned pane's exit status; the launcher wrote it down
        exit_status = recorded_exit(state_dir, name, pane.pid)
    return PaneReading(usage=usage, exit_status=exit_status)
