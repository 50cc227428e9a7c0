"""What a logged line looked like on screen: escapes gone, carriage-return redraws resolved."""

from __future__ import annotations

import pytest

from mission_control.core.terminal_text import plain_line

CASES = [
    ("plain text", "plain text"),
    ("Tokens: 1.2k sent\r", "Tokens: 1.2k sent"),  # tmux pipe-pane keeps the CR of CRLF
    ("\x1b[1;32mCost:\x1b[0m $0.01", "Cost: $0.01"),  # colours
    ("\x1b]0;title\x07after", "after"),  # OSC with BEL
    ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),  # hyperlink with ST
    ("⠋ Thinking\r⠙ Thinking\rdone", "done"),  # redrawn in place: what was left standing
    ("a\tb", "a\tb"),  # tabs stay
    ("bell\x07 and\x08 back", "bell and back"),  # other controls go
    ("del\x7f stays", "del\x7f stays"),
    ("ünïcode ✓", "ünïcode ✓"),
    ("", ""),
]


@pytest.mark.parametrize("raw, plain", CASES)
def test_plain_line(raw: str, plain: str) -> None:
    assert plain_line(raw) == plain
