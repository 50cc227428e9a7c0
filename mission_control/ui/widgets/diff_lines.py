"""One file of a diff, scrollable and highlighted, rendered lazily (issue 21 point 5: large diffs
stay responsive): only the lines in sight are made, each once (kept until another file is shown).

A line's look is a pure function (`diff_line_text`): the diff's own marks (headers, hunk lines,
added and removed lines on a tinted background) and the code in it highlighted by Pygments, by
the file's name; text from the repository is made inert (no escape reaches the terminal)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mission_control.core.diff import FileDiff
from mission_control.core.terminal_text import inert

TAB = 4
"""Columns a tab is drawn as."""
THEME = PygmentsSyntaxTheme("monokai")
ADDED = Style(bgcolor="#12361c")
REMOVED = Style(bgcolor="#3d1418")
MARK = {"+": Style(color="green", bold=True), "-": Style(color="red", bold=True)}
HUNK = Style(color="cyan")
HEADER = Style(color="yellow", bold=True)
LONGEST = 2000
"""Characters of a line drawn (a minified file's one line can be megabytes): the rest is said, not drawn."""
CACHED_LINES = 2000
"""Rendered lines kept for the file shown (a screenful is ~50): scrolling back costs nothing."""


@lru_cache(maxsize=64)
def lexer_for(path: str) -> Any:
    """The Pygments lexer for a file name, or None (shown plain)."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def code_text(code: str, lexer: Any) -> Text:
    """`code` (one line, inert) highlighted by `lexer` (None: plain)."""
    if lexer is None or not code.strip():
        return Text(code)
    text = Text()
    for token, value in lexer.get_tokens(code):
        text.append(value.replace("\n", ""), style=THEME.get_style_for_token(token))
    return text


def diff_line_text(line: str, lexer: Any, in_hunk: bool) -> Text:
    """How one diff line looks: `in_hunk` says whether it is a code line (after the file's first
    `@@`) or part of the file's header."""
    more = len(line) - LONGEST
    line = inert((line[:LONGEST] if more > 0 else line).expandtabs(TAB))
    if more > 0:
        text = diff_line_text(line, lexer, in_hunk)
        text.append(f" … {more} more characters", style="dim italic")
        return text
    if line.startswith("@@"):
        return Text(line, style=HUNK)
    if not in_hunk:
        return Text(line, style=HEADER if line.startswith(("diff --git", "+++", "---")) else "dim")
    mark, code = line[:1], line[1:]
    text = Text(mark, style=MARK.get(mark, ""))
    text.append_text(code_text(code, lexer))
    if mark == "+":
        text.stylize(ADDED)
    elif mark == "-":
        text.stylize(REMOVED)
    return text


class DiffLines(ScrollView, can_focus=True):
    """The file shown, line by line: `render_line` makes only the lines in sight."""

    DEFAULT_CSS = """
    DiffLines { height: 1fr; background: $surface; }
    """
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("space", "page_down", "Page down", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file: FileDiff | None = None
        self._first_hunk = 0
        self._lexer: Any = None
        self._strips: LRUCache[int, Strip] = LRUCache(CACHED_LINES)
        self.rendered = 0
        """Lines made since the file was shown (the tests check that a big file costs a screenful)."""

    def show(self, file: FileDiff | None) -> None:
        self.file = file
        self._strips.clear()
        self.rendered = 0
        lines = file.lines if file else ()
        self._first_hunk = next((i for i, line in enumerate(lines) if line.startswith("@@")), len(lines))
        self._lexer = lexer_for(file.path) if file and not file.binary else None
        # as drawn: a line longer than LONGEST is cut and followed by "… N more characters"
        width = max((len(line[:LONGEST].expandtabs(TAB)) + (40 if len(line) > LONGEST else 0) for line in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        lines = self.file.lines if self.file else ()
        if index >= len(lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            text = diff_line_text(lines[index], self._lexer, index > self._first_hunk)
            segments = list(text.render(self.app.console, end=""))
            strip = Strip(Segment.apply_style(segments, self.rich_style), text.cell_len)
            self._strips[index] = strip
            self.rendered += 1
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
