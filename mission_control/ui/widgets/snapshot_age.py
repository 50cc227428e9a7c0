"""How old the data on screen is, and a clear warning when the supervisor is down, when the
state store cannot be read, or when snapshots stop coming while the supervisor runs."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from mission_control.core.format import age
from mission_control.core.terminal_text import inert

STALE_SECONDS = 15.0
"""A running supervisor writes a snapshot every tick: none for this long means it cannot (its store)."""


def age_text(
    session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None, width: int | None = None,
    problem: str | None = None,
) -> Text:
    """The line above the table. In `width` cells (None: unlimited) the tick's duration is left
    out before the line is cut; the warnings wrap instead (they must be read whole). `problem`:
    why the state store could not be read."""
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
    line = f" {inert(session)} · snapshot {age(stale)} old"
    tick = f" · tick {tick_ms:.0f} ms" if tick_ms is not None else ""
    if width is None or len(line + tick) + 1 <= width:
        line += tick
    return Text(line + " ", style=style)


class SnapshotAge(Widget):
    DEFAULT_CSS = """
    SnapshotAge { height: auto; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple = ("", None, True, 0.0, None)
        self._problem: str | None = None

    def show(self, session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None,
             problem: str | None = None) -> None:
        shown = (session, taken_at, alive, now, tick_ms)
        if shown != self._shown or problem != self._problem:
            lines = self._lines(self.content_size.width)
            self._shown, self._problem = shown, problem
            self.refresh(layout=self._lines(self.content_size.width) != lines)  # laid out again only to grow or shrink

    def _lines(self, width: int) -> int:
        return len(self._text(width or None).wrap(self.app.console, max(1, width))) if width else 1

    def _text(self, width: int | None) -> Text:
        return age_text(*self._shown, width=width, problem=self._problem)

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        return self._lines(width)

    def render(self) -> Text:
        """Laid out for the width it has (a resize renders it again)."""
        return self._text(self.content_size.width or None)
