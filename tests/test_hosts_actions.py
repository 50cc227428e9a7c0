"""Issue 22 point 3, the dashboard's keys and the rest of the CLI on a remote agent, against a real
sshd on loopback as the second host (`ssh_box`): inject from the dashboard (the value on ssh's
stdin, never on any /proc/*/cmdline on either side, logged on both), answer, diff and merge,
zoom/attach, reassign across hosts, and the round trip in the dashboard."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from helpers import fleet, pilot_until, retry_until, shell_agent
from test_hosts_view import _env, _proc_cmdlines, _rows

pytestmark = pytest.mark.tmux


def _split(tmp_path: Path, box, *, here: str = "bash", there: str | None = None) -> Path:
    """"here" on this machine, "there" on the box (by default a shell writing SECRET_X, when it has
    one, to `got`)."""
    if there is None:
        script = tmp_path / "there.sh"
        script.write_text(f'if [ -n "$SECRET_X" ]; then printf %s "$SECRET_X" > {tmp_path / "got"}; fi\nexec bash\n')
        there = f"sh {script}"
    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\n'
                 + shell_agent("here", here) + shell_agent("there", there, 'host = "box"\n'))


def _up(cli, cfg: Path, box) -> None:
    up = cli("up", "--no-attach", "-c", str(cfg), **_env(box))
    assert up.returncode == 0, up.stderr


def _box_log(box) -> str:
    return box.ssh("cd && mission-control log -c .mission-control-hosts/t/agents.toml").stdout


def _app(cfg: Path, box, cli, monkeypatch: pytest.MonkeyPatch):
    from mission_control.fleet.locate import load_config
    from mission_control.ui.app import create_app

    monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(box.ssh_config))
    monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
    monkeypatch.delenv("TMUX", raising=False)
    return create_app(load_config(cfg), poll_seconds=0.1, bell=False)


async def _select(pilot, app, name: str) -> None:
    from mission_control.ui.widgets.agent_table import AgentTable

    table = app.query_one(AgentTable)
    await pilot_until(pilot, lambda: app.snapshot is not None and app.snapshot.agent(name) is not None,
                      message=f"{name} in the dashboard")
    table.select_agent(name)
    await pilot_until(pilot, lambda: app.selected_name == name, message=f"{name} selected")


class CmdlineWatch:
    """Every /proc/*/cmdline, read over and over while it runs: those holding `needle`."""

    def __init__(self, needle: bytes) -> None:
        self.needle, self.seen, self.done = needle, [], threading.Event()
        self.thread = threading.Thread(target=self._scan, daemon=True)

    def _scan(self) -> None:
        while not self.done.is_set():
            self.seen.extend(c for c in _proc_cmdlines() if self.needle in c)

    def __enter__(self) -> "CmdlineWatch":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=10)


async def test_the_dashboards_inject_key_on_a_remote_agent(cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    from textual.widgets import TextArea

    from mission_control.ui.screens.inject_env_screen import InjectEnvScreen

    cfg = _split(tmp_path, ssh_box)
    _up(cli, cfg, ssh_box)
    try:
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("there", {}).get("status") in ("WORKING", "IDLE"), timeout=60,
                    message="the box's agent in the laptop's view")
        secret = "s3cr3t-" + __import__("os").urandom(6).hex() + " $(touch pwned); 'q\" `x` \\ ünï"
        app = _app(cfg, ssh_box, cli, monkeypatch)
        with CmdlineWatch(secret.split(" ")[0].encode()) as watch:
            async with app.run_test(size=(150, 40)) as pilot:
                await _select(pilot, app, "there")
                await pilot.press("e")
                await pilot_until(pilot, lambda: isinstance(app.screen, InjectEnvScreen), message="the inject dialog")
                app.screen.query_one("#inject-text", TextArea).text = f"SECRET_X={secret}"
                await pilot.press("ctrl+s")
                got = tmp_path / "got"
                await pilot_until(pilot, got.exists, timeout=60, message="the box's agent respawned with the value")
                assert got.read_bytes() == secret.encode()
                # the dialog again: the box lists the variable, masked there
                await pilot.press("e")
                await pilot_until(pilot, lambda: isinstance(app.screen, InjectEnvScreen), message="the dialog again")
                assert list(app.screen.injected) == ["SECRET_X"] and secret not in json.dumps(app.screen.injected)
                await pilot.press("escape")
        assert not watch.seen, "an injected value was on a command line"
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
        here = cli("log", "-c", str(cfg), **_env(ssh_box)).stdout
        there = _box_log(ssh_box)
        assert "dashboard" in here and "inject" in here and "on host box" in here, here
        assert "inject" in there and "SECRET_X" in there, there
        assert secret not in here + there and secret.split(" ")[0] not in here + there
        assert not any(secret.split(" ")[0].encode() in f.read_bytes() for f in (cfg.parent / ".mission-control").rglob("*")
                       if f.is_file())
    finally:
        cli("down", "-c", str(cfg), **_env(ssh_box))


def test_a_value_that_would_not_arrive_as_it_is_is_one_line_and_nothing_is_sent() -> None:
    from mission_control.core.errors import UsageError
    from mission_control.fleet.remote_actions import env_text

    assert env_text({"A": "x y $(z)", "B": "two\nlines"}) == "A=x y $(z)\nB=two\nlines\n"
    for values in ({"A": "first\nB=second"}, {"A": "ends with a newline\n"}):
        with pytest.raises(UsageError, match="^A: its value .* nothing changed$"):
            env_text(values)


async def test_answer_from_the_cli_and_the_dashboards_keys_diff_and_merge_on_a_remote_agent(
        cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    out = tmp_path / "answers"
    asker = tmp_path / "ask.sh"
    asker.write_text(f'read -p "Deploy now? (y/n) " a\necho "got:$a" >> {out}\n'
                     f'read -p "Really deploy? (y/n) " b\necho "got:$b" >> {out}\nexec bash\n')
    cfg = _split(tmp_path, ssh_box, there=f"bash {asker}")
    _up(cli, cfg, ssh_box)
    env = _env(ssh_box)
    try:
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("there", {}).get("status") == "WAITING", timeout=60,
                    message="the box's agent WAITING in the laptop's view")
        shown = cli("answer", "there", "-c", str(cfg), **env)
        assert shown.returncode == 0 and "there asks: Deploy now?" in shown.stdout, (shown.stdout, shown.stderr)
        r = cli("answer", "there", "7", "-c", str(cfg), **env)
        assert r.returncode == 1 and "'7' is not one of its options" in r.stderr and not out.exists(), r.stderr
        r = cli("answer", "there", "y", "-c", str(cfg), **env)
        assert r.returncode == 0 and "answered there: 1. Yes" in r.stdout, (r.stdout, r.stderr)
        retry_until(lambda: out.exists() and out.read_text() == "got:y\n", message="the box's agent took y")
        retry_until(lambda: _rows(cli, cfg, ssh_box)["there"]["reason"] != "" and "Really" in _box_screen(ssh_box),
                    message="the second question on the box")
        retry_until(lambda: _rows(cli, cfg, ssh_box)["there"]["status"] == "WAITING", message="WAITING again")
        # the dashboard's answer key: the host reads the prompt and types the choice
        app = _app(cfg, ssh_box, cli, monkeypatch)
        async with app.run_test(size=(150, 40)) as pilot:
            await _select(pilot, app, "there")
            await pilot_until(pilot, lambda: app.selected_agent().status.value == "WAITING", message="WAITING shown")
            await pilot.press("N")
            await pilot_until(pilot, lambda: out.read_text() == "got:y\ngot:n\n", timeout=30, message="N answered on the box")
        # no prompt left to answer there: its host's one line, exit 1, nothing typed
        r = cli("answer", "there", "y", "-c", str(cfg), **env)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "there is " in r.stderr, r.stderr
        # diff and merge run there too (an agent without a worktree branch there: its host's one line)
        for verb in ("diff", "merge"):
            r = cli(verb, "there", "-c", str(cfg), **env)
            assert r.returncode == 1 and "there has no worktree branch" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        from mission_control.fleet.actions import ActionError, FleetActions
        from mission_control.fleet.locate import load_config

        acts = FleetActions(load_config(cfg), actor="dashboard")
        with pytest.raises(ActionError, match="^box: there has no worktree branch"):
            acts.diff("there")
        assert not acts.merge("there").ok
        here, there = cli("log", "-c", str(cfg), **env).stdout, _box_log(ssh_box)
        assert "Deploy now? → 1. Yes" in there and "Really deploy? → 2. No" in there, there
        assert "answer" in here and "dashboard" in here and "on host box" in here, here
    finally:
        cli("down", "-c", str(cfg), **env)


def _box_screen(box) -> str:
    import subprocess

    return subprocess.run(["tmux", "-L", box.socket, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout


def test_zoom_on_a_remote_agent_attaches_to_its_pane_there_over_ssh(cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    import subprocess
    import uuid

    from mission_control.fleet.actions import FleetActions
    from mission_control.fleet.locate import load_config

    cfg = _split(tmp_path, ssh_box, there="bash -c 'echo i-am-there; exec bash'")
    _up(cli, cfg, ssh_box)
    lap = f"mclap-{uuid.uuid4().hex[:8]}"  # the laptop's own tmux, where the dashboard runs
    try:
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("there", {}).get("status") in ("WORKING", "IDLE"), timeout=60,
                    message="the box's agent up")
        monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(ssh_box.ssh_config))
        monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
        from mission_control.fleet.remote_actions import attach_argv

        config = load_config(cfg)
        argv = attach_argv(config, config.hosts[0], "there")
        assert argv[0] == "ssh" and "-tt" in argv and any(a.startswith("ControlPath=") for a in argv)
        assert argv[-1].endswith("exec mission-control attach there -c agents.toml")
        # from a dashboard inside the laptop's tmux: a new window there, attached to the box's pane
        subprocess.run(["tmux", "-L", lap, "new-session", "-d", "-x", "120", "-y", "40", "-s", "lap"], check=True)
        path = subprocess.run(["tmux", "-L", lap, "display-message", "-p", "#{socket_path}"], capture_output=True,
                              text=True, check=True).stdout.strip()
        monkeypatch.setenv("TMUX", f"{path},1,0")
        outcome = FleetActions(config, actor="dashboard").zoom("there")
        assert outcome.ok and outcome.message == "showing there on host box over ssh", outcome
        windows = subprocess.run(["tmux", "-L", lap, "list-windows", "-F", "#{window_name}"], capture_output=True, text=True).stdout
        assert "there@box" in windows.split(), windows

        def clients() -> str:
            return subprocess.run(["tmux", "-L", ssh_box.socket, "list-clients", "-F", "#{client_tty}"],
                                  capture_output=True, text=True).stdout.strip()

        retry_until(clients, timeout=30, message="a client attached to the box's fleet")
        shown = retry_until(lambda: "i-am-there" in (t := subprocess.run(
            ["tmux", "-L", lap, "capture-pane", "-p", "-t", "lap:there@box"], capture_output=True, text=True).stdout) and t,
            timeout=30, message="the box's agent's screen in the laptop's window")
        assert "i-am-there" in shown
        active = subprocess.run(["tmux", "-L", ssh_box.socket, "display-message", "-p", "-t", "t", "#{@mc_agent}"],
                                capture_output=True, text=True).stdout.strip()
        assert active == "there"
        # the CLI's `attach AGENT`: the same ssh command, in this terminal
        subprocess.run(["tmux", "-L", lap, "kill-window", "-t", "lap:there@box"], check=True)
        retry_until(lambda: not clients(), timeout=30, message="detached once the window went")
        cmd = " ".join(__import__("shlex").quote(w) for w in
                       ["env", f"MISSION_CONTROL_SSH_CONFIG={ssh_box.ssh_config}", f"MISSION_CONTROL_SOCKET={cli.socket}",
                        sys.executable, "-m", "mission_control", "attach", "there", "-c", str(cfg)])
        subprocess.run(["tmux", "-L", lap, "new-window", "-n", "cli", cmd], check=True)
        retry_until(clients, timeout=30, message="`mission-control attach there` attached to the box's fleet")
        here, there = cli("log", "-c", str(cfg), **_env(ssh_box)).stdout, _box_log(ssh_box)
        assert "zoom" in here and "on host box" in here, here
    finally:
        subprocess.run(["tmux", "-L", lap, "kill-server"], capture_output=True)
        cli("down", "-c", str(cfg), **_env(ssh_box))


def test_reassign_from_a_remote_agent_to_a_local_one_and_back(cli, tmp_path: Path, ssh_box) -> None:
    from helpers import PROMPTER, write_scripts

    script = write_scripts(tmp_path, prompter=PROMPTER)["prompter"]
    typed = {n: tmp_path / f"typed-{n}" for n in ("here", "there")}
    task = "fix the $(touch pwned) 'build'; \"now\""
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n'
                + shell_agent("here", f"{sys.executable} {script} {typed['here']}")
                + shell_agent("there", f"{sys.executable} {script} {typed['there']}", f'host = "box"\ntask = {json.dumps(task)}\n'))
    _up(cli, cfg, ssh_box)
    env = _env(ssh_box)

    def box_row(name: str) -> dict:
        r = ssh_box.ssh("cd && mission-control status --json -c .mission-control-hosts/t/agents.toml")
        return {a["name"]: a for a in json.loads(r.stdout or "[]")}.get(name, {})

    try:
        retry_until(lambda: box_row("there").get("task") == task, timeout=60, message="the box's agent holds its task")
        retry_until(lambda: all(r.get("status") == "IDLE" for r in _rows(cli, cfg, ssh_box).values()), timeout=60,
                    message="both at their prompt")
        r = cli("reassign", "there", "--to", "here", "-c", str(cfg), **env)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "moved from there (host box) to here" in r.stdout, r.stdout
        retry_until(lambda: typed["here"].exists() and task in typed["here"].read_text(), timeout=60,
                    message="the local agent got the handoff with the task")
        retry_until(lambda: box_row("there").get("status") == "PAUSED", message="the box's agent paused there")
        assert not box_row("there").get("task")
        retry_until(lambda: _rows(cli, cfg, ssh_box)["here"].get("task") == task, message="the task shown on here")
        here, there = cli("log", "-c", str(cfg), **env).stdout, _box_log(ssh_box)
        assert "reassign" in here and "there (host box)" in here, here
        assert "reassign" in there and "here (local)" in there, there
        # and back, to the box's agent (kept running here): the handoff on ssh's stdin
        assert cli("continue", "there", "-c", str(cfg), **env).returncode == 0
        before = typed["there"].read_text() if typed["there"].exists() else ""
        r = cli("reassign", "here", "--to", "there", "--old", "keep", "-c", str(cfg), **env)
        assert r.returncode == 0 and "box: task" in r.stdout and "moved from here to there" in r.stdout, (r.stdout, r.stderr)
        retry_until(lambda: typed["there"].exists() and task in typed["there"].read_text()[len(before):], timeout=60,
                    message="the box's agent got the handoff back")
        retry_until(lambda: box_row("there").get("task") == task, message="the task is the box's agent's again")
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
        r = cli("reassign", "here", "--to", "there", "-c", str(cfg), **env)  # it left here: nothing to hand over again
        assert r.returncode == 1 and "here holds no task to reassign" in r.stderr, r.stderr
        # an unknown agent fails before anything moves
        r = cli("reassign", "there", "--to", "nobody", "-c", str(cfg), **env)
        assert r.returncode == 1 and "no agent named 'nobody'" in r.stderr, r.stderr
        assert box_row("there").get("task") == task
    finally:
        cli("down", "-c", str(cfg), **env)


def test_the_detail_panel_shows_the_hosts_round_trip() -> None:
    from mission_control.core.model import AgentSnapshot, Status
    from mission_control.ui.widgets.detail_panel import describe

    there = AgentSnapshot(name="there", kind="shell", host="box\x1b[31m", host_latency_ms=12.4, status=Status.IDLE)
    assert "on host box␛[31m · round trip 12 ms (over its ssh connection)" in describe(there, [], 0.0).plain
    assert "not measured yet" in describe(AgentSnapshot(name="t", kind="shell", host="box"), [], 0.0).plain
    assert "on host" not in describe(AgentSnapshot(name="here", kind="shell"), [], 0.0).plain


async def test_the_dashboard_shows_a_real_hosts_round_trip(cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    from mission_control.ui.widgets.detail_panel import DetailPanel

    cfg = _split(tmp_path, ssh_box)
    _up(cli, cfg, ssh_box)
    try:
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("there", {}).get("host_latency_ms") is not None, timeout=60,
                    message="the box's round trip measured")
        app = _app(cfg, ssh_box, cli, monkeypatch)
        async with app.run_test(size=(150, 40)) as pilot:
            await _select(pilot, app, "there")
            await pilot_until(pilot, lambda: bool(app.screen.query(DetailPanel)), message="the fleet view's detail panel")
            facts = app.screen.query_one(DetailPanel).query_one("#detail-facts")
            await pilot_until(pilot, lambda: "on host box · round trip " in str(facts.render()), message="the round trip shown")
            assert " ms (over its ssh connection)" in str(facts.render())
    finally:
        cli("down", "-c", str(cfg), **_env(ssh_box))


def test_a_handoff_that_is_not_releases_json_is_one_line_and_nothing_is_taken(cli, tmp_path: Path) -> None:
    import subprocess

    cfg = fleet(tmp_path, shell_agent("here", "bash"))
    for stdin in ("not json $(touch pwned)", "[1, 2]", '{"task_id": "t"}'):
        r = subprocess.run([sys.executable, "-m", "mission_control", "reassign", "here", "--take", "-c", str(cfg)],
                           input=stdin, capture_output=True, text=True, env=cli.env(), cwd=cli.cwd, timeout=60)
        assert r.returncode in (1, 2) and r.stderr.count("\n") == 1 and "nothing taken" in r.stderr, r.stderr
    assert not list(tmp_path.rglob("pwned"))
