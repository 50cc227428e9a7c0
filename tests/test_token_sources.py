"""Meters on live files under tmp_path: discovery by recorded cwd and start time, tailing,
replaced files, and totals checked against numbers worked out by hand."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from helpers import FakeClock
from mission_control.adapters.meters import (
    TailedFile,
    claude_config_dir,
    codex_home,
    effective_env,
    gemini_dir,
    make_meter,
    opencode_data_dir,
)
from mission_control.core.model import TokenUsage
from mission_control.core.pricing import LOCAL_FREE, OVERRIDE, REPORTED

DATA = Path(__file__).parent / "data" / "transcripts"
LAUNCH = 1759312800.0  # 2025-10-01T10:00:00Z, the fixtures' session day
SID = "7f3c2a9e-4b1d-4e8a-9c55-2d6f0e1a8b31"
CODEX_FILE = "rollout-2025-10-01T10-00-03-0199a3c4-5d6e-7f80-91a2-b3c4d5e6f708.jsonl"

# Environment variables a meter reads: tests set them all, so the supervisor's own
# environment (which may have any of them) never leaks in.
BLANK = {
    "CLAUDE_CONFIG_DIR": "",
    "CODEX_HOME": "",
    "GEMINI_CLI_HOME": "",
    "XDG_DATA_HOME": "",
    "AIDER_CHAT_HISTORY_FILE": "",
    "AIDER_ANALYTICS_LOG": "",
}


def install(rel: str, dest: Path, **subs: str) -> Path:
    text = (DATA / rel).read_text(encoding="utf-8")
    for key, value in subs.items():
        text = text.replace(f"__{key}__", value)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def claude_line(mid: str, model: str, inp: int, out: int, read: int, write: int, *, cwd: str = "", ts: str = "2025-10-01T10:01:00.000Z") -> str:
    return json.dumps(
        {
            "parentUuid": None,
            "isSidechain": False,
            "cwd": cwd,
            "sessionId": SID,
            "type": "assistant",
            "uuid": f"u-{mid}-{out}",
            "timestamp": ts,
            "requestId": f"req_{mid}",
            "message": {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "ok"}],
                "usage": {
                    "input_tokens": inp,
                    "output_tokens": out,
                    "cache_read_input_tokens": read,
                    "cache_creation_input_tokens": write,
                },
            },
        }
    )


# ---------------------------------------------------------------- environment


def test_paths_come_from_the_agents_env(tmp_path):
    env = effective_env({**BLANK, "HOME": str(tmp_path / "h")})
    assert claude_config_dir(env) == tmp_path / "h" / ".claude"
    assert codex_home(env) == tmp_path / "h" / ".codex"
    assert gemini_dir(env) == tmp_path / "h" / ".gemini"
    assert opencode_data_dir(env) == tmp_path / "h" / ".local" / "share" / "opencode"
    env = effective_env({"HOME": str(tmp_path / "h"), "CLAUDE_CONFIG_DIR": "~/cfg", "CODEX_HOME": str(tmp_path / "cx"), "XDG_DATA_HOME": str(tmp_path / "x")})
    assert claude_config_dir(env) == tmp_path / "h" / "cfg"
    assert codex_home(env) == tmp_path / "cx"
    assert opencode_data_dir(env) == tmp_path / "x" / "opencode"
    # keys the agent's env does not set fall back to the supervisor's
    assert effective_env({})["PATH"] == os.environ["PATH"]


# ---------------------------------------------------------------- tailing


def test_tailed_file_reads_whole_lines_once(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text("a\nb\npart")
    tail = TailedFile(path)
    assert tail.read_new() == (["a", "b"], False)
    assert tail.read_new() == ([], False)
    append(path, "ial\nc\n")
    assert tail.read_new() == (["partial", "c"], False)
    path.write_text("x\n")  # shrank: read anew
    assert tail.read_new() == (["x"], True)
    replacement = tmp_path / "g.jsonl"
    replacement.write_text("x\ny\nz\n")
    os.replace(replacement, path)  # same size or bigger, but another inode
    assert tail.read_new() == (["x", "y", "z"], True)
    path.unlink()
    assert tail.read_new() == ([], False)


# ---------------------------------------------------------------- claude


@pytest.fixture
def claude_setup(tmp_path):
    cwd = tmp_path / "work" / "demo.project"
    other = tmp_path / "work" / "other"
    cwd.mkdir(parents=True)
    other.mkdir(parents=True)
    cfg = tmp_path / "claude-config"
    # folder names are lossy and never decoded; give them names unlike the cwd on purpose
    proj = cfg / "projects" / "-tmp-some-slug"
    main = install("claude/session_main.jsonl", proj / f"{SID}.jsonl", CWD=str(cwd))
    install("claude/subagent.jsonl", proj / SID / "subagents" / "agent-a4f2c1d.jsonl", CWD=str(cwd))
    install("claude/session_old.jsonl", proj / "0c1d2e3f-old.jsonl", CWD=str(cwd))
    install("claude/session_other_cwd.jsonl", proj / "9e8d-other.jsonl", CWD=str(cwd), OTHER=str(other))
    install("claude/session_other_cwd.jsonl", cfg / "projects" / "-elsewhere" / "9e8d-other.jsonl", CWD=str(other), OTHER=str(other))
    env = {**BLANK, "HOME": str(tmp_path / "nohome"), "CLAUDE_CONFIG_DIR": str(cfg)}
    return cwd, env, main, proj


# The fixture by hand (complete lines only):
#   sonnet msg_01Ab  in 3   out 250 read 12000 write 5000  (two streamed lines: out 8, then 250)
#   sonnet msg_01Bc  in 5   out 120 read 17000 write 300
#   haiku  msg_01Cd  in 400 out 60                          (inline sidechain)
#   sonnet msg_01De  in 2   out 40  read 17500
#   haiku  msg_01Sub in 1200 out 300                        (subagent file, out 100 then 300)
CLAUDE_TOTAL = TokenUsage(input=1610, output=770, cache_read=46500, cache_write=5300)
# Sonnet 4.5 $3/$15/$0.30/$3.75, Haiku 4.5 $1/$5 per MTok:
#   sonnet 10*3 + 410*15 + 46500*0.30 + 5300*3.75 = 40005;  haiku 1600*1 + 360*5 = 3400
CLAUDE_COST = (40005 + 3400) / 1e6


def test_claude_meter_reads_this_agents_sessions(claude_setup):
    cwd, env, main, proj = claude_setup
    meter = make_meter("claude", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    assert r.known
    assert r.usage == CLAUDE_TOTAL
    assert r.responses == 5
    assert r.skipped_lines == 1
    assert r.models == ("claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929")
    assert r.cost_usd == pytest.approx(CLAUDE_COST)
    assert r.cost_source == "genai-prices anthropic/claude-haiku-4-5; genai-prices anthropic/claude-sonnet-4-5"
    assert r.cost_by_model["claude-haiku-4-5-20251001"] == pytest.approx(0.0034)
    assert sorted(Path(s).name for s in r.sources) == [f"{SID}.jsonl", "agent-a4f2c1d.jsonl"]
    assert meter.poll() == r  # nothing new: same reading


def test_claude_appended_lines_grow_totals_by_exactly_what_was_appended(claude_setup):
    cwd, env, main, proj = claude_setup
    meter = make_meter("claude", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    before = meter.poll().usage
    # the truncated last line gets its newline: msg_01Ef in 4, out 90, read 17600, write 200
    append(main, "\n")
    after = meter.poll().usage
    assert after == before + TokenUsage(4, 90, 17600, 200)
    # msg_01De streamed further (out 40 -> 75): only the growth counts
    append(main, claude_line("msg_01DeFgHjKlMnPqRsTuVwXyZa", "claude-sonnet-4-5-20250929", 2, 75, 17500, 0, cwd=str(cwd)).replace("req_msg_01DeFgHjKlMnPqRsTuVwXyZa", "req_011CTgD4e5F6g7H8j9K1l2M3") + "\n")
    assert meter.poll().usage == after + TokenUsage(0, 35, 0, 0)
    # half a line waits for its end
    line = claude_line("msg_new", "claude-sonnet-4-5-20250929", 10, 20, 30, 40, cwd=str(cwd))
    append(main, line[:50])
    r = meter.poll()
    assert r.usage == after + TokenUsage(0, 35, 0, 0)
    append(main, line[50:] + "\n" + "{broken json\n")
    r = meter.poll()
    assert r.usage == after + TokenUsage(10, 55, 30, 40)
    assert r.responses == 7
    assert r.skipped_lines == 2


def test_claude_replaced_file_is_reread_without_double_counting(claude_setup):
    cwd, env, main, proj = claude_setup
    meter = make_meter("claude", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    before = meter.poll().usage
    new = main.with_suffix(".tmp")
    new.write_text(main.read_text() + "\n" + claude_line("msg_z", "claude-sonnet-4-5-20250929", 1, 2, 3, 4, cwd=str(cwd)) + "\n")
    os.replace(new, main)
    assert meter.poll().usage == before + TokenUsage(4, 90, 17600, 200) + TokenUsage(1, 2, 3, 4)


def test_claude_sessions_started_before_launch_are_not_this_agents(claude_setup):
    cwd, env, main, proj = claude_setup
    # launched after every fixture session started: none is ours
    meter = make_meter("claude", cwd=cwd, env=env, started_at=LAUNCH + 3600, rescan_every=0)
    r = meter.poll()
    assert r.usage == TokenUsage() and r.known and r.cost_usd == 0.0 and r.sources == ()


def test_claude_new_session_found_at_next_scan_only(claude_setup):
    cwd, env, main, proj = claude_setup
    clock = FakeClock()
    meter = make_meter("claude", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=5, clock=clock)
    first = meter.poll().usage
    second_session = proj / "1a2b3c4d-new.jsonl"
    second_session.write_text(
        json.dumps({"type": "user", "cwd": str(cwd), "sessionId": "1a2b3c4d-new", "timestamp": "2025-10-01T11:00:00Z", "message": {"role": "user", "content": "next"}})
        + "\n"
        + claude_line("msg_second", "claude-haiku-4-5-20251001", 100, 10, 0, 0, cwd=str(cwd), ts="2025-10-01T11:00:02Z")
        + "\n"
    )
    clock.now += 1
    assert meter.poll().usage == first  # no directory scan within 5 s
    clock.now += 5
    assert meter.poll().usage == first + TokenUsage(100, 10, 0, 0)


def test_claude_found_through_home_when_no_config_dir(tmp_path):
    cwd = tmp_path / "p"
    cwd.mkdir()
    home = tmp_path / "home"
    install("claude/subagent.jsonl", home / ".claude" / "projects" / "-p" / "agent-a4f2c1d.jsonl", CWD=str(cwd))
    meter = make_meter("claude", cwd=cwd, env={**BLANK, "HOME": str(home)}, started_at=LAUNCH, rescan_every=0)
    assert meter.poll().usage == TokenUsage(1200, 300, 0, 0)


def test_claude_explicit_transcript_path(tmp_path, claude_setup):
    cwd, env, main, proj = claude_setup
    # named by a hook: no cwd or start-time test, and its subagents come along
    meter = make_meter(
        "claude", cwd=tmp_path / "unrelated", env=env, started_at=LAUNCH + 10_000, transcript_paths=[main], rescan_every=0
    )
    r = meter.poll()
    assert r.usage == CLAUDE_TOTAL
    old = proj / "0c1d2e3f-old.jsonl"
    meter.add_transcript(old)
    assert meter.poll().usage == CLAUDE_TOTAL + TokenUsage(10, 10, 0, 0)


# ---------------------------------------------------------------- codex


def test_codex_meter(tmp_path):
    cwd = tmp_path / "repo"
    cwd.mkdir()
    home = tmp_path / "codex-home"
    day = home / "sessions" / "2025" / "10" / "01"
    rollout = install(f"codex/{CODEX_FILE}", day / CODEX_FILE, CWD=str(cwd))
    # another directory's session, and one of ours that started before the launch
    install(f"codex/{CODEX_FILE}", day / "rollout-2025-10-01T10-00-04-other.jsonl", CWD=str(tmp_path / "elsewhere"))
    early = install(f"codex/{CODEX_FILE}", day / "rollout-2025-10-01T09-00-00-early.jsonl", CWD=str(cwd))
    early.write_text(early.read_text().replace("2025-10-01T10:00:03.498Z", "2025-10-01T09:00:00.000Z", 1))
    env = {**BLANK, "HOME": str(tmp_path / "nohome"), "CODEX_HOME": str(home)}
    meter = make_meter("codex", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    # latest totals: 35000 input incl. 19000 cached, 1500 output
    assert r.usage == TokenUsage(input=16000, output=1500, cache_read=19000)
    assert r.models == ("gpt-5", "gpt-5-codex")
    assert r.skipped_lines == 1
    assert [Path(s).name for s in r.sources] == [CODEX_FILE]
    # gpt-5-codex (priced as gpt-5: $1.25 in, $0.125 cached, $10 out): 13000, 7000 cached, 1100 out
    # gpt-5: 3000, 12000 cached, 400 out
    assert r.cost_usd == pytest.approx((13000 * 1.25 + 7000 * 0.125 + 1100 * 10 + 3000 * 1.25 + 12000 * 0.125 + 400 * 10) / 1e6)
    assert r.cost_source == "genai-prices openai/gpt-5"
    total = {"input_tokens": 41000, "cached_input_tokens": 23000, "output_tokens": 1700, "reasoning_output_tokens": 600, "total_tokens": 42700}
    append(
        rollout,
        json.dumps({"timestamp": "2025-10-01T10:02:00.000Z", "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": total}}})
        + "\n",
    )
    assert meter.poll().usage == r.usage + TokenUsage(input=2000, output=200, cache_read=4000)


# ---------------------------------------------------------------- gemini


def test_gemini_meter(tmp_path):
    cwd = tmp_path / "gproj"
    cwd.mkdir()
    ghome = tmp_path / "ghome"
    project = ghome / ".gemini" / "tmp" / "gproj"
    project.mkdir(parents=True)
    (project / ".project_root").write_text(str(cwd))
    h = hashlib.sha256(str(cwd).encode()).hexdigest()
    chat = install("gemini/session-2025-10-01T10-00-5c0e2b7a.jsonl", project / "chats" / "session-2025-10-01T10-00-5c0e2b7a.jsonl", HASH=h)
    # another project's chats are not looked at
    install("gemini/session-2025-10-01T10-00-5c0e2b7a.jsonl", ghome / ".gemini" / "tmp" / "x" / "chats" / "session-x.jsonl", HASH="0" * 64)
    env = {**BLANK, "HOME": str(tmp_path / "nohome"), "GEMINI_CLI_HOME": str(ghome)}
    meter = make_meter("gemini", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    assert r.usage == TokenUsage(input=9050, output=870, cache_read=12000)
    assert r.responses == 2 and r.skipped_lines == 1
    # gemini-2.5-pro $1.25 in, $10 out, $0.125 cached: (5000, 420, 4000) + (4050, 450, 8000)
    assert r.cost_usd == pytest.approx((9050 * 1.25 + 870 * 10 + 12000 * 0.125) / 1e6)
    msg = {"id": "new-1", "timestamp": "2025-10-01T10:01:00Z", "type": "gemini", "model": "gemini-2.5-pro", "tokens": {"input": 1000, "output": 10, "cached": 0, "thoughts": 5, "tool": 0, "total": 1015}}
    append(chat, json.dumps(msg) + "\n")
    assert meter.poll().usage == r.usage + TokenUsage(1000, 15, 0, 0)


def test_gemini_legacy_hash_dir_and_json_document(tmp_path):
    cwd = tmp_path / "legacy"
    cwd.mkdir()
    ghome = tmp_path / "ghome"
    h = hashlib.sha256(str(cwd).encode()).hexdigest()
    doc_path = ghome / ".gemini" / "tmp" / h / "chats" / "session-2025-10-01T10-00-abcd.json"
    doc_path.parent.mkdir(parents=True)
    doc = {"sessionId": "s1", "projectHash": h, "startTime": "2025-10-01T10:00:05Z", "messages": [
        {"id": "g1", "type": "gemini", "model": "gemini-2.5-flash", "tokens": {"input": 700, "output": 30, "cached": 200, "thoughts": 10}},
    ]}
    doc_path.write_text(json.dumps(doc))
    meter = make_meter("gemini", cwd=cwd, env={**BLANK, "GEMINI_CLI_HOME": str(ghome)}, started_at=LAUNCH, rescan_every=0)
    assert meter.poll().usage == TokenUsage(500, 40, 200, 0)
    doc["messages"].append({"id": "g2", "type": "gemini", "model": "gemini-2.5-flash", "tokens": {"input": 100, "output": 1}})
    doc_path.write_text(json.dumps(doc))
    assert meter.poll().usage == TokenUsage(600, 41, 200, 0)


# ---------------------------------------------------------------- opencode

OPENCODE_SCHEMA = """
CREATE TABLE session (id text PRIMARY KEY, project_id text NOT NULL, parent_id text, slug text NOT NULL,
  directory text NOT NULL, title text NOT NULL, version text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL);
CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL, data text NOT NULL);
"""


def _opencode_db(path: Path, cwd: Path, other: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(OPENCODE_SCHEMA)
    ms = int(LAUNCH * 1000)
    for sid, directory, created in (("ses_ours", cwd, ms + 4000), ("ses_old", cwd, ms - 3_600_000), ("ses_other", other, ms + 4000)):
        con.execute("INSERT INTO session VALUES (?,?,?,?,?,?,?,?,?)", (sid, "prj", None, sid, str(directory), "t", "1.18.33", created, created))
    messages = json.loads((DATA / "opencode" / "messages.json").read_text().replace("__CWD__", str(cwd)))
    for sid in ("ses_ours", "ses_old", "ses_other"):
        for mid, info in messages:
            t = info["time"]["created"]
            con.execute("INSERT INTO message VALUES (?,?,?,?,?)", (f"{sid}_{mid}", sid, t, t, json.dumps(info)))
    con.commit()
    return con


def test_opencode_meter_sqlite(tmp_path):
    cwd, other = tmp_path / "oc", tmp_path / "other"
    cwd.mkdir()
    other.mkdir()
    xdg = tmp_path / "xdg"
    con = _opencode_db(xdg / "opencode" / "opencode.db", cwd, other)
    env = {**BLANK, "HOME": str(tmp_path / "nohome"), "XDG_DATA_HOME": str(xdg)}
    meter = make_meter("opencode", cwd=cwd, env=env, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    # e002: in 12, out 310, read 11000, write 3200 ($0.0213); e003: in 8, out 150+40, read 14200, write 600 ($0.0105)
    assert r.usage == TokenUsage(input=20, output=500, cache_read=25200, cache_write=3800)
    assert r.cost_usd == pytest.approx(0.0318)
    assert r.cost_source == REPORTED
    assert r.models == ("claude-sonnet-4-5",)
    # a message still streaming is updated in place
    info = {"role": "assistant", "modelID": "claude-sonnet-4-5", "providerID": "anthropic", "cost": 0.001,
            "tokens": {"input": 5, "output": 10, "reasoning": 0, "cache": {"read": 100, "write": 0}}, "time": {"created": int(LAUNCH * 1000) + 30000}}
    con.execute("INSERT INTO message VALUES (?,?,?,?,?)", ("ses_ours_msg_live", "ses_ours", int(LAUNCH * 1000) + 30000, int(LAUNCH * 1000) + 30000, json.dumps(info)))
    con.commit()
    assert meter.poll().usage == r.usage + TokenUsage(5, 10, 100, 0)
    info["tokens"]["output"] = 60
    info["cost"] = 0.002
    con.execute("UPDATE message SET data = ?, time_updated = ? WHERE id = ?", (json.dumps(info), int(LAUNCH * 1000) + 31000, "ses_ours_msg_live"))
    con.commit()
    r2 = meter.poll()
    assert r2.usage == r.usage + TokenUsage(5, 60, 100, 0)
    assert r2.cost_usd == pytest.approx(0.0318 + 0.002)
    con.close()


def test_opencode_meter_legacy_json_storage(tmp_path):
    cwd = tmp_path / "oc"
    cwd.mkdir()
    storage = tmp_path / "xdg" / "opencode" / "storage"
    (storage / "session" / "prj").mkdir(parents=True)
    (storage / "session" / "prj" / "ses_1.json").write_text(json.dumps({"id": "ses_1", "directory": str(cwd), "time": {"created": int(LAUNCH * 1000) + 1000}}))
    (storage / "session" / "prj" / "ses_0.json").write_text(json.dumps({"id": "ses_0", "directory": str(cwd), "time": {"created": int(LAUNCH * 1000) - 999_999}}))
    for sid in ("ses_1", "ses_0"):
        (storage / "message" / sid).mkdir(parents=True)
        for mid, info in json.loads((DATA / "opencode" / "messages.json").read_text()):
            (storage / "message" / sid / f"{mid}.json").write_text(json.dumps({"id": mid, "sessionID": sid, **info}))
    meter = make_meter("opencode", cwd=cwd, env={**BLANK, "XDG_DATA_HOME": str(tmp_path / "xdg")}, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    assert r.usage == TokenUsage(input=20, output=500, cache_read=25200, cache_write=3800)
    assert r.cost_usd == pytest.approx(0.0318)


# ---------------------------------------------------------------- aider


def _aider_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "arepo"
    (repo / ".git").mkdir(parents=True)
    start = datetime.fromtimestamp(LAUNCH + 5).strftime("%Y-%m-%d %H:%M:%S")
    install("aider/.aider.chat.history.md", repo / ".aider.chat.history.md", START=start)
    return repo


def test_aider_meter_history_file(tmp_path):
    repo = _aider_repo(tmp_path)
    sub = repo / "pkg"
    sub.mkdir()
    meter = make_meter("aider", cwd=sub, env=BLANK, started_at=LAUNCH, rescan_every=0)
    r = meter.poll(["Tokens: 99k sent, 1 received."])  # the screen is ignored when the file is there
    assert r.usage == TokenUsage(input=1400 + 12000, output=120 + 345, cache_read=3000, cache_write=1100)
    assert r.cost_usd == pytest.approx(0.05) and r.cost_source == REPORTED
    append(repo / ".aider.chat.history.md", "\n> Tokens: 3.1k sent, 50 received. Cost: $0.01 message, $0.06 session.  \n")
    r = meter.poll()
    assert r.usage.input == 1400 + 12000 + 3100 and r.usage.output == 515
    assert r.cost_usd == pytest.approx(0.06)


def test_aider_meter_screen_then_file(tmp_path):
    repo = tmp_path / "plain"
    repo.mkdir()
    meter = make_meter("aider", cwd=repo, env=BLANK, started_at=LAUNCH, rescan_every=0)
    r = meter.poll(["> Tokens: 1.2k sent, 345 received. Cost: $0.01 message, $0.01 session."])
    assert r.usage == TokenUsage(1200, 345) and r.cost_usd == pytest.approx(0.01)
    r = meter.poll(["Tokens: 800 sent, 5 received. Cost: $0.002 message, $0.012 session."])
    assert r.usage == TokenUsage(2000, 350) and r.cost_usd == pytest.approx(0.012)
    start = datetime.fromtimestamp(LAUNCH + 5).strftime("%Y-%m-%d %H:%M:%S")
    install("aider/.aider.chat.history.md", repo / ".aider.chat.history.md", START=start)
    r = meter.poll()
    assert r.cost_usd == pytest.approx(0.05) and r.usage.output == 465


def test_aider_meter_analytics_log_from_env(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    log = tmp_path / "analytics.jsonl"
    ev = {"event": "message_send", "properties": {"main_model": "gpt-4o", "prompt_tokens": 4000, "completion_tokens": 200, "cost": 0.012, "total_cost": 0.012}, "time": int(LAUNCH) + 10}
    log.write_text(json.dumps(ev) + "\n")
    meter = make_meter("aider", cwd=repo, env={**BLANK, "AIDER_ANALYTICS_LOG": str(log)}, started_at=LAUNCH, rescan_every=0)
    r = meter.poll()
    assert r.usage == TokenUsage(4000, 200) and r.cost_usd == pytest.approx(0.012)


# ---------------------------------------------------------------- ollama and shell


def test_ollama_meter_free_unless_overridden(tmp_path):
    ledger = install("ollama/ledger.jsonl", tmp_path / "ledger.jsonl")
    meter = make_meter("ollama", cwd=tmp_path, env=BLANK, started_at=LAUNCH, ledger_path=ledger, rescan_every=0)
    r = meter.poll()
    assert r.usage == TokenUsage(2602, 224) and r.cost_usd == 0.0 and r.cost_source == LOCAL_FREE
    assert r.skipped_lines == 1
    priced = make_meter(
        "ollama", cwd=tmp_path, env=BLANK, started_at=LAUNCH, ledger_path=ledger, rescan_every=0,
        price_overrides={"qwen2.5-coder:7b": {"input_mtok": 1.0, "output_mtok": 2.0}},
    )
    r = priced.poll()
    # qwen: (812+1490)*1 + (143+61)*2 = 2710 per MTok; llama3.2 stays free
    assert r.cost_usd == pytest.approx(2710 / 1e6)
    assert r.cost_source == f"{LOCAL_FREE}; {OVERRIDE}"
    append(ledger, '{"ts":1759312900.0,"model":"qwen2.5-coder:7b","prompt_eval_count":100,"eval_count":10}\n')
    assert priced.poll().usage == TokenUsage(2702, 234)


def test_ollama_meter_without_ledger_yet(tmp_path):
    meter = make_meter("ollama", cwd=tmp_path, env=BLANK, started_at=LAUNCH, ledger_path=tmp_path / "not-yet.jsonl", rescan_every=0)
    r = meter.poll()
    assert r.known and r.usage == TokenUsage() and r.cost_usd == 0.0


def test_shell_without_regexes_is_unknown(tmp_path):
    meter = make_meter("shell", cwd=tmp_path, env=BLANK, started_at=LAUNCH)
    r = meter.poll(["Tokens: 1k sent, 5 received."])
    assert not r.known and r.usage is None and r.cost_usd is None


def test_shell_with_regexes(tmp_path):
    regexes = {"tokens_in": r"prompt=(\S+)", "tokens_out": r"completion=(\S+)", "cost": r"total \$(\S+)", "cumulative": True}
    meter = make_meter("shell", cwd=tmp_path, env=BLANK, started_at=LAUNCH, regexes=regexes)
    assert meter.poll(["prompt=1.5k completion=200 total $0.01"]).usage == TokenUsage(1500, 200)
    r = meter.poll(["prompt=4,000 completion=1.2k total $0.05"])
    assert r.usage == TokenUsage(4000, 1200) and r.cost_usd == pytest.approx(0.05) and r.cost_source == REPORTED


def test_shell_with_regexes_and_model_is_priced(tmp_path):
    regexes = {"tokens_in": r"in=(\d+)", "tokens_out": r"out=(\d+)", "model": "claude-sonnet-4-5"}
    meter = make_meter("shell", cwd=tmp_path, env=BLANK, started_at=LAUNCH, regexes=regexes)
    r = meter.poll(["in=1000 out=100", "in=1000 out=100"])
    assert r.usage == TokenUsage(2000, 200)
    assert r.cost_usd == pytest.approx((2000 * 3 + 200 * 15) / 1e6)


def test_unknown_kind_is_unknown(tmp_path):
    assert not make_meter("mystery", cwd=tmp_path, started_at=LAUNCH).poll().known
