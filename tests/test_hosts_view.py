"""One view over several hosts, and actions on remote agents (issue 22 points 2-3), against a real
sshd on loopback as the second host (`ssh_box`): the laptop's `status --json` shows every agent
with its host, fed by one ssh stream per host; a cut link shows UNREACHABLE and recovers by itself;
pause, continue, send and inject act on the host over the same connection, values on stdin only."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from helpers import fleet, retry_until, shell_agent


def _split(tmp_path: Path, box) -> Path:
    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\n'
                 + shell_agent("here", "bash") + shell_agent("there", "bash", 'host = "box"\n'))


def _env(box) -> dict[str, str]:
    return {"MISSION_CONTROL_SSH_CONFIG": str(box.ssh_config)}


def _rows(cli, cfg: Path, box) -> dict[str, dict]:
    return {a["name"]: a for a in cli.status("-c", str(cfg), **_env(box))}


def _sshd_sessions(box) -> list[psutil.Process]:
    assert box.proc is not None
    return psutil.Process(box.proc.pid).children(recursive=True)


@pytest.fixture
def split(cli, tmp_path: Path, ssh_box):
    cfg = _split(tmp_path, ssh_box)
    up = cli("up", "--no-attach", "-c", str(cfg), **_env(ssh_box))
    assert up.returncode == 0, up.stderr
    try:
        yield cfg
    finally:
        cli("down", "-c", str(cfg), **_env(ssh_box))


def test_status_shows_every_host_s_agents_and_a_cut_link_recovers(cli, split: Path, ssh_box) -> None:
    rows = retry_until(lambda: (r := _rows(cli, split, ssh_box)) and r.get("there", {}).get("status") in ("WORKING", "IDLE") and r,
                       timeout=60, message="the box's agent in the laptop's status")
    assert rows["here"]["host"] == "local" and rows["there"]["host"] == "box"
    retry_until(lambda: _rows(cli, split, ssh_box)["there"].get("host_latency_ms") is not None, timeout=30,
                message="the box's round trip measured")
    text = cli("status", "-c", str(split), **_env(ssh_box)).stdout
    assert "HOST" in text.splitlines()[0] and "box " in text, text
    # one stream per host, not a process per agent per tick: a single `status --json --watch` runs on the box
    def watching(p: psutil.Process) -> bool:
        try:
            return "--watch" in p.cmdline() and p.cwd().startswith(str(ssh_box.home))
        except psutil.Error:
            return False

    watchers = [p for p in psutil.process_iter() if watching(p)]
    assert len(watchers) == 1, [p.cmdline() for p in watchers]

    # cut the link: new connections hang (the listener stopped), the open ones are killed
    assert ssh_box.proc is not None
    os.kill(ssh_box.proc.pid, signal.SIGSTOP)
    try:
        for session in _sshd_sessions(ssh_box):
            session.kill()
        down = retry_until(lambda: (a := _rows(cli, split, ssh_box)["there"])["status"] == "UNREACHABLE" and a,
                           timeout=40, message="the box's agent UNREACHABLE once the link is cut")
        assert "host box unreachable, last snapshot" in down["reason"] and down["host"] == "box", down
        assert _rows(cli, split, ssh_box)["here"]["status"] != "UNREACHABLE"
    finally:
        os.kill(ssh_box.proc.pid, signal.SIGCONT)
    # the box's agent kept running there, and the view comes back by itself
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"]).returncode == 0
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent back once the link is back")
