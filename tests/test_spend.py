"""Spend per agent through the running supervisor: exact tokens from the agent's own records,
the same after a supervisor restart, and budgets that pause."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import retry_until

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


def run_cli(cli, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mission_control", *args, "-c", str(cfg)],
                          cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, timeout=60)


def row(cli, cfg: Path, name: str) -> dict:
    return {r["name"]: r for r in cli.status("-c", str(cfg))}.get(name, {})


def test_claude_tokens_are_exact_and_survive_a_supervisor_restart(cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "fakeclaude.py"
    script.write_text(FAKE_CLAUDE)
    cfg = tmp_path / "agents.toml"
    cfg.write_text(
        '[mission]\nsession = "t"\npoll_interval = 0.3\n'
        f'[[agent]]\nname = "c"\nkind = "claude"\ncwd = "{work}"\ncommand = "{sys.executable} {script}"\n'
        f"env = {{ HOME = \"{home}\", FAKE_RESPONSES = '{json.dumps(RESPONSES)}' }}\n"
    )
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    want_in = sum(r[0] for r in RESPONSES)
    got = retry_until(lambda: (r := row(cli, cfg, "c")).get("tokens_in") == want_in and r, message="tokens read")
    assert got["tokens_out"] == sum(r[1] for r in RESPONSES)  # each response once, at its largest usage
    assert got["tokens_cache_write"] == sum(r[2] for r in RESPONSES)
    assert got["tokens_cache_read"] == sum(r[3] for r in RESPONSES)
    assert got["cost_usd"] is not None and got["cost_usd"] > 0
    assert "claude-sonnet-4-5" in " ".join(got["models"])

    # kill the supervisor; `up` starts it again; the totals are the same
    sup = [ln.split() for ln in cli.tmux("list-panes", "-a", "-F", "#{pane_pid} #{@mc_role}").splitlines()]
    (pid,) = [int(p[0]) for p in sup if len(p) > 1 and p[1] == "supervisor"]
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    before_id = got["cost_usd"]
    again = retry_until(lambda: (r := row(cli, cfg, "c")).get("tokens_in") == want_in and r, message="re-read after restart")
    assert (again["tokens_out"], again["tokens_cache_read"], again["tokens_cache_write"], again["cost_usd"]) == (
        got["tokens_out"], got["tokens_cache_read"], got["tokens_cache_write"], before_id)


def test_budget_warns_then_pauses_through_the_pause_action(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "agents.toml"
    cfg.write_text(
        '[mission]\nsession = "t"\npoll_interval = 0.3\n'
        '[[agent]]\nname = "spender"\nkind = "shell"\nbudget_usd = 1.0\n'
        "tokens = { cost = 'Cost: \\$([0-9.]+) message', tokens_in = 'Tokens: ([0-9.k]+) sent' }\n"
        "command = '''for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo 'Tokens: 1k sent. Cost: $0.30 message'; sleep 0.4; done; sleep 1000'''\n"
    )
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    seen_states: set[str] = set()

    def paused() -> dict | None:
        r = row(cli, cfg, "spender")
        seen_states.add(r.get("budget_state", ""))
        return r if r.get("status") == "PAUSED" else None

    r = retry_until(paused, timeout=30, message="paused at its budget")
    assert r["reason"].startswith("budget reached: $")
    assert r["budget_state"] == "over"
    assert "warn" in seen_states or "ok" in seen_states
    log = run_cli(cli, cfg, "log").stdout
    assert "supervisor" in log and "pause" in log and "budget reached" in log
    cost_when_paused = r["cost_usd"]
    # paused means paused: the agent prints nothing more
    retry_until(lambda: row(cli, cfg, "spender")["cost_usd"] == cost_when_paused)
    assert cost_when_paused < 1.0 + 0.3 * 3
