"""The rules' prefilter: strings a pattern cannot match without, and the proof that
skipping a search when none of them is present never changes a rule's answer."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from mission_control.core.kinds import KINDS
from mission_control.core.regex_prefilter import fold, needed_strings
from mission_control.core.rules import Region, rules_for
from mission_control.core.status import tail_lines
from test_screen_fixtures import MANIFEST, SYNTHETIC, fixture_text

CASES = [
    # pattern, flags, expected strings (None: no prefilter), folded
    ("press enter to continue", 0, ("press enter to continue",), False),
    ("(?i)Press Enter", 0, ("press enter",), True),
    ("Press Enter", re.IGNORECASE, ("press enter",), True),
    ("(?i)(rate[ -]?limit(?:ed)?|too many requests|\\b429\\b)", 0, ("429", "limit", "too many requests"), True),
    ("KeyError: '([A-Z][A-Z0-9_]{2,})'", 0, ("KeyError: '",), False),
    ("(?:ab)+cd", 0, ("ab", "cd"), None),  # either is needed; the longer-or-fewer choice is made
    ("x(?:abc)?y", 0, ("x",), False),  # an optional group needs nothing
    ("a|b*", 0, None, None),  # a branch that needs nothing: no prefilter
    ("^[^\\n]{0,80}[$#%>]\\s?$", 0, None, None),  # classes only
    ("(?=foo)bar", 0, ("bar",), False),  # look-arounds are not required text here
    ("(?i:error) at line", 0, (" at line",), False),  # the case-sensitive part wins (longer)
    ("(?i:quota exceeded)|Rate", 0, None, None),  # folded and exact alternatives do not mix
    ("(?i)ünïcode", 0, ("code",), True),  # non-ASCII letters are not folded
    ("✕ \\[API Error:", 0, ("✕ [API Error:",), False),  # exact non-ASCII is fine
]


@pytest.mark.parametrize("pattern, flags, strings, folded", CASES)
def test_needed_strings(pattern: str, flags: int, strings, folded) -> None:
    needed = needed_strings(re.compile(pattern, flags | re.MULTILINE))
    if strings is None:
        assert needed is None
        return
    assert needed is not None
    if folded is None:  # any one of the valid choices
        assert len(needed.strings) == 1 and needed.strings[0] in strings
    else:
        assert needed.strings == strings and needed.folded is folded


def test_fold_agrees_with_ignorecase_for_every_ascii_letter() -> None:
    """Every character re.IGNORECASE takes for an ASCII letter folds to that letter, in place
    (between two other letters: a fold must not split a word)."""
    any_letter = re.compile("[a-z]", re.IGNORECASE)
    found = 0
    for code in range(0x80, 0x110000):
        ch = chr(code)
        if any_letter.fullmatch(ch):
            letter = next(x for x in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(x, ch, re.IGNORECASE))
            assert f"q{letter}q" in fold(f"Q{ch}Q"), (letter, hex(code))
            found += 1
    assert found >= 3  # K (Kelvin), ſ, ı and İ at least


def _without_prefilter(rule):
    return replace(rule, needed=None)


def _texts() -> list[tuple[str, list[str]]]:
    out = [(e["kind"], tail_lines(fixture_text(e))) for e in MANIFEST]
    out += [(kind, tail_lines(screen)) for _, kind, screen, *_ in SYNTHETIC]
    # hostile near-misses: the needed strings in other cases and in look-alike letters
    rng = random.Random(7)
    for kind in KINDS:
        for rule in rules_for(kind).rules:
            for s in (rule.needed.strings if rule.needed else ()):
                variants = [s, s.upper(), s.title(), s.replace("i", "ı"), s.replace("I", "İ"), s.replace("s", "ſ"), s.replace("k", "K")]
                for v in variants:
                    noise = "".join(rng.choice("ab Z_9\n:'") for _ in range(20))
                    out.append((kind, [noise, f"Error: {v} happened", v, f"MISSING_KEY is not set {v}"]))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_prefilter_never_changes_a_rules_answer(kind: str) -> None:
    """Every rule of every kind, on every fixture and synthetic screen plus near-misses:
    the same answer with and without its prefilter (and the prefilter skips most searches)."""
    rules = rules_for(kind)
    skipped = searched = 0
    for _, lines in _texts():
        region_a, region_b = Region(rules.current(lines)), Region(rules.current(lines))
        for rule in rules.rules:
            assert rule.match(region_a) == _without_prefilter(rule).match(region_b), (rule.source, lines[-5:])
            if rule.needed is not None:
                text = region_a.folded(rule.lines) if rule.needed.folded else region_a.text(rule.lines)
                if any(s in text for s in rule.needed.strings):
                    searched += 1
                else:
                    skipped += 1
    assert skipped > searched
