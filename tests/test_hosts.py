"""Agents on several hosts (issue 22): the `[[host]]` config, the host's part of it, the ssh
command lines, and a real sshd on loopback as a second host (`ssh_box`, tests/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mission_control.core.config import ConfigError, load_text
from mission_control.fleet.locate import load_config
from mission_control.core.hosts import USER_BIN, remote_dir, ssh_argv, version_major

HOST = '[[host]]\nname = "box"\nssh = "me@box"\n'
AGENT = '[[agent]]\nname = "{name}"\nkind = "shell"\ncommand = "bash"\n'


def _load(text: str):
    return load_text(Path("/work/fleet/agents.toml"), text, environ={})


@pytest.mark.parametrize("text,message", [
    (AGENT.format(name="a") + 'host = "bx"\n' + HOST, "agent[0] (a).host 'bx' names no [[host]] (did you mean 'box'?)"),
    (AGENT.format(name="a") + 'host = "box"\n', "names no [[host]]; no [[host]] is configured"),
    (HOST + HOST, "duplicate host name 'box' (also host[0])"),
    ('[[host]]\nname = "box"\nssh = "-oProxyCommand=touch pwned"\n', "is not an ssh destination"),
    ('[[host]]\nname = "box"\nssh = "me@box; rm -rf /"\n', "is not an ssh destination"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nport = 0\n', "host[0] (box).port = 0 is out of range"),
    ('[[host]]\nname = "local"\nssh = "me@box"\n', "name 'local' is this machine's"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nuser = "x"\n', "user"),
    ('[mission]\nrepo = "."\n' + HOST + AGENT.format(name="a") + 'host = "box"\nworktree = true\n',
     "agent[0] (a).worktree = true needs host[0] (box).repo (the repository on that host"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nrepo = "~other/src"\n', "write it relative to the host's HOME"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nrepo = "a\\u0000b"\n', "host[0] (box).repo"),
])
def test_bad_host_config_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(text)
    assert message in str(err.value) and "\n" not in str(err.value)


HOSTILE = "it's \"quoted\" $(touch pwned) `x`; \\ \t tab ünï ☃\nnew line"


def test_a_hosts_part_of_the_config_is_its_agents_byte_exact_and_nothing_of_the_laptops() -> None:
    text = ('[mission]\nsession = "s"\nrepo = "."\non_status = "notify-send x"\nstuck_after = 30\n' + HOST
            + AGENT.format(name="here") + AGENT.format(name="there") + 'host = "box"\ncwd = "~/work"\n'
            + f"task = {json.dumps(HOSTILE)}\n" + 'env = {SECRET = "s3cr3t"}\n')
    cfg = _load(text)
    assert [a.name for a in cfg.agents] == ["here"]
    (box,) = cfg.hosts
    assert box.name == "box" and box.agents == ("there",)
    remote = load_text(Path("/home/me/x/agents.toml"), box.config_text, environ={})
    (there,) = remote.agents
    assert there.task == HOSTILE and there.env == {"SECRET": "s3cr3t"} and there.host is None
    assert remote.session == "s" and remote.stuck_after == 30 and remote.on_status is None and remote.repo is None
    assert there.cwd == Path.home() / "work"  # `~` is the host's home there (expanded by the host's own load)


def test_ssh_command_lines_keep_every_value_one_argument() -> None:
    argv = ssh_argv("me@box", ["mission-control", "up", "-c", "a b;$(x)"], port=2222, identity="/k", ssh_config="/c",
                    control_path="/tmp/cm/%C")
    assert argv[:3] == ["ssh", "-F", "/c"] and "BatchMode=yes" in argv and "StrictHostKeyChecking=no" not in " ".join(argv)
    assert argv[-2:] == ["me@box", USER_BIN + "mission-control up -c 'a b;$(x)'"]
    assert remote_dir(None, "s") == ".mission-control-hosts/s" and remote_dir("~/x y", "s") == "'x y'"
    assert version_major("mission-control 1.4.2\n") == "1" and version_major("bash: not found") is None


# ------------------------------------------------------------------ a real sshd as a second host


def _split(tmp_path: Path, box, extra: str = "") -> Path:
    from helpers import fleet, shell_agent

    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\n{extra}'
                 + shell_agent("here", "bash") + shell_agent("there", "bash", 'host = "box"\n'))


def _box_status(box) -> dict:
    r = box.ssh("cd && mission-control status --json -c .mission-control-hosts/t/agents.toml")
    return {a["name"]: a for a in json.loads(r.stdout or "[]")} if r.returncode == 0 else {}


def test_a_split_fleet_comes_up_on_both_hosts_and_down_stops_both(cli, tmp_path: Path, ssh_box) -> None:
    from helpers import retry_until

    cfg = _split(tmp_path, ssh_box)
    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    try:
        assert up.returncode == 0, up.stderr
        assert "box: fleet 't' started: 1 agents" in up.stdout, up.stdout
        local = load_config(cfg)
        assert [a.name for a in local.agents] == ["here"]  # the laptop's own fleet runs only its own agents
        assert cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_agent}").split().count("there") == 0
        there = retry_until(lambda: _box_status(ssh_box).get("there"), message="the box's agent in the box's own status")
        assert there["status"] in ("STARTING", "WORKING", "IDLE")
        copied = ssh_box.home / ".mission-control-hosts" / "t" / "agents.toml"
        assert oct(copied.stat().st_mode & 0o777) == "0o600" and '"here"' not in copied.read_text()
        assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"]).returncode == 0
    finally:
        down = cli("down", "-c", str(cfg), **env)
    assert down.returncode == 0, down.stderr
    assert "box: fleet 't' stopped" in down.stdout, down.stdout
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"], capture_output=True).returncode != 0
    assert not cli.server_running() or "t" not in cli.tmux("list-sessions", "-F", "#S", check=False).split()


def test_a_host_that_fails_leaves_nothing_started_anywhere(cli, tmp_path: Path, ssh_box) -> None:
    from helpers import fleet, shell_agent

    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    # unreachable: nothing listens on that port; checked before anything starts
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n[[host]]\nname = "gone"\nssh = "{ssh_box.name}"\nport = 1\n'
                + shell_agent("here", "bash") + shell_agent("there", "bash", 'host = "box"\n')
                + shell_agent("far", "bash", 'host = "gone"\n'))
    r = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "host 'gone' (box port 1): cannot reach it over ssh" in r.stderr and "nothing started" in r.stderr
    assert not _box_status(ssh_box) and not cli.server_running()
    # the second host fails after the first started: the first is stopped again
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n[[host]]\nname = "box2"\nssh = "{ssh_box.name}"\n'
                'config_dir = "/proc/no-such-place"\n'
                + shell_agent("here", "bash") + shell_agent("there", "bash", 'host = "box"\n')
                + shell_agent("far", "bash", 'host = "box2"\n'))
    r = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "host 'box2'" in r.stderr and "could not copy its config" in r.stderr and "stopped again on box" in r.stderr
    assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"], capture_output=True).returncode != 0
    assert not cli.server_running()


def test_the_check_names_exactly_what_a_host_lacks(cli, tmp_path: Path, ssh_box) -> None:
    from helpers import fleet, shell_agent

    bare = ssh_box.alias("bare", PATH="/nonexistent")
    other = tmp_path / "other-bin"
    other.mkdir()
    (other / "mission-control").write_text("#!/bin/sh\necho 'mission-control 9.1.0'\n")
    (other / "mission-control").chmod(0o755)
    old = ssh_box.alias("old", PATH=f"{other}:/usr/bin:/bin")
    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    for alias, message in ((bare, "host 'b' (bare): missing on its PATH: mission-control, tmux, git (install them there; "
                           "the PATH ssh gives a command, plus ~/.local/bin)"),
                           (old, "host 'b' (old): mission-control there is 'mission-control 9.1.0', this one is ")):
        cfg = fleet(tmp_path, f'[[host]]\nname = "b"\nssh = "{alias}"\n' + shell_agent("here", "bash")
                    + shell_agent("there", "bash", 'host = "b"\n'))
        r = cli("up", "--no-attach", "-c", str(cfg), **env)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
        assert "nothing started" in r.stderr and not cli.server_running()


def test_one_view_shows_the_box_agents_marks_them_unreachable_when_the_link_is_cut_and_recovers(
        cli, tmp_path: Path, ssh_box) -> None:
    from helpers import retry_until

    cfg = _split(tmp_path, ssh_box)
    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    cli.tmux("new-session", "-d", "-s", "other")  # a tmux server already running, without that variable
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert up.returncode == 0, up.stderr

    def view() -> dict:
        return {a["name"]: a for a in cli.status("-c", str(cfg))}

    try:
        there = retry_until(lambda: (v := view()).get("there", {}).get("status") in ("WORKING", "IDLE") and v["there"],
                            message="the box's agent in the laptop's status")
        assert there["host"] == "box" and view()["here"]["host"] is None
        latency = retry_until(lambda: view()["there"]["host_latency_ms"], message="the box's round trip measured")
        assert 0 < latency < 5000
        table = cli("status", "-c", str(cfg))
        assert "HOST" in table.stdout and "box (" in table.stdout and " ms)" in table.stdout and "local" in table.stdout
        assert "per host: local —, 0 commits; box —, 0 commits; fleet —, 0 commits" in table.stdout, table.stdout
        # cut the link: the box's sshd goes (its fleet keeps running), the view says UNREACHABLE
        ssh_box.cut()
        gone = retry_until(lambda: (v := view())["there"]["status"] == "UNREACHABLE" and v["there"], timeout=60,
                           message="UNREACHABLE once the link is cut")
        assert "host 'box' unreachable" in gone["reason"] and "last seen" in gone["reason"]
        assert subprocess.run(["tmux", "-L", ssh_box.socket, "has-session", "-t", "t"]).returncode == 0  # still running there
        ssh_box.restart()
        retry_until(lambda: view()["there"]["status"] in ("WORKING", "IDLE"), timeout=60, message="back by itself")
    finally:
        cli("down", "-c", str(cfg), **env)


def test_actions_on_a_remote_agent_run_on_its_host_with_values_on_stdin(cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    from helpers import retry_until, run_cli

    cfg = _split(tmp_path, ssh_box)
    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    assert cli("up", "--no-attach", "-c", str(cfg), **env).returncode == 0

    def laptop(name: str) -> dict:
        return {a["name"]: a for a in cli.status("-c", str(cfg))}.get(name, {})

    try:
        retry_until(lambda: laptop("there").get("status") in ("WORKING", "IDLE"), message="the box's agent up")
        r = cli("pause", "there", "-c", str(cfg), **env)
        assert r.returncode == 0 and "paused there" in r.stdout, r.stderr
        retry_until(lambda: _box_status(ssh_box).get("there", {}).get("status") == "PAUSED", message="PAUSED on the box")
        retry_until(lambda: laptop("there").get("status") == "PAUSED", message="PAUSED in the laptop's view")
        r = cli("continue", "there", "-c", str(cfg), **env)
        assert r.returncode == 0, r.stderr
        retry_until(lambda: laptop("there").get("status") in ("WORKING", "IDLE"), message="continued")
        secret = "s3cr3t $(touch pwned); 'q'"
        r = subprocess.run([sys.executable, "-m", "mission_control", "inject", "there", "-c", str(cfg)],
                           input=f"API_TOKEN={secret}\n", capture_output=True, text=True, env=cli.env(**env), timeout=60)
        assert r.returncode == 0, r.stderr
        stored = list((ssh_box.home / ".mission-control-hosts" / "t").rglob("agents/there/env"))
        assert stored and json.loads(stored[0].read_text()) == {"API_TOKEN": secret}
        assert oct(stored[0].stat().st_mode & 0o777) == "0o600"
        assert not list(ssh_box.home.rglob("pwned")) and not list(tmp_path.rglob("pwned"))
        log = run_cli(cli, cfg, "log").stdout
        assert "on host box" in log and secret not in log and "s3cr3t" not in (tmp_path / ".mission-control" / "state.db").read_bytes().decode("latin-1")
        r = cli("pause", "here", "there", "-c", str(cfg), **env)
        assert r.returncode == 2 and "different hosts" in r.stderr
        # the dashboard's keys go through FleetActions: the same way to the host
        from mission_control.fleet.actions import FleetActions

        monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(ssh_box.ssh_config))
        acts = FleetActions(load_config(cfg), actor="dashboard")
        retry_until(lambda: laptop("there").get("status") in ("WORKING", "IDLE"), message="running again after inject")
        outcome = acts.toggle_pause("there")
        assert outcome.ok and outcome.message.startswith("box: paused there"), outcome
        retry_until(lambda: laptop("there").get("status") == "PAUSED", message="paused by the dashboard's key")
        assert acts.toggle_pause("there").ok
        retry_until(lambda: laptop("there").get("status") in ("WORKING", "IDLE"), message="continued by the key")
        typed = "echo typed-$((6*7)) 'it''s' \"q\""
        assert acts.send("there", typed, force=True).ok

        def box_screen() -> str:
            panes = subprocess.run(["tmux", "-L", ssh_box.socket, "list-panes", "-a", "-F", "#{pane_id} #{@mc_agent}"],
                                   capture_output=True, text=True).stdout.split("\n")
            pane = next(line.split()[0] for line in panes if line.endswith(" there"))
            return subprocess.run(["tmux", "-L", ssh_box.socket, "capture-pane", "-p", "-t", pane],
                                  capture_output=True, text=True).stdout

        retry_until(lambda: "typed-42" in box_screen() and typed in box_screen(), message="the text typed on the box")
        assert acts.toggle_pause("there").ok
        retry_until(lambda: laptop("there").get("status") == "PAUSED", message="paused for the resume key")
        plan = acts.plan_resume("there")
        assert plan.description == "on host box: continue there's paused processes (SIGCONT)"
        assert acts.resume("there", plan).ok
        retry_until(lambda: laptop("there").get("status") in ("WORKING", "IDLE"), message="resumed through its host")
    finally:
        cli("down", "-c", str(cfg), **env)


def test_the_dashboard_table_gets_a_host_column_only_with_agents_of_other_hosts() -> None:
    from mission_control.core.model import AgentSnapshot, Status
    from mission_control.ui.widgets.agent_table import CELLS, content_widths, fit_columns

    local = [AgentSnapshot(name="here", kind="shell"), AgentSnapshot(name="mine", kind="shell")]
    assert "host" not in [key for key, _, _ in fit_columns(120, content_widths(local))]
    split = [*local, AgentSnapshot(name="there", kind="shell", host="gpu-box", status=Status.UNREACHABLE)]
    shown = fit_columns(120, content_widths(split))
    assert [key for key, _, _ in shown][:3] == ["name", "host", "status"] and sum(w + 2 for _, _, w in shown) <= 120
    assert [CELLS["host"](a, 0.0).plain for a in split] == ["local", "local", "gpu-box"]


def test_mission_control_in_the_hosts_local_bin_is_found_as_pipx_and_pip_user_put_it(cli, tmp_path: Path, ssh_box) -> None:
    """sshd gives a command a PATH without ~/.local/bin (no login shell reads ~/.profile): a host
    where `pipx install` put mission-control there comes up all the same, and its fleet answers."""
    from helpers import fleet, retry_until, shell_agent

    venv_bin = Path(sys.executable).parent
    local_bin = ssh_box.home / ".local" / "bin"
    local_bin.mkdir(parents=True)
    (local_bin / "mission-control").symlink_to(venv_bin / "mission-control")
    pipx = ssh_box.alias("pipx", PATH="/usr/local/bin:/usr/bin:/bin")
    assert ssh_box.ssh("true").returncode == 0
    cfg = fleet(tmp_path, f'[[host]]\nname = "b"\nssh = "{pipx}"\n' + shell_agent("there", "bash", 'host = "b"\n'))
    env = {"MISSION_CONTROL_SSH_CONFIG": str(ssh_box.ssh_config)}
    r = cli("up", "--no-attach", "-c", str(cfg), **env)
    try:
        assert r.returncode == 0, r.stderr
        retry_until(lambda: {a["name"]: a["status"] for a in cli.status("-c", str(cfg), **env)}.get("there") in ("IDLE", "WORKING"),
                    timeout=60, message="the host's agent in the view")
        assert cli("pause", "there", "-c", str(cfg), **env).returncode == 0
    finally:
        cli("down", "-c", str(cfg), **env)


def test_an_unknown_host_key_is_refused_as_ssh_refuses_it(cli, tmp_path: Path, ssh_box) -> None:
    from helpers import fleet, shell_agent

    stranger = ssh_box.alias("stranger")
    empty = tmp_path / "no_known_hosts"
    empty.write_text("")
    text = ssh_box.ssh_config.read_text()
    head, block = text.rsplit(f"Host {stranger}\n", 1)
    ssh_box.ssh_config.write_text(head + f"Host {stranger}\n" + block.replace(str(ssh_box.folder / "known_hosts"), str(empty)))
    cfg = fleet(tmp_path, f'[[host]]\nname = "b"\nssh = "{stranger}"\n' + shell_agent("there", "bash", 'host = "b"\n'))
    r = cli("up", "--no-attach", "-c", str(cfg), MISSION_CONTROL_SSH_CONFIG=str(ssh_box.ssh_config))
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "host 'b' (stranger): cannot reach it over ssh: Host key verification failed" in r.stderr, r.stderr
    assert empty.read_text() == "" and not cli.server_running()  # nothing learnt, nothing started


def test_spend_and_commits_roll_up_per_host_and_for_the_fleet() -> None:
    from mission_control.core.model import AgentSnapshot, FleetSnapshot
    from mission_control.fleet.status_report import host_totals

    snap = FleetSnapshot(taken_at=1.0, session="s", agents=(
        AgentSnapshot(name="a", kind="shell", cost_usd=1.25, commits=2),
        AgentSnapshot(name="b", kind="shell", host="gpu", cost_usd=2.0, commits=1),
        AgentSnapshot(name="c", kind="shell", host="gpu", cost_usd=None, commits=None),
        AgentSnapshot(name="d", kind="shell", host="vm\x1b[31m")))
    assert host_totals(snap) == "per host: local $1.25, 2 commits; gpu $2.00, 1 commits; vm␛[31m —, 0 commits; fleet $3.25, 3 commits"
