"""What tokens cost, in USD: the pure half of the meters.

Where a price comes from, in order of precedence:

1. the agent's own report (aider's session cost, opencode's per-message
   cost): source `"reported by agent"`;
2. a per-model override from the config, `{model: {input_mtok, output_mtok,
   cache_read_mtok, cache_write_mtok}}` in USD per million tokens (for local
   and private models): source `"override"`;
3. genai-prices' price table (per provider and model, with cache read/write
   prices and long-context tiers): source `"genai-prices <provider>/<model>"`;
4. otherwise the cost is unknown (None), never a guess. A meter of local
   models (ollama) may say that unknown means free: `default_free`.

Conventions: our `TokenUsage.input` is fresh input only; genai-prices counts
cached tokens inside `input_tokens` (and prices `cache_read_tokens` and
`cache_write_tokens` as parts of it), so we hand it
`input_tokens = input + cache_read + cache_write`. Long-context tiers depend
on one request's input, so responses are priced one by one, never summed
first.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from genai_prices import Usage, calc_price

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import Response

REPORTED = "reported by agent"
OVERRIDE = "override"
LOCAL_FREE = "local model (free)"
MIXED = "mixed"


@dataclass(frozen=True)
class PriceOverride:
    """USD per million tokens. Cache prices default to the input price."""

    input_mtok: float = 0.0
    output_mtok: float = 0.0
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | PriceOverride) -> PriceOverride:
        if isinstance(data, PriceOverride):
            return data

        def num(name: str) -> float | None:
            value = data.get(name)
            if value is None:
                return None
            value = float(value)
            if value < 0 or value != value:
                raise ValueError(f"price {name} must be a non-negative number, got {data.get(name)!r}")
            return value

        return cls(
            input_mtok=num("input_mtok") or 0.0,
            output_mtok=num("output_mtok") or 0.0,
            cache_read_mtok=num("cache_read_mtok"),
            cache_write_mtok=num("cache_write_mtok"),
        )

    def cost(self, usage: TokenUsage) -> float:
        cache_read = self.input_mtok if self.cache_read_mtok is None else self.cache_read_mtok
        cache_write = self.input_mtok if self.cache_write_mtok is None else self.cache_write_mtok
        return (
            usage.input * self.input_mtok
            + usage.output * self.output_mtok
            + usage.cache_read * cache_read
            + usage.cache_write * cache_write
        ) / 1_000_000


@dataclass(frozen=True)
class Cost:
    usd: float | None
    source: str | None

    @property
    def known(self) -> bool:
        return self.usd is not None


UNKNOWN = Cost(None, None)

Overrides = Mapping[str, Mapping[str, Any] | PriceOverride]


def find_override(model: str | None, overrides: Overrides | None) -> PriceOverride | None:
    """The override for `model`: exact name, then case-insensitive, then without a `provider/` prefix."""
    if not overrides or not model:
        return None
    if model in overrides:
        return PriceOverride.from_mapping(overrides[model])
    lowered = {k.lower(): v for k, v in overrides.items()}
    for name in (model.lower(), model.rsplit("/", 1)[-1].lower()):
        if name in lowered:
            return PriceOverride.from_mapping(lowered[name])
    return None


def genai_usage(usage: TokenUsage, cache_write_1h: int = 0) -> Usage:
    """Our usage in genai-prices' convention (cached tokens inside `input_tokens`)."""
    kwargs: dict[str, int] = {
        "input_tokens": usage.input + usage.cache_read + usage.cache_write,
        "output_tokens": usage.output,
    }
    if usage.cache_read:
        kwargs["cache_read_tokens"] = usage.cache_read
    if usage.cache_write:
        kwargs["cache_write_tokens"] = usage.cache_write
        if cache_write_1h:
            kwargs["cache_write_1h_tokens"] = min(cache_write_1h, usage.cache_write)
    return Usage(**kwargs)


def _split_provider(model: str) -> tuple[str | None, str]:
    if "/" in model:
        prefix, rest = model.split("/", 1)
        if prefix and rest:
            return prefix, rest
    return None, model


@functools.lru_cache(maxsize=65536)
def _genai_cost(model: str, provider: str | None, usage: TokenUsage, cache_write_1h: int) -> Cost:
    attempts: list[tuple[str, str | None]] = []
    prefix, bare = _split_provider(model)
    if prefix:
        attempts.append((bare, prefix))
    if provider:
        attempts.append((model, provider))
        if prefix:
            attempts.append((bare, provider))
    attempts.append((model, None))
    if prefix:
        attempts.append((bare, None))
    for name, prov in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calc = calc_price(genai_usage(usage, cache_write_1h), name, provider_id=prov)
        except (LookupError, ValueError, TypeError, ArithmeticError):
            continue
        return Cost(float(calc.total_price), f"genai-prices {calc.provider.id}/{calc.model.id}")
    return UNKNOWN


def genai_cost(model: str | None, usage: TokenUsage, *, provider: str | None = None, cache_write_1h: int = 0) -> Cost:
    """genai-prices' price of one request, or UNKNOWN when it does not know the model."""
    if not model:
        return UNKNOWN
    return _genai_cost(model, provider, usage, cache_write_1h)


def price_usage(
    model: str | None,
    usage: TokenUsage,
    *,
    overrides: Overrides | None = None,
    provider: str | None = None,
    cache_write_1h: int = 0,
    reported: float | None = None,
    default_free: bool = False,
) -> Cost:
    """The cost of one request's usage, and where the price came from. A cost of 0 that the
    agent records is not a price: OpenCode writes 0 for a model it has no price for (and while a
    response is still streaming), so that response is priced here like an unreported one
    (unknown when no price is known), never taken as $0 "reported by agent"."""
    if reported is not None and reported != 0:
        return Cost(float(reported), REPORTED)
    override = find_override(model, overrides)
    if override is not None:
        return Cost(override.cost(usage), OVERRIDE)
    if usage.total == 0:
        return Cost(0.0, None)
    found = genai_cost(model, usage, provider=provider, cache_write_1h=cache_write_1h)
    if found.known:
        return found
    if default_free:
        return Cost(0.0, LOCAL_FREE)
    return UNKNOWN


def price_response(response: Response, overrides: Overrides | None = None, *, default_free: bool = False) -> Cost:
    return price_usage(
        response.model,
        response.usage,
        overrides=overrides,
        provider=response.provider,
        cache_write_1h=response.cache_write_1h,
        reported=response.reported_cost,
        default_free=default_free,
    )


def describe_sources(sources: Iterable[str]) -> str | None:
    """One label for a total priced from several sources."""
    unique = sorted(set(s for s in sources if s))
    if not unique:
        return None
    return "; ".join(unique)


class CostLedger:
    """Running cost of a `ResponseBook`, updated from its `drain_changes()`.

    Any response with tokens but no known price makes the total unknown
    (None): a partial sum would read as the whole.
    """

    def __init__(self, overrides: Overrides | None = None, *, default_free: bool = False) -> None:
        self.overrides = dict(overrides or {})
        self.default_free = default_free
        self._known = 0.0
        self._unknown = 0
        self._by_model: dict[str, float] = {}
        self._unknown_by_model: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()

    def _cost(self, r: Response) -> Cost:
        return price_response(r, self.overrides, default_free=self.default_free)

    def _account(self, r: Response, sign: int) -> None:
        cost = self._cost(r)
        name = r.model or "unknown"
        if cost.usd is None:
            self._unknown += sign
            self._unknown_by_model[name] += sign
        else:
            self._known += sign * cost.usd
            self._by_model[name] = self._by_model.get(name, 0.0) + sign * cost.usd
        if cost.source:
            self._sources[cost.source] += sign

    def apply(self, changes: Iterable[tuple[Response | None, Response]]) -> None:
        for old, new in changes:
            if old is not None:
                self._account(old, -1)
            self._account(new, +1)

    @property
    def total(self) -> float | None:
        if self._unknown > 0:
            return None
        return max(self._known, 0.0)

    @property
    def source(self) -> str | None:
        if self._unknown > 0:
            return None
        return describe_sources(s for s, n in self._sources.items() if n > 0)

    @property
    def by_model(self) -> dict[str, float | None]:
        names = set(self._by_model) | {m for m, n in self._unknown_by_model.items() if n > 0}
        return {
            m: (None if self._unknown_by_model.get(m, 0) > 0 else max(self._by_model.get(m, 0.0), 0.0))
            for m in sorted(names)
        }
