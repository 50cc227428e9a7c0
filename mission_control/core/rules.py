"""Detection rules: per agent kind, which screen text means which state.

Rules are data (mission_control/rules/<kind>.toml, plus `common.toml`), so a new
agent version means a new rule and a new fixture, not new code.

    description = "..."
    turn = '(?<!─\\n)^❯ \\S'          # optional: a prompt the user already submitted
    common = false                    # optional: do not add rules/common.toml (default true)
    idle_cpu = 0.15                   # optional: CPU (cores) it may use at a still, idle screen
    quiet_start = true                # optional: its boot screens are not work (STARTING until a rule matches)

    [[rule]]
    state = "WAITING"                 # WORKING | WAITING | IDLE | STUCK
    pattern = 'Do you want to proceed\\?'
    reason = "permission prompt"      # may use {1}, {2}... or {name} from the pattern's groups
    lines = 15                        # look only at the last N non-blank lines (0: all of them)
    ignore_case = false

Patterns are searched (re.MULTILINE) in the screen's lines joined with "\\n",
without colour codes and trailing blanks; blank lines inside the region stay, so
a pattern may span lines and use look-aheads ("not followed by ...").

`turn` marks the current turn. Agent TUIs keep the whole conversation on screen,
so an error or a question from an earlier turn stays visible above a newer
prompt. When a kind's file has a `turn` pattern, every rule (user rules, the
kind's own and the common ones) sees only the lines *below* the line where its
last match starts — what the agent printed since the user's last prompt (the
prompt's own text is left out, so a prompt such as "fix the rate limit bug" is
never read as an error). The pattern must not match the input line the user is
still typing in; a screen without a match is one turn.

`common = false` says the kind's file is complete: the generic guesses in
`common.toml` (any "401", "rate limit", "(y/n)" anywhere near the bottom), which
suit plain commands, would misread an agent's tool output and transcript.

`idle_cpu` is for kinds whose idle CPU is noisy: a still screen with CPU use up to this
fraction of a core is not work (measured per kind, see each file; the default is the
classifier's `CPU_BUSY_FRACTION`). `quiet_start` is for agent TUIs that draw a boot screen
(a blank pane, a logo, a welcome box): screen changes before the agent first shows its
prompt, a busy marker or a dialog (or a submitted prompt, its `turn`) are its boot, not work,
so it stays STARTING — for at most `start_timeout`, after which activity is work again.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from mission_control.core.regex_prefilter import Needed, fold, needed_strings

STATES = ("WORKING", "WAITING", "IDLE", "STUCK")
FILE_KEYS = ("rule", "description", "turn", "common", "idle_cpu", "quiet_start", "prompt")
"""`prompt`: the `[[prompt]]` tables, read by `core/prompts.py` (what a WAITING screen offers)."""
RULE_KEYS = ("state", "pattern", "reason", "lines", "ignore_case")


class RuleError(ValueError):
    pass


def last_lines(lines: list[str], n: int) -> list[str]:
    """The tail of `lines` that holds its last `n` non-blank lines (all of it for n = 0)."""
    if not n:
        return lines
    seen = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            seen += 1
            if seen == n:
                return lines[i:]
    return lines


class Region:
    """The lines rules are matched against, with the text of each tail joined only once
    (a kind has dozens of rules, most looking at the same last few lines)."""

    __slots__ = ("lines", "_texts", "_folded")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._texts: dict[int, str] = {}
        self._folded: dict[int, str] = {}

    def text(self, n: int) -> str:
        """The last `n` non-blank lines (all for 0), joined."""
        text = self._texts.get(n)
        if text is None:
            text = self._texts[n] = "\n".join(last_lines(self.lines, n))
        return text

    def folded(self, n: int) -> str:
        """`text(n)` as case-insensitive prefilter strings are compared with it."""
        text = self._folded.get(n)
        if text is None:
            text = self._folded[n] = fold(self.text(n))
        return text


@dataclass(frozen=True)
class Rule:
    state: str
    pattern: re.Pattern[str]
    reason: str
    lines: int
    source: str
    needed: Needed | None = None
    """Strings a match cannot do without: when none is in the text, the search is skipped."""

    def match(self, tail_lines: list[str] | Region) -> str | None:
        """The rule's reason if it matches the last `lines` non-blank lines, else None."""
        region = tail_lines if isinstance(tail_lines, Region) else Region(tail_lines)
        text = region.text(self.lines)
        needed = self.needed
        if needed is not None and not any(s in (region.folded(self.lines) if needed.folded else text) for s in needed.strings):
            return None
        m = self.pattern.search(text)
        if not m:
            return None
        try:
            return self.reason.format(m.group(0), *m.groups(), **m.groupdict())
        except (IndexError, KeyError):
            return self.reason


@dataclass(frozen=True)
class RuleSet:
    kind: str
    rules: tuple[Rule, ...]
    turn: re.Pattern[str] | None = None
    """Matches a prompt the user submitted: only what follows the last one is read."""
    idle_cpu: float | None = None
    """CPU (fraction of a core) the kind may use at a still, idle screen (None: the default)."""
    quiet_start: bool = False
    """Screen changes before its first prompt, marker or dialog are its boot, not work."""

    def of(self, state: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.state == state)

    def current(self, tail_lines: list[str]) -> list[str]:
        """The lines of the current turn: those below the last submitted prompt
        (all of them when the kind has no `turn` pattern or none is on screen)."""
        if self.turn is None:
            return tail_lines
        text = "\n".join(tail_lines)
        last = None
        for last in self.turn.finditer(text):
            pass
        if last is None:
            return tail_lines
        return tail_lines[text.count("\n", 0, last.start()) + 1 :]

    def first(self, state: str, tail_lines: list[str] | Region) -> tuple[str, Rule] | None:
        """The first rule of `state` that matches the current turn (`tail_lines` may be a Region
        of the current turn already, to share its joined texts between calls)."""
        region = tail_lines if isinstance(tail_lines, Region) else Region(self.current(tail_lines))
        for rule in self.rules:
            if rule.state == state:
                reason = rule.match(region)
                if reason is not None:
                    return reason, rule
        return None


@dataclass(frozen=True)
class RuleFile:
    """One parsed rules file."""

    rules: tuple[Rule, ...]
    turn: re.Pattern[str] | None = None
    common: bool = True
    idle_cpu: float | None = None
    quiet_start: bool = False


def _compile(where: str, pattern: Any, flags: int) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise RuleError(f"{where} must be a non-empty string")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise RuleError(f"{where} {pattern!r}: {exc}") from None


def parse_file(source: str, text: str | dict[str, Any]) -> RuleFile:
    raw = tomllib.loads(text) if isinstance(text, str) else text
    extra = set(raw) - set(FILE_KEYS)
    if extra:
        raise RuleError(f"{source}: unknown key {sorted(extra)[0]!r} (rules go in [[rule]] tables)")
    turn = _compile(f"{source}: turn", raw["turn"], re.MULTILINE) if "turn" in raw else None
    common = raw.get("common", True)
    if not isinstance(common, bool):
        raise RuleError(f"{source}: common must be true or false")
    idle_cpu = raw.get("idle_cpu")
    if idle_cpu is not None and (isinstance(idle_cpu, bool) or not isinstance(idle_cpu, (int, float)) or not 0 <= idle_cpu <= 64):
        raise RuleError(f"{source}: idle_cpu must be a number of cores between 0 and 64")
    quiet_start = raw.get("quiet_start", False)
    if not isinstance(quiet_start, bool):
        raise RuleError(f"{source}: quiet_start must be true or false")
    out = []
    for i, entry in enumerate(raw.get("rule", [])):
        where = f"{source}: rule[{i}]"
        unknown = set(entry) - set(RULE_KEYS)
        if unknown:
            raise RuleError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        state = entry.get("state")
        if state not in STATES:
            raise RuleError(f"{where}.state = {state!r}: use one of {', '.join(STATES)}")
        flags = re.MULTILINE | (re.IGNORECASE if entry.get("ignore_case") else 0)
        compiled = _compile(f"{where}.pattern", entry.get("pattern"), flags)
        lines = entry.get("lines", 0)
        if not isinstance(lines, int) or isinstance(lines, bool) or lines < 0:
            raise RuleError(f"{where}.lines must be a whole number >= 0")
        reason = entry.get("reason", state.lower())
        if not isinstance(reason, str):
            raise RuleError(f"{where}.reason must be a string")
        out.append(Rule(state, compiled, reason, lines, f"{source}#{i}", needed_strings(compiled)))
    return RuleFile(tuple(out), turn, common, float(idle_cpu) if idle_cpu is not None else None, quiet_start)


def parse_rules(source: str, text: str | dict[str, Any]) -> list[Rule]:
    """The `[[rule]]` tables of a rules file (or of `{"rule": [...]}`)."""
    return list(parse_file(source, text).rules)


def _builtin_text(name: str) -> str | None:
    try:
        return resources.files("mission_control").joinpath("rules", f"{name}.toml").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def builtin_file(name: str) -> RuleFile | None:
    """The packaged rules file `rules/<name>.toml`, parsed (None if there is none)."""
    text = _builtin_text(name)
    return None if text is None else parse_file(f"rules/{name}.toml", text)


_CACHE: dict[str, RuleSet] = {}


def rules_for(kind: str, extra: list[Rule] | None = None) -> RuleSet:
    """User rules first, then the kind's own, then the common ones (unless the kind's
    file says `common = false`); the kind's `turn` pattern scopes them all."""
    if not extra and kind in _CACHE:
        return _CACHE[kind]
    rules: list[Rule] = list(extra or [])
    own = builtin_file(kind)
    if own is not None:
        rules += own.rules
    if own is None or own.common:
        common = builtin_file("common")
        if common is not None:
            rules += common.rules
    ruleset = RuleSet(kind, tuple(rules), own.turn if own is not None else None,
                      own.idle_cpu if own is not None else None, own.quiet_start if own is not None else False)
    if not extra:
        _CACHE[kind] = ruleset
    return ruleset


def rules_with_user(kind: str, user_tables: list[dict[str, Any]]) -> RuleSet:
    """The kind's rules with the user's `[[rule]]` tables from agents.toml tried first."""
    return rules_for(kind, parse_rules("agents.toml", {"rule": user_tables}) if user_tables else None)
