"""Agent hooks given through the agents' own launch options reach the classifier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import retry_until
from mission_control.adapters.store import Store
from mission_control.hooks import record_hook

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
        payload = {"hook_event_name": event, "session_id": "s1", "cwd": os.getcwd(),
                   "transcript_path": "/nonexistent/t.jsonl", "message": "Claude needs your permission"}
        for group in settings["hooks"].get(event, []):
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
    events = [e["event"] for e in Store(tmp_path / ".mission-control" / "state.db").hook_events_since(0)]
    assert events == ["UserPromptSubmit", "Notification", "Stop"]


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
    from mission_control.bringup import hook_args
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
