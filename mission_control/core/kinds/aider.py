"""aider: its task is typed at its first prompt; spend from its chat history (else from the
token and cost lines it prints); talks to many providers, so no single API-key variable.

Its records, as checked with aider 0.86 (parsed here, purely: text in, `Response`s out):
`Tokens: 2.5k sent, 1.1k cache write, 3.0k cache hit, 120
received.` then ` Cost: $0.02 message, $0.10 session.` on the same line, or
on the next line when both cache parts are present.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Hashable, Iterable

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import LineParser, Response, ResponseBook, as_int, as_num, parse_count, parse_money
from mission_control.core.kinds import KindSpec


_TOKEN = r"([0-9][0-9,]*(?:\.[0-9]+)?\s*[kKmM]?)"
AIDER_TOKENS_RE = re.compile(
    r"Tokens:\s*" + _TOKEN + r"\s+sent"
    r"(?:,\s*" + _TOKEN + r"\s+cache write)?"
    r"(?:,\s*" + _TOKEN + r"\s+cache hit)?"
    r",\s*" + _TOKEN + r"\s+received\."
)
AIDER_COST_RE = re.compile(r"Cost:\s*\$([0-9][0-9,]*(?:\.[0-9]+)?)\s+message,\s*\$([0-9][0-9,]*(?:\.[0-9]+)?)\s+session\.")
AIDER_MODEL_RE = re.compile(r"^(?:>\s*)?(?:Main model|Model):\s*(\S+)\s+with\b")
AIDER_START_RE = re.compile(r"^#\s*aider chat started at\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def aider_fresh_input(sent: int, cache_write: int, cache_hit: int) -> int:
    """Fresh input from aider's `sent`, which is litellm's prompt_tokens plus the cache writes.

    Depending on litellm's version prompt_tokens includes the cache hits (then
    fresh = sent - write - hit) or not (fresh = sent - write); a `sent` smaller
    than write + hit can only be the latter. Never below 0.
    """
    fresh = sent - cache_write - cache_hit
    if fresh < 0:
        fresh = sent - cache_write
    return max(fresh, 0)


class AiderParser:
    """Aider's usage reports, from its chat history file or from screen lines.

    Tokens are per message (summed); costs are aider's own. The session cost
    in each report is cumulative for one aider process, so the total reported
    cost is the sum over processes of their last session cost (a new process
    is seen as a `# aider chat started at` header in the history file, or as
    the session cost going down on screen).

    How `sent` relates to the cache parts depends on the litellm version under
    aider (see `aider_fresh_input`). Counts like `1.2k` are aider's rounding
    (to 100 tokens; `12k` to 1000).

    With `since` set, sessions whose history header is older are skipped
    (header times are local time, `datetime.fromtimestamp` convention).
    """

    def __init__(self, book: ResponseBook | None = None, *, since: float | None = None, key_prefix: str = "aider"):
        self.book = book if book is not None else ResponseBook()
        self.skipped_lines = 0
        self.since = since
        self.key_prefix = key_prefix
        self.model: str | None = None
        self._session = 0
        self._session_label = ""
        self._ordinal = 0
        self._active = since is None
        self._last_key: Hashable | None = None
        self._bank = 0.0  # reported cost of finished aider processes
        self._session_cost: float | None = None  # last session cost of the current process

    @property
    def reported_cost(self) -> float | None:
        if self._session_cost is None and not self._bank:
            return None
        return self._bank + (self._session_cost or 0.0)

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:
        start = AIDER_START_RE.match(line.strip())
        if start:
            self._new_process(start.group(1))
            return
        if not self._active:
            return
        model = AIDER_MODEL_RE.match(line.strip())
        if model:
            self.model = model.group(1)
        tokens = AIDER_TOKENS_RE.search(line)
        if tokens:
            self._tokens(tokens)
        cost = AIDER_COST_RE.search(line)
        if cost:
            self._cost(parse_money(cost.group(1)), parse_money(cost.group(2)))

    def _new_process(self, stamp: str) -> None:
        if self._session_cost is not None:
            self._bank += self._session_cost
        self._session_cost = None
        self._session += 1
        self._session_label = stamp
        self._ordinal = 0
        self._last_key = None
        self.model = None
        if self.since is None:
            self._active = True
        else:
            try:
                started = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp()
            except ValueError:
                started = None
            self._active = started is not None and started >= self.since

    def _tokens(self, m: re.Match[str]) -> None:
        sent = parse_count(m.group(1)) or 0
        write = parse_count(m.group(2)) or 0
        hit = parse_count(m.group(3)) or 0
        received = parse_count(m.group(4)) or 0
        self._ordinal += 1
        key = (self.key_prefix, self._session, self._session_label, self._ordinal)
        self._last_key = key
        self.book.merge(
            key,
            Response(
                model=self.model,
                usage=TokenUsage(input=aider_fresh_input(sent, write, hit), output=received, cache_read=hit, cache_write=write),
            ),
        )

    def _cost(self, message: float | None, session: float | None) -> None:
        if session is not None:
            if self._session_cost is not None and session + 1e-9 < self._session_cost:
                self._bank += self._session_cost  # went down: another aider process
            self._session_cost = session
        if message is not None and self._last_key is not None:
            old = self.book.get(self._last_key)
            if old is not None and old.reported_cost is None:
                self.book.merge(self._last_key, Response(model=old.model, usage=old.usage, reported_cost=message))


class AiderAnalyticsParser(LineParser):
    """Aider's `--analytics-log` JSONL: `message_send` events with tokens and costs."""

    def __init__(self, book: ResponseBook | None = None, *, since: float | None = None):
        super().__init__(book, since=since)
        self._bank = 0.0
        self._session_cost: float | None = None

    @property
    def reported_cost(self) -> float | None:
        if self._session_cost is None and not self._bank:
            return None
        return self._bank + (self._session_cost or 0.0)

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None or obj.get("event") != "message_send":
            return
        props = obj.get("properties")
        if not isinstance(props, dict):
            return
        ts = as_num(obj.get("time"))
        if self.since is not None and ts is not None and ts < self.since:
            return
        total = as_num(props.get("total_cost"))
        if total is not None:
            if self._session_cost is not None and total + 1e-9 < self._session_cost:
                self._bank += self._session_cost
            self._session_cost = total
        model = props.get("main_model")
        model = model if isinstance(model, str) and model not in ("None", "") else None
        self.book.merge(
            ("aider-analytics", ts, line.strip()),
            Response(
                model=model,
                usage=TokenUsage(input=as_int(props.get("prompt_tokens")), output=as_int(props.get("completion_tokens"))),
                reported_cost=as_num(props.get("cost")),
                ts=ts,
            ),
        )


SPEC = KindSpec(
    "aider", "aider", "typed", resume_command="aider --restore-chat-history",
    spend_from="records+output", records="aider-history",
)
