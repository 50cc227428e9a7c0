"""Claude Code: launched with its task as an argument, reports through `--settings` hooks,
spends as recorded in its JSONL transcripts under `$CLAUDE_CONFIG_DIR/projects/`.

Its records (parsed here, purely: text in, `Response`s out):
`~/.claude/projects/<slug>/<session>.jsonl`, one JSON object a line;
`type == "assistant"` lines carry `message.{id, model, usage}` and a
top-level `requestId`, `cwd`, `timestamp`, `isSidechain`. Several lines of
one API response share `message.id` (one per content block, usage repeated
or growing): they are one response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import LineParser, Response, as_int, load_json_line, parse_iso
from mission_control.core.kinds import KindSpec


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


class ClaudeTranscriptParser(LineParser):
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
        one_hour = as_int(creation.get("ephemeral_1h_input_tokens")) if isinstance(creation, dict) else 0
        self.book.merge(
            key,
            Response(
                model=model,
                usage=TokenUsage(
                    input=as_int(usage.get("input_tokens")),
                    output=as_int(usage.get("output_tokens")),
                    cache_read=as_int(usage.get("cache_read_input_tokens")),
                    cache_write=as_int(usage.get("cache_creation_input_tokens")),
                ),
                cache_write_1h=one_hour,
                provider="anthropic",
                ts=parse_iso(obj.get("timestamp")),
            ),
        )


SPEC = KindSpec(
    "claude", "claude", "argument", resume_command="claude --continue", hooks="claude-settings",
    spend_from="records", records="claude-transcripts", api_key_var="ANTHROPIC_API_KEY",
)
