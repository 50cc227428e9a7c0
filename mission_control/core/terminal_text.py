"""Text a program printed to its terminal, made plain (pure): no escape sequences, and of a
line redrawn with carriage returns only what was left standing."""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC ... BEL/ST (titles, hyperlinks)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor moves)
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f]")
"""Control characters other than a tab (what is left of them once escapes are gone)."""


def strip_escapes(text: str) -> str:
    """`text` without terminal escape sequences (colours, cursor moves, titles, hyperlinks)."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text


def plain_line(raw: str) -> str:
    """One logged line as it finally stood on screen."""
    text = strip_escapes(raw).rstrip("\r")
    if "\r" in text:
        text = text.rsplit("\r", 1)[-1]
    return _CONTROLS.sub("", text)
