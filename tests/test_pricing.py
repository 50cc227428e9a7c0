"""Cost calculation: genai-prices conventions, overrides, reported costs, unknown models."""

from __future__ import annotations

import warnings

import pytest
from genai_prices import Usage, calc_price

from mission_control.core.model import TokenUsage
from mission_control.core.pricing import (
    LOCAL_FREE,
    OVERRIDE,
    REPORTED,
    CostLedger,
    PriceOverride,
    find_override,
    genai_usage,
    price_response,
    price_usage,
)
from mission_control.core.tokens import Response, ResponseBook

SONNET = "claude-sonnet-4-5-20250929"  # $3 in, $15 out, $0.30 cache read, $3.75 cache write (5m), $6 (1h) per MTok


def test_known_model_priced_by_hand_and_by_library():
    usage = TokenUsage(input=1000, output=500, cache_read=10_000, cache_write=2000)
    cost = price_usage(SONNET, usage)
    # 1000*3 + 500*15 + 10000*0.30 + 2000*3.75 = 21000 USD per MTok
    assert cost.usd == pytest.approx(0.021)
    assert cost.source == "genai-prices anthropic/claude-sonnet-4-5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib = calc_price(
            Usage(input_tokens=13_000, cache_read_tokens=10_000, cache_write_tokens=2000, output_tokens=500), SONNET
        )
    assert cost.usd == pytest.approx(float(lib.total_price))


def test_cache_reads_are_priced_at_the_cache_rate_not_twice():
    cost = price_usage(SONNET, TokenUsage(cache_read=100_000))
    assert cost.usd == pytest.approx(100_000 * 0.30 / 1e6)  # not 0.33 (input + read), not 0.30 + 0.03
    fresh = price_usage(SONNET, TokenUsage(input=100_000))
    assert fresh.usd == pytest.approx(0.30)
    assert cost.usd == pytest.approx(fresh.usd / 10)


def test_genai_usage_counts_cache_inside_input():
    u = genai_usage(TokenUsage(input=10, output=2, cache_read=100, cache_write=30), cache_write_1h=20)
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens, u.output_tokens) == (
        140,
        100,
        30,
        20,
        2,
    )


def test_one_hour_cache_writes_cost_more():
    five_min = price_usage(SONNET, TokenUsage(cache_write=100_000))
    one_hour = price_usage(SONNET, TokenUsage(cache_write=100_000), cache_write_1h=100_000)
    assert five_min.usd == pytest.approx(0.375)
    assert one_hour.usd == pytest.approx(0.60)


def test_long_context_tier_applies_per_request():
    # 150k fresh + 100k cached = 250k input > 200k: Sonnet 4.5's long-context prices ($6 in, $0.60 read)
    big = price_usage(SONNET, TokenUsage(input=150_000, cache_read=100_000))
    assert big.usd == pytest.approx(150_000 * 6 / 1e6 + 100_000 * 0.60 / 1e6)
    # the same tokens in two requests stay under the threshold: base prices
    book = ResponseBook()
    book.merge(1, Response(SONNET, TokenUsage(input=75_000, cache_read=50_000)))
    book.merge(2, Response(SONNET, TokenUsage(input=75_000, cache_read=50_000)))
    ledger = CostLedger()
    ledger.apply(book.drain_changes())
    assert ledger.total == pytest.approx(150_000 * 3 / 1e6 + 100_000 * 0.30 / 1e6)


@pytest.mark.parametrize(
    "model, provider, usage, usd, source",
    [
        # OpenAI: $1.25 in, $0.125 cached, $10 out
        ("gpt-5-codex", "openai", TokenUsage(13_000, 1100, 7000, 0), (13_000 * 1.25 + 7000 * 0.125 + 1100 * 10) / 1e6, "genai-prices openai/"),
        ("gemini-2.5-pro", "google", TokenUsage(5000, 420, 4000, 0), (5000 * 1.25 + 4000 * 0.125 + 420 * 10) / 1e6, "genai-prices google/gemini-2.5-pro"),
        # aider-style provider prefix
        ("anthropic/claude-sonnet-4-5", None, TokenUsage(1000, 0, 0, 0), 0.003, "genai-prices anthropic/claude-sonnet-4-5"),
    ],
)
def test_other_providers(model, provider, usage, usd, source):
    cost = price_usage(model, usage, provider=provider)
    assert cost.usd == pytest.approx(usd)
    assert cost.source.startswith(source)


@pytest.mark.parametrize("model", ["my-private-model-7b", "qwen2.5-coder:7b", None, ""])
def test_unknown_model_is_unknown_cost_not_an_error(model):
    cost = price_usage(model, TokenUsage(1000, 100))
    assert cost.usd is None and cost.source is None and not cost.known


def test_unknown_model_default_free_for_local_agents():
    cost = price_usage("qwen2.5-coder:7b", TokenUsage(1000, 100), default_free=True)
    assert cost.usd == 0.0 and cost.source == LOCAL_FREE


def test_override_wins_over_library():
    overrides = {SONNET: {"input_mtok": 1.0, "output_mtok": 2.0, "cache_read_mtok": 0.5, "cache_write_mtok": 4.0}}
    cost = price_usage(SONNET, TokenUsage(1_000_000, 1_000_000, 1_000_000, 1_000_000), overrides=overrides)
    assert cost.usd == pytest.approx(1.0 + 2.0 + 0.5 + 4.0)
    assert cost.source == OVERRIDE


def test_override_prices_local_model_and_cache_defaults_to_input_price():
    overrides = {"Qwen2.5-Coder:7B": {"input_mtok": 0.2, "output_mtok": 0.4}}
    cost = price_usage("qwen2.5-coder:7b", TokenUsage(500_000, 250_000, 500_000, 0), overrides=overrides)
    assert cost.usd == pytest.approx(0.1 + 0.1 + 0.1)
    assert cost.source == OVERRIDE


def test_find_override_forms():
    table = {"llama3": {"input_mtok": 1}}
    assert find_override("ollama/llama3", table) == PriceOverride(input_mtok=1.0)
    assert find_override("LLAMA3", table) is not None
    assert find_override("llama2", table) is None
    with pytest.raises(ValueError):
        PriceOverride.from_mapping({"input_mtok": -1})


def test_agent_reported_cost_wins():
    cost = price_usage(SONNET, TokenUsage(1000, 500), reported=0.5, overrides={SONNET: {"input_mtok": 9}})
    assert cost.usd == 0.5 and cost.source == REPORTED
    r = Response("unknown-model", TokenUsage(1000, 10), reported_cost=0.0123)
    assert price_response(r).usd == 0.0123


def test_a_reported_zero_for_an_unpriced_model_is_unknown_not_free():
    """OpenCode records cost 0 for a model it has no price for (issue 15: shown as $0.00
    "reported by agent")."""
    assert price_usage("fake-model", TokenUsage(1000, 10), reported=0.0).usd is None
    known = price_usage(SONNET, TokenUsage(1000, 500), reported=0.0)
    assert known.usd == pytest.approx(0.0105) and known.source != REPORTED  # priced from the database
    nothing = price_usage("fake-model", TokenUsage(), reported=0.0)  # no tokens yet (still streaming)
    assert nothing.usd == 0.0 and nothing.source != REPORTED
    assert price_usage("fake-model", TokenUsage(1000, 10), reported=0.0, overrides={"fake-model": {"input_mtok": 1}}).usd == 0.001
    ledger = CostLedger()
    book = ResponseBook()
    book.merge("a", Response("fake-model", TokenUsage(1000, 10), reported_cost=0.0, provider="fake"))
    ledger.apply(book.drain_changes())
    assert ledger.total is None


def test_zero_usage_costs_zero():
    assert price_usage("never-heard-of-it", TokenUsage()).usd == 0.0


def test_ledger_unknown_response_makes_total_unknown_and_follows_changes():
    book = ResponseBook()
    ledger = CostLedger()
    book.merge("a", Response(SONNET, TokenUsage(input=1000)))
    ledger.apply(book.drain_changes())
    assert ledger.total == pytest.approx(0.003)
    assert ledger.source == "genai-prices anthropic/claude-sonnet-4-5"
    book.merge("a", Response(SONNET, TokenUsage(input=1000, output=1000)))  # the stream grew
    ledger.apply(book.drain_changes())
    assert ledger.total == pytest.approx(0.003 + 0.015)
    book.merge("b", Response("mystery-model", TokenUsage(input=5)))
    ledger.apply(book.drain_changes())
    assert ledger.total is None and ledger.source is None
    assert ledger.by_model == {SONNET: pytest.approx(0.018), "mystery-model": None}


def test_ledger_mixed_sources_are_named():
    book = ResponseBook()
    book.merge("a", Response(SONNET, TokenUsage(input=1000)))
    book.merge("b", Response("local", TokenUsage(input=1000), reported_cost=0.01))
    book.merge("c", Response("mine", TokenUsage(input=1_000_000)))
    ledger = CostLedger({"mine": {"input_mtok": 2}})
    ledger.apply(book.drain_changes())
    assert ledger.total == pytest.approx(0.003 + 0.01 + 2.0)
    assert ledger.source == "genai-prices anthropic/claude-sonnet-4-5; override; reported by agent"
