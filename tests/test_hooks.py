"""Agent hooks given through the agents' own launch options reach the classifier."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import retry_until
from mission_control.adapters.store import Store
from mission_control.core.records import AgentRecord
from mission_control.fleet.hooks import record_hook

pytestmark = pytest.mark.tmux

# Behaves like Claude Code towards its --settings hooks: runs each event's command through a
# shell with the event's JSON on stdin, when told to by a file the test writes.
FAKE_CLAUDE = r"""
import json, os, subprocess, sys, time
settings = json.load(open(sys.argv[sys.argv.index("--settings") + 1]))
control = os.environ["CONTROL"]
done = set()
print("❯ ", flush=True)
while True:
    for event in open(control).read().split():
        if event in done:
            continue
        done.add(event)
        name, _, kind = event.partition(":")
        payload = {"hook_event_name": name, "session_id": "s1", "cwd": os.getcwd(),
                   "transcript_path": "/nonexistent/t.jsonl", "message": "Claude needs your permission"}
        if kind:
            payload["notification_type"] = kind
            payload["message"] = "Claude is waiting for your input"
        for group in settings["hooks"].get(name, []):
            for hook in group["hooks"]:
                subprocess.run(hook["command"], shell=True, input=json.dumps(payload), text=True, check=True)
    time.sleep(0.1)
"""


def test_claude_hooks_drive_the_status(cli, tmp_path: Path) -> None:
    script = tmp_path / "fakeclaude.py"
    script.write_text(FAKE_CLAUDE)
    control = tmp_path / "control"
    control.write_text("")
    cfg = tmp_path / "agents.toml"
    cfg.write_text(
        '[mission]\nsession = "t"\npoll_interval = 0.3\n'
        f'[[agent]]\nname = "c"\nkind = "claude"\ncommand = "{sys.executable} {script}"\n'
        f'env = {{ CONTROL = "{control}" }}\n'
    )
    r = subprocess.run([sys.executable, "-m", "mission_control", "up", "--no-attach", "-c", str(cfg)],
                       env=cli.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

    def status() -> dict:
        return {x["name"]: x for x in cli.status("-c", str(cfg))}.get("c", {})

    control.write_text("UserPromptSubmit\n")
    retry_until(lambda: status().get("status") == "WORKING", message="prompt submitted -> WORKING")
    control.write_text("UserPromptSubmit Notification\n")
    row = retry_until(lambda: (s := status()).get("status") == "WAITING" and s, message="Notification -> WAITING")
    assert row["reason"] == "Claude needs your permission"
    assert row["evidence"] == "hook Notification"
    control.write_text("UserPromptSubmit Notification Stop\n")
    retry_until(lambda: status().get("status") == "IDLE", message="Stop -> IDLE")
    # the bug users saw: Notification(idle_prompt) some time after Stop is not a question
    control.write_text("UserPromptSubmit Notification Stop Notification:idle_prompt\n")
    store = Store(tmp_path / ".mission-control" / "state.db")
    retry_until(lambda: len(store.hook_events_since(0)) == 4, message="idle_prompt recorded")
    retry_until(lambda: status().get("reason") == "at its prompt, done", message="idle_prompt read as done")
    seen, until = set(), time.monotonic() + 3  # several ticks: it stays IDLE
    while time.monotonic() < until:
        seen.add(status().get("status"))
    assert seen == {"IDLE"}, seen
    events = [e["event"] for e in store.hook_events_since(0)]
    assert events == ["UserPromptSubmit", "Notification", "Stop", "Notification"]


def test_codex_notify_payload_and_title_turn(tmp_path: Path) -> None:
    turn = {"type": "agent-turn-complete", "thread-id": "t1", "turn-id": "u1", "cwd": "/w",
            "input-messages": ["fix the bug"], "last-assistant-message": "done"}
    title = dict(turn, **{"input-messages": ["Generate a concise, single-line task title for this"]})
    assert record_hook(tmp_path, "x", "notify", [json.dumps(turn)], None) == "notify"
    assert record_hook(tmp_path, "x", "notify", [json.dumps(title)], None) is None  # codex's own title turn
    assert record_hook(tmp_path, "x", None, [], "not json") == "unknown"
    events = Store(tmp_path / "state.db").hook_events_since(0)
    assert [e["event"] for e in events] == ["notify", "unknown"]
    assert "last-assistant-message" not in events[0]["data"]  # answers are not kept


def test_codex_gets_notify_through_its_own_option(tmp_path: Path) -> None:
    """Codex runs our appender (not the old full CLI) with the payload as its last argument."""
    from mission_control.fleet.panes import hook_args
    from mission_control.core.config import load_text

    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "x"\nkind = "codex"\n', environ={})
    args = hook_args(config.agents[0], config)
    assert args[0] == "-c" and args[1].startswith("notify=[")
    argv = json.loads(args[1].removeprefix("notify="))
    assert argv[0] == sys.executable and argv[1:3] == ["-I", "-S"] and argv[3].endswith("hook_appender.py")
    assert argv[-1] == "notify"
    events = Path(argv[4])
    events.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([*argv, json.dumps({"type": "agent-turn-complete", "input-messages": ["hi"], "last-assistant-message": "secret answer"})],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == r.stderr == ""
    (line,) = events.read_text().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "notify" and entry["data"]["type"] == "agent-turn-complete"
    assert "secret answer" not in line  # answers are not kept


# ------------------------------------------------------------------ the appender: real processes, real files

def _claude_hook_argv(tmp_path: Path, event: str) -> tuple[list[str], Path]:
    """The command our Claude settings give for `event`, as Claude's shell would split it."""
    import shlex

    from mission_control.fleet.panes import hook_args
    from mission_control.core.config import load_text

    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "c"\nkind = "claude"\n', environ={})
    (config.state_dir / "agents" / "c").mkdir(parents=True)
    settings = json.loads(Path(hook_args(config.agents[0], config)[1]).read_text())
    argv = shlex.split(settings["hooks"][event][0]["hooks"][0]["command"])
    return argv, Path(argv[4])


def test_claude_settings_register_every_event_we_read(tmp_path: Path) -> None:
    from mission_control.core.hook_config import CLAUDE_EVENTS

    argv, events = _claude_hook_argv(tmp_path, "Stop")
    settings = json.loads((events.parent / "claude-hooks.json").read_text())
    for needed in ("PostToolUse", "PostToolUseFailure", "StopFailure", "SessionEnd", "PreCompact", "Notification",
                   "PermissionRequest", "Stop", "UserPromptSubmit", "SessionStart"):
        assert needed in settings["hooks"] and needed in CLAUDE_EVENTS
    assert argv[:3] == [sys.executable, "-I", "-S"] and argv[-1] == "Stop"
    assert "mission_control hook" not in json.dumps(settings)  # not the old full CLI start
    assert (events.parent / "claude-hooks.json").stat().st_mode & 0o777 == 0o600


def test_appender_returns_fast_while_the_store_is_locked_and_no_supervisor_runs(tmp_path: Path) -> None:
    """A process holds an exclusive lock on the state store the whole time: the hook does not
    touch it, so it returns at once (the old command waited on the lock)."""
    argv, events = _claude_hook_argv(tmp_path, "Notification")
    db = events.parent.parent.parent / "state.db"
    Store(db)
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('BEGIN EXCLUSIVE');"
         " print('locked', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        payload = {"hook_event_name": "Notification", "notification_type": "permission_prompt", "message": "Claude needs your permission",
                   "session_id": "s1", "transcript_path": "/t.jsonl", "cwd": "/w", "prompt": "my secret prompt"}
        took = []
        for _ in range(3):
            began = time.perf_counter()
            r = subprocess.run(argv, input=json.dumps(payload), capture_output=True, text=True, timeout=30)
            took.append(time.perf_counter() - began)
            assert r.returncode == 0 and r.stdout == r.stderr == ""
        assert min(took) < 1.0, took  # tens of ms in fact (benchmarks/hook_latency.py); generous under load
    finally:
        locker.kill()
        locker.wait()
    lines = events.read_text().splitlines()
    assert len(lines) == 3
    entry = json.loads(lines[0])
    assert entry["event"] == "Notification" and entry["data"]["notification_type"] == "permission_prompt"
    assert "my secret prompt" not in events.read_text()  # prompts are not kept
    assert events.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("stdin", [b"", b"not json", b"\x00\xff\xfe garbage", b"[1, 2]", b'{"message": "' + b"x" * 9_000_000 + b'"}',
                                   '{"message": "é\\u0000 $(rm -rf /) `x` \\n\\u001b[31m"}'.encode()],
                         ids=["empty", "not-json", "binary", "not-an-object", "9MB", "hostile-text"])
def test_appender_writes_one_clean_line_whatever_it_is_given(tmp_path: Path, stdin: bytes) -> None:
    argv, events = _claude_hook_argv(tmp_path, "Stop")
    r = subprocess.run(argv, input=stdin, capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == r.stderr == b""
    (line,) = events.read_bytes().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "Stop" and isinstance(entry["at"], float)
    assert len(line) < 4096


def test_concurrent_hooks_never_interleave_and_the_file_stays_bounded(tmp_path: Path) -> None:
    from mission_control.programs import hook_appender

    argv, events = _claude_hook_argv(tmp_path, "PostToolUse")
    payload = json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Bash", "cwd": "/w" * 100})
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE) for _ in range(20)]
    for p in procs:
        p.communicate(payload.encode(), timeout=60)
    lines = events.read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(x)["data"]["tool_name"] == "Bash" for x in lines)
    events.write_bytes(b"x" * (hook_appender.MAX_BYTES - 10) + b"\n")
    subprocess.run(argv, input=payload, text=True, timeout=30, check=True)
    assert len(events.read_text().splitlines()) == 1  # emptied before growing past the bound


def test_appender_does_not_follow_a_symlink(tmp_path: Path) -> None:
    argv, events = _claude_hook_argv(tmp_path, "Stop")
    target = tmp_path / "elsewhere"
    target.write_text("")
    events.symlink_to(target)
    r = subprocess.run(argv, input="{}", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "" and target.read_text() == ""


def test_supervisor_records_the_events_file_once_across_restarts(tmp_path: Path) -> None:
    """The supervisor tails each agent's events file into the store; a new supervisor reading the
    same file from the start records nothing twice, and folds the events into the hook evidence."""
    from mission_control.core.config import load_text
    from mission_control.fleet.supervisor import Supervisor

    argv, events = _claude_hook_argv(tmp_path, "Stop")
    config = load_text(tmp_path / "agents.toml", '[[agent]]\nname = "c"\nkind = "claude"\n', environ={})
    store = Store(config.state_dir / "state.db")
    for event, payload in [("UserPromptSubmit", {}), ("Notification", {"notification_type": "permission_prompt", "message": "m"}),
                           ("Notification", {"notification_type": "auth_success"}), ("PostToolUse", {"tool_name": "Bash"})]:
        cmd = [*argv[:-1], event]
        subprocess.run(cmd, input=json.dumps(payload), text=True, timeout=30, check=True)
    recs = [AgentRecord.of_spec(config.agents[0])]
    poll = Supervisor(config, store, tmux=None)
    poll.acting = False  # `status` without a supervisor: it looks, it records nothing
    poll._read_hooks(recs)
    assert store.hook_events_since(0) == [] and poll.states["c"].hook.event == "PostToolUse"
    sup = Supervisor(config, store, tmux=None)
    sup._read_hooks(recs)
    recorded = [e["event"] for e in store.hook_events_since(0)]
    assert recorded == ["UserPromptSubmit", "Notification", "Notification", "PostToolUse"]
    hook = sup.states["c"].hook
    assert hook.event == "PostToolUse" and hook.resumed_at == hook.at
    sup._read_hooks(recs)
    again = Supervisor(config, store, tmux=None)
    again._read_hooks(recs)
    subprocess.run([*argv[:-1], "Stop"], input="{}", text=True, timeout=30, check=True)
    again._read_hooks(recs)
    assert [e["event"] for e in store.hook_events_since(0)] == recorded + ["Stop"]
    assert again.states["c"].hook.event == "Stop"


@pytest.mark.parametrize("text", [
    "", "{", '{"at": 1.5, "event": "Stop", "da', "[1, 2]", '"Stop"', "null", '{"event": "Stop"}', '{"at": "soon", "event": "Stop"}',
    '{"at": NaN, "event": "Stop"}', '{"at": Infinity, "event": "Stop"}', "[" * 100_000 + "]" * 100_000,
    '{"at": 2.0, "event": "notify", "data": {"first_input": "Generate a concise, single-line task title"}}',
])
def test_an_events_file_line_that_says_nothing_is_skipped(text: str) -> None:
    """Torn or foreign lines, a time that is no time, and Codex's own title turn read as nothing."""
    from mission_control.core.hook_config import read_event_line

    assert read_event_line(text) is None


def test_an_events_file_line_is_read_as_the_appender_wrote_it() -> None:
    from mission_control.programs import hook_appender
    from mission_control.core.hook_config import read_event_line

    payload = {"hook_event_name": "Notification", "notification_type": "agent_needs_input", "message": "m\x00\n;$(x)", "prompt": "secret"}
    assert read_event_line(hook_appender.line("Notification", payload, 12.5).decode()) == (
        "Notification", {"hook_event_name": "Notification", "notification_type": "agent_needs_input", "message": "m\x00\n;$(x)"}, 12.5)
    assert read_event_line('{"at": 3, "event": 7, "data": "x"}') == ("unknown", {}, 3.0)  # no name given, none in the data
    assert read_event_line('{"at": 3, "event": "' + "E" * 500 + '"}')[0] == "E" * 64
