"""Gemini CLI: task after `--prompt-interactive`, spend as recorded in its chat files under
`~/.gemini/tmp/<project hash>/chats/`.

Its records, as checked with gemini-cli 0.61 (parsed here, purely: text in, `Response`s out):
`chats/session-*.jsonl`; a metadata record, then
message records `{id, timestamp, type: "gemini", model, tokens: {input,
output, cached, thoughts, tool, total}}`, re-appended whole when updated
(the last record of an id wins). `tokens.input` is Gemini's
promptTokenCount, which includes `cached`; `thoughts` are billed as output.
Older versions kept one JSON document `session-*.json` with `messages`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import LineParser, Response, ResponseBook, as_int, load_json_line, parse_iso
from mission_control.core.kinds import KindSpec


def gemini_usage(tokens: Mapping[str, Any]) -> TokenUsage:
    """gemini-cli's `tokens` record -> TokenUsage (prompt count includes the cached part)."""
    prompt = as_int(tokens.get("input"))
    cached = as_int(tokens.get("cached"))
    return TokenUsage(
        input=max(prompt - cached, 0) + as_int(tokens.get("tool")),
        output=as_int(tokens.get("output")) + as_int(tokens.get("thoughts")),
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


class GeminiChatParser(LineParser):
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


SPEC = KindSpec(
    "gemini", "gemini", "argument", task_flag="--prompt-interactive", resume_command="gemini --resume latest",
    spend_from="records", records="gemini-chats", api_key_var="GEMINI_API_KEY",
)
