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


_PICTURES = {c: chr(0x2400 + c) for c in range(0x20)}
"""C0 controls as their Unicode control pictures: ESC shows as ␛, BEL as ␇, NUL as ␀."""
_PICTURES[0x7F] = "\u2421"  # DEL: ␡
_PICTURES.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})  # C1 (CSI is \x9b): no pictures exist
_PICTURES.update({c: "\ufffd" for c in (0x2028, 0x2029)})  # line/paragraph separators break a row
_INERT_ONE_LINE = str.maketrans(_PICTURES)
_INERT_LINES = str.maketrans({c: v for c, v in _PICTURES.items() if c not in (0x09, 0x0A)})
_SURROGATES = re.compile("[\ud800-\udfff]")


def inert(text: object, *, lines: bool = False) -> str:
    """`text` safe to put on an operator's terminal, whoever wrote it (a config, a person, an
    agent, a file, git): no byte of it can move the cursor, retitle the window, clear the screen
    or ring the bell. Control characters are shown, not obeyed — ESC as ␛, BEL as ␇, a C1 code
    as `\\x9b` — and a newline as ␊ unless `lines` (a multi-line view keeps its newlines and
    tabs). Lone surrogates (undecodable bytes) become U+FFFD, so printing can never fail.
    Every place that shows outside text (dashboard widgets and screens, `status`, CLI messages)
    passes it through here."""
    s = text if isinstance(text, str) else str(text)
    s = s.translate(_INERT_LINES if lines else _INERT_ONE_LINE)
    return _SURROGATES.sub("\ufffd", s) if _SURROGATES.search(s) else s


def short_repr(text: str, limit: int = 80) -> str:
    """`text` quoted escaped (`repr`: no control character reaches a terminal), its middle cut when
    longer than `limit`: a one-line message about a value stays one short line whatever was given."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit // 2]) + f"...({len(text)} characters)..." + repr(text[-(limit // 4):])
