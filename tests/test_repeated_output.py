"""A command printing the same line again and again, on real tmux panes under a real supervisor.

`while true; do echo step; sleep 2; done` changes its screen on one tick in several, and once its
screen is full of `step` its tail reads the same on every tick: only the pane's history moves.
It used to stay STARTING forever; it is WORKING while it prints (core/status.py `PRINT_WINDOW`,
`Observation.history_size`), IDLE at the prompt it stops at, EXITED when it ends. The other
direction: a status line redrawn over a still prompt stays IDLE.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from helpers import retry_until, rows, shell_agent, up

pytestmark = pytest.mark.tmux


def test_a_command_printing_the_same_line_is_working_then_idle_or_exited_when_it_stops(cli, tmp_path: Path) -> None:
    stop = shlex.quote(str(tmp_path / "stop"))
    loop = f"while [ ! -e {stop} ]; do echo step; sleep 2; done"
    cfg = up(cli, tmp_path,
             # the brief's case: an empty screen that grows by a line every 2 s (ticks every 0.3 s)
             shell_agent("printer", f"{loop}; printf '$ '; read x")
             # a screen filled with `step` first: from then on its tail never changes, its history does
             + shell_agent("filler", f"yes step | head -n 300; {loop}")
             # a clock redrawn every 2 s on the line above a still `$ ` prompt: not work
             + shell_agent("clock", r"printf '\033[2J\033[H\n$ '; while true; do printf '\033[1;1Hup %s\033[2;3H' $(date +%s); sleep 2; done"))
    clock_seen: set[str] = set()
    last: dict[str, str] = {}

    def statuses() -> dict[str, str]:
        last.clear()
        last.update({name: row["status"] for name, row in rows(cli, cfg).items()})
        clock_seen.add(last.get("clock", ""))
        return dict(last)

    def until(want: dict[str, str], message: str) -> None:
        try:
            retry_until(lambda: all(statuses().get(k) == v for k, v in want.items()), timeout=30, message=message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; statuses: {last}") from None

    until({"printer": "WORKING", "filler": "WORKING", "clock": "IDLE"}, "both printers WORKING (they used to stay STARTING), the clock IDLE")
    # it stays WORKING on the ticks between two prints, over several prints
    held: list[dict[str, str]] = []
    end = time.monotonic() + 6
    retry_until(lambda: held.append(statuses()) or time.monotonic() > end, timeout=30, message="six seconds of statuses")
    assert {(s.get("printer"), s.get("filler")) for s in held} == {("WORKING", "WORKING")}, held

    (tmp_path / "stop").touch()
    until({"printer": "IDLE", "filler": "EXITED"}, "the printer at its prompt, the filler ended")
    assert rows(cli, cfg)["printer"]["reason"] == "at its prompt"
    assert clock_seen - {"", "STARTING"} == {"IDLE"}, clock_seen
