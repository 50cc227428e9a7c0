"""How old the data on screen is, and a clear warning when the supervisor is down."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from mission_control.core.format import age


def age_text(
    session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None, width: int | None = None
) -> Text:
    """The line above the table. In `width` cells (None: unlimited) the tick's duration is left
    out before the line is cut; the supervisor-down warning wraps instead (it must be read whole)."""
    if not alive:
        return Text(
            f" SUPERVISOR DOWN — data below is stale{f' ({age(now - taken_at)} old)' if taken_at else ''}; "
            "run `mission-control up` to restart it ",
            style="bold white on red",
        )
    if taken_at is None:
        return Text(f" {session}: waiting for the supervisor's first snapshot… ", style="yellow")
    stale = now - taken_at
    style = "dim" if stale < 5 else "bold yellow"
    line = f" {session} · snapshot {age(stale)} old"
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

    def show(self, session: str, taken_at: float | None, alive: bool, now: float, tick_ms: float | None = None) -> None:
        shown = (session, taken_at, alive, now, tick_ms)
        if shown != self._shown:
            lines = self._lines(self.content_size.width)
            self._shown = shown
            self.refresh(layout=self._lines(self.content_size.width) != lines)  # laid out again only to grow or shrink

    def _lines(self, width: int) -> int:
        return len(age_text(*self._shown, width=width or None).wrap(self.app.console, max(1, width))) if width else 1

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        return self._lines(width)

    def render(self) -> Text:
        """Laid out for the width it has (a resize renders it again)."""
        return age_text(*self._shown, width=self.content_size.width or None)
