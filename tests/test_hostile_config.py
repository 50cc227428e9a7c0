"""Hostile values (issue 16, items 5, 6 and 10): text from configs, people, agents, files and git
never drives the operator's terminal; values that cannot be passed on, and configs `up` would
refuse, are refused by `check` in one line (file, key, value) with exit 2."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from helpers import make_repo, retry_until
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.terminal_text import inert
from mission_control.ui.app import create_app
from mission_control.ui.source import FixedSource

EVIL = "\x1b]0;OWNED\x07\x1b[2J\x9b2J\x1bc"
"""Retitle the window, clear the screen (as CSI and as the C1 code), reset the terminal."""

LEGIT_CSI = re.compile(r"\x1b\[[0-9;?]*[mHlhJK]")


def raw_controls(out: str) -> list[str]:
    """What in `out` a terminal would obey that is not the dashboard's own drawing (colours and
    cursor moves): escapes it did not make, BEL, C1 codes."""
    own = LEGIT_CSI.sub("", out).replace("\x1b[2J", "")  # a full repaint may clear the screen itself
    return re.findall(r"\x1b.{0,6}|[\x07\x80-\x9f]", own)


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b]0;OWNED\x07", "␛]0;OWNED␇"),
        ("\x1b[2J", "␛[2J"),
        ("\x9b2J", "\\x9b2J"),
        ("nul\x00 del\x7f", "nul␀ del␡"),
        ("two\nlines\tand tab\r", "two␊lines␉and tab␍"),
        ("ünïcode ✓ ; $(x) `y`", "ünïcode ✓ ; $(x) `y`"),
        ("lone \udc80 surrogate", "lone \ufffd surrogate"),
    ],
)
def test_inert_shows_controls_and_keeps_the_rest(raw: str, shown: str) -> None:
    assert inert(raw) == shown
    assert inert("a\nb\tc\x1b", lines=True) == "a\nb\tc␛"


def screen_bytes(app) -> str:
    """What the real terminal driver would write for the current screen (a full repaint)."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


class EvilActions:
    """Actions whose every answer carries escapes (as a tmux error or git output could)."""

    calls: list[str] = []

    def needs_terminal(self) -> bool:
        return False

    def __getattr__(self, name: str):
        def act(*args, **kwargs):
            if name == "diff_stat":
                return f" evil{EVIL}.py | 2 +-\n second{EVIL}"
            if name == "diff":  # the diff view (`D`): file names, lines and commit subjects from git
                from mission_control.core.diff import BranchDiff, parse_diff

                text = (f"diff --git a/evil{EVIL}.py b/evil{EVIL}.py\n--- a/evil{EVIL}.py\n+++ b/evil{EVIL}.py\n"
                        f"@@ -1 +1 @@\n-old{EVIL}\n+new{EVIL}\n")
                return BranchDiff(agent=args[0], branch="b" + EVIL, base="main", files=tuple(parse_diff(text)),
                                  commits=(f"abc1234 subject{EVIL}",))
            from mission_control.fleet.actions import Outcome

            return Outcome(args[0] if args else None, f"{name} failed: {EVIL}", ok=False)

        return act


async def test_the_dashboard_shows_outside_text_inert() -> None:
    """Reasons, tasks, output, evidence, commit subjects, models, pane tails, history, notices and
    every dialog carry the escapes as visible text: nothing reaches the terminal to be obeyed."""
    now = time.time()
    evil_agent = AgentSnapshot(
        "evil", "shell", Status.WORKING, "r" + EVIL, since=now, task="t" + EVIL, last_line="l" + EVIL,
        evidence="e" + EVIL, cost_source="c" + EVIL, models=("m" + EVIL,), commits=1,
        recent_commits=({"sha": "abc" + EVIL, "subject": "s" + EVIL, "time": now},),
    )
    source = FixedSource(
        FleetSnapshot(now, "mission-control", (evil_agent, AgentSnapshot("other", "shell", Status.IDLE, "", since=now))),
        tails={"evil": "tail line" + EVIL + "\nnext"}, changes={"evil": [{"new": "WORKING" + EVIL}]},
    )
    app = create_app(source=source, actions=EvilActions(), live=False, clock=lambda: now)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        out = screen_bytes(app)
        assert "OWNED" in out and "␛]0;OWNED␇" in out
        assert raw_controls(out) == []

        # a notice (an agent starting to need you) with the reason in it
        stuck = FleetSnapshot(now + 1, "mission-control", (
            AgentSnapshot("evil", "shell", Status.STUCK, "r" + EVIL, since=now), source.snapshot.agents[1]))
        from mission_control.ui.messages import FleetObserved

        app.post_message(FleetObserved(stuck, True))
        await pilot.pause()
        await pilot.press("p")  # an action whose outcome carries escapes
        await app.workers.wait_for_complete()
        await pilot.pause()
        notices = [n.message + n.title for n in app._notifications]  # what the toasts show (not markup)
        assert any("toggle_pause failed: ␛]0;OWNED" in n for n in notices), notices
        assert any("evil is STUCK: r␛]0;OWNED" in n for n in notices), notices
        assert raw_controls("".join(notices)) == []
        assert raw_controls(screen_bytes(app)) == []

        for key, screen in (("D", "DiffScreen"), ("a", "ReassignScreen"), ("K", "ConfirmScreen")):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.__class__.__name__ == screen
            out = screen_bytes(app)
            assert raw_controls(out) == [], (screen, raw_controls(out))
            if screen == "DiffScreen":  # the file name and its lines shown, as text
                assert "␛]0;OWNED" in out, out[-2000:]
            await pilot.press("escape")
            await pilot.pause()


async def test_markup_in_outside_text_is_shown_not_obeyed() -> None:
    """A task like "[/]" or "[link=...]" is Rich markup to a str cell: shown as typed, never a
    crash or a hyperlink escape."""
    now = time.time()
    agent = AgentSnapshot("a", "shell", Status.WORKING, "[/] [link=http://x]y[/link]", since=now, task="[bold]t[/]")
    app = create_app(source=FixedSource(FleetSnapshot(now, "s", (agent,))), live=False, clock=lambda: now)
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        out = screen_bytes(app)
        assert "[/] [link=http://x]y[/link]" in out and "[bold]t[/]" in out
        assert "\x1b]8;" not in out


def evil_fleet(tmp_path: Path, command: str, extra: str = "") -> Path:
    cfg = tmp_path / "agents.toml"
    cfg.write_text(
        '[mission]\nsession = "t"\npoll_interval = 0.3\n'
        "[[agent]]\n"
        'name = "evil"\nkind = "shell"\n'
        'task = "fix \\u001b]0;OWNED\\u0007\\u001b[2J it"\n'
        f"command = '''{command}'''\n{extra}"
    )
    return cfg


def test_status_shows_an_agents_words_inert(cli, tmp_path: Path) -> None:
    """The real `status` on a real fleet: an agent's reported reason full of escapes is printed
    as visible text (the JSON form carries it byte-exact, JSON-escaped)."""
    cfg = evil_fleet(
        tmp_path,
        r"""printf 'STUCK \033]0;OWNED\007\033[2J now\n' > "$MISSION_CONTROL_STATUS_FILE"; sleep 1000""",
    )
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    try:
        rows = retry_until(lambda: [a for a in cli.status("-c", str(cfg)) if a["status"] == "STUCK"], timeout=30)
        assert "\x1b]0;OWNED\x07\x1b[2J now" in rows[0]["reason"]  # byte-exact in the JSON
        assert rows[0]["task"] == "fix \x1b]0;OWNED\x07\x1b[2J it"
        r = cli("status", "-c", str(cfg))
        assert r.returncode == 0, r.stderr
        assert "␛]0;OWNED␇␛[2J now" in r.stdout
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", r.stdout), repr(r.stdout)
    finally:
        cli("down", "-c", str(cfg))


def test_a_reason_is_never_run_by_tmux(cli, tmp_path: Path) -> None:
    """The supervisor tells attached people about a STUCK agent with tmux display-message, whose
    text is a tmux format: "#(cmd)" in an agent's reason must be shown, not run."""
    pwned = tmp_path / "pwned"
    go = tmp_path / "go"
    cfg = evil_fleet(
        tmp_path,
        f"""while [ ! -e {go} ]; do sleep 0.1; done; echo 'STUCK #(touch {pwned}) now' > "$MISSION_CONTROL_STATUS_FILE"; sleep 1000""",
    )
    r = cli("up", "--no-attach", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    outer = f"{cli.socket}-outer"
    try:
        # a person attached (a real client, in a pane of another tmux server)
        subprocess.run(["tmux", "-L", outer, "new-session", "-d", "-x", "200", "-y", "40",
                        f"env -u TMUX tmux -L {cli.socket} attach -t t"], check=True)
        retry_until(lambda: cli.tmux("list-clients", "-F", "#{client_control_mode}").split().count("0") >= 1, timeout=20)
        go.touch()

        def shown() -> bool:
            screen = subprocess.run(["tmux", "-L", outer, "capture-pane", "-p", "-t", "%0"], capture_output=True, text=True).stdout
            return "evil is STUCK" in screen and screen

        screen = retry_until(shown, timeout=30, message="the STUCK notice on the attached client")
        assert "#(touch" in screen
        assert not pwned.exists()
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True)
        cli("down", "-c", str(cfg))


# ---------------------------------------------------------------- what `check` refuses (items 6 and 10)

AGENT = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 100"\n'


def git_repo(path: Path) -> Path:
    return make_repo(path, {"f": "x\n"}, "one")


def setup_inside_checkout(tmp: Path) -> str:
    (git_repo(tmp / "outer") / "plain").mkdir()
    return '[mission]\nrepo = "outer/plain"\n' + AGENT


def setup_state_file(tmp: Path) -> str:
    (tmp / "state").write_text("not a folder")
    return '[mission]\nstate_dir = "state"\n' + AGENT


def setup_layout_dir(tmp: Path) -> str:
    (tmp / "layouts" / "mine.toml").mkdir(parents=True)
    return '[mission]\nlayout = "mine"\n' + AGENT


def setup_base_branch(tmp: Path) -> str:
    git_repo(tmp / "repo")
    return '[mission]\nrepo = "repo"\nbase_branch = "nope"\n' + AGENT.replace('command = "sleep 100"', 'command = "sleep 100"\nworktree = true')


REFUSED = {
    # id: (config text, or a function of the folder returning it; what the one line names)
    "cwd-missing": (AGENT + 'cwd = "no/such/dir"\n', ["cwd", "no/such/dir", "does not exist"]),
    "repo-inside-checkout": (setup_inside_checkout, ["mission.repo", "plain", "not its top level"]),
    "worktree-no-repo": (AGENT + "worktree = true\n", ["worktree = true needs mission.repo"]),
    "state-dir-file": (setup_state_file, ["mission.state_dir", "is a file"]),
    "layout-dir": (setup_layout_dir, ["mine.toml", "is a folder, not a layout file"]),
    "stuck-inf": ("[mission]\nstuck_after = inf\n" + AGENT, ["mission.stuck_after = inf", "out of range"]),
    "stuck-nan": ("[mission]\nstuck_after = nan\n" + AGENT, ["mission.stuck_after = nan"]),
    "start-huge": ("[mission]\nstart_timeout = 1e308\n" + AGENT, ["mission.start_timeout = 1e+308", "less than or equal to 604800"]),
    "budget-inf": ("[mission]\nbudget_usd = inf\n" + AGENT, ["mission.budget_usd = inf"]),
    "too-many-agents": ("".join(f'[[agent]]\nname = "a{i}"\nkind = "shell"\ncommand = "x"\n' for i in range(501)),
                        ["501 agents", "at most 500"]),
    "base-branch": (setup_base_branch, ["mission.base_branch = 'nope'", "is not a branch"]),
    "nul-env-value": (AGENT + 'env = { KEY = "a\\u0000b" }\n', ["env.KEY = 'a\\x00b'", "NUL"]),
    "nul-env-name": (AGENT + 'env = { "K\\u0000" = "v" }\n', ["NUL"]),
    "nul-task": (AGENT + 'task = "do\\u0000it"\n', ["task = 'do\\x00it'", "NUL"]),
    "nul-command": ('[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep\\u0000 1"\n', ["command", "NUL"]),
    "nul-cwd": (AGENT + 'cwd = "/tmp\\u0000x"\n', ["cwd", "NUL"]),
    "nul-on-status": ('[mission]\non_status = "echo\\u0000"\n' + AGENT, ["mission.on_status", "NUL"]),
    "env-name-with-equals": (AGENT + 'env = { "A=B" = "v" }\n', ["'A=B' is not a valid environment variable name"]),
    "key-binding-control": (AGENT + '[keys]\npause = "\\u001b"\n', ["keys", "is not a key name"]),
    "key-taken": (AGENT + '[keys]\npause = "r"\n', ["keys.pause = 'r' is also resume's key: rebind resume too"]),
    "task-key-taken": (AGENT + '[keys]\ntask_add = "x"\n', ["keys.task_add = 'x' is also task_cancel's key"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_check_refuses_what_up_would_refuse(cli, tmp_path: Path, case: str) -> None:
    """`check` and `up` give the same one line (file, key, value) and exit 2; `up` starts nothing."""
    body, needles = REFUSED[case]
    text = body(tmp_path) if callable(body) else body
    cfg = tmp_path / "agents.toml"
    cfg.write_text(text)
    for command in (["check"], ["up", "--no-attach"]):
        r = cli(*command, "-c", str(cfg))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, (command, r.returncode, r.stdout, r.stderr)
        assert lines[0].startswith(f"mission-control: {cfg}"), lines
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
        assert "internal error" not in lines[0] and "\x00" not in r.stderr
    assert not cli.server_running()
    assert not (tmp_path / ".mission-control").exists()


def test_legitimate_hostile_values_pass(cli, tmp_path: Path) -> None:
    """Newlines, ';', quotes, `$()` and any unicode are values, not errors."""
    cfg = tmp_path / "agents.toml"
    cfg.write_text(AGENT + 'task = "line one;\\nline two $(x) `y` \\"q\\" ünï ☃ ;"\nenv = { V = "a;\\nb;" }\n')
    r = cli("check", "-c", str(cfg))
    assert r.returncode == 0 and "ok (1 agents" in r.stdout, r.stderr


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "huge", "binary", "deep"])
def test_a_config_that_is_not_a_text_file_is_refused_at_once(cli, tmp_path: Path, make: str) -> None:
    """A FIFO (the read would wait for a writer forever), /dev/zero (never ends), a file past the
    size cap, bytes that are not UTF-8, nesting too deep for the TOML reader: one line, exit 2, no hang."""
    import os

    from mission_control.core.config import CONFIG_MAX_BYTES

    cfg = tmp_path / "agents.toml"
    if make == "fifo":
        os.mkfifo(cfg)
        want = "is not a regular file"
    elif make == "dev-zero":
        cfg = Path("/dev/zero")
        want = "is not a regular file"
    elif make == "huge":
        with open(cfg, "wb") as f:
            f.truncate(CONFIG_MAX_BYTES + 1)
        want = f"at most {CONFIG_MAX_BYTES} bytes"
    elif make == "binary":
        cfg.write_bytes(b'[[agent]]\nname = "\xff\xfe"\n')
        want = "is not UTF-8"
    else:  # nested deeper than the TOML reader's recursion goes (it was an internal RecursionError)
        cfg.write_text("a = " + "[" * 50000 + "]" * 50000 + "\n")
        want = "nested too deeply"
    started = time.monotonic()
    r = cli("check", "-c", str(cfg), timeout=20)
    assert r.returncode == 2 and want in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.monotonic() - started < 15


def test_spawn_refuses_a_nul_in_its_task(tmp_path: Path) -> None:
    """A spawn request is validated like an `[[agent]]` table: NUL is one clear line."""
    from mission_control.core.config import agent_from_request, load_text

    config = load_text(tmp_path / "agents.toml", AGENT, environ={})
    with pytest.raises(ValueError, match=r"new agent task = 'x\\x00y' contains a NUL byte"):
        agent_from_request(config, {"name": "b", "kind": "shell", "command": "true", "task": "x\x00y"}, 1)


def test_inject_refuses_a_nul_in_a_value(cli, tmp_path: Path) -> None:
    """`inject` reads NAME=value lines: a NUL in a value is one line, exit 2, before anything is
    done (it was `internal error: ValueError: embedded null byte` at the respawn)."""
    from helpers import run_cli

    cfg = tmp_path / "agents.toml"
    cfg.write_text(AGENT)
    r = run_cli(cli, cfg, "inject", "a", stdin="KEY=se\x00cret\n")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "the value of KEY contains a NUL byte" in lines[0], r.stderr
    assert "se" not in lines[0].split("KEY")[1]  # the value itself is not echoed
