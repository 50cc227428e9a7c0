"""How old the data on screen is, and a clear warning when the supervisor is down."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mission_control.core.format import age
from mission_control.core.terminal_text import inert


STALE_SECONDS = 15.0
"""A running supervisor writes a snapshot every tick: none for this long means it cannot (its store)."""


def age_text(session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None,
             problem: str | None = None) -> Text:
    if problem:
        return Text(f" STATE STORE: {inert(problem)} ", style="bold white on red")
    if not alive:
        return Text(
            f" SUPERVISOR DOWN — data below is stale{f' ({age(now - taken_at)} old)' if taken_at else ''}; "
            "run `mission-control up` to restart it ",
            style="bold white on red",
        )
    if taken_at is None:
        return Text(f" {inert(session)}: waiting for the supervisor's first snapshot… ", style="yellow")
    stale = now - taken_at
    if stale >= STALE_SECONDS:
        return Text(
            f" NO NEW SNAPSHOT for {age(stale)} though the supervisor runs — it cannot write the state store? "
            "Its window says why (mission-control attach) ",
            style="bold white on red",
        )
    style = "dim" if stale < 5 else "bold yellow"
    tick = f" · tick {tick_ms:.0f} ms" if tick_ms is not None else ""
    return Text(f" {inert(session)} · snapshot {age(stale)} old{tick} ", style=style)


class SnapshotAge(Static):
    DEFAULT_CSS = """
    SnapshotAge { height: 1; }
    """

    def show(self, session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None,
             problem: str | None = None) -> None:
        self.update(age_text(session, taken_at, alive, now, tick_ms, problem))
