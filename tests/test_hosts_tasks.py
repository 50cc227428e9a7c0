"""Issue 22 point 4, the task board across hosts, against a real sshd on loopback as the second host
(`ssh_box`): the laptop's board dispatches to pulling agents on the box (the prompt handed to the
box's fleet on ssh's stdin, byte-exact, typed there once), a role limited to hosts sends its tasks
there only, the task is done by the box's report of its agent, and a reassign across hosts moves
the board's task with its history. Plus the pure pieces: the host limit of `next_task`, the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import fleet, retry_until, shell_agent
from mission_control.core.config import ConfigError, load_text
from mission_control.core.tasks import Task, next_task
from test_hosts_view import _env

WORKER = (
    # a prompt; each line typed at it: logged with the agent's name, "worked on" for as many seconds
    # as its first word says (printing, so it shows WORKING), then back to the prompt
    "while true; do printf '$ '; IFS= read -r x || exit; printf '%s %s\\n' \"$MISSION_CONTROL_AGENT\" \"$x\" >> {log};"
    " n=${{x%% *}}; i=0; while [ $i -lt $n ]; do i=$((i+1)); echo \"working on it ($i)\"; sleep 1; done; done"
)


def _board(cli, cfg: Path, box) -> dict[str, dict]:
    r = cli("task", "list", "--json", "-c", str(cfg), **_env(box))
    assert r.returncode == 0, r.stderr
    return {t["id"]: t for t in json.loads(r.stdout)}


def _add(cli, cfg: Path, box, *args: str) -> None:
    r = cli("task", "add", *args, "-c", str(cfg), **_env(box))
    assert r.returncode == 0, r.stderr


@pytest.mark.tmux
def test_the_laptops_board_dispatches_to_the_box_and_a_role_limited_to_it_goes_there_only(cli, tmp_path: Path, ssh_box) -> None:
    log = tmp_path / "typed.log"
    role = '\n[[role]]\nname = "gpu"\nkind = "shell"\ncommand = "bash"\nworktree = false\nhosts = ["box"]\n'
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n'
                + shell_agent("here", WORKER.format(log=log), 'pull = true\nroles = ["gpu"]\n')
                + shell_agent("there", WORKER.format(log=log), 'host = "box"\npull = true\nroles = ["gpu"]\n') + role,
                stuck_after=120)
    env = _env(ssh_box)
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert up.returncode == 0, up.stderr
    try:
        retry_until(lambda: {r["name"]: r["status"] for r in cli.status("-c", str(cfg), **env)} == {"here": "IDLE", "there": "IDLE"},
                    timeout=60, message="both agents idle at their prompt, as the laptop sees them")
        hostile = "2 gpu-job $(touch pwned) 'q' ; \"y\" `x` \\ ünï;"
        _add(cli, cfg, ssh_box, hostile, "--id", "g1", "--role", "gpu")
        board = retry_until(lambda: (b := _board(cli, cfg, ssh_box)) and b["g1"]["state"] == "done" and b,
                            timeout=90, message="the gpu task done on the box")
        # the role is limited to the box: `here` (idle, with the role) never took it
        assert board["g1"]["owner"] == "there", board["g1"]
        assert [h["agent"] for h in board["g1"]["held_by"]] == ["there"]
        lines = log.read_text(encoding="utf-8").splitlines()
        assert lines == [f"there {hostile}"], lines  # byte-exact, typed once, on the box
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
        # a task without a role goes to any host's puller; the laptop's log says where it went
        _add(cli, cfg, ssh_box, "1 any-job", "--id", "a1")
        retry_until(lambda: _board(cli, cfg, ssh_box)["a1"]["state"] == "done", timeout=90, message="the roleless task done")
        here_log = cli("log", "-c", str(cfg), **env).stdout
        assert "there (host box) pulled task g1" in here_log, here_log
        assert "handed to host box" in here_log, here_log
        box_log = ssh_box.ssh("cd && mission-control log -c .mission-control-hosts/t/agents.toml").stdout
        assert "deliver-task" in box_log, box_log  # typed there by the box's own supervisor

        # a long task on the box, reassigned to the laptop's agent: the board's task moves with it
        _add(cli, cfg, ssh_box, "60 long-gpu", "--id", "g2", "--role", "gpu")
        retry_until(lambda: _board(cli, cfg, ssh_box)["g2"].get("owner") == "there"
                    and any("long-gpu" in line for line in log.read_text().splitlines()),
                    timeout=60, message="the box's agent took g2 and got it")
        r = cli("reassign", "there", "--to", "here", "-c", str(cfg), **env)
        assert r.returncode == 0, (r.stdout, r.stderr)
        moved = retry_until(lambda: (b := _board(cli, cfg, ssh_box)) and b["g2"]["owner"] == "here" and b, timeout=30,
                            message="the board's task now the laptop agent's")
        assert moved["g2"]["reassignments"] == 1 and [h["agent"] for h in moved["g2"]["held_by"]] == ["there", "here"]
        retry_until(lambda: sum("long-gpu" in line for line in log.read_text().splitlines()) >= 2, timeout=60,
                    message="the laptop's agent got the handoff naming the task")
        retry_until(lambda: {r["name"]: r["status"] for r in cli.status("-c", str(cfg), **env)}["there"] == "PAUSED",
                    timeout=30, message="the box's agent paused, as the laptop sees it")
    finally:
        cli("down", "-c", str(cfg), **env)


def test_next_task_keeps_a_role_limited_to_hosts_to_agents_there() -> None:
    gpu = Task(id="g", prompt="p", role="gpu", created_at=1.0)
    other = Task(id="o", prompt="p", created_at=2.0)
    limits = {"gpu": ("box",)}
    assert next_task([gpu, other], ["gpu"], "local", limits) == other
    assert next_task([gpu, other], ["gpu"], "box", limits) == gpu
    assert next_task([gpu], ["gpu"], "local", limits) is None
    assert next_task([gpu], ["gpu"], "local", {"gpu": ()}) == gpu  # no hosts: no limit
    assert next_task([gpu], ["gpu"]) == gpu


BASE = '[mission]\nsession = "t"\n[[host]]\nname = "box"\nssh = "box"\n'


def test_role_hosts_must_name_hosts_and_a_role_has_no_host_key(tmp_path: Path) -> None:
    role = '[[role]]\nname = "gpu"\nkind = "shell"\ncommand = "bash"\nworktree = false\n'
    with pytest.raises(ConfigError) as bad:
        load_text(tmp_path / "agents.toml", BASE + role + 'hosts = ["bx"]\n')
    assert "role[0] (gpu).hosts[0] 'bx' names no [[host]]" in str(bad.value) and "did you mean 'box'" in str(bad.value)
    with pytest.raises(ConfigError) as bad:
        load_text(tmp_path / "agents.toml", BASE + role + 'host = "box"\n')
    assert "role[0] (gpu).host: a role runs on `hosts = [...]`" in str(bad.value)
    config = load_text(tmp_path / "agents.toml", BASE + role + 'hosts = ["box", "local"]\n'
                       + '[[agent]]\nname = "g"\nkind = "shell"\ncommand = "bash"\nhost = "box"\npull = true\nroles = ["gpu"]\n'
                       + '[[task]]\nid = "t1"\nprompt = "first job"\nassignee = "g"\n')
    assert config.roles[0].hosts == ["box", "local"]
    box = config.hosts[0]
    assert box.pulling == (("g", ("gpu",)),)
    assert '"task" = "first job"' in box.config_text  # a task given to an agent of the box: its first prompt there


@pytest.mark.tmux
def test_a_text_handed_over_twice_under_one_key_is_queued_and_typed_once(cli, tmp_path: Path) -> None:
    """The host's side of a handover (`send --queue-as KEY`, what the laptop's supervisor runs
    there): repeated after a cut link or a restart, the text is still queued, and typed, once."""
    import sys

    from helpers import PROMPTER, run_cli, up, write_scripts

    typed = tmp_path / "typed"
    script = write_scripts(tmp_path, prompter=PROMPTER)["prompter"]
    cfg = up(cli, tmp_path, shell_agent("w", f"{sys.executable} {script} {typed}"))
    text = "do it $(touch pwned); 'x' \"ü\""
    for _ in range(2):
        r = run_cli(cli, cfg, "send", "w", "--queue-as", "task:lap#7.1", stdin=text)
        assert r.returncode == 0, r.stderr
    assert "handed over before: not queued again" in r.stdout
    retry_until(lambda: typed.exists() and text in typed.read_text(), timeout=60, message="typed at its prompt")
    r = run_cli(cli, cfg, "send", "w", "--queue-as", "task:lap#7.1", stdin=text)  # after it was typed: still once
    assert r.returncode == 0 and "not queued again" in r.stdout
    r = run_cli(cli, cfg, "send", "w", "marker")
    retry_until(lambda: "marker" in typed.read_text(), timeout=60, message="a later text typed")
    assert typed.read_text().splitlines() == [text, "marker"]
    assert not list(tmp_path.rglob("pwned"))
    run_cli(cli, cfg, "down")


def test_a_refused_handover_is_tried_again_later_and_marked_only_when_the_host_has_it(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from mission_control.fleet.host_delivery import RETRY_AFTER, HostDelivery, handover_key

    config = load_text(tmp_path / "agents.toml", BASE + '[[agent]]\nname = "g"\nkind = "shell"\ncommand = "bash"\nhost = "box"\n')
    answers = [SimpleNamespace(code=1, stdout="", stderr="mission-control: host 'box': the action channel was lost\n"),
               SimpleNamespace(code=0, stdout="mission-control: box: queued\n", stderr="")]
    calls = []

    def runner(config, host, words, stdin, actor, log):
        assert log is False  # logged once, by the supervisor, as the handover
        calls.append((host.name, words, stdin, actor))
        return answers.pop(0)

    handing = HostDelivery(config, runner)
    item = {"id": 7, "agent": "g", "purpose": "task", "text": "the prompt; $(x)", "created_at": 12.5}
    assert handing.hand_over(item, "box", now=100.0)
    done = retry_until(lambda: handing.finished(101.0), message="the first handover ended")
    assert [d.ok for d in done] == [False] and "channel was lost" in done[0].message
    assert not handing.hand_over(item, "box", now=101.0 + RETRY_AFTER - 1)  # not yet
    assert handing.hand_over(item, "box", now=101.0 + RETRY_AFTER)
    done = retry_until(lambda: handing.finished(120.0), message="the second handover ended")
    assert [d.ok for d in done] == [True]
    key = handover_key(config, item)
    assert key == "task:t#7.12500"
    assert calls == [("box", ["send", "g", "--queue-as", key], "the prompt; $(x)", "supervisor")] * 2


@pytest.mark.tmux
def test_a_role_limited_to_the_box_spawns_its_agents_there_and_retires_them_there(cli, tmp_path: Path, ssh_box) -> None:
    """`[[role]] hosts = ["box"]` with no agent of its own anywhere: its ready tasks make the
    laptop's supervisor spawn `gpu-<n>` on the box (its host's spawn, the template on stdin), the
    board gives them the tasks, and once idle past `retire_after` they are retired on the box."""
    log = tmp_path / "typed.log"
    role = ('\n[[role]]\nname = "gpu"\nkind = "shell"\nworktree = false\nhosts = ["box"]\nmax_instances = 2\n'
            f'retire_after = 3\ncommand = {json.dumps(WORKER.format(log=log))}\n')
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n' + shell_agent("here", "bash", 'pull = true\nroles = ["gpu"]\n')
                + role, stuck_after=120)  # the box has no agent of its own: `up` starts its fleet empty, for the role
    env = _env(ssh_box)
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert up.returncode == 0, up.stderr
    try:
        for i in (1, 2, 3):
            _add(cli, cfg, ssh_box, f"2 gpu-job-{i}", "--id", f"g{i}", "--role", "gpu")
        board = retry_until(lambda: (b := _board(cli, cfg, ssh_box)) and all(b[f"g{i}"]["state"] == "done" for i in (1, 2, 3)) and b,
                            timeout=150, message="the three gpu tasks done by the role's agents on the box")
        owners = {board[f"g{i}"]["owner"] for i in (1, 2, 3)}
        assert owners <= {"gpu-1", "gpu-2"} and "gpu-1" in owners, board
        lines = log.read_text().splitlines()
        assert sorted(line.split(" ", 1)[1] for line in lines) == ["2 gpu-job-1", "2 gpu-job-2", "2 gpu-job-3"], lines
        here = cli("log", "-c", str(cfg), **env).stdout
        assert "spawned gpu-1 on host box" in here, here
        rows = {r["name"]: r for r in cli.status("-c", str(cfg), **env)}
        assert "gpu-3" not in rows and not any(r.get("host") is None and r["name"].startswith("gpu-") for r in rows.values())
        # idle past retire_after with nothing for them: retired on the box, gone from the view
        retry_until(lambda: not any(n.startswith("gpu-") for n in {r["name"] for r in cli.status("-c", str(cfg), **env)}),
                    timeout=90, message="the role's agents retired on the box")
        box_log = ssh_box.ssh("cd && mission-control log -c .mission-control-hosts/t/agents.toml").stdout
        assert "role-retire" in box_log or "retire" in box_log, box_log
    finally:
        cli("down", "-c", str(cfg), **env)


def test_a_role_with_worktrees_on_a_host_needs_that_hosts_repo(tmp_path: Path) -> None:
    role = '[[role]]\nname = "gpu"\nkind = "shell"\ncommand = "bash"\nhosts = ["box"]\n'
    with pytest.raises(ConfigError) as bad:
        load_text(tmp_path / "agents.toml", BASE + role)
    assert "role[0] (gpu).worktree = true (the default for a role) needs host 'box''s repo" in str(bad.value)
    config = load_text(tmp_path / "agents.toml", BASE.replace('ssh = "box"\n', 'ssh = "box"\nrepo = "src/p"\n') + role)
    assert config.roles[0].worktree and config.roles[0].hosts == ["box"]  # no mission.repo needed here


def test_a_role_only_an_agent_of_another_host_has_is_a_known_role(tmp_path: Path) -> None:
    """`task add --role gpu` when only the box's puller has the role (seen refused by hand: "role
    'gpu' is no agent's role")."""
    from mission_control.adapters.store import Store
    from mission_control.fleet.tasks import TaskBoard

    config = load_text(tmp_path / "agents.toml", BASE + '[[agent]]\nname = "g"\nkind = "shell"\ncommand = "bash"\n'
                       'host = "box"\npull = true\nroles = ["gpu"]\n')
    assert "gpu" in TaskBoard(config, Store(config.store_path)).known_roles()


@pytest.mark.tmux
def test_a_task_assigned_to_an_agent_spawned_on_the_box_reaches_it(cli, tmp_path: Path, ssh_box) -> None:
    """`task assign` to an agent that is no `[[agent]]` of the config (spawned on the box since):
    the board knows where it runs and hands its prompt there."""
    log = tmp_path / "typed.log"
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\n' + shell_agent("here", "bash")
                + shell_agent("keep", "bash", 'host = "box"\n'), stuck_after=120)
    env = _env(ssh_box)
    assert cli("up", "--no-attach", "-c", str(cfg), **env).returncode == 0
    try:
        r = cli("spawn", "late", "--host", "box", "--kind", "shell", "--command", WORKER.format(log=log), "-c", str(cfg), **env)
        assert r.returncode == 0, r.stderr
        retry_until(lambda: {r["name"]: r for r in cli.status("-c", str(cfg), **env)}.get("late", {}).get("status") == "IDLE",
                    timeout=60, message="the spawned agent idle, as the laptop sees it")
        _add(cli, cfg, ssh_box, "1 late job", "--id", "j")
        r = cli("task", "assign", "j", "late", "-c", str(cfg), **env)
        assert r.returncode == 0, r.stderr
        retry_until(lambda: _board(cli, cfg, ssh_box)["j"]["state"] == "done", timeout=60, message="done by the spawned agent")
        assert log.read_text().splitlines() == ["late 1 late job"]
    finally:
        cli("down", "-c", str(cfg), **env)
