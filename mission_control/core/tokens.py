"""Token meters, the pure half: parse what agents record about their API use.

Every parser here takes text (a line, a JSON document) and numbers (times),
never a path, and records what it learns as `Response`s in a `ResponseBook`.
The adapters (`mission_control.adapters.meters`) find and tail the
files; `mission_control.core.pricing` turns responses into dollars.

One convention throughout, the one of `TokenUsage`: `input` is fresh
(uncached) input only, so `input + cache_read + cache_write` is all the input
the model read, and `output` includes reasoning/thinking tokens.

Each kind's own format is parsed in its kind module (`mission_control/core/kinds/<kind>.py`,
which says where it was checked); here are the values and helpers they share, and the
parser of `tokens` regexes from agents.toml (shell).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Hashable, Iterable, Mapping

from mission_control.core.model import TokenUsage

# --------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Response:
    """What one model call cost in tokens (or, for cumulative meters, a slice of a session)."""

    model: str | None
    usage: TokenUsage
    cache_write_1h: int = 0
    """Part of `usage.cache_write` written to the 1-hour cache (Anthropic prices it higher)."""
    reported_cost: float | None = None
    """The cost the agent itself reported for this response, if it did."""
    provider: str | None = None
    ts: float | None = None


@dataclass(frozen=True)
class MeterReading:
    """One agent's spend so far, as a meter read it.

    `usage is None` means "unknown" (a shell command without regexes), which
    is not the same as zero tokens.
    """

    usage: TokenUsage | None
    cost_usd: float | None = None
    cost_source: str | None = None
    models: tuple[str, ...] = ()
    responses: int = 0
    skipped_lines: int = 0
    usage_by_model: Mapping[str, TokenUsage] = field(default_factory=dict)
    cost_by_model: Mapping[str, float | None] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    """The records read (paths), for `status --json` and debugging."""

    @property
    def known(self) -> bool:
        return self.usage is not None

    @classmethod
    def unknown(cls, skipped_lines: int = 0) -> MeterReading:
        return cls(usage=None, skipped_lines=skipped_lines)


def _max_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    return TokenUsage(
        max(a.input, b.input),
        max(a.output, b.output),
        max(a.cache_read, b.cache_read),
        max(a.cache_write, b.cache_write),
    )


def _sub_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    return TokenUsage(a.input - b.input, a.output - b.output, a.cache_read - b.cache_read, a.cache_write - b.cache_write)


class ResponseBook:
    """Responses by key; merging the same key again keeps the largest of each count.

    That makes feeding a line twice harmless (a file re-read from 0 after it
    was replaced adds nothing already counted) and keeps the final usage of a
    streamed response whose lines repeat with growing counts. Totals are kept
    up to date incrementally; `drain_changes` tells a cost ledger what moved.
    """

    def __init__(self) -> None:
        self._responses: dict[Hashable, Response] = {}
        self._total = TokenUsage()
        self._by_model: dict[str, TokenUsage] = {}
        self._changes: list[tuple[Response | None, Response]] = []

    def merge(self, key: Hashable, response: Response) -> bool:
        old = self._responses.get(key)
        if old is None:
            new = response
        else:
            new = Response(
                model=response.model or old.model,
                usage=_max_usage(old.usage, response.usage),
                cache_write_1h=max(old.cache_write_1h, response.cache_write_1h),
                reported_cost=_max_opt(old.reported_cost, response.reported_cost),
                provider=response.provider or old.provider,
                ts=old.ts if old.ts is not None else response.ts,
            )
            if new == old:
                return False
        self._responses[key] = new
        if old is not None:
            self._account(old, -1)
        self._account(new, +1)
        self._changes.append((old, new))
        return True

    def _account(self, r: Response, sign: int) -> None:
        name = r.model or "unknown"
        if sign > 0:
            self._total = self._total + r.usage
            self._by_model[name] = self._by_model.get(name, TokenUsage()) + r.usage
        else:
            self._total = _sub_usage(self._total, r.usage)
            self._by_model[name] = _sub_usage(self._by_model.get(name, TokenUsage()), r.usage)

    def drain_changes(self) -> list[tuple[Response | None, Response]]:
        changes, self._changes = self._changes, []
        return changes

    def __len__(self) -> int:
        return len(self._responses)

    def __contains__(self, key: object) -> bool:
        return key in self._responses

    def get(self, key: Hashable) -> Response | None:
        return self._responses.get(key)

    def values(self) -> Iterable[Response]:
        return self._responses.values()

    @property
    def total(self) -> TokenUsage:
        return self._total

    @property
    def by_model(self) -> dict[str, TokenUsage]:
        return {m: u for m, u in self._by_model.items() if u.total or m != "unknown"}

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted(m for m in self._by_model if m != "unknown"))


def _max_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


# --------------------------------------------------------------------------
# Small helpers

_COUNT_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*([kKmMbB]?)\s*$")
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def parse_count(text: str | None) -> int | None:
    """`"1.2k"` -> 1200, `"12k"`, `"1.5M"`, `"1,234"`, `"345"`; None if it is not a count."""
    if text is None:
        return None
    m = _COUNT_RE.match(str(text))
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    return int(round(number * _SUFFIX[m.group(2).lower()]))


def parse_money(text: str | None) -> float | None:
    """`"$0.05"`, `"1,234.5"`, `"0.0012"` -> float; None if it is not an amount."""
    if text is None:
        return None
    cleaned = str(text).strip().lstrip("$").replace(",", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_iso(ts: Any) -> float | None:
    """ISO 8601 (with `Z` or an offset) to seconds since the epoch; naive means UTC."""
    if not isinstance(ts, str) or not ts:
        return None
    text = ts.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def as_int(value: Any) -> int:
    """A count from a record: a non-negative int, 0 for anything else (bools, NaN, text)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value:  # not NaN
        return max(int(value), 0)
    return 0


def as_num(value: Any) -> float | None:
    """A number from a record, or None for anything that is not one (bools, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value else None


def load_json_line(line: str) -> dict[str, Any] | None:
    """A JSONL line as a dict, or None when it is not one (malformed, or not an object)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


class LineParser:
    """Shared bookkeeping: a book to record into, a count of lines skipped, and `since`: where a
    parser reads times, what happened before that instant (a resumed session's history) is not
    counted."""

    def __init__(self, book: ResponseBook | None = None, *, since: float | None = None) -> None:
        self.book = book if book is not None else ResponseBook()
        self.skipped_lines = 0
        self.since = since

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _json(self, line: str) -> dict[str, Any] | None:
        if not line.strip():
            return None
        obj = load_json_line(line)
        if obj is None:
            self.skipped_lines += 1
        return obj


# --------------------------------------------------------------------------
# Any command: regexes from agents.toml


@dataclass(frozen=True)
class RegexSpec:
    """`{tokens_in = "...", tokens_out = "...", cost = "...", cumulative = false, model = "..."}`.

    Each regex has one group (or uses the whole match); the group's text may
    carry `k`/`M` suffixes and commas (costs may carry `$`). With `cumulative`
    the values are running totals for the session (the latest counts, a drop
    starts a new run); without it each match is one message's worth, summed.
    Optional: `cache_read`, `cache_write` regexes; `model` (a fixed model name
    to price tokens with when there is no cost regex).
    """

    tokens_in: re.Pattern[str] | None = None
    tokens_out: re.Pattern[str] | None = None
    cache_read: re.Pattern[str] | None = None
    cache_write: re.Pattern[str] | None = None
    cost: re.Pattern[str] | None = None
    cumulative: bool = False
    model: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> RegexSpec | None:
        """None if the config names no regex; raises ValueError for a bad regex."""
        if not config:
            return None

        def rx(name: str) -> re.Pattern[str] | None:
            value = config.get(name)
            if not value:
                return None
            try:
                return re.compile(str(value))
            except re.error as exc:
                raise ValueError(f"bad {name} regex {value!r}: {exc}") from exc

        spec = cls(
            tokens_in=rx("tokens_in"),
            tokens_out=rx("tokens_out"),
            cache_read=rx("cache_read"),
            cache_write=rx("cache_write"),
            cost=rx("cost"),
            cumulative=bool(config.get("cumulative", False)),
            model=str(config["model"]) if config.get("model") else None,
        )
        if not any((spec.tokens_in, spec.tokens_out, spec.cache_read, spec.cache_write, spec.cost)):
            return None
        return spec


def _group(m: re.Match[str]) -> str:
    return m.group(1) if m.re.groups else m.group(0)


class RegexMeterParser:
    """Applies a `RegexSpec` to new output lines."""

    _FIELDS = ("tokens_in", "tokens_out", "cache_read", "cache_write")

    def __init__(self, spec: RegexSpec, book: ResponseBook | None = None) -> None:
        self.spec = spec
        self.book = book if book is not None else ResponseBook()
        self.skipped_lines = 0
        self._ordinal = 0
        self._latest: dict[str, float] = {}
        self._bank: dict[str, float] = {}
        self._summed_cost: float | None = None

    @property
    def reported_cost(self) -> float | None:
        if self.spec.cost is None:
            return None
        if self.spec.cumulative:
            if "cost" not in self._latest and "cost" not in self._bank:
                return None
            return self._bank.get("cost", 0.0) + self._latest.get("cost", 0.0)
        return self._summed_cost

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:
        values: dict[str, float] = {}
        for name in self._FIELDS:
            pattern = getattr(self.spec, name)
            if pattern is None:
                continue
            m = pattern.search(line)
            if m:
                n = parse_count(_group(m))
                if n is not None:
                    values[name] = n
        if self.spec.cost is not None:
            m = self.spec.cost.search(line)
            if m:
                c = parse_money(_group(m))
                if c is not None:
                    values["cost"] = c
        if not values:
            return
        if self.spec.cumulative:
            self._cumulative(values)
        else:
            self._summed(values)

    def _usage(self, v: Mapping[str, float]) -> TokenUsage:
        return TokenUsage(
            int(v.get("tokens_in", 0)), int(v.get("tokens_out", 0)), int(v.get("cache_read", 0)), int(v.get("cache_write", 0))
        )

    def _summed(self, values: dict[str, float]) -> None:
        if "cost" in values:
            self._summed_cost = (self._summed_cost or 0.0) + values.pop("cost")
        if values:
            self._ordinal += 1
            self.book.merge(("regex", self._ordinal), Response(model=self.spec.model, usage=self._usage(values)))

    def _cumulative(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            prev = self._latest.get(name)
            if prev is not None and value < prev:
                self._bank[name] = self._bank.get(name, 0.0) + prev
            self._latest[name] = value
        totals = {n: self._bank.get(n, 0.0) + self._latest.get(n, 0.0) for n in self._FIELDS}
        # One running response whose counts only grow: the book keeps the largest.
        self.book.merge(("regex", "cumulative"), Response(model=self.spec.model, usage=self._usage(totals)))
