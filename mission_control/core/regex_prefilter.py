"""Which plain strings a regular expression cannot match without: a cheap test before the search.

A fleet's screens change every tick and each is searched by a dozen rules; Python's
`re` tries a case-insensitive alternation such as `(?i)(rate limit|too many requests|...)`
at every position of the text (~100 us for 12 lines), while `"limit" in text` takes well
under a microsecond. `needed_strings(pattern)` reads the pattern's syntax tree and returns
strings of which every match must contain at least one, so a rule whose strings are all
absent is skipped without searching: the answer is the same, only cheaper.

Case-insensitive strings are compared with the text's `fold()` (str.casefold, which agrees
with `re.IGNORECASE` for ASCII letters once "ı" and "İ" are mended); a string
with other non-ASCII letters is not used case-insensitively. A pattern the reader does not
understand gets no prefilter (None), never a wrong one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:  # the stdlib's own regex parser (named sre_parse before Python 3.11)
    from re import _constants as _c, _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | ({_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set())


@dataclass(frozen=True)
class Needed:
    """Every match contains one of `strings` (compared with the folded text when `folded`)."""

    strings: tuple[str, ...]
    folded: bool


_FOLD_FIXES = str.maketrans({"ı": "i", "\u0307": None})
"""re.IGNORECASE takes "ı" for "i", and "İ" casefolds to "i" + a combining dot."""


def fold(text: str) -> str:
    """The text as case-insensitive strings are compared with it (a fold may find a string
    the pattern would not match, which costs a search; it never hides one that it would)."""
    folded = text.casefold()
    return folded if folded.isascii() else folded.translate(_FOLD_FIXES)


# an alternative set: (strings, folded) or None for "no string is needed"
_Alt = tuple[frozenset[str], bool] | None


def _score(alt: _Alt) -> tuple[int, int]:
    if alt is None:
        return (-1, 0)
    strings = alt[0]
    return (min(len(s) for s in strings), -len(strings))


def _better(a: _Alt, b: _Alt) -> _Alt:
    return b if _score(b) > _score(a) else a


def _sequence(items, icase: bool) -> _Alt:
    best: _Alt = None
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        if run:
            text = "".join(run)
            best = _better(best, (frozenset({fold(text) if icase else text}), icase))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            ch = chr(av)
            if icase and not ch.isascii():
                flush()  # full case folding may not agree with re's here
                continue
            run.append(ch)
            continue
        flush()
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            inner = (icase or bool(add & re.IGNORECASE)) and not (remove & re.IGNORECASE)
            best = _better(best, _sequence(sub, inner))
        elif op is _c.BRANCH:
            alts = [_sequence(sub, icase) for sub in av[1]]
            if all(a is not None for a in alts):
                kinds = {a[1] for a in alts if a}
                if len(kinds) == 1:
                    best = _better(best, (frozenset().union(*(a[0] for a in alts if a)), kinds.pop()))
        elif op in _REPEATS:
            low, _high, sub = av
            if low >= 1:
                best = _better(best, _sequence(sub, icase))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            best = _better(best, _sequence(av, icase))
        # anything else (classes, anchors, look-arounds, back references) needs no string
    flush()
    return best


def needed_strings(pattern: re.Pattern[str]) -> Needed | None:
    """Strings every match of `pattern` contains one of, or None when there are none to use."""
    try:
        tree = _p.parse(pattern.pattern, pattern.flags & ~re.UNICODE)
        icase = bool(tree.state.flags & re.IGNORECASE)
        alt = _sequence(tree, icase)
    except Exception:  # an unfamiliar construct: no prefilter rather than a wrong one
        return None
    if alt is None or any(not s for s in alt[0]):
        return None
    return Needed(tuple(sorted(alt[0])), alt[1])
