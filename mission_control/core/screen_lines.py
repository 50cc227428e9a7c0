"""Which lines of a pane capture are new output since the last tick (pure).

Meters that read the screen (aider without its history file, any command with token
regexes) must see each printed line once. tmux numbers a pane's lines: the visible
region starts at `history_size`, so a captured line has a stable absolute number
while it scrolls up. The last non-blank line may still be growing and is left for
the next tick.
"""

from __future__ import annotations


def new_output_lines(lines: list[str], history_size: int, history_captured: int, last_seen: int | None) -> tuple[list[str], int]:
    """(complete lines numbered after `last_seen`, the new `last_seen`).

    `lines` is the capture (scrollback part first) without trailing blank lines;
    `history_captured` is how many of them came from the scrollback."""
    first = history_size - history_captured
    complete = len(lines) - 1  # the last line may still be written to
    if complete <= 0:
        return [], last_seen if last_seen is not None else first - 1
    end = first + complete - 1
    if last_seen is None or last_seen > end + history_captured + 1000:
        last_seen = first - 1  # first look (or the history was cleared): everything captured is new
    start = max(last_seen + 1, first)
    fresh = lines[start - first : complete]
    return fresh, max(last_seen, end)
