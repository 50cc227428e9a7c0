"""The qwen kind against a real Qwen Code record: the pure parser's totals equal the record's
`api_response` events and what the fake model's ledger says it answered, and the meter finds
the record by the agent's cwd under `$QWEN_HOME` (or `$QWEN_RUNTIME_DIR`) and tails it."""
from __future__ import annotations

import json
from pathlib import Path

from mission_control.adapters.meters import QwenMeter, make_meter, qwen_runtime_dir
from mission_control.core.kinds import get
from mission_control.core.kinds.qwen import QwenChatParser, qwen_api_event, qwen_project_slug
from mission_control.core.model import TokenUsage
from mission_control.core.tokens import parse_iso

DATA = Path(__file__).parent / "data" / "transcripts" / "qwen"
RECORD = DATA / "129a7e96-b381-49b5-9f6e-465bba8f5ed8.jsonl"
FAKE_USAGE = TokenUsage(input=1200, output=40)
"""What tests/tools/fake_llm_server.py answers every chat completion with (prompt, completion)."""
BLANK = {"QWEN_HOME": "", "QWEN_RUNTIME_DIR": ""}


def record_lines() -> list[str]:
    return RECORD.read_text(encoding="utf-8").splitlines(keepends=True)


def launch() -> float:
    first = json.loads(record_lines()[0])
    return parse_iso(first["timestamp"]) - 1.0


def answered_calls() -> int:
    ledger = [json.loads(line) for line in (DATA / "requests.jsonl").read_text().splitlines()]
    return sum(1 for e in ledger if e["m"] == "END" and e["code"] == 200 and e["path"].endswith("/chat/completions"))


def test_parser_totals_equal_the_record_and_the_fake_models_ledger():
    parser = QwenChatParser()
    parser.feed(record_lines())
    events = [e for e in (qwen_api_event(json.loads(line)) for line in record_lines()) if e]
    # the record's own counts: every api_response event (the turn and the memory extractor)
    assert parser.book.total == TokenUsage(
        input=sum(e["input_token_count"] - e["cached_content_token_count"] for e in events),
        output=sum(e["output_token_count"] + e["thoughts_token_count"] for e in events),
        cache_read=sum(e["cached_content_token_count"] for e in events),
    )
    # ... and what the fake model says it answered: two calls of 1200 in, 40 out
    assert answered_calls() == len(events) == len(parser.book) == 2
    assert parser.book.total == TokenUsage(input=FAKE_USAGE.input * 2, output=FAKE_USAGE.output * 2)
    assert "qwen3-coder-plus" in parser.book.models
    # the assistant record's usageMetadata repeats the turn's call: not counted again
    assert parser.skipped_lines == 0


def test_parser_counts_a_line_read_twice_once_and_skips_calls_before_since():
    lines = record_lines()
    parser = QwenChatParser()
    parser.feed(lines + lines + ["{not json\n"])
    assert len(parser.book) == 2 and parser.skipped_lines == 1
    late = QwenChatParser(since=parse_iso(json.loads(lines[-1])["timestamp"]) - 0.001)
    late.feed(lines)
    assert len(late.book) == 1  # a resumed session's older calls are not this launch's spend


def test_project_slug_is_qwens():
    assert qwen_project_slug("/tmp/fx-qwen-oeqo3zyt/fxrepo-zg0xogue") == "-tmp-fx-qwen-oeqo3zyt-fxrepo-zg0xogue"
    assert qwen_project_slug("/a b/ü.x") == "-a-b---x"


def test_spec():
    spec = get("qwen")
    assert spec is not None and spec.default_command == "qwen" and spec.task_flag == "--prompt-interactive"
    assert spec.resume_command == "qwen --continue" and spec.api_key_var == "OPENAI_API_KEY"


def install(cwd: Path, runtime: Path, name: str = RECORD.name) -> Path:
    dest = runtime / "projects" / qwen_project_slug(str(cwd)) / "chats" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(RECORD.read_text(encoding="utf-8").replace("__CWD__", str(cwd)), encoding="utf-8")
    return dest


def test_meter_finds_the_record_by_cwd_and_tails_it(tmp_path):
    cwd = tmp_path / "proj"
    cwd.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    qhome = tmp_path / "qhome"
    chat = install(cwd, qhome)
    install(other, qhome)  # another project's chats are not looked at
    env = {**BLANK, "HOME": str(tmp_path / "nohome"), "QWEN_HOME": str(qhome)}
    meter = make_meter("qwen", cwd=cwd, env=env, started_at=launch(), rescan_every=0)
    assert isinstance(meter, QwenMeter)
    r = meter.poll()
    assert r.usage == TokenUsage(input=2400, output=80) and r.responses == 2
    assert r.sources == (str(chat),)
    event = json.loads(record_lines()[2])
    event["uuid"] = "later-call"
    event["systemPayload"]["uiEvent"]["input_token_count"] = 500
    event["systemPayload"]["uiEvent"]["cached_content_token_count"] = 300
    with open(chat, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")
    assert meter.poll().usage == TokenUsage(input=2600, output=120, cache_read=300)


def test_meter_runtime_dir_wins_and_old_sessions_are_not_counted(tmp_path):
    cwd = tmp_path / "proj"
    cwd.mkdir()
    assert qwen_runtime_dir({**BLANK, "HOME": str(tmp_path)}) == tmp_path / ".qwen"
    env = {**BLANK, "HOME": str(tmp_path), "QWEN_HOME": str(tmp_path / "h"), "QWEN_RUNTIME_DIR": str(tmp_path / "rt")}
    assert qwen_runtime_dir(env) == tmp_path / "rt"
    install(cwd, tmp_path / "rt")
    assert make_meter("qwen", cwd=cwd, env=env, started_at=launch(), rescan_every=0).poll().responses == 2
    # launched after the record was written: nothing of it is this agent's spend
    later = make_meter("qwen", cwd=cwd, env=env, started_at=launch() + 3600, slack=0, rescan_every=0)
    assert later.poll().responses == 0
