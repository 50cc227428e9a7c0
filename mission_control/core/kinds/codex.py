"""OpenAI Codex CLI: task as an argument, reports through its `notify` program, spends as
recorded in its rollout files under `$CODEX_HOME/sessions/`; a fast Enter joins its paste.

Its records (parsed here, purely: text in, `Response`s out):
rollout JSONL; `session_meta` (payload.cwd), `turn_context`
(payload.model), `event_msg` with payload.type `token_count` and a
cumulative `info.total_token_usage` whose `input_tokens` includes
`cached_input_tokens` (and, in newer versions, `cache_write_input_tokens`).
`output_tokens` includes `reasoning_output_tokens` (codex's own
`blended_total` is `input - cached + output`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import LineParser, Response, ResponseBook, as_int, load_json_line, parse_iso
from mission_control.core.kinds import KindSpec


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


class CodexRolloutParser(LineParser):
    """One codex rollout file. `token_count` events carry session totals.

    Each rise of the totals becomes one response (priced with the model of the
    latest `turn_context`), so the sum of responses is the latest total and a
    model switch mid-session is priced per model. Events stamped before
    `since` only set the baseline (a resumed session's old spend is not ours).
    A drop of the totals (a restarted process) starts a new run.
    """

    def __init__(self, book: ResponseBook | None = None, *, file_key: str = "", since: float | None = None):
        super().__init__(book, since=since)
        self.file_key = file_key
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
        raw = as_int(totals.get("input_tokens"))
        cached = as_int(totals.get("cached_input_tokens"))
        written = as_int(totals.get("cache_write_input_tokens"))
        out = as_int(totals.get("output_tokens"))
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


SPEC = KindSpec(
    "codex", "codex", "argument", resume_command="codex resume --last", hooks="codex-notify", enter_delay=1.0,
    spend_from="records", records="codex-rollouts", api_key_var="OPENAI_API_KEY",
)
