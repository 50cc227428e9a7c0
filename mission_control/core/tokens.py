"""Token meters, the pure half: parse what agents record about their API use.

Every parser here takes text (a line, a JSON document) and numbers (times),
never a path, and records what it learns as `Response`s in a `ResponseBook`.
The adapters (`mission_control.adapters.token_sources`) find and tail the
files; `mission_control.core.pricing` turns responses into dollars.

One convention throughout, the one of `TokenUsage`: `input` is fresh
(uncached) input only, so `input + cache_read + cache_write` is all the input
the model read, and `output` includes reasoning/thinking tokens.

Formats, and where they were checked:

* claude: `~/.claude/projects/<slug>/<session>.jsonl`, one JSON object a line;
  `type == "assistant"` lines carry `message.{id, model, usage}` and a
  top-level `requestId`, `cwd`, `timestamp`, `isSidechain`. Several lines of
  one API response share `message.id` (one per content block, usage repeated
  or growing): they are one response.
* codex: rollout JSONL; `session_meta` (payload.cwd), `turn_context`
  (payload.model), `event_msg` with payload.type `token_count` and a
  cumulative `info.total_token_usage` whose `input_tokens` includes
  `cached_input_tokens` (and, in newer versions, `cache_write_input_tokens`).
  `output_tokens` includes `reasoning_output_tokens` (codex's own
  `blended_total` is `input - cached + output`).
* gemini (gemini-cli 0.61): `chats/session-*.jsonl`; a metadata record, then
  message records `{id, timestamp, type: "gemini", model, tokens: {input,
  output, cached, thoughts, tool, total}}`, re-appended whole when updated
  (the last record of an id wins). `tokens.input` is Gemini's
  promptTokenCount, which includes `cached`; `thoughts` are billed as output.
  Older versions kept one JSON document `session-*.json` with `messages`.
* opencode (1.18): assistant message info `{role, modelID, providerID, cost,
  tokens: {input, output, reasoning, cache: {read, write}}, path: {cwd}}`,
  where opencode already split `input` from the cache and `reasoning` from
  `output`.
* aider (0.86): `Tokens: 2.5k sent, 1.1k cache write, 3.0k cache hit, 120
  received.` then ` Cost: $0.02 message, $0.10 session.` on the same line, or
  on the next line when both cache parts are present.
* ollama: the built-in agent's ledger, defined here (`OLLAMA_LEDGER_FIELDS`).
* shell: regexes from agents.toml.
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


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value:  # not NaN
        return max(int(value), 0)
    return 0


def _num(value: Any) -> float | None:
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


class _LineParser:
    """Shared bookkeeping: a book to record into and a count of lines skipped."""

    def __init__(self, book: ResponseBook | None = None) -> None:
        self.book = book if book is not None else ResponseBook()
        self.skipped_lines = 0

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
# Claude Code


@dataclass(frozen=True)
class ClaudeLineMeta:
    cwd: str | None
    timestamp: float | None
    session_id: str | None
    is_sidechain: bool


def claude_line_meta(line: str) -> ClaudeLineMeta | None:
    """The identity fields of a transcript line (to decide whose session a file is)."""
    obj = load_json_line(line)
    if obj is None:
        return None
    cwd = obj.get("cwd")
    sid = obj.get("sessionId")
    return ClaudeLineMeta(
        cwd=cwd if isinstance(cwd, str) else None,
        timestamp=parse_iso(obj.get("timestamp")),
        session_id=sid if isinstance(sid, str) else None,
        is_sidechain=obj.get("isSidechain") is True,
    )


class ClaudeTranscriptParser(_LineParser):
    """Claude Code session transcripts (main, sidechain and subagent files alike).

    One parser (one book) should read all of an agent's files, so a response
    seen in two files (a resumed session copies history) counts once.
    """

    SYNTHETIC = "<synthetic>"

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None or obj.get("type") != "assistant":
            return
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return
        usage = msg.get("usage")
        if not isinstance(usage, dict):
            return
        model = msg.get("model") if isinstance(msg.get("model"), str) else None
        if model == self.SYNTHETIC:
            return  # client-made messages (API errors, interruptions): no API call
        mid = msg.get("id")
        rid = obj.get("requestId")
        if isinstance(mid, str) and mid:
            key: Hashable = ("claude", mid, rid if isinstance(rid, str) else None)
        elif isinstance(obj.get("uuid"), str):
            key = ("claude-line", obj["uuid"])
        else:
            key = ("claude-text", line.strip())
        creation = usage.get("cache_creation")
        one_hour = _int(creation.get("ephemeral_1h_input_tokens")) if isinstance(creation, dict) else 0
        self.book.merge(
            key,
            Response(
                model=model,
                usage=TokenUsage(
                    input=_int(usage.get("input_tokens")),
                    output=_int(usage.get("output_tokens")),
                    cache_read=_int(usage.get("cache_read_input_tokens")),
                    cache_write=_int(usage.get("cache_creation_input_tokens")),
                ),
                cache_write_1h=one_hour,
                provider="anthropic",
                ts=parse_iso(obj.get("timestamp")),
            ),
        )


# --------------------------------------------------------------------------
# Codex CLI


@dataclass(frozen=True)
class CodexSessionMeta:
    session_id: str | None
    cwd: str | None
    started: float | None


def codex_session_meta(line: str) -> CodexSessionMeta | None:
    """The `session_meta` record (first line of a rollout), or None if the line is not one."""
    obj = load_json_line(line)
    if obj is None or obj.get("type") != "session_meta":
        return None
    payload = obj.get("payload") if isinstance(obj.get("payload"), dict) else {}
    sid, cwd = payload.get("id"), payload.get("cwd")
    return CodexSessionMeta(
        session_id=sid if isinstance(sid, str) else None,
        cwd=cwd if isinstance(cwd, str) else None,
        started=parse_iso(payload.get("timestamp")) or parse_iso(obj.get("timestamp")),
    )


class CodexRolloutParser(_LineParser):
    """One codex rollout file. `token_count` events carry session totals.

    Each rise of the totals becomes one response (priced with the model of the
    latest `turn_context`), so the sum of responses is the latest total and a
    model switch mid-session is priced per model. Events stamped before
    `since` only set the baseline (a resumed session's old spend is not ours).
    A drop of the totals (a restarted process) starts a new run.
    """

    def __init__(self, book: ResponseBook | None = None, *, file_key: str = "", since: float | None = None):
        super().__init__(book)
        self.file_key = file_key
        self.since = since
        self.model: str | None = None
        self.session_id: str | None = None
        self._prev: tuple[int, int, int, int] | None = None  # raw input, cached, cache write, output
        self._run = 0

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None:
            return
        kind = obj.get("type")
        payload = obj.get("payload")
        if not isinstance(payload, dict):
            return
        if kind == "session_meta":
            if isinstance(payload.get("id"), str):
                self.session_id = payload["id"]
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str):
                self.model = payload["model"]
        elif kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            if not isinstance(info, dict):
                return  # rate-limit-only updates carry info: null
            totals = info.get("total_token_usage")
            if not isinstance(totals, dict):
                return
            self._record(totals, parse_iso(obj.get("timestamp")))

    def _record(self, totals: Mapping[str, Any], ts: float | None) -> None:
        raw = _int(totals.get("input_tokens"))
        cached = _int(totals.get("cached_input_tokens"))
        written = _int(totals.get("cache_write_input_tokens"))
        out = _int(totals.get("output_tokens"))
        cur = (raw, cached, written, out)
        prev = self._prev
        if prev is not None and any(c < p for c, p in zip(cur, prev)):
            self._run += 1  # totals went down: a new process started counting from 0
            prev = None
        self._prev = cur
        if self.since is not None and ts is not None and ts < self.since:
            return  # baseline only
        base = prev or (0, 0, 0, 0)
        d_raw, d_cached, d_written, d_out = (c - b for c, b in zip(cur, base))
        if not (d_raw or d_cached or d_written or d_out):
            return
        fresh = max(d_raw - d_cached - d_written, 0)
        key = ("codex", self.session_id or self.file_key, self._run, raw, cached, written, out)
        self.book.merge(
            key,
            Response(
                model=self.model,
                usage=TokenUsage(input=fresh, output=d_out, cache_read=d_cached, cache_write=d_written),
                provider="openai",
                ts=ts,
            ),
        )


# --------------------------------------------------------------------------
# Gemini CLI


def gemini_usage(tokens: Mapping[str, Any]) -> TokenUsage:
    """gemini-cli's `tokens` record -> TokenUsage (prompt count includes the cached part)."""
    prompt = _int(tokens.get("input"))
    cached = _int(tokens.get("cached"))
    return TokenUsage(
        input=max(prompt - cached, 0) + _int(tokens.get("tool")),
        output=_int(tokens.get("output")) + _int(tokens.get("thoughts")),
        cache_read=cached,
        cache_write=0,
    )


@dataclass(frozen=True)
class GeminiSessionMeta:
    session_id: str | None
    project_hash: str | None
    started: float | None


def gemini_session_meta(line: str) -> GeminiSessionMeta | None:
    """The metadata record that opens a gemini-cli chat file (or a legacy whole-file JSON)."""
    obj = load_json_line(line)
    if obj is None or not isinstance(obj.get("sessionId"), str):
        return None
    ph = obj.get("projectHash")
    return GeminiSessionMeta(obj["sessionId"], ph if isinstance(ph, str) else None, parse_iso(obj.get("startTime")))


class GeminiChatParser(_LineParser):
    """gemini-cli chat recordings: JSONL records, or a legacy JSON document via `feed_document`.

    Rewinds (`$rewindTo`) are ignored on purpose: tokens spent stay spent.
    """

    def __init__(self, book: ResponseBook | None = None, *, file_key: str = ""):
        super().__init__(book)
        self.file_key = file_key
        self.session_id: str | None = None

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is not None:
            self._record(obj)

    def feed_document(self, text: str) -> None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            self.skipped_lines += 1
            return
        if not isinstance(doc, dict):
            self.skipped_lines += 1
            return
        self._record(doc)

    def _record(self, obj: Mapping[str, Any]) -> None:
        if isinstance(obj.get("sessionId"), str):
            self.session_id = obj["sessionId"]
        messages = obj.get("messages")
        if isinstance(messages, list):  # legacy document, or a resume's `$set`-free copy
            for m in messages:
                if isinstance(m, dict):
                    self._message(m)
        updates = obj.get("$set")
        if isinstance(updates, dict) and isinstance(updates.get("messages"), list):
            for m in updates["messages"]:
                if isinstance(m, dict):
                    self._message(m)
        if isinstance(obj.get("id"), str):
            self._message(obj)

    def _message(self, m: Mapping[str, Any]) -> None:
        if m.get("type") != "gemini" or not isinstance(m.get("tokens"), dict):
            return
        model = m.get("model") if isinstance(m.get("model"), str) else None
        self.book.merge(
            ("gemini", self.session_id or self.file_key, m.get("id")),
            Response(model=model, usage=gemini_usage(m["tokens"]), provider="google", ts=parse_iso(m.get("timestamp"))),
        )


# --------------------------------------------------------------------------
# OpenCode


def opencode_response(info: Mapping[str, Any]) -> Response | None:
    """An opencode assistant message's info -> Response (None for other messages)."""
    if info.get("role") != "assistant":
        return None
    tokens = info.get("tokens")
    if not isinstance(tokens, dict):
        return None
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
    model = info.get("modelID") if isinstance(info.get("modelID"), str) else None
    provider = info.get("providerID") if isinstance(info.get("providerID"), str) else None
    created = None
    if isinstance(info.get("time"), dict):
        ms = _num(info["time"].get("created"))
        created = ms / 1000.0 if ms is not None else None
    return Response(
        model=model,
        usage=TokenUsage(
            input=_int(tokens.get("input")),
            output=_int(tokens.get("output")) + _int(tokens.get("reasoning")),
            cache_read=_int(cache.get("read")),
            cache_write=_int(cache.get("write")),
        ),
        reported_cost=_num(info.get("cost")),
        provider=provider,
        ts=created,
    )


class OpenCodeParser:
    """Feeds opencode message infos (from its SQLite `message.data` or legacy JSON files)."""

    def __init__(self, book: ResponseBook | None = None) -> None:
        self.book = book if book is not None else ResponseBook()
        self.skipped_lines = 0

    def feed_message(self, message_id: str, data: str | Mapping[str, Any]) -> None:
        if isinstance(data, str):
            obj = load_json_line(data)
            if obj is None:
                self.skipped_lines += 1
                return
        else:
            obj = dict(data)
        response = opencode_response(obj)
        if response is not None:
            self.book.merge(("opencode", message_id), response)


# --------------------------------------------------------------------------
# Aider

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


class AiderAnalyticsParser(_LineParser):
    """Aider's `--analytics-log` JSONL: `message_send` events with tokens and costs."""

    def __init__(self, book: ResponseBook | None = None, *, since: float | None = None):
        super().__init__(book)
        self.since = since
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
        ts = _num(obj.get("time"))
        if self.since is not None and ts is not None and ts < self.since:
            return
        total = _num(props.get("total_cost"))
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
                usage=TokenUsage(input=_int(props.get("prompt_tokens")), output=_int(props.get("completion_tokens"))),
                reported_cost=_num(props.get("cost")),
                ts=ts,
            ),
        )


# --------------------------------------------------------------------------
# Ollama (built-in agent's ledger)

OLLAMA_LEDGER_FIELDS = {"ts": float, "model": str, "prompt_eval_count": int, "eval_count": int}
"""One JSON object per line, one line per model call, appended by the built-in agent:
`{"ts": 1767000000.5, "model": "qwen2.5-coder:7b", "prompt_eval_count": 812, "eval_count": 143}`
(`prompt_eval_count` and `eval_count` as returned by Ollama's chat/generate API)."""


def ollama_ledger_line(ts: float, model: str, prompt_eval_count: int, eval_count: int) -> str:
    """The ledger line for one call (for the writer, so both sides share the format)."""
    return json.dumps(
        {"ts": float(ts), "model": model, "prompt_eval_count": int(prompt_eval_count), "eval_count": int(eval_count)},
        separators=(",", ":"),
    )


class OllamaLedgerParser(_LineParser):
    def __init__(self, book: ResponseBook | None = None, *, since: float | None = None):
        super().__init__(book)
        self.since = since

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None:
            return
        ts = _num(obj.get("ts"))
        model = obj.get("model")
        if ts is None or not isinstance(model, str):
            self.skipped_lines += 1
            return
        if self.since is not None and ts < self.since:
            return
        prompt, out = _int(obj.get("prompt_eval_count")), _int(obj.get("eval_count"))
        self.book.merge(
            ("ollama", ts, model, prompt, out),
            Response(model=model, usage=TokenUsage(input=prompt, output=out), provider="ollama", ts=ts),
        )


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
