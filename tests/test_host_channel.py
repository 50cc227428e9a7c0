"""Issue 22 point 7: one action channel per host (fleet/host_channel.py), against a real sshd on
loopback as the second host (`ssh_box`): an action goes through the channel (no new ssh or
mission-control per action) and is logged on both sides; a killed channel is restarted for the next
action, one lost mid-request is one failure line and never a second run; an injected value travels
inside the channel's JSON, never on any /proc/*/cmdline; a host without the channel gets one-shot ssh."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import sys
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from helpers import retry_until
from test_hosts_actions import CmdlineWatch, _box_log, _split, _up
from test_hosts_view import _env, _rows

pytestmark = pytest.mark.tmux


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch):
    from mission_control.fleet import remote_actions

    yield remote_actions
    remote_actions.close_channels()


def _acts(cfg: Path, box, cli, monkeypatch: pytest.MonkeyPatch):
    from mission_control.fleet.actions import FleetActions
    from mission_control.fleet.locate import load_config

    monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(box.ssh_config))
    monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
    config = load_config(cfg)
    return config, FleetActions(config, actor="dashboard")


def _channel_pids(box) -> set[int]:
    """The processes running this box's channel: the laptop's ssh (given the box's ssh config) and
    the box's end (in the box's HOME). Not another test's, running at the same time."""
    out = set()
    for p in psutil.process_iter():
        try:
            line = " ".join(p.cmdline())
            if "host-channel" in line and (str(box.ssh_config) in line or p.cwd().startswith(str(box.home))):
                out.add(p.pid)
        except psutil.Error:
            pass
    return out


def _times(log: str, action: str) -> int:
    """How many lines of an action log (`mission-control log`) record `action`."""
    return sum(1 for line in log.splitlines() if line.split()[3:4] == [action])


def _status(cli, cfg, box, name: str) -> str | None:
    return _rows(cli, cfg, box).get(name, {}).get("status")


def _in_view(cli, cfg, box, monkeypatch):
    """Once the box's agent shows in the laptop's view: the config and the dashboard's actions."""
    retry_until(lambda: _status(cli, cfg, box, "there") in ("WORKING", "IDLE"), timeout=60,
                message="the box's agent in the laptop's view")
    return _acts(cfg, box, cli, monkeypatch)


@contextmanager
def _open_channel(cli, tmp_path: Path, box, monkeypatch, channels, **split: str):
    """A split fleet up (the box's agent in the laptop's view) with the laptop's channel to the box
    open: (its config file, the config, the dashboard's actions, the channel); afterwards the
    channels closed and both sides down."""
    cfg = _split(tmp_path, box, **split)
    _up(cli, cfg, box)
    try:
        config, acts = _in_view(cli, cfg, box, monkeypatch)
        channels.keep_channels(config, wait=True)
        yield cfg, config, acts, channels._channel(config, config.hosts[0])
    finally:
        channels.close_channels()
        cli("down", "-c", str(cfg), **_env(box))


def test_actions_go_through_one_channel_logged_on_both_sides_and_a_killed_one_restarts(
        cli, tmp_path: Path, ssh_box, monkeypatch, channels) -> None:
    with _open_channel(cli, tmp_path, ssh_box, monkeypatch, channels, there="bash") as (cfg, config, acts, channel):
        assert channel.alive()
        first = channel.proc.pid
        for verb in ("pause", "continue", "pause"):
            outcome = acts.on_host("there", [verb, "there"])
            assert outcome is not None and outcome.ok, outcome
            assert channel.proc.pid == first  # the same channel each time, no new ssh per action
        retry_until(lambda: _status(cli, cfg, ssh_box, "there") == "PAUSED", timeout=30, message="paused on the box")
        here = cli("log", "-c", str(cfg), **_env(ssh_box)).stdout
        there = _box_log(ssh_box)
        assert here.count("on host box") >= 3 and "dashboard" in here, here
        assert _times(there, "pause") == 2 and _times(there, "continue") == 1, there

        # the channel dies between actions (its ssh killed): the next action starts a new one and runs once
        os.kill(first, 9)
        retry_until(lambda: not channel.alive(), timeout=10, message="the channel dead")
        outcome = acts.on_host("there", ["continue", "there"])
        assert outcome is not None and outcome.ok, outcome
        assert channel.alive() and channel.proc.pid != first
        retry_until(lambda: _status(cli, cfg, ssh_box, "there") != "PAUSED", timeout=30, message="continued on the box")
        assert _times(_box_log(ssh_box), "continue") == 2
    retry_until(lambda: not _channel_pids(ssh_box), timeout=15, message="no channel left on either side")


def test_a_channel_lost_mid_request_is_one_failure_line_never_a_second_run(
        cli, tmp_path: Path, ssh_box, monkeypatch, channels) -> None:
    with _open_channel(cli, tmp_path, ssh_box, monkeypatch, channels, there="bash") as (cfg, config, acts, channel):
        # a request whose answer never comes: the channel's reader is stopped (SIGSTOP on the box's end),
        # then the channel killed while the laptop waits for the answer
        remote = [p for p in _channel_pids(ssh_box) if "ssh" not in psutil.Process(p).name()]
        assert remote, "the box's end of the channel"
        for pid in remote:
            os.kill(pid, 19)
        killer = threading.Timer(1.0, lambda: [os.kill(pid, 9) for pid in remote])
        killer.start()
        outcome = acts.on_host("there", ["pause", "there"])
        killer.join()
        assert outcome is not None and not outcome.ok
        assert "may or may not have been done" in outcome.message and "\n" not in outcome.message
        assert _times(_box_log(ssh_box), "pause") == 0  # it never ran there, and was not retried
        # the next action gets a new channel
        outcome = acts.on_host("there", ["pause", "there"])
        assert outcome is not None and outcome.ok, outcome
        assert _times(_box_log(ssh_box), "pause") == 1


def test_an_injected_value_travels_inside_the_channel_never_on_a_command_line(
        cli, tmp_path: Path, ssh_box, monkeypatch, channels) -> None:
    with _open_channel(cli, tmp_path, ssh_box, monkeypatch, channels) as (cfg, config, acts, channel):
        secret = "s3cr3t-" + os.urandom(6).hex() + " $(touch pwned); 'q\" `x` \\ ünï"
        before = channel.proc.pid
        with CmdlineWatch(secret.split(" ")[0].encode()) as watch:
            result = channels.run_on_host(config, config.hosts[0], ["inject", "there"],
                                          stdin=channels.env_text({"SECRET_X": secret}), actor="dashboard")
            assert result.code == 0, result
            got = tmp_path / "got"
            retry_until(got.exists, timeout=60, message="the box's agent respawned with the value")
        assert got.read_bytes() == secret.encode()
        assert channels._channel(config, config.hosts[0]).proc.pid == before  # through the channel
        assert not watch.seen, "an injected value was on a command line"
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
        here = cli("log", "-c", str(cfg), **_env(ssh_box)).stdout
        there = _box_log(ssh_box)
        assert "inject" in here and "on host box" in here and "inject" in there
        assert secret.split(" ")[0] not in here + there


def test_the_hosts_end_runs_whole_lines_only_and_keeps_its_answers_apart() -> None:
    """The host's end alone: a request line is one answer line; what a command writes to fd 1 does not
    reach the wire; a line that is not a request, or names a command a channel does not run, is one answer with
    exit 2; a last line without its newline never runs."""
    script = (
        "import os, sys\n"
        "from mission_control.fleet.host_channel import serve\n"
        "def run(argv):\n"
        "    os.write(1, b'noise on fd 1\\n')\n"
        "    print('out:' + ' '.join(argv) + ':' + sys.stdin.read())\n"
        "    if argv[0] == 'fail': raise SystemExit(2)\n"
        "    return 0\n"
        "sys.exit(serve(run, 'cfg.toml', ('pause', 'fail', 'never')))\n")
    lines = [json.dumps({"words": ["pause", "a"], "stdin": "x\ny", "actor": "t"}), "not json",
             json.dumps({"words": ["fail"], "stdin": ""}), json.dumps({"words": ["supervise"], "stdin": ""}),
             json.dumps({"words": ["never"], "stdin": ""})]
    r = subprocess.run([sys.executable, "-c", script], input="\n".join(lines), capture_output=True, text=True, timeout=60)
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert answers[0] == {"ready": 1}
    assert answers[1] == {"code": 0, "stdout": "out:pause a -c cfg.toml:x\ny\n", "stderr": ""}
    assert answers[2]["code"] == 2 and "not a request" in answers[2]["stderr"]
    assert answers[3]["code"] == 2 and answers[3]["stdout"].startswith("out:fail")
    assert answers[4]["code"] == 2 and "not an action a channel runs" in answers[4]["stderr"]  # never run
    assert len(answers) == 5 and "never" not in r.stdout


def test_a_host_whose_channel_does_not_start_gets_one_shot_ssh(cli, tmp_path: Path, ssh_box, monkeypatch, channels) -> None:
    """A channel that cannot start (an older mission-control there: no `host-channel`) leaves the
    action to the one-shot ssh, and is not tried again for each action."""
    cfg = _split(tmp_path, ssh_box, there="bash")
    _up(cli, cfg, ssh_box)
    try:
        config, acts = _in_view(cli, cfg, ssh_box, monkeypatch)
        channels.keep_channels()
        channel = channels._channel(config, config.hosts[0])
        channel.remote_line = "cd && exec mission-control host-channel-of-another-version"
        outcome = acts.on_host("there", ["pause", "there"])
        assert outcome is not None and outcome.ok, outcome
        assert not channel.alive() and channel.failed_at is not None
        failed_at = channel.failed_at
        outcome = acts.on_host("there", ["continue", "there"])
        assert outcome is not None and outcome.ok, outcome
        assert channel.failed_at == failed_at  # not started again within RETRY_AFTER
        there = _box_log(ssh_box)
        assert _times(there, "pause") == 1 and _times(there, "continue") == 1, there
    finally:
        channels.close_channels()
        cli("down", "-c", str(cfg), **_env(ssh_box))
