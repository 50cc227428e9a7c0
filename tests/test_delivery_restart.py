"""The task board's promise across supervisor kills (issue 19: "a task is never lost or run
twice"), on real tmux: a supervisor killed the moment it has typed a task, before it recorded
that, leaves the task submitted once (its Enter pressed by the tmux server, the pane marked
with the text's id) and the next supervisor does not type it again; and `done_when = "idle"`
finds a task done whose turn was shorter than a tick (never seen WORKING)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import fleet, kill_hard, retry_until, role_pid, run_cli, shell_agent
from mission_control.adapters.store import Store

pytestmark = pytest.mark.tmux

QUICK = ("while true; do printf '$ '; IFS= read -r x || exit; printf '%s\\n' \"$x\" >> {log}; done")
"""A prompt; each line typed at it logged at once, back to the prompt (a turn far shorter than a tick)."""

KILLED_WHEN_RECORDING = r"""
import os, signal, sys, time
from pathlib import Path
from mission_control.adapters.store import Store
from mission_control.adapters.tmux import Tmux
from mission_control.core.config import load_text
from mission_control.fleet.supervisor import Supervisor

cfg = Path(sys.argv[1])
config = load_text(cfg, cfg.read_text())
# the moment the typed text would be recorded as delivered, this supervisor is killed
Store.mark_delivered = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)
tmux = Tmux(config.socket)
tmux.enable_control(config.session)  # as `serve` does: its control client dies with it
sup = Supervisor(config, Store(config.store_path), tmux)
for _ in range(300):
    sup.tick()
    time.sleep(0.2)
"""


def board(cli, cfg: Path) -> dict[str, dict]:
    r = run_cli(cli, cfg, "task", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {t["id"]: t for t in json.loads(r.stdout)}


def test_a_supervisor_killed_once_it_typed_a_task_leaves_it_submitted_once(cli, tmp_path: Path) -> None:
    log = tmp_path / "typed.log"
    cfg = fleet(tmp_path, shell_agent("w1", QUICK.format(log=log)), stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    store = Store(tmp_path / ".mission-control" / "state.db")
    retry_until(lambda: store.latest_snapshot() and store.latest_snapshot().agent("w1").at_prompt, message="w1 at its prompt")
    kill_hard(role_pid(cli, "supervisor"))
    store.queue_delivery("w1", "message", "only once")
    killed = subprocess.run([sys.executable, "-c", KILLED_WHEN_RECORDING, str(cfg)], env=cli.env(), capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr  # killed having typed it, before it could record it
    assert [d["text"] for d in store.pending_deliveries()] == ["only once"]
    # submitted all the same: its Enter was the tmux server's to press
    retry_until(lambda: log.exists() and log.read_text() == "only once\n", timeout=30, message="submitted")
    r = run_cli(cli, cfg, "up", "--no-attach")  # the supervisor's normal restart
    assert r.returncode == 0 and "supervisor" in r.stdout, r.stdout + r.stderr
    retry_until(lambda: not store.pending_deliveries(), timeout=30, message="recorded as delivered by the next supervisor")
    outcomes = [a["outcome"] for a in store.actions(limit=100) if a["action"] == "deliver-message"]
    assert outcomes == ["typed by the supervisor before a restart (its pane says so): not typed again"]
    assert log.read_text() == "only once\n"  # never typed twice
    assert run_cli(cli, cfg, "down").returncode == 0


def test_done_when_idle_finds_a_turn_shorter_than_a_tick(cli, tmp_path: Path) -> None:
    log = tmp_path / "typed.log"
    tasks = "".join(f'\n[[task]]\nid = "q{i}"\nprompt = "quick {i}"\ndone_when = "idle"\n' for i in (1, 2, 3))
    cfg = fleet(tmp_path, shell_agent("w1", QUICK.format(log=log), "pull = true\n") + tasks, stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    done = retry_until(lambda: (b := board(cli, cfg)) and all(t["state"] == "done" for t in b.values()) and b,
                       timeout=60, message="every quick task done")
    assert log.read_text().splitlines() == ["quick 1", "quick 2", "quick 3"]  # each once, in order
    history = json.loads(run_cli(cli, cfg, "task", "show", "q1", "--json").stdout)["history"]
    assert [e["event"] for e in history] == ["add", "take", "worked", "done"], history
    assert all(t["owner"] == "w1" for t in done.values())
    assert run_cli(cli, cfg, "down").returncode == 0


def test_a_quick_idle_task_typed_by_a_killed_supervisor_is_done_by_the_next(cli, tmp_path: Path) -> None:
    """Killed the moment it typed the task (before it recorded it): the next supervisor finds the
    pane's mark, and counts the agent's quick answer to it as the turn `done_when = "idle"` needs."""
    log = tmp_path / "typed.log"
    cfg = fleet(tmp_path, shell_agent("w1", QUICK.format(log=log), "pull = true\n")
                + '\n[[task]]\nid = "q"\nprompt = "quick"\ndone_when = "idle"\n', stuck_after=60)
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    kill_hard(role_pid(cli, "supervisor"))
    killed = subprocess.run([sys.executable, "-c", KILLED_WHEN_RECORDING, str(cfg)], env=cli.env(), capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    retry_until(lambda: log.exists() and log.read_text() == "quick\n", timeout=30, message="submitted")
    assert board(cli, cfg)["q"]["state"] == "working"
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    task = retry_until(lambda: (t := board(cli, cfg)["q"])["state"] == "done" and t, timeout=60, message="done by the next supervisor")
    assert task["owner"] == "w1" and log.read_text() == "quick\n"
    assert run_cli(cli, cfg, "down").returncode == 0
