"""Issue 22 points 1 and 3, what was missing: `worktree = true` on an agent of another host (its
worktree made there, by that host's own `up`, from the repository `[[host]] repo` names there), the
diff view `D` and `merge` of such an agent, and `spawn` on a host — against a real sshd on loopback
as the second host (`ssh_box`, tests/conftest.py)."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from helpers import fleet, git, make_repo, pilot_until, retry_until, shell_agent
from mission_control.core.config import ConfigError, load_text
from test_hosts_view import _env, _rows

HOSTILE_DIR = "pro j;'q\"$(touch pwned)`x`"
"""A folder name with spaces, quotes, `;`, `$()` and backticks: the host's repository lives in it."""


def _load(text: str):
    return load_text(Path("/work/fleet/agents.toml"), text, environ={})


def test_a_hosts_repo_goes_into_its_part_of_the_config_and_is_what_its_worktree_agents_need() -> None:
    agent = shell_agent("there", "bash", 'host = "box"\nworktree = true\n')
    for given, expanded in ((f"src/{HOSTILE_DIR}", Path.home() / "src" / HOSTILE_DIR), ("~/r", Path.home() / "r"),
                            ("/srv/r", Path("/srv/r"))):
        cfg = _load(f'[[host]]\nname = "box"\nssh = "me@box"\nrepo = {json.dumps(given)}\n' + agent)
        (box,) = cfg.hosts
        assert box.repo == given
        remote = load_text(Path("/home/me/.mission-control-hosts/s/agents.toml"), box.config_text, environ={})
        assert remote.repo == expanded  # relative: under the host's HOME, not its config's folder
        (there,) = remote.agents
        assert there.worktree and there.host is None
    # a host's worktree agent needs its host's repo, not the laptop's; a local one still the laptop's
    with pytest.raises(ConfigError, match=r"agent\[0\] \(there\)\.worktree = true needs host\[0\] \(box\)\.repo"):
        _load('[mission]\nrepo = "."\n[[host]]\nname = "box"\nssh = "me@box"\n' + agent)
    cfg = _load('[[host]]\nname = "box"\nssh = "me@box"\nrepo = "r"\n' + agent)
    assert cfg.repo is None and cfg.agents == ()
    with pytest.raises(ConfigError, match=r"agent\[1\] \(here\)\.worktree = true needs mission\.repo"):
        _load('[[host]]\nname = "box"\nssh = "me@box"\nrepo = "r"\n' + agent + shell_agent("here", "bash", "worktree = true\n"))


def test_a_path_on_a_host_is_one_shell_word_under_its_home_never_an_option() -> None:
    from mission_control.core.hosts import home_word

    assert home_word(f"src/{HOSTILE_DIR}") == shlex.quote(f"src/{HOSTILE_DIR}")
    assert home_word("~/-rf x") == "'./-rf x'" and home_word("-n") == "./-n" and home_word("~") == "."
    assert home_word("/abs/p q") == "'/abs/p q'"


def test_a_diff_crosses_as_json_line_for_line_and_what_is_not_one_is_refused() -> None:
    from mission_control.core.diff import BranchDiff, diff_from_json, diff_to_json, parse_diff, summary

    text = ('diff --git "a/odd \\303\\274 \\"q\\"" "b/odd \\303\\274 \\"q\\""\nindex 1..2 100644\n--- a/x\n+++ b/x\n'
            "@@ -1 +1 @@\n-old \x1b[31mred\n+new $(touch pwned); 'q' \\ \u2603\n")
    diff = BranchDiff(agent="there", branch="agent/there", base="abc123", files=parse_diff(text),
                      commits=("abc123 it's; $(x)",), dirty_files=2)
    back = diff_from_json(json.loads(json.dumps(diff_to_json(diff))), host="box")
    assert back.files == diff.files and back.commits == diff.commits and back.dirty_files == 2 and back.host == "box"
    assert back.files[0].path == 'odd ü "q"' and summary(back).startswith("there (host box): agent/there against abc123")
    for bad in ([], {"agent": "a"}, {**diff_to_json(diff), "files": [{"path": "x"}]}, {**diff_to_json(diff), "files": 3}):
        with pytest.raises(ValueError, match="^not a diff's JSON"):
            diff_from_json(bad)


@pytest.mark.tmux
def test_a_spawn_request_on_stdin_that_is_not_one_is_one_line_and_nothing_spawns(cli, tmp_path: Path) -> None:
    from helpers import run_cli

    cfg = fleet(tmp_path, shell_agent("here", "bash"))
    for body in ("not json", "[1, 2]", '{"kind": ["shell"]}', ""):
        r = run_cli(cli, cfg, "spawn", "new", "--stdin-json", stdin=body)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nothing spawned" in r.stderr, (body, r.stderr)
    assert not cli.server_running() and not (tmp_path / ".mission-control").exists()


# ------------------------------------------------------------------ a real sshd as the second host


def _box_repo(box) -> Path:
    """The box's repository (in a folder of hostile name under its HOME), and a git identity there."""
    (box.home / ".gitconfig").write_text("[user]\n\tname = Box User\n\temail = box@example.invalid\n")
    return make_repo(box.home / "src" / HOSTILE_DIR, {"shared.txt": "base\n"})


def _split(tmp_path: Path, box, there: str, extra: str = "") -> Path:
    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\nrepo = {json.dumps("src/" + HOSTILE_DIR)}\n{extra}'
                 + shell_agent("here", "bash") + shell_agent("there", there, 'host = "box"\nworktree = true\n'))


def _box_worktree(box, name: str) -> Path:
    return box.home / ".mission-control-hosts" / "t" / ".mission-control" / "worktrees" / name


def _no_session(socket: str) -> bool:
    return subprocess.run(["tmux", "-L", socket, "has-session", "-t", "t"], capture_output=True).returncode != 0


@pytest.mark.tmux
async def test_a_remote_worktree_agent_commits_there_and_its_diff_and_merge_work_from_here(
        cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    from mission_control.adapters.store import Store
    from mission_control.fleet.actions import FleetActions
    from mission_control.fleet.locate import load_config
    from mission_control.ui.screens.diff_screen import DiffScreen
    from mission_control.ui.widgets.diff_lines import DiffLines
    from test_hosts_actions import _app, _select

    repo = _box_repo(ssh_box)
    work = ("printf 'made on the box\\n' > \"it's new.txt\" && git add -A && git commit -qm 'from the box; ok'"
            " && exec bash")
    cfg = _split(tmp_path, ssh_box, f"sh -c {json.dumps(work)}")
    env = _env(ssh_box)
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    try:
        assert up.returncode == 0, up.stderr
        tree = _box_worktree(ssh_box, "there")
        assert git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip() == "agent/there"
        # its commit, made there, in the laptop's view: the commits column of a local worktree agent
        row = retry_until(lambda: (r := _rows(cli, cfg, ssh_box).get("there")) and r.get("commits") == 1 and r,
                          timeout=60, message="the box's commit in the laptop's status")
        assert row["host"] == "box", row
        # diff: the stat from the CLI, the whole diff through the actions port (what `D` reads)
        r = cli("diff", "there", "-c", str(cfg), **env)
        assert r.returncode == 0 and "it's new.txt" in r.stdout and "1 insertion" in r.stdout, (r.stdout, r.stderr)
        monkeypatch.setenv("MISSION_CONTROL_SSH_CONFIG", str(ssh_box.ssh_config))
        diff = FleetActions(load_config(cfg), actor="dashboard").diff("there")
        assert diff.host == "box" and diff.branch == "agent/there" and [f.path for f in diff.files] == ["it's new.txt"]
        assert "+made on the box" in diff.files[0].lines and diff.commits[0].endswith("from the box; ok")
        # the dashboard's D on it shows the same lines as for a local agent
        app = _app(cfg, ssh_box, cli, monkeypatch)
        async with app.run_test(size=(150, 40)) as pilot:
            await _select(pilot, app, "there")
            await pilot.press("D")
            await pilot_until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None,
                              timeout=30, message="the remote agent's diff in the view")
            screen = app.screen
            assert screen.error is None and "(host box)" in str(screen.query_one("#diff-top").render())
            assert "+made on the box" in screen.query_one(DiffLines).file.lines  # type: ignore[union-attr]
            # merge from the view (m, then yes): its branch into the box repository's base branch, there
            await pilot.press("m")
            await pilot_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", message="merge asked")
            await pilot.press("y")
            store = Store(load_config(cfg).store_path)
            await pilot_until(pilot, lambda: any(a["action"] == "merge" for a in store.actions(limit=5)), timeout=60,
                              message="the merge done on the box and logged here")
        assert (repo / "it's new.txt").read_text() == "made on the box\n"
        assert git(repo, "log", "-1", "--format=%P", "main").split().__len__() == 2  # --no-ff: a merge commit
        # nothing left to merge: the CLI's merge runs there too, its answer the box's
        r = cli("merge", "there", "-c", str(cfg), **env)
        assert "agent/there" in r.stdout + r.stderr, (r.stdout, r.stderr)
        here = cli("log", "-c", str(cfg), **env).stdout
        assert "dashboard" in here and "merge" in here and "on host box" in here, here
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
    finally:
        cli("down", "-c", str(cfg), **env)
    assert _no_session(ssh_box.socket)


@pytest.mark.tmux
def test_a_repo_missing_on_the_host_is_one_line_and_nothing_starts_anywhere(cli, tmp_path: Path, ssh_box) -> None:
    _box_repo(ssh_box)
    env = _env(ssh_box)
    cfg = fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{ssh_box.name}"\nrepo = {json.dumps("src/" + HOSTILE_DIR)}\n'
                f'[[host]]\nname = "box2"\nssh = "{ssh_box.name}"\nrepo = "src/no such; $(touch pwned)"\n'
                'config_dir = ".mc-box2"\n'
                f'[[host]]\nname = "box3"\nssh = "{ssh_box.name}"\nrepo = {json.dumps("src/" + HOSTILE_DIR + "/in it")}\n'
                'config_dir = ".mc-box3"\n'
                + shell_agent("here", "bash") + shell_agent("there", "bash", 'host = "box"\nworktree = true\n')
                + shell_agent("far", "bash", 'host = "box2"\nworktree = true\n')
                + shell_agent("farther", "bash", 'host = "box3"\nworktree = true\n'))
    (ssh_box.home / "src" / HOSTILE_DIR / "in it").mkdir()
    r = cli("up", "--no-attach", "-c", str(cfg), **env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "host 'box2' (box): repo 'src/no such; $(touch pwned)' is not a git repository there" in r.stderr, r.stderr
    assert "host 'box3' (box): repo " in r.stderr and "is the folder 'in it/' inside a git repository there" in r.stderr
    assert "nothing started" in r.stderr and "host 'box' " not in r.stderr
    assert _no_session(ssh_box.socket) and not cli.server_running()
    assert not (ssh_box.home / ".mission-control-hosts").exists() and not list(ssh_box.home.rglob("pwned"))


@pytest.mark.tmux
async def test_spawn_on_a_host_shows_here_and_takes_the_actions_of_any_remote_agent(cli, tmp_path: Path, ssh_box,
                                                                                   monkeypatch) -> None:
    from textual.widgets import Input, Select

    from mission_control.ui.screens.spawn_screen import SpawnScreen
    from test_hosts_actions import _app, _select

    repo = _box_repo(ssh_box)
    cfg = _split(tmp_path, ssh_box, "bash")
    env = _env(ssh_box)
    up = cli("up", "--no-attach", "-c", str(cfg), **env)
    try:
        assert up.returncode == 0, up.stderr
        out = tmp_path / "spawned"
        hostile = "it's \"quoted\"; $(touch pwned) `x` ünï"
        command = f"printf '%s' {shlex.quote(hostile)} > {out}; exec bash"
        r = cli("spawn", "extra", "--host", "box", "--kind", "shell", "--command", command, "--task", hostile,
                "-c", str(cfg), **env)
        assert r.returncode == 0 and "box: spawned extra (shell)" in r.stdout, (r.stdout, r.stderr)
        # at once, before the laptop's view may show it: actions find it on the box
        for verb in ("pause", "continue"):
            r = cli(verb, "extra", "-c", str(cfg), **env)
            assert r.returncode == 0 and "extra" in r.stdout, (verb, r.stdout, r.stderr)
        retry_until(lambda: out.exists() and out.read_text() == hostile, message="the spawned agent ran on the box")
        row = retry_until(lambda: _rows(cli, cfg, ssh_box).get("extra"), timeout=60, message="extra in the laptop's status")
        assert row["host"] == "box"
        # routed there like a configured remote agent: pause and continue run on the box
        r = cli("pause", "extra", "-c", str(cfg), **env)
        assert r.returncode == 0 and "paused extra" in r.stdout, (r.stdout, r.stderr)  # the box's own line
        retry_until(lambda: _rows(cli, cfg, ssh_box)["extra"]["status"] == "PAUSED", timeout=60, message="extra PAUSED here")
        assert cli("continue", "extra", "-c", str(cfg), **env).returncode == 0
        retry_until(lambda: _rows(cli, cfg, ssh_box)["extra"]["status"] != "PAUSED", timeout=60, message="extra continued")
        # a copy starts where the copied agent runs; a worktree agent spawned there gets the box repo's worktree
        r = cli("spawn", "twin", "--copy", "there", "-c", str(cfg), **env)
        assert r.returncode == 0 and "box: spawned twin" in r.stdout, (r.stdout, r.stderr)
        assert git(_box_worktree(ssh_box, "twin"), "rev-parse", "--abbrev-ref", "HEAD").strip() == "agent/twin"
        assert "agent/twin" in git(repo, "branch", "--list", "agent/twin")
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("twin", {}).get("host") == "box", timeout=60, message="twin here")
        # what cannot be: one line each, nothing spawned
        for args, said in ((["ghost", "--host", "bx", "--kind", "shell", "--command", "bash"], "no host named 'bx'"),
                           (["here", "--host", "box", "--kind", "shell", "--command", "bash"], "an agent named 'here' already exists"),
                           (["extra", "--kind", "shell", "--command", "bash"], "an agent named 'extra' already exists"),
                           (["-x;y", "--host", "box", "--kind", "shell", "--command", "bash"], "is not allowed"),
                           (["lone", "--host", "box", "--copy", "here"], "a copy starts where the copied agent runs")):
            r = cli("spawn", *args, "-c", str(cfg), **env) if not args[0].startswith("-") else \
                cli("spawn", "--host", "box", "--kind", "shell", "--command", "bash", "-c", str(cfg), "--", args[0], **env)
            assert r.returncode in (1, 2) and said in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
        names = {a["name"] for a in _rows(cli, cfg, ssh_box).values()}
        assert not names & {"ghost", "lone", "-x;y"}
        # the dashboard's spawn key offers the hosts: one spawned on the box from here
        app = _app(cfg, ssh_box, cli, monkeypatch)
        async with app.run_test(size=(150, 40)) as pilot:
            await _select(pilot, app, "here")
            await pilot.press("s")
            await pilot_until(pilot, lambda: isinstance(app.screen, SpawnScreen), message="the spawn dialog")
            screen = app.screen
            hosts = screen.query_one("#spawn-host", Select)
            assert [str(v) for _, v in hosts._options] == ["local", "box"]  # type: ignore[attr-defined]
            hosts.value = "box"
            screen.query_one("#spawn-name", Input).value = "keyed"
            screen.query_one("#spawn-command", Input).value = f"echo keyed > {tmp_path / 'keyed'}; exec bash"
            screen.query_one("#spawn-name", Input).focus()
            await pilot.press("enter")
            await pilot_until(pilot, lambda: app.snapshot is not None and (a := app.snapshot.agent("keyed")) is not None
                              and a.host == "box", timeout=60, message="the agent spawned from the dashboard, on the box")
        assert (tmp_path / "keyed").read_text() == "keyed\n"
        assert "keyed" not in cli.tmux("list-panes", "-s", "-t", "t", "-F", "#{@mc_agent}").split()
        # down --clean: the box's worktrees that hold no work of their own go too, there
        (_box_worktree(ssh_box, "there") / "wip.txt").write_text("not committed\n")
        down = cli("down", "--clean", "-c", str(cfg), **env)
        assert down.returncode == 0 and "box: fleet 't' stopped" in down.stdout, (down.stdout, down.stderr)
        assert "removed worktree of twin" in down.stdout and "kept worktree of there" in down.stdout, down.stdout
        assert not _box_worktree(ssh_box, "twin").exists() and _box_worktree(ssh_box, "there").exists()
        assert not list(tmp_path.rglob("pwned")) and not list(ssh_box.home.rglob("pwned"))
        here = cli("log", "-c", str(cfg), **env).stdout
        assert "spawn" in here and "on host box" in here, here
    finally:
        cli("down", "-c", str(cfg), **env)
    assert _no_session(ssh_box.socket)
