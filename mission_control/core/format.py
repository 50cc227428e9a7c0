"""How numbers are written for people: ages, token counts, money, bytes.

"—" stands for "not known", never 0: a made-up number is worse than none.
"""

from __future__ import annotations

UNKNOWN = "—"


def age(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def tokens(n: int | None) -> str:
    if n is None:
        return UNKNOWN
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def money(usd: float | None) -> str:
    if usd is None:
        return UNKNOWN
    if usd < 0.01 and usd > 0:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


def size(n: int | None) -> str:
    if n is None:
        return UNKNOWN
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return UNKNOWN


def percent(p: float | None) -> str:
    return UNKNOWN if p is None else f"{p:.0f}%"


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(cumulative: tuple[float, ...] | list[float]) -> str:
    """Spend per interval from cumulative samples, as bar characters (flat when nothing was spent)."""
    steps = [max(0.0, b - a) for a, b in zip(cumulative, cumulative[1:])]
    if not steps:
        return ""
    top = max(steps)
    if top <= 0:
        return _BARS[0] * len(steps)
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1) + 0.5))] for v in steps)
