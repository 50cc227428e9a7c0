"""Pure token parsers: tables of cases, totals written out by hand."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import (
    MeterReading,
    RegexMeterParser,
    RegexSpec,
    Response,
    ResponseBook,
    parse_count,
    parse_iso,
    parse_money,
)
from mission_control.core.kinds.aider import AiderAnalyticsParser, AiderParser, aider_fresh_input
from mission_control.core.kinds.claude import ClaudeTranscriptParser, claude_line_meta
from mission_control.core.kinds.codex import CodexRolloutParser, codex_session_meta
from mission_control.core.kinds.gemini import GeminiChatParser, gemini_session_meta, gemini_usage
from mission_control.core.kinds.ollama import OllamaLedgerParser, ollama_ledger_line
from mission_control.core.kinds.opencode import OpenCodeParser

DATA = Path(__file__).parent / "data" / "transcripts"
LAUNCH = 1759312800.0  # 2025-10-01T10:00:00Z


def fixture_lines(rel: str) -> list[str]:
    return (DATA / rel).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("345", 345),
        ("1.2k", 1200),
        ("12k", 12000),
        ("1.5M", 1_500_000),
        ("1,234", 1234),
        ("2,500,000", 2_500_000),
        (" 3.0k ", 3000),
        ("0", 0),
        ("1.1K", 1100),
        ("abc", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("$0.05", 0.05), ("1,234.50", 1234.5), ("0.0012", 0.0012), ("$", None), ("x", None), (None, None)],
)
def test_parse_money(text, expected):
    assert parse_money(text) == expected


def test_parse_iso():
    assert parse_iso("2025-10-01T10:00:00.000Z") == LAUNCH
    assert parse_iso("2025-10-01T12:00:00+02:00") == LAUNCH
    assert parse_iso("nonsense") is None
    assert parse_iso(42) is None


# ---- ResponseBook


def test_book_keeps_largest_counts_and_tracks_changes():
    book = ResponseBook()
    assert book.merge("k", Response("m", TokenUsage(10, 1, 100, 5)))
    assert book.merge("k", Response("m", TokenUsage(10, 7, 100, 5)))
    assert not book.merge("k", Response("m", TokenUsage(10, 3, 100, 5)))  # smaller: nothing new
    assert book.total == TokenUsage(10, 7, 100, 5)
    assert len(book) == 1
    changes = book.drain_changes()
    assert [new.usage.output for _old, new in changes] == [1, 7]
    assert changes[1][0].usage.output == 1
    assert book.drain_changes() == []


# ---- Claude


def test_claude_fixture_totals():
    parser = ClaudeTranscriptParser()
    parser.feed(fixture_lines("claude/session_main.jsonl")[:-1])  # the last line has no newline yet
    parser.feed(fixture_lines("claude/subagent.jsonl"))
    book = parser.book
    # msg_01Ab.. (two lines, output 8 then 250): in 3, out 250, read 12000, write 5000
    # msg_01Bc..: in 5, out 120, read 17000, write 300
    # msg_01Cd.. (inline sidechain, haiku): in 400, out 60
    # msg_01De..: in 2, out 40, read 17500
    # msg_01SubAgent.. (subagent file, out 100 then 300, haiku): in 1200, out 300
    assert book.total == TokenUsage(input=1610, output=770, cache_read=46500, cache_write=5300)
    assert len(book) == 5
    assert parser.skipped_lines == 1  # the broken line in the middle
    assert book.models == ("claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929")
    assert book.by_model["claude-haiku-4-5-20251001"] == TokenUsage(1600, 360, 0, 0)
    assert book.by_model["claude-sonnet-4-5-20250929"] == TokenUsage(10, 410, 46500, 5300)


def test_claude_feeding_twice_adds_nothing():
    parser = ClaudeTranscriptParser()
    lines = fixture_lines("claude/session_main.jsonl")[:-1]
    parser.feed(lines)
    first = parser.book.total
    parser.feed(lines)
    assert parser.book.total == first


@pytest.mark.parametrize(
    "line, counted",
    [
        ('{"type":"user","message":{"role":"user","content":"hi"}}', None),
        ('{"type":"summary","summary":"x","leafUuid":"y"}', None),
        ("[1,2,3]", "skipped"),
        ("{not json", "skipped"),
        ("", None),
        (
            '{"type":"assistant","message":{"id":"m1","model":"<synthetic>","usage":{"input_tokens":0,"output_tokens":0}}}',
            None,
        ),
        (
            '{"type":"assistant","requestId":"r","message":{"id":"m2","model":"claude-opus-4-1","usage":'
            '{"input_tokens":7,"output_tokens":9,"cache_read_input_tokens":"bad"}}}',
            TokenUsage(7, 9, 0, 0),
        ),
    ],
)
def test_claude_single_lines(line, counted):
    parser = ClaudeTranscriptParser()
    parser.feed_line(line)
    if counted == "skipped":
        assert parser.skipped_lines == 1 and len(parser.book) == 0
    elif counted is None:
        assert parser.skipped_lines == 0 and len(parser.book) == 0
    else:
        assert parser.book.total == counted


def test_claude_same_message_id_different_request_is_two_responses():
    parser = ClaudeTranscriptParser()
    for rid in ("req_1", "req_2"):
        parser.feed_line(
            json.dumps(
                {"type": "assistant", "requestId": rid, "message": {"id": "msg_x", "model": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}}
            )
        )
    assert len(parser.book) == 2 and parser.book.total == TokenUsage(10, 2, 0, 0)


def test_claude_one_hour_cache_write_recorded():
    parser = ClaudeTranscriptParser()
    parser.feed_line(
        json.dumps(
            {
                "type": "assistant",
                "message": {
                    "id": "m",
                    "model": "claude-sonnet-4-5",
                    "usage": {
                        "input_tokens": 1,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": 900,
                        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 800},
                    },
                },
            }
        )
    )
    (response,) = parser.book.values()
    assert response.cache_write_1h == 800 and response.usage.cache_write == 900


def test_claude_line_meta():
    lines = fixture_lines("claude/session_main.jsonl")
    assert claude_line_meta(lines[0]).cwd is None  # the file-history snapshot names no cwd
    meta = claude_line_meta(lines[1])
    assert meta.cwd == "__CWD__" and meta.session_id == "7f3c2a9e-4b1d-4e8a-9c55-2d6f0e1a8b31"
    assert meta.timestamp == pytest.approx(LAUNCH + 5.12)
    assert claude_line_meta("garbage") is None


# ---- Codex


def test_codex_fixture_totals_and_models():
    parser = CodexRolloutParser(file_key="f")
    lines = fixture_lines("codex/rollout-2025-10-01T10-00-03-0199a3c4-5d6e-7f80-91a2-b3c4d5e6f708.jsonl")
    parser.feed(lines)
    book = parser.book
    # latest totals: input 35000 of which cached 19000, output 1500 (reasoning inside)
    assert book.total == TokenUsage(input=16000, output=1500, cache_read=19000, cache_write=0)
    assert len(book) == 3  # the repeated totals and the info:null event add nothing
    assert parser.skipped_lines == 1
    # gpt-5-codex: rises 8000/0/500 and 12000/7000/600 -> fresh 8000+5000, cached 7000, out 1100
    assert book.by_model["gpt-5-codex"] == TokenUsage(13000, 1100, 7000, 0)
    # gpt-5 after the switch: 15000/12000/400 -> fresh 3000, cached 12000, out 400
    assert book.by_model["gpt-5"] == TokenUsage(3000, 400, 12000, 0)
    meta = codex_session_meta(lines[0])
    assert meta.cwd == "__CWD__" and meta.started == pytest.approx(LAUNCH + 3.498)
    assert codex_session_meta(lines[1]) is None


def _count(ts: str, inp: int, cached: int, out: int, write: int | None = None) -> str:
    totals = {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out, "reasoning_output_tokens": 0, "total_tokens": inp + out}
    if write is not None:
        totals["cache_write_input_tokens"] = write
    return json.dumps({"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": totals}}})


def test_codex_events_before_launch_are_baseline_only():
    parser = CodexRolloutParser(since=LAUNCH)
    parser.feed_line(_count("2025-10-01T09:00:00Z", 1000, 400, 50))  # a resumed session's old spend
    parser.feed_line(_count("2025-10-01T10:05:00Z", 1600, 500, 80))
    assert parser.book.total == TokenUsage(input=500, output=30, cache_read=100)


def test_codex_totals_dropping_start_a_new_run():
    parser = CodexRolloutParser()
    parser.feed_line(_count("2025-10-01T10:01:00Z", 1000, 0, 10))
    parser.feed_line(_count("2025-10-01T10:02:00Z", 300, 100, 5))  # a new process counting from 0
    assert parser.book.total == TokenUsage(input=1000 + 200, output=15, cache_read=100)


def test_codex_cache_write_is_part_of_input():
    parser = CodexRolloutParser()
    parser.feed_line(_count("2025-10-01T10:01:00Z", 1000, 300, 10, write=200))
    assert parser.book.total == TokenUsage(input=500, output=10, cache_read=300, cache_write=200)


# ---- Gemini


@pytest.mark.parametrize(
    "tokens, usage",
    [
        ({"input": 9000, "output": 300, "cached": 4000, "thoughts": 120, "tool": 0, "total": 9420}, TokenUsage(5000, 420, 4000, 0)),
        ({"input": 100, "output": 5}, TokenUsage(100, 5, 0, 0)),
        ({"input": 10, "cached": 50}, TokenUsage(0, 0, 50, 0)),
    ],
)
def test_gemini_usage(tokens, usage):
    assert gemini_usage(tokens) == usage


def test_gemini_fixture_totals():
    parser = GeminiChatParser()
    lines = fixture_lines("gemini/session-2025-10-01T10-00-5c0e2b7a.jsonl")
    parser.feed(lines)
    # gem-0001: 9000 prompt - 4000 cached = 5000 fresh, out 300 + 120 thoughts, read 4000
    # gem-0002: 12000 - 8000 + 50 tool = 4050 fresh, out 450, read 8000; its rewind changes nothing
    assert parser.book.total == TokenUsage(input=9050, output=870, cache_read=12000)
    assert len(parser.book) == 2 and parser.skipped_lines == 1
    meta = gemini_session_meta(lines[0])
    assert meta.project_hash == "__HASH__" and meta.started == pytest.approx(LAUNCH + 4.2)


def test_gemini_legacy_document():
    doc = {
        "sessionId": "s",
        "projectHash": "h",
        "startTime": "2025-10-01T10:00:00Z",
        "messages": [
            {"id": "a", "type": "user", "content": "hi"},
            {"id": "b", "type": "gemini", "model": "gemini-2.5-flash", "tokens": {"input": 700, "output": 30, "cached": 200, "thoughts": 10}},
        ],
    }
    parser = GeminiChatParser()
    parser.feed_document(json.dumps(doc))
    parser.feed_document(json.dumps(doc))  # rewritten whole: same totals
    parser.feed_document("{broken")
    assert parser.book.total == TokenUsage(500, 40, 200, 0)
    assert parser.skipped_lines == 1


# ---- OpenCode


def test_opencode_messages():
    parser = OpenCodeParser()
    for mid, info in json.loads((DATA / "opencode/messages.json").read_text()):
        parser.feed_message(mid, json.dumps(info))
    parser.feed_message("bad", "{nope")
    # e002: in 12, out 310, read 11000, write 3200; e003: in 8, out 150 + 40 reasoning, read 14200, write 600
    assert parser.book.total == TokenUsage(input=20, output=500, cache_read=25200, cache_write=3800)
    assert sorted(r.reported_cost for r in parser.book.values()) == [0.0105, 0.0213]
    assert parser.skipped_lines == 1 and len(parser.book) == 2


# ---- Aider


@pytest.mark.parametrize(
    "sent, write, hit, fresh",
    [(12000, 0, 0, 12000), (2500, 1100, 3000, 1400), (9000, 1000, 3000, 5000), (100, 500, 0, 0)],
)
def test_aider_fresh_input(sent, write, hit, fresh):
    assert aider_fresh_input(sent, write, hit) == fresh


@pytest.mark.parametrize(
    "lines, usage, cost",
    [
        (["Tokens: 1.2k sent, 345 received. Cost: $0.01 message, $0.05 session."], TokenUsage(1200, 345), 0.05),
        (["Tokens: 12k sent, 1.5k received."], TokenUsage(12000, 1500), None),
        (["> Tokens: 1.5M sent, 2,345 received. Cost: $4.10 message, $4.10 session.  "], TokenUsage(1_500_000, 2345), 4.10),
        (
            ["Tokens: 2.5k sent, 1.1k cache write, 3.0k cache hit, 120 received.", "Cost: $0.01 message, $0.01 session."],
            TokenUsage(1400, 120, 3000, 1100),
            0.01,
        ),
        (["Tokens: 9.0k sent, 3.0k cache hit, 80 received. Cost: $0.0040 message, $0.02 session."], TokenUsage(6000, 80, 3000, 0), 0.02),
        (
            [
                "Tokens: 1.0k sent, 10 received. Cost: $0.01 message, $0.03 session.",
                "Tokens: 2.0k sent, 20 received. Cost: $0.02 message, $0.05 session.",
                # a new aider process in the same pane: its session cost starts over
                "Tokens: 3.0k sent, 30 received. Cost: $0.04 message, $0.04 session.",
            ],
            TokenUsage(6000, 60),
            0.09,
        ),
        (["nothing here", "Tokens: lots sent"], TokenUsage(), None),
    ],
)
def test_aider_screen_lines(lines, usage, cost):
    parser = AiderParser()
    parser.feed(lines)
    assert parser.book.total == usage
    if cost is None:
        assert parser.reported_cost is None
    else:
        assert parser.reported_cost == pytest.approx(cost)


def test_aider_history_skips_sessions_before_launch():
    start = datetime.fromtimestamp(LAUNCH + 5).strftime("%Y-%m-%d %H:%M:%S")
    text = (DATA / "aider/.aider.chat.history.md").read_text().replace("__START__", start)
    parser = AiderParser(since=LAUNCH - 30)
    parser.feed(text.splitlines())
    # the 2020 session (5.0k sent, $0.02) is not this agent's
    assert parser.book.total == TokenUsage(input=1400 + 12000, output=120 + 345, cache_read=3000, cache_write=1100)
    assert parser.reported_cost == pytest.approx(0.05)
    assert parser.model == "anthropic/claude-sonnet-4-20250514"
    assert {r.reported_cost for r in parser.book.values()} == {0.01, 0.04}


def test_aider_history_all_sessions_without_since():
    text = (DATA / "aider/.aider.chat.history.md").read_text().replace("__START__", "2021-01-01 00:00:00")
    parser = AiderParser()
    parser.feed(text.splitlines())
    assert parser.reported_cost == pytest.approx(0.02 + 0.05)
    assert parser.book.total.input == 5000 + 1400 + 12000


def test_aider_analytics_log():
    def event(t, prompt, completion, cost, total):
        return json.dumps(
            {
                "event": "message_send",
                "properties": {"main_model": "gpt-4o", "edit_format": "diff", "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, "cost": cost, "total_cost": total},
                "user_id": "u",
                "time": t,
            }
        )

    parser = AiderAnalyticsParser(since=LAUNCH)
    parser.feed([
        event(int(LAUNCH) - 100, 999, 9, 0.5, 0.5),
        event(int(LAUNCH) + 10, 4000, 200, 0.012, 0.012),
        json.dumps({"event": "launched", "properties": {}, "time": int(LAUNCH)}),
        "{bad",
        event(int(LAUNCH) + 20, 6000, 300, 0.018, 0.030),
    ])
    assert parser.book.total == TokenUsage(10000, 500)
    assert parser.reported_cost == pytest.approx(0.030)
    assert parser.skipped_lines == 1


# ---- Ollama


def test_ollama_ledger():
    parser = OllamaLedgerParser(since=1759312800.0)
    parser.feed(fixture_lines("ollama/ledger.jsonl"))
    assert parser.book.total == TokenUsage(input=812 + 1490 + 300, output=143 + 61 + 20)
    assert parser.book.models == ("llama3.2:3b", "qwen2.5-coder:7b")
    assert parser.skipped_lines == 1


def test_ollama_ledger_line_round_trips():
    line = ollama_ledger_line(1759312900.5, "qwen2.5-coder:7b", 10, 3)
    assert json.loads(line) == {"ts": 1759312900.5, "model": "qwen2.5-coder:7b", "prompt_eval_count": 10, "eval_count": 3}
    parser = OllamaLedgerParser()
    parser.feed_line(line)
    parser.feed_line('{"ts": "soon", "model": "x"}')
    assert parser.book.total == TokenUsage(10, 3) and parser.skipped_lines == 1


# ---- Regexes from agents.toml


def test_regex_spec_from_config():
    assert RegexSpec.from_config(None) is None
    assert RegexSpec.from_config({"cumulative": True}) is None
    with pytest.raises(ValueError):
        RegexSpec.from_config({"tokens_in": "(unclosed"})


@pytest.mark.parametrize(
    "config, lines, usage, cost",
    [
        (
            {"tokens_in": r"in=([\d.,]+[kM]?)", "tokens_out": r"out=([\d.,]+[kM]?)"},
            ["step in=1.5k out=200", "noise", "step in=2,000 out=1k"],
            TokenUsage(3500, 1200),
            None,
        ),
        (
            {"tokens_in": r"total in: (\S+)", "tokens_out": r"total out: (\S+)", "cost": r"spent \$(\S+)", "cumulative": True},
            ["total in: 1k", "total out: 50", "spent $0.10", "total in: 4k", "total out: 90", "spent $0.25"],
            TokenUsage(4000, 90),
            0.25,
        ),
        (
            # cumulative counters that drop belong to a new run: the old run is kept
            {"tokens_in": r"in (\d+)", "cumulative": True},
            ["in 100", "in 300", "in 50", "in 70"],
            TokenUsage(370, 0),
            None,
        ),
        (
            {"tokens_in": r"in (\d+)", "cost": r"cost (\S+)"},
            ["in 10 cost 0.5", "in 20 cost $1.25"],
            TokenUsage(30, 0),
            1.75,
        ),
    ],
)
def test_regex_meter(config, lines, usage, cost):
    parser = RegexMeterParser(RegexSpec.from_config(config))
    parser.feed(lines)
    assert parser.book.total == usage
    assert parser.reported_cost == (pytest.approx(cost) if cost is not None else None)


def test_meter_reading_unknown_is_not_zero():
    unknown = MeterReading.unknown()
    zero = MeterReading(usage=TokenUsage())
    assert not unknown.known and zero.known
    assert unknown.usage is None and zero.usage == TokenUsage()
