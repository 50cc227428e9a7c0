"""Spend against a budget (pure): where an agent or the fleet stands, and when to act."""

from __future__ import annotations

NONE, OK, WARN, OVER = "", "ok", "warn", "over"


def budget_state(cost_usd: float | None, budget_usd: float | None, warn_fraction: float = 0.8) -> str:
    """"" without a budget; "over" at or past 100 %; "warn" past `warn_fraction`; else "ok".
    Unknown cost is never over budget (it is shown as unknown instead)."""
    if budget_usd is None:
        return NONE
    if cost_usd is None:
        return OK
    if cost_usd >= budget_usd:
        return OVER
    if cost_usd >= warn_fraction * budget_usd:
        return WARN
    return OK


def should_pause(state: str, action: str, already_paused_for_budget: bool) -> bool:
    """Pause once when a budget is reached (a person who continues the agent is not overruled)."""
    return state == OVER and action == "pause" and not already_paused_for_budget


def sample_spend(history: tuple[float, ...], cost: float | None, now: float, last_sample_at: float | None,
                 every: float = 60.0, keep: int = 30) -> tuple[tuple[float, ...], float | None]:
    """Append the cumulative cost once per `every` seconds, keeping the last `keep` samples."""
    if cost is None:
        return history, last_sample_at
    if last_sample_at is not None and now - last_sample_at < every and history:
        return history[:-1] + (cost,), last_sample_at  # the newest sample follows the cost live
    return (history + (cost,))[-keep:], now
