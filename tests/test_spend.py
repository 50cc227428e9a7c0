"""Spend per agent through the running supervisor: exact tokens from the agent's own records,
the same after a supervisor restart, and budgets that pause."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers import kill_hard, pane_of, retry_until, role_pid, run_cli, status_of, up
from mission_control.adapters.store import Store

pytestmark = pytest.mark.tmux

# A stand-in for `claude` that writes a transcript the way Claude Code does: under
# $HOME/.claude/projects/<slug>/<session>.jsonl, one response over several lines sharing
# message.id (streamed usage grows), with the cwd recorded in each line.
FAKE_CLAUDE = r"""
import json, os, sys, time, uuid
from datetime import datetime, timezone
home = os.environ["HOME"]
cwd = os.getcwd()
folder = os.path.join(home, ".claude", "projects", cwd.replace("/", "-").replace(".", "-"))
os.makedirs(folder, exist_ok=True)
path = os.path.join(folder, str(uuid.uuid4()) + ".jsonl")
def ts():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
responses = json.loads(os.environ["FAKE_RESPONSES"])
with open(path, "a") as f:
    for i, (inp, out, cw, cr) in enumerate(responses):
        for part in (1, 2):  # the same response twice: first partial usage, then the final one
            usage = {"input_tokens": inp, "output_tokens": out if part == 2 else 1,
                     "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr}
            line = {"type": "assistant", "cwd": cwd, "sessionId": "s", "timestamp": ts(), "requestId": f"req_{i}",
                    "message": {"id": f"msg_{i}", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                                "usage": usage, "content": [{"type": "text", "text": "ok"}]}}
            f.write(json.dumps(line) + "\n"); f.flush()
print("wrote transcript", flush=True)
time.sleep(1000)
"""

RESPONSES = [(10, 200, 5000, 0), (3, 120, 100, 5000), (7, 50, 0, 5100)]




def test_claude_tokens_are_exact_and_survive_a_supervisor_restart(cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "fakeclaude.py"
    script.write_text(FAKE_CLAUDE)
    cfg = up(cli, tmp_path,
             f'[[agent]]\nname = "c"\nkind = "claude"\ncwd = "{work}"\ncommand = "{sys.executable} {script}"\n'
             f"env = {{ HOME = \"{home}\", FAKE_RESPONSES = '{json.dumps(RESPONSES)}' }}\n")
    want_in = sum(r[0] for r in RESPONSES)
    got = retry_until(lambda: (r := status_of(cli, cfg, "c")).get("tokens_in") == want_in and r, message="tokens read")
    assert got["tokens_out"] == sum(r[1] for r in RESPONSES)  # each response once, at its largest usage
    assert got["tokens_cache_write"] == sum(r[2] for r in RESPONSES)
    assert got["tokens_cache_read"] == sum(r[3] for r in RESPONSES)
    assert got["cost_usd"] is not None and got["cost_usd"] > 0
    assert "claude-sonnet-4-5" in " ".join(got["models"])

    # kill the supervisor; `up` starts it again; the totals are the same
    kill_hard(role_pid(cli, "supervisor"))
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    before_id = got["cost_usd"]
    again = retry_until(lambda: (r := status_of(cli, cfg, "c")).get("tokens_in") == want_in and r, message="re-read after restart")
    assert (again["tokens_out"], again["tokens_cache_read"], again["tokens_cache_write"], again["cost_usd"]) == (
        got["tokens_out"], got["tokens_cache_read"], got["tokens_cache_write"], before_id)


AGENT_TOML = r"""
[[agent]]
name = "spender"
kind = "shell"
budget_usd = 1.0
tokens = { cost = 'Cost: \$([0-9.]+) message', tokens_in = 'Tokens: ([0-9.k]+) sent' }
# 3 x $0.30 = 90 % of the budget; then, when the test says so, more
command = '''for i in 1 2 3; do echo 'Tokens: 1k sent. Cost: $0.30 message'; done; echo 'waiting for more work'; while [ ! -e GO ]; do sleep 0.1; done; while true; do echo 'Tokens: 1k sent. Cost: $0.30 message'; sleep 0.4; done'''
"""


def test_budget_warns_then_pauses_through_the_pause_action(cli, tmp_path: Path) -> None:
    go = tmp_path / "go"
    cfg = up(cli, tmp_path, AGENT_TOML.replace("GO", str(go)))
    warned = retry_until(lambda: (r := status_of(cli, cfg, "spender")).get("budget_state") == "warn" and r, message="warning at 80 %")
    assert warned["status"] != "PAUSED" and abs(warned["cost_usd"] - 0.9) < 1e-9
    go.write_text("")
    r = retry_until(lambda: (x := status_of(cli, cfg, "spender")).get("status") == "PAUSED" and x, timeout=45, message="paused at its budget")
    assert r["reason"].startswith("budget reached: $")
    assert r["budget_state"] == "over" and r["cost_usd"] >= 1.0
    log = run_cli(cli, cfg, "log").stdout
    assert "supervisor" in log and "pause" in log and "budget reached" in log
    budget = [json.loads(line) for line in run_cli(cli, cfg, "events", "--json").stdout.splitlines()]
    budget = [(e["agent"], e["state"]) for e in budget if e["kind"] == "budget"]
    assert budget == [("spender", "warn"), ("spender", "over")]  # the event stream (issue 20 point 3): each crossing once
    # paused means paused: the agent prints nothing more, so its screen and spend stay put
    pane = pane_of(cli, "spender")
    screen = cli.tmux("capture-pane", "-p", "-t", pane)
    frozen = status_of(cli, cfg, "spender")["cost_usd"]
    retry_until(lambda: status_of(cli, cfg, "spender")["tokens_in"] is not None)  # one more full poll
    assert cli.tmux("capture-pane", "-p", "-t", pane) == screen
    assert status_of(cli, cfg, "spender")["cost_usd"] == frozen


SCREEN_TOML = r"""
[[agent]]
name = "printer"
kind = "shell"
tokens = { cost = 'Cost: \$([0-9.]+) message', tokens_in = 'Tokens: ([0-9.k]+) sent' }
command = '''echo 'Tokens: 2k sent. Cost: $0.25 message'; echo 'Tokens: 1k sent. Cost: $0.50 message'; sleep 2; seq 1 150; echo idle; sleep 1000'''
"""


def test_spend_read_from_the_screen_survives_a_supervisor_restart(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, SCREEN_TOML)
    first = retry_until(lambda: (r := status_of(cli, cfg, "printer")).get("cost_usd") == 0.75 and r, message="read from the screen")
    retry_until(lambda: status_of(cli, cfg, "printer").get("last_line") == "idle", message="the cost lines scrolled away")
    assert "Cost" not in cli.tmux("capture-pane", "-p", "-S", "-20", "-t", "t:fleet.1")
    assert first["tokens_in"] == 3000
    kill_hard(role_pid(cli, "supervisor"))
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    from mission_control.adapters.supervisor_lock import supervisor_alive

    retry_until(lambda: supervisor_alive(tmp_path / ".mission-control"), message="a new supervisor")
    before = Store(tmp_path / ".mission-control" / "state.db").latest_tick()
    retry_until(lambda: Store(tmp_path / ".mission-control" / "state.db").latest_tick() > before + 2)
    again = status_of(cli, cfg, "printer")
    assert (again["cost_usd"], again["tokens_in"]) == (0.75, 3000)  # neither lost nor counted twice


FAKE_AIDER = r"""
import sys
print("Aider v0.86.2")
print("Main model: gpt-4o with diff edit format")
print("─" * 60)
while True:
    try:
        line = input("> ")
    except EOFError:
        break
    print("Working on:", line)
    print("Tokens: 1.2k sent, 345 received. Cost: $0.01 message, $0.05 session.")
"""


def test_aider_gets_its_task_typed_and_its_printed_spend_is_read(cli, tmp_path: Path) -> None:
    work = tmp_path / "work"  # no .aider.chat.history.md here: the meter reads what aider printed
    work.mkdir()
    script = tmp_path / "fakeaider.py"
    script.write_text(FAKE_AIDER)
    cfg = up(cli, tmp_path,
             f'[[agent]]\nname = "ai"\nkind = "aider"\ncwd = "{work}"\ncommand = "{sys.executable} {script}"\n'
             'task = "Fix the flaky test"\n')
    r = retry_until(lambda: (x := status_of(cli, cfg, "ai")).get("tokens_in") and x, timeout=45, message="task typed, spend read")
    assert (r["tokens_in"], r["tokens_out"]) == (1200, 345)
    assert r["cost_usd"] == 0.05 and r["cost_source"] == "reported by agent"  # aider's own session cost
    assert "Working on: Fix the flaky test" in cli.tmux("capture-pane", "-p", "-t", "t:fleet.1")


def test_spend_printed_after_a_restart_is_counted(cli, tmp_path: Path) -> None:
    """Restart and inject respawn the pane; the output log must follow the new run too."""
    cfg = up(cli, tmp_path,
             '[[agent]]\nname = "p"\nkind = "shell"\n'
             "tokens = { cost = 'Cost: \\$([0-9.]+) message' }\n"
             "command = '''echo 'Cost: $0.25 message'; sleep 1000'''\n")
    retry_until(lambda: status_of(cli, cfg, "p").get("cost_usd") == 0.25, message="the first run's spend")
    assert run_cli(cli, cfg, "restart", "p").returncode == 0
    retry_until(lambda: status_of(cli, cfg, "p").get("cost_usd") == 0.5, message="the second run's spend, read from its output")
