"""Detection rules: per agent kind, which screen text means which state.

Rules are data (mission_control/rules/<kind>.toml, plus `common.toml` for every
kind), so a new agent version means a new rule and a new fixture, not new code.

    [[rule]]
    state = "WAITING"                 # WORKING | WAITING | IDLE | STUCK
    pattern = 'Do you want to proceed\\?'
    reason = "permission prompt"      # may use {1}, {2}... or {name} from the pattern's groups
    lines = 15                        # look only at the last N non-blank lines (0: the whole capture)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

STATES = ("WORKING", "WAITING", "IDLE", "STUCK")


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    state: str
    pattern: re.Pattern[str]
    reason: str
    lines: int
    source: str

    def match(self, tail_lines: list[str]) -> str | None:
        """The rule's reason if it matches the last `lines` lines, else None."""
        region = tail_lines[-self.lines :] if self.lines else tail_lines
        m = self.pattern.search("\n".join(region))
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

    def of(self, state: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.state == state)

    def first(self, state: str, tail_lines: list[str]) -> tuple[str, Rule] | None:
        for rule in self.rules:
            if rule.state == state:
                reason = rule.match(tail_lines)
                if reason is not None:
                    return reason, rule
        return None


def parse_rules(source: str, text: str | dict[str, Any]) -> list[Rule]:
    raw = tomllib.loads(text) if isinstance(text, str) else text
    extra = set(raw) - {"rule", "description"}
    if extra:
        raise RuleError(f"{source}: unknown key {sorted(extra)[0]!r} (rules go in [[rule]] tables)")
    out = []
    for i, entry in enumerate(raw.get("rule", [])):
        where = f"{source}: rule[{i}]"
        unknown = set(entry) - {"state", "pattern", "reason", "lines", "ignore_case"}
        if unknown:
            raise RuleError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        state = entry.get("state")
        if state not in STATES:
            raise RuleError(f"{where}.state = {state!r}: use one of {', '.join(STATES)}")
        pattern = entry.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise RuleError(f"{where}.pattern must be a non-empty string")
        flags = re.MULTILINE | (re.IGNORECASE if entry.get("ignore_case") else 0)
        try:
            compiled = re.compile(pattern, flags)
        except re.error as exc:
            raise RuleError(f"{where}.pattern {pattern!r}: {exc}") from None
        lines = entry.get("lines", 0)
        if not isinstance(lines, int) or lines < 0:
            raise RuleError(f"{where}.lines must be a whole number >= 0")
        reason = entry.get("reason", state.lower())
        if not isinstance(reason, str):
            raise RuleError(f"{where}.reason must be a string")
        out.append(Rule(state, compiled, reason, lines, f"{source}#{i}"))
    return out


def _builtin_text(name: str) -> str | None:
    try:
        return resources.files("mission_control").joinpath("rules", f"{name}.toml").read_text()
    except FileNotFoundError:
        return None


_CACHE: dict[str, RuleSet] = {}


def rules_for(kind: str, extra: list[Rule] | None = None) -> RuleSet:
    """The kind's rules first (user rules before built-in ones), then the common ones."""
    if not extra and kind in _CACHE:
        return _CACHE[kind]
    rules: list[Rule] = list(extra or [])
    own = _builtin_text(kind)
    if own is not None:
        rules += parse_rules(f"rules/{kind}.toml", own)
    common = _builtin_text("common")
    if common is not None:
        rules += parse_rules("rules/common.toml", common)
    ruleset = RuleSet(kind, tuple(rules))
    if not extra:
        _CACHE[kind] = ruleset
    return ruleset
