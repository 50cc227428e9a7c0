"""When a usage or rate limit ends, read from what the agent printed (pure).

Agents that hit a subscription or rate limit say when it resets, each in its own words, and
wrappers and shell agents relay the same lines, so the reset is read from the screen whatever
kind printed it:

    You've hit your limit · resets 4:50am (Europe/Rome)            Claude Code (2.x)
    You've hit your weekly limit · resets Oct 9, 10am (Europe/Rome)
    Claude usage limit reached. Your limit will reset at 9am (America/Chicago).   (1.x)
    You've hit your usage limit. ... or try again in 4h 12m.        Codex (openai/codex#2587)
    ... or try again at Dec 3rd, 2026 4:12 PM.                       Codex, a reset days away
    Rate limit reached ... Please try again in 20s.                 OpenAI-style API errors

A clock time is read in the zone printed beside it (an IANA name in parentheses, or UTC/GMT),
else in the local zone; 12 h (`4:50am`, `9 PM`) and 24 h (`16:30`) both. A time of day already
past is tomorrow's (a message read a little after its own reset — within `JUST_PASSED` — is
today's: its reset has come). A duration (`4h 12m`, `2 hours 5 minutes`, `20s`) counts from
when the message was first seen; the supervisor keeps a reset while the same message stays on
screen (`LimitWait`), so a duration is not pushed back every tick. Issue 21 point 2 asks for
all of it (agent-deck #81; Claude Code's own tracker on resuming at the reset in a detached tmux).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mission_control.core.format import age

JUST_PASSED = 600.0
"""A printed time of day this many seconds or less in the past is today's reset (already come),
not tomorrow's: a supervisor started after the reset, or a message printed just before it."""
MAX_AHEAD = 8 * 86400.0
"""A reset further ahead than this (a misread) is not waited for."""

LIMIT_REASON = re.compile(r"limit|quota|\b429\b|too many requests", re.IGNORECASE)
"""A STUCK reason about a usage or rate limit (the rules say `rate limit or quota`)."""

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CLOCK = (r"(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s*(?P<ampm>[ap]\.?\s?m\.?)?(?![\w:])"
          r"(?:\s*\(?(?P<tz>(?:UTC|GMT)(?:[+-]\d{1,2})?|[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+-]+){1,2})\)?)?")
_ABSOLUTE = re.compile(
    r"\b(?:resets?|reset at|will reset at|try again at|retry at|available (?:again )?at)\s+(?:at\s+|on\s+)?"
    r"(?:(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(?P<year>20\d\d),?\s+)?(?:at\s+)?)?"
    + _CLOCK,
    re.IGNORECASE,
)
_UNIT = r"(?:d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)"
_RELATIVE = re.compile(
    rf"\b(?:try again|retry|resets?|reset|available again|wait)\s+in\s+(?P<dur>\d+(?:\.\d+)?\s*{_UNIT}\b(?:[\s,]*(?:and\s+)?\d+(?:\.\d+)?\s*{_UNIT}\b)*)",
    re.IGNORECASE,
)
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})\b", re.IGNORECASE)
_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


@dataclass(frozen=True)
class LimitReset:
    """A reset read from a screen."""

    at: float
    """When the limit ends, seconds since the epoch."""
    message: str
    """The words it was read from (`resets 4:50am (Europe/Rome)`): the same words on a later
    screen are the same limit."""
    zone: str
    """The zone the time is shown in: the one printed, else `local`."""


def parse_duration(text: str) -> float | None:
    """`4h 12m`, `2 hours and 5 minutes`, `20s` -> seconds (None when nothing is read)."""
    total, found = 0.0, False
    for number, unit in _PART.findall(text):
        total += float(number) * _SECONDS[unit[0].lower()]
        found = True
    return total if found else None


def _zone(name: str | None, local: tzinfo) -> tuple[tzinfo, str] | None:
    """The zone named (`Europe/Rome`, `UTC`, `GMT+2`), else the local one; None for a name
    that is no zone (a word that merely looks like one)."""
    if not name:
        return local, "local"
    upper = name.upper()
    if upper.startswith(("UTC", "GMT")):
        offset = upper[3:]
        return (timezone(timedelta(hours=int(offset))) if offset else timezone.utc), name
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _clock_time(m: re.Match[str], now: float, local: tzinfo) -> tuple[float, str] | None:
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    ampm = (m.group("ampm") or "").lower().replace(".", "").replace(" ", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif m.group("m") is None or hour > 23:
        return None  # a bare number (`resets 3`) is no time of day
    zone = _zone(m.group("tz"), local)
    if zone is None:
        zone = (local, "local")
    tz, zone_name = zone
    today = datetime.fromtimestamp(now, tz)
    mon, day = m.group("mon"), m.group("day")
    try:
        if mon:
            month = _MONTHS.index(mon[:3].lower()) + 1
            year = int(m.group("year") or today.year)
            when = today.replace(year=year, month=month, day=int(day), hour=hour, minute=minute, second=0, microsecond=0)
            if not m.group("year") and when.timestamp() < now - JUST_PASSED - 86400:  # a date already gone: next year's
                when = when.replace(year=when.year + 1)
        else:
            when = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when.timestamp() < now - JUST_PASSED:
                when = (when.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)  # wall clock: DST-safe
    except ValueError:  # Feb 30
        return None
    return when.timestamp(), zone_name


def find_reset(text: str, now: float, local: tzinfo = timezone.utc) -> LimitReset | None:
    """The last reset the text names (the newest message is the one at the bottom), or None."""
    found: list[tuple[int, LimitReset]] = []
    for m in _ABSOLUTE.finditer(text):
        read = _clock_time(m, now, local)
        if read is not None:
            found.append((m.start(), LimitReset(read[0], " ".join(m.group(0).split()), read[1])))
    for m in _RELATIVE.finditer(text):
        seconds = parse_duration(m.group("dur"))
        if seconds is not None:
            found.append((m.start(), LimitReset(now + seconds, " ".join(m.group(0).split()), "local")))
    found = [(pos, r) for pos, r in found if r.at - now <= MAX_AHEAD]
    return max(found, key=lambda item: item[0])[1] if found else None


def is_limit_reason(reason: str) -> bool:
    """Whether a STUCK reason is about a usage or rate limit."""
    return bool(LIMIT_REASON.search(reason))


def shown_time(at: float, zone: str, local: tzinfo) -> str:
    """`04:50 Europe/Rome`, `16:12` (local); `16:12:40` for a reset counted in seconds (`try again in 20s`)."""
    tz = local if zone == "local" else (_zone(zone, local) or (local, ""))[0]
    when = datetime.fromtimestamp(at, tz)
    return when.strftime("%H:%M:%S" if when.second else "%H:%M") + ("" if zone == "local" else f" {zone}")


def reason_with_reset(reason: str, reset: LimitReset, local: tzinfo) -> str:
    """`rate limit or quota · resets 04:50 Europe/Rome`: the reason says when."""
    return f"{reason} · resets {shown_time(reset.at, reset.zone, local)}"


def countdown(seconds: float) -> str:
    """`4h12m`, `3m05s`, `40s` (as the dashboard writes ages), `now`."""
    return "now" if int(seconds) <= 0 else age(seconds)


def resume_countdown(resume_at: float, now: float) -> str:
    """`resumes in 3m05s`, or `resuming now` once its time has come (the next tick types it)."""
    left = countdown(resume_at - now)
    return "resuming now" if left == "now" else f"resumes in {left}"


@dataclass(frozen=True)
class LimitWait:
    """An agent STUCK on a limit, waiting for its reset (kept by the supervisor between ticks)."""

    reset: LimitReset
    seen_at: float
    """When the message was first seen: a person's action on the agent after it means they took over."""
    resume_at: float
    """When it is resumed: the reset plus the margin."""


def wait_text(wait: LimitWait, settled: bool) -> str:
    """A wait as JSON (the store keeps it, so a new supervisor does not start a duration afresh
    nor resume an agent twice for one limit)."""
    r = wait.reset
    return json.dumps({"message": r.message, "at": r.at, "zone": r.zone, "seen_at": wait.seen_at,
                       "resume_at": wait.resume_at, "settled": settled})


def wait_of_text(text: str | None) -> tuple[LimitWait, bool] | None:
    """(the wait, whether it was settled) from `wait_text`; None for nothing or anything damaged."""
    try:
        data = json.loads(text or "null")
        if not isinstance(data, dict):
            return None
        reset = LimitReset(float(data["at"]), str(data["message"]), str(data["zone"]))
        return LimitWait(reset, float(data["seen_at"]), float(data["resume_at"])), bool(data.get("settled"))
    except (ValueError, TypeError, KeyError):
        return None


def follow_limit(previous: LimitWait | None, reset: LimitReset | None, now: float, margin: float) -> LimitWait | None:
    """The wait after this tick's screen: the same message keeps its first reading (a duration is
    not pushed back every tick), a new one starts a new wait, none ends it."""
    if reset is None:
        return None
    if previous is not None and previous.reset.message == reset.message:
        return previous
    return LimitWait(reset, now, reset.at + margin)


def resume_due(wait: LimitWait, now: float, person_acted_since: float | None) -> str | None:
    """What to do with a wait now: "resume" when its time has come and nobody acted on the
    agent since the limit was first seen, "skip" when a person did (they took over), None to wait."""
    if person_acted_since is not None and person_acted_since >= wait.seen_at:
        return "skip"
    return "resume" if now >= wait.resume_at else None
