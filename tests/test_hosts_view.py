"""One view over several hosts, and actions on remote agents (issue 22 points 2-3), against a real
sshd on loopback as the second host (`ssh_box`): the laptop's `status --json` shows every agent
with its host, fed by one ssh stream per host; a cut link shows UNREACHABLE and recovers by itself;
pause, continue, send and inject act on the host over the same connection, values on stdin only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from helpers import fleet, retry_until, shell_agent


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
    assert r.returncode == 0 and "on host box" in r.stdout, (r.stdout, r.stderr)
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
        r = subprocess.run([*cli_argv(), "inject", "there", "-c", str(split)], input=f"SECRET_X={secret}\n",
                           env=cli.env(**env), cwd=cli.cwd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "on host box" in r.stdout and "SECRET_X" in r.stdout, (r.stdout, r.stderr)
        assert secret not in r.stdout + r.stderr
        got = split.parent / "got"
        retry_until(got.exists, timeout=60, message="the box's agent respawned with the value")
        assert got.read_bytes() == secret.encode()
        # send: the text on stdin too
        r = subprocess.run(
            [*cli_argv(), "send", "there", "-c", str(split)], input="echo sent-over-ssh", env=cli.env(**env), cwd=cli.cwd,
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "on host box" in r.stdout, (r.stdout, r.stderr)
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


def test_the_dashboards_actions_and_mixed_commands_reach_each_agent_where_it_runs(cli, split: Path, ssh_box, monkeypatch) -> None:
    from mission_control.fleet.actions import ActionError
    from mission_control.fleet.host_actions import fleet_actions
    from mission_control.fleet.locate import load_config

    env = _env(ssh_box)
    retry_until(lambda: all(a["status"] in ("WORKING", "IDLE") for a in _rows(cli, split, ssh_box).values()), timeout=60,
                message="both agents up")
    r = cli("pause", "here", "there", "-c", str(split), **env)  # one command, two hosts: each done where it runs
    assert r.returncode == 0, (r.stdout, r.stderr)
    retry_until(lambda: {a["status"] for a in _rows(cli, split, ssh_box).values()} == {"PAUSED"}, timeout=30,
                message="both PAUSED")
    assert cli("continue", "here", "there", "-c", str(split), **env).returncode == 0
    retry_until(lambda: "PAUSED" not in {a["status"] for a in _rows(cli, split, ssh_box).values()}, timeout=30,
                message="both continued")
    # the dashboard's keys: the same actions object (`fleet_actions`), toggling by what the view shows
    monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(ssh_box.ssh_config))
    acts = fleet_actions(load_config(split), actor="dashboard")
    outcome = acts.toggle_pause("there")
    assert outcome.ok and "on host box" in outcome.message, outcome
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] == "PAUSED", timeout=30, message="paused by the key")
    assert acts.toggle_pause("there").ok
    retry_until(lambda: _rows(cli, split, ssh_box)["there"]["status"] != "PAUSED", timeout=30, message="continued by the key")
    assert "on host box" in acts.plan_resume("there").description
    # what is not sent to a host yet says so in one line, naming it
    with pytest.raises(ActionError, match="'there' runs on host 'box': this action is not supported on another host yet"):
        acts.zoom("there")


def cli_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "mission_control"]


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
    out = []
    for p in psutil.process_iter():
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if line.startswith("ssh") and (str(box.ssh_config) in line or prefix in line):
            out.append(line)
    return out


def test_down_leaves_no_ssh_of_ours_running(cli, split: Path, ssh_box) -> None:
    retry_until(lambda: _rows(cli, split, ssh_box).get("there", {}).get("status") in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent in the laptop's status")
    retry_until(lambda: any("[mux]" in line for line in _our_ssh(ssh_box, split)), timeout=15,
                message="the box's master connection while the fleet runs")
    down = cli("down", "-c", str(split), **_env(ssh_box))
    assert down.returncode == 0, down.stderr
    retry_until(lambda: not _our_ssh(ssh_box, split), timeout=15, message="no ssh of ours left after down")
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"], capture_output=True).returncode != 0


# ------------------------------------------------------------------ pure: what the view shows, without ssh


def _feed(tmp_path: Path):
    from mission_control.core.config import load_text
    from mission_control.fleet.host_feed import HostFeed

    cfg = load_text(tmp_path / "agents.toml", '[[host]]\nname = "box"\nssh = "me@box"\n' + shell_agent("here", "bash")
                    + shell_agent("there", "bash", 'host = "box"\n'), environ={})
    return HostFeed(cfg.hosts[0], cfg, log_dir=tmp_path, clock=lambda: 1000.0)


def test_a_feed_shows_connecting_then_the_hosts_agents_then_unreachable_with_the_snapshots_age(tmp_path: Path) -> None:
    from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status

    feed = _feed(tmp_path)
    (a,) = feed.agents(1000.0)
    assert (a.name, a.status, a.host) == ("there", Status.STARTING, "box") and "connecting" in a.reason
    feed._ended("ssh: connect to host box port 22: Connection refused")
    (a,) = feed.agents(1001.0)
    assert a.status is Status.UNREACHABLE and "no snapshot yet: ssh: connect to host box" in a.reason
    feed.snapshot = FleetSnapshot(990.0, "t", (AgentSnapshot("there", "shell", Status.WORKING, pid=7),))
    feed.received_at, feed.connected, feed.down_since, feed.latency_ms = 995.0, True, None, 2.5
    (a,) = feed.agents(1000.0)
    assert (a.status, a.host, a.host_latency_ms, a.pid) == (Status.WORKING, "box", 2.5, 7)
    assert a.to_json()["host"] == "box" and AgentSnapshot("x", "shell").to_json()["host"] == "local"
    feed._ended("Connection to 127.0.0.1 closed by remote host.")
    (a,) = feed.agents(1095.0)
    assert a.status is Status.UNREACHABLE and a.host_latency_ms is None and a.since == 1000.0
    assert a.reason == "host box unreachable, last snapshot 1m40s ago: Connection to 127.0.0.1 closed by remote host."


def test_the_dashboard_shows_a_host_column_only_with_other_hosts_and_never_cuts_unreachable() -> None:
    from mission_control.core.model import AgentSnapshot, Status
    from mission_control.ui.widgets.agent_table import CELLS, content_widths, fit_columns, status_cell

    here = AgentSnapshot("here", "shell", Status.WORKING)
    there = AgentSnapshot("there", "shell", Status.UNREACHABLE, host="box", host_latency_ms=3.2)
    alone = dict((k, w) for k, _, w in fit_columns(100, content_widths([here])))
    assert "host" not in alone and alone["status"] == 10
    both = dict((k, w) for k, _, w in fit_columns(100, content_widths([here, there])))
    assert both["host"] == len("box 3ms") and both["status"] == len("UNREACHABLE")
    assert str(CELLS["host"](there, 0.0)) == "box 3ms" and str(CELLS["host"](here, 0.0)) == "local"
    assert str(status_cell(there)) == "UNREACHABLE"
