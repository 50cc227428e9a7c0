"""Issue 22: a remote agent's prompt on the laptop, and who acted in the host's action log, against a
real sshd on loopback as the second host (`ssh_box`). The box's agent shows a permission dialog
(tests/tools/menu_prompt.py, drawn like Claude Code's, moved by arrows only): the laptop's
dashboard (built by the app factory) shows its question and options on the prompt line and its
screen in the detail panel, kept current while shown; `answer` without a choice prints it;
the dashboard's key answers it there; the box's action log names `dashboard@<this machine>`
(through the action channel) and `cli@<this machine>` (the CLI's one-shot ssh). The host's end
of the feed (`status --json --watch --tails`) and of the channel are tested alone too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, fleet, pane_of, pilot_until, retry_until, shell_agent, up
from test_hosts_actions import _app, _box_log, _select, _up
from test_hosts_view import _env, _rows

pytestmark = pytest.mark.tmux

MENU = ROOT / "tests" / "tools" / "menu_prompt.py"


def _split_menu(tmp_path: Path, box) -> Path:
    """"here" (a shell) on this machine; on the box "first" (a shell: the box's own dashboard shows
    it, its first agent) and "there" (the permission dialog)."""
    there = f'\n[[agent]]\nname = "there"\nkind = "claude"\ncommand = "{sys.executable} {MENU} {tmp_path / "menu"}"\nhost = "box"\n'
    return fleet(tmp_path, f'[[host]]\nname = "box"\nssh = "{box.name}"\n' + shell_agent("here", "bash")
                 + shell_agent("first", "bash", 'host = "box"\n') + there)


def _log_lines(log: str, *words: str) -> list[str]:
    return [line for line in log.splitlines() if all(w in line.split() for w in words)]


async def test_a_remote_agents_prompt_shows_on_the_laptop_and_is_answered_from_it(
        cli, tmp_path: Path, ssh_box, monkeypatch) -> None:
    from mission_control.core.hosts import remote_actor
    from mission_control.ui.widgets.detail_panel import DetailPanel
    from mission_control.ui.widgets.prompt_bar import PromptBar

    cfg = _split_menu(tmp_path, ssh_box)
    env = _env(ssh_box)
    _up(cli, cfg, ssh_box)
    try:
        retry_until(lambda: _rows(cli, cfg, ssh_box).get("there", {}).get("status") == "WAITING", timeout=60,
                    message="the box's agent WAITING in the laptop's view")
        shown = cli("answer", "there", "-c", str(cfg), **env)  # forwarded: the host reads its screen
        assert shown.returncode == 0, shown.stderr
        assert "there asks: Do you want to proceed?" in shown.stdout and "3. No (n)" in shown.stdout, shown.stdout

        app = _app(cfg, ssh_box, cli, monkeypatch)
        async with app.run_test(size=(150, 40)) as pilot:
            await _select(pilot, app, "there")
            bar = app.query_one(PromptBar)
            await pilot_until(pilot, lambda: bar.agent == "there" and bar.prompt is not None, timeout=30,
                              message="the box's prompt on the laptop's prompt line")
            assert bar.prompt.question == "Do you want to proceed?"
            assert [o.label for o in bar.prompt.options] == ["Yes", "Yes, and don't ask again for this command", "No"]
            assert bar.prompt.selected == 1
            assert "there asks: Do you want to proceed?" in str(bar.render())
            seen = bar.prompt
            tail = app.screen.query_one(DetailPanel).query_one("#detail-tail")
            assert "./build.sh --all" in str(tail.render())

            # the question changes on the box, the agent still WAITING: the shown agent's screen is
            # watched there, so it reaches the laptop within seconds (not the 30 s of an unwatched one)
            os.kill(int((tmp_path / "menu.pid").read_text()), signal.SIGUSR1)
            changed = time.monotonic()
            await pilot_until(pilot, lambda: bar.prompt is not None and "delete the database" in bar.prompt.question,
                              timeout=30, message="the new question on the laptop")
            assert time.monotonic() - changed < 15, "the watched agent's screen came no sooner than an unwatched one"
            # a choice made on the prompt seen before is not typed into the new one (the host checks it)
            from mission_control.fleet.actions import FleetActions
            from mission_control.fleet.locate import load_config

            stale = await asyncio.to_thread(FleetActions(load_config(cfg), actor="dashboard").answer, "there", "1", expected=seen)
            assert not stale.ok and "prompt changed since you looked" in stale.message and "\n" not in stale.message, stale
            assert not (tmp_path / "menu").exists()

            await pilot.press("N")  # answered on the box: ↓↓ there from the highlighted 1, then Enter
            await pilot_until(pilot, lambda: (tmp_path / "menu").exists(), timeout=30, message="N answered on the box")
            await pilot_until(pilot, lambda: "chose: No" in str(tail.render()), timeout=30,
                              message="the box's screen after the answer in the detail panel")
        assert (tmp_path / "menu").read_text() == "No\n"

        # who acted, on both sides: the dashboard (its channel), then the CLI (one ssh per command)
        r = cli("pause", "there", "-c", str(cfg), **env)
        assert r.returncode == 0, r.stderr
        there, here = _box_log(ssh_box), cli("log", "-c", str(cfg), **env).stdout
        dashboard, one_shot = remote_actor("dashboard", socket.gethostname()), remote_actor("cli", socket.gethostname())
        assert dashboard.startswith("dashboard@") and one_shot.startswith("cli@")
        answered = _log_lines(there, dashboard, "answer")
        assert len(answered) == 1 and "Do you want to delete the database? → 3. No" in answered[0], there
        assert len(_log_lines(there, one_shot, "pause")) == 1, there
        assert not _log_lines(there, "cli", "answer") and not _log_lines(there, "cli", "pause"), there
        assert _log_lines(here, "dashboard", "answer") and _log_lines(here, "cli", "pause"), here
    finally:
        cli("down", "-c", str(cfg), **env)


def test_the_hosts_feed_carries_stored_screens_and_takes_watches_on_stdin(cli, tmp_path: Path) -> None:
    """The host's end of the feed alone (`status --json --watch --tails`): its first line carries
    every stored screen, later lines the ones stored since; a name on its stdin watches that
    agent in the host's store (its screen then comes each tick it changes), a line too long to be
    a name does not."""
    import threading

    from mission_control.adapters.store import Store
    from mission_control.fleet.locate import load_config

    cfg = up(cli, tmp_path, shell_agent("a", "echo first-screen; exec bash") + shell_agent("b", "bash"))
    store = Store(load_config(cfg).store_path)
    retry_until(lambda: "first-screen" in store.pane_tail("a"), message="a's screen stored")
    feed = subprocess.Popen([sys.executable, "-m", "mission_control", "status", "--json", "--watch", "--tails", "-c", str(cfg)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli.env(), cwd=cli.cwd)
    lines: list[dict] = []
    assert feed.stdout is not None and feed.stdin is not None
    reader = threading.Thread(target=lambda: lines.extend(json.loads(line) for line in feed.stdout), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        retry_until(lambda: lines, message="the feed's first line")
        assert "first-screen" in lines[0]["tails"]["a"] and {a["name"] for a in lines[0]["agents"]} == {"a", "b"}
        feed.stdin.write("x" * 300 + "b\n\n" + "b\n")  # a long line's end is not a name; then b
        feed.stdin.flush()
        retry_until(lambda: "b" in store.watched_tails(time.time()), message="b watched in the store")
        assert store.watched_tails(time.time()) <= {"a", "b"}  # (a: the fleet's own dashboard shows its first agent)
        cli.tmux("send-keys", "-t", pane_of(cli, "b"), "echo shown-while-watched", "Enter")
        retry_until(lambda: any("shown-while-watched" in line.get("tails", {}).get("b", "") for line in lines),
                    timeout=30, message="b's new screen on the feed")
        assert all("tails" not in line or set(line["tails"]) <= {"a", "b"} for line in lines)
    finally:
        feed.kill()
        feed.wait()


def test_the_hosts_channel_names_the_requests_actor_and_refuses_a_bad_one() -> None:
    """The host's end of the channel alone: a request's `actor` is MISSION_CONTROL_ACTOR while it
    runs (what the CLI's action log names) and not after; an actor that is not a name is one
    answer, exit 2, never run."""
    script = (
        "import os, sys\n"
        "from mission_control.fleet.host_channel import serve\n"
        "def run(argv):\n"
        "    print(os.environ.get('MISSION_CONTROL_ACTOR', '-'))\n"
        "    return 0\n"
        "sys.exit(serve(run, 'cfg.toml', ('pause',)))\n")
    lines = [json.dumps({"words": ["pause", "a"], "stdin": "", "actor": "dashboard@laptop"}),
             json.dumps({"words": ["pause", "a"], "stdin": ""}),
             json.dumps({"words": ["pause", "a"], "stdin": "", "actor": "x\ny $(touch pwned)"}),
             json.dumps({"words": ["pause", "a"], "stdin": "", "actor": 7})]
    env = {k: v for k, v in os.environ.items() if k != "MISSION_CONTROL_ACTOR"}
    r = subprocess.run([sys.executable, "-c", script], input="\n".join(lines) + "\n", capture_output=True, text=True,
                       timeout=60, env=env)
    answers = [json.loads(line) for line in r.stdout.splitlines()][1:]
    assert answers[0] == {"code": 0, "stdout": "dashboard@laptop\n", "stderr": ""}
    assert answers[1]["stdout"] == "-\n"  # not left set for the next request
    for bad in answers[2:]:
        assert bad["code"] == 2 and "not a request (actor must be" in bad["stderr"] and bad["stdout"] == ""


def test_who_a_host_names_and_a_bad_actor_from_the_environment(cli, tmp_path: Path) -> None:
    from mission_control.core.hosts import remote_actor

    assert remote_actor("dashboard", "laptop.local") == "dashboard@laptop.local"
    assert remote_actor("dashboard@gpu", "laptop") == "dashboard@gpu"  # names its machine already
    assert remote_actor("cli", "my laptop;$(x)") == "cli@my-laptop---x-"
    assert remote_actor("cli", "") == "cli@unknown"
    assert len(remote_actor("supervisor", "h" * 200)) == 64
    cfg = fleet(tmp_path, shell_agent("a", "bash"))
    r = cli("pause", "a", "-c", str(cfg), MISSION_CONTROL_ACTOR="two words\x1b[31m")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "MISSION_CONTROL_ACTOR=" in r.stderr, r.stderr
    assert "\x1b" not in r.stderr
    for bad in ("not json $(touch pwned)", '{"question": "q", "options": "1. Yes"}', "[1]", "x" * 70000):
        r = subprocess.run([sys.executable, "-m", "mission_control", "answer", "a", "1", "--expected", "-c", str(cfg)],
                           input=bad, capture_output=True, text=True, env=cli.env(), cwd=cli.cwd, timeout=60)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "answer --expected: the expected prompt is not" in r.stderr, r.stderr
    assert not list(tmp_path.rglob("pwned"))


def test_the_prompt_seen_travels_as_json_and_compares_as_the_same() -> None:
    from mission_control.core.prompts import expected_from_json, expected_json, read_prompt

    screen = "● Bash\n Do you want to proceed? \"$(x)\" ünï\n ❯ 1. Yes\n   2. No\n\n Esc to cancel · Tab to amend\n"
    prompt = read_prompt("claude", screen)
    assert prompt is not None
    back = expected_from_json(expected_json(prompt))
    assert back.same(prompt) and prompt.same(back) and back.question == prompt.question
    other = read_prompt("claude", screen.replace("2. No", "2. No, and tell Claude"))
    assert not back.same(other)
