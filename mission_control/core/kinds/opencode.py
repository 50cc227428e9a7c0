"""OpenCode: its task is typed at its first prompt; spend as recorded in its SQLite database
under `$XDG_DATA_HOME/opencode/`; talks to many providers.

Its records, as checked with opencode 1.18 (parsed here, purely: text in, `Response`s out):
assistant message info `{role, modelID, providerID, cost,
tokens: {input, output, reasoning, cache: {read, write}}, path: {cwd}}`,
where opencode already split `input` from the cache and `reasoning` from
`output`.
"""

from __future__ import annotations

from typing import Any, Mapping

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import Response, ResponseBook, as_int, as_num, load_json_line
from mission_control.core.kinds import KindSpec


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
        ms = as_num(info["time"].get("created"))
        created = ms / 1000.0 if ms is not None else None
    return Response(
        model=model,
        usage=TokenUsage(
            input=as_int(tokens.get("input")),
            output=as_int(tokens.get("output")) + as_int(tokens.get("reasoning")),
            cache_read=as_int(cache.get("read")),
            cache_write=as_int(cache.get("write")),
        ),
        reported_cost=as_num(info.get("cost")),
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


SPEC = KindSpec(
    "opencode", "opencode", "typed", resume_command="opencode --continue",
    spend_from="records", records="opencode-db",
)
