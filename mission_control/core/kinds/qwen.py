"""Qwen Code (a fork of Gemini CLI that talks to OpenAI-compatible endpoints): task after
`--prompt-interactive`, resumed with `--continue`, spend as recorded in its chat files under
`~/.qwen/projects/<cwd slug>/chats/`.

Its records, as checked with qwen-code 0.15.10 (parsed here, purely: text in, `Response`s out):
`chats/<session id>.jsonl`, one JSON record a line, each with `uuid`, `sessionId`,
`timestamp`, `cwd` and `type` (`user`, `assistant`, `tool_result`, `system`). Every API call,
the main turn's and its background helpers' (the memory extractor, subagents), is logged as
a `system` record of subtype `ui_telemetry` whose `systemPayload.uiEvent` has `event.name`
`qwen-code.api_response` and Gemini-style counts (`input_token_count`, which includes
`cached_content_token_count`; `output_token_count`, `thoughts_token_count`,
`tool_token_count`). Those events are what is counted: the `assistant` records'
`usageMetadata` repeat the main turn's calls only, and would count them twice.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from mission_control.core.kinds import KindSpec
from mission_control.core.kinds.gemini import gemini_usage
from mission_control.core.tokens import LineParser, Response, parse_iso

API_RESPONSE = "qwen-code.api_response"
"""The `event.name` of the telemetry record written after each model call."""


def qwen_project_slug(cwd: str) -> str:
    """The folder name qwen-code gives a project under `projects/`: every character of the
    path that is not an ASCII letter or digit becomes `-`."""
    return re.sub(r"[^a-zA-Z0-9]", "-", cwd)


def qwen_api_event(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `uiEvent` of an `api_response` telemetry record (None for any other record)."""
    if obj.get("type") != "system" or obj.get("subtype") != "ui_telemetry":
        return None
    payload = obj.get("systemPayload")
    event = payload.get("uiEvent") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or event.get("event.name") != API_RESPONSE:
        return None
    return event


class QwenChatParser(LineParser):
    """qwen-code chat records: one `Response` per `api_response` telemetry record, keyed by the
    record's uuid (a file read again counts nothing twice). With `since`, calls made before
    that instant (a resumed session's history) are not counted."""

    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None:
            return
        event = qwen_api_event(obj)
        if event is None:
            return
        ts = parse_iso(event.get("event.timestamp")) or parse_iso(obj.get("timestamp"))
        if self.since is not None and ts is not None and ts < self.since:
            return
        model = event.get("model") if isinstance(event.get("model"), str) else None
        usage = gemini_usage({
            "input": event.get("input_token_count"),
            "cached": event.get("cached_content_token_count"),
            "output": event.get("output_token_count"),
            "thoughts": event.get("thoughts_token_count"),
            "tool": event.get("tool_token_count"),
        })
        self.book.merge(("qwen", obj.get("sessionId"), obj.get("uuid")), Response(model=model, usage=usage, ts=ts))


SPEC = KindSpec(
    "qwen", "qwen", "argument", task_flag="--prompt-interactive", resume_command="qwen --continue",
    spend_from="records", records="qwen-chats", api_key_var="OPENAI_API_KEY",
)
