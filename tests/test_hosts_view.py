"""Issue 22 point 6, as the user runs it, against a real sshd on loopback as the second host
(`ssh_box`): a split fleet's agents all in the laptop's `status --json` with their host, fed by one
ssh stream per host (one watcher on the box); a cut link shows UNREACHABLE while the box's agents
keep running, and recovers by itself; pause, continue, send and inject act on the host, the value
never on any /proc/*/cmdline on either side, logged on both; `down` stops both sides and leaves
no ssh of ours running. (The view is fleet/host_view.py, the actions fleet/remote_actions.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from helpers import fleet, our_ssh_processes, retry_until, shell_agent


def _split(tmp_path: Path, box) -> Path:
    """"here" on this machine, "there" on the box (it writes SECRET_X, when given one, to `got`)."""
    script = tmp_path / "there.sh"
    script.write_text(f'if [ -n "$SECRET_X" ]; then printf %s "$SECRET_X" > {tmp_path / "got"}; fi\nexec bash\n')
    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\n'
                 + shell_agent("here", "bash") + shell_agent("there", f"sh {script}", 'host = "box"\n'))


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
    assert rows["here"]["host"] is None and rows["there"]["host"] == "box"
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
        assert "host 'box' unreachable" in down["reason"] and down["host"] == "box", down
        assert _rows(cli, split, ssh_box)["here"]["status"] != "UNREACHABLE"
    finally:
        os.kill(ssh_box.proc.pid, signal.SIGCONT)
    # the box's agent kept running there, and the view comes back by itself
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"]).returncode == 0
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent back once the link is back")


def _proc_cmdlines() -> list[bytes]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    out.append(f.read())
            except OSError:
                pass
    return out


def test_actions_on_a_remote_agent_run_there_values_on_stdin_logged_on_both_sides(cli, split: Path, ssh_box) -> None:
    import threading

    env = _env(ssh_box)
    retry_until(lambda: _rows(cli, split, ssh_box).get("there", {}).get("status") in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent up")
    r = cli("pause", "there", "-c", str(split), **env)
    assert r.returncode == 0 and "there" in r.stdout, (r.stdout, r.stderr)
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] == "PAUSED", timeout=30, message="there PAUSED")
    r = cli("continue", "there", "-c", str(split), **env)
    assert r.returncode == 0, r.stderr
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] != "PAUSED", timeout=30, message="there continued")

    # inject: the value never on a command line, here or on the box (both are this machine's /proc)
    secret = "s3cr3t-" + os.urandom(6).hex() + " $(touch pwned); 'q\" `x`"
    seen: list[bytes] = []
    done = threading.Event()

    def scan() -> None:
        while not done.is_set():
            seen.extend(c for c in _proc_cmdlines() if secret.split(" ")[0].encode() in c)

    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    try:
        r = subprocess.run([sys.executable, "-m", "mission_control", "inject", "there", "-c", str(split)], input=f"SECRET_X={secret}\n",
                           env=cli.env(**env), cwd=cli.cwd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "SECRET_X" in r.stdout, (r.stdout, r.stderr)
        assert secret not in r.stdout + r.stderr
        got = split.parent / "got"
        retry_until(got.exists, timeout=60, message="the box's agent respawned with the value")
        assert got.read_bytes() == secret.encode()
        # send: the text on stdin too
        r = subprocess.run(
            [sys.executable, "-m", "mission_control", "send", "there", "-c", str(split)], input="echo sent-over-ssh", env=cli.env(**env), cwd=cli.cwd,
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
    finally:
        done.set()
        scanner.join(timeout=10)
    assert not seen, "an injected value was on a command line"
    retry_until(lambda: "sent-over-ssh" in subprocess.run(["tmux", "-L", ssh_box.socket, "capture-pane", "-p", "-t", "t"],
                                                           capture_output=True, text=True).stdout, timeout=30,
                message="the sent text in the box's pane")
    # the action log: here with the host named, there by the host's own command; never the value
    here = cli("log", "-c", str(split), **env).stdout
    there = ssh_box.ssh("cd && mission-control log -c .mission-control-hosts/t/agents.toml").stdout
    for verb in ("pause", "continue", "inject", "send"):
        assert verb in here and verb in there, (verb, here, there)
    assert "on host box" in here and secret not in here + there
    # the value is kept on the box only, in its fleet's private file; nothing of it here
    stored = list((ssh_box.home / ".mission-control-hosts" / "t").rglob("agents/there/env"))
    assert stored and oct(stored[0].stat().st_mode & 0o777) == "0o600"
    assert json.loads(stored[0].read_text()) == {"SECRET_X": secret}
    assert not any(secret.split(" ")[0].encode() in f.read_bytes() for f in (split.parent / ".mission-control").rglob("*")
                   if f.is_file())


def _our_ssh(box, cfg: Path) -> list[str]:
    """ssh processes of ours to the box still running here: its feed (`-F` the box's ssh config)
    and the master connection (`ssh: <its ControlPath> [mux]`)."""
    from mission_control.adapters.ssh import SSH_CONFIG_ENV, SshHost
    from mission_control.fleet.locate import load_config

    os.environ[SSH_CONFIG_ENV] = str(box.ssh_config)
    try:
        argv = SshHost(load_config(cfg).hosts[0]).argv("")
    finally:
        del os.environ[SSH_CONFIG_ENV]
    prefix = next(o for o in argv if o.startswith("ControlPath=")).removeprefix("ControlPath=").removesuffix("%C")
    lines = []
    for p in our_ssh_processes(box.ssh_config, [prefix]):
        try:
            lines.append(" ".join(p.cmdline()))
        except psutil.Error:
            pass  # ended meanwhile
    return lines


def test_down_leaves_no_ssh_of_ours_running(cli, split: Path, ssh_box) -> None:
    retry_until(lambda: _rows(cli, split, ssh_box).get("there", {}).get("status") in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent in the laptop's status")
    retry_until(lambda: any("[mux]" in line for line in _our_ssh(ssh_box, split)), timeout=15,
                message="the box's master connection while the fleet runs")
    down = cli("down", "-c", str(split), **_env(ssh_box))
    assert down.returncode == 0, down.stderr
    retry_until(lambda: not _our_ssh(ssh_box, split), timeout=15, message="no ssh of ours left after down")
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"], capture_output=True).returncode != 0
