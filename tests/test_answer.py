"""Answering a WAITING agent's prompt from outside its pane, for real: a bash `read -p '(y/n)'`
and a scripted numbered menu (tests/tools/menu_prompt.py, drawn like Claude Code's permission
dialog, moved by arrows only) in tmux panes of a running fleet, answered through the CLI and
through `FleetActions.answer` (what the dashboard's keys call)."""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from pathlib import Path

import pytest

from helpers import ROOT, pane_text, retry_until, run_cli, status_of
from helpers import up as up_fleet
from mission_control.fleet.actions import ActionError, FleetActions
from mission_control.fleet.locate import load_config

pytestmark = pytest.mark.tmux

MENU = ROOT / "tests" / "tools" / "menu_prompt.py"
up = partial(up_fleet, stuck_after=120)


def agents(tmp_path: Path, *names: str) -> str:
    """`yn` (a shell asking yes/no), `busy` (always working) and menu agents named `names`."""
    asker = tmp_path / "ask.sh"
    asker.write_text(f'read -p "Deploy now? (y/n) " a\necho "got:$a" > {tmp_path / "yn.out"}\nsleep 600\n')
    body = f'''
[[agent]]
name = "yn"
kind = "shell"
command = "bash {asker}"

[[agent]]
name = "busy"
kind = "shell"
command = "while true; do date +%s%N > {tmp_path / 'beat'}; sleep 0.05; done"
'''
    for name in names:
        body += f'\n[[agent]]\nname = "{name}"\nkind = "claude"\ncommand = "{sys.executable} {MENU} {tmp_path / name}.out"\n'
    return body


def waiting(cli, cfg: Path, name: str) -> dict:
    return retry_until(lambda: (s := status_of(cli, cfg, name)).get("status") == "WAITING" and s,
                       message=f"{name} is WAITING")


def test_answer_a_shell_yes_no_and_a_menu_from_the_cli(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, agents(tmp_path, "menu"))
    waiting(cli, cfg, "yn")
    shown = run_cli(cli, cfg, "answer", "yn")
    assert shown.returncode == 0, shown.stderr
    assert "yn asks: Deploy now?" in shown.stdout and "1. Yes (y)" in shown.stdout and "2. No (n)" in shown.stdout
    r = run_cli(cli, cfg, "answer", "yn", "y")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "mission-control: answered yn: 1. Yes"
    retry_until(lambda: (tmp_path / "yn.out").exists(), message="bash read the answer")
    assert (tmp_path / "yn.out").read_text() == "got:y\n"

    row = waiting(cli, cfg, "menu")
    assert row["reason"] == "permission: proceed"
    r = run_cli(cli, cfg, "answer", "menu", "n")  # option 3, two ↓ from the highlighted 1, then Enter
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "mission-control: answered menu: 3. No"
    retry_until(lambda: (tmp_path / "menu.out").exists(), message="the menu took the answer")
    assert (tmp_path / "menu.out").read_text() == "No\n"

    log = run_cli(cli, cfg, "log").stdout
    assert "Deploy now? → 1. Yes" in log and "Do you want to proceed? → 3. No" in log
    assert "cli" in log


def test_not_waiting_is_exit_1_and_one_line(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, agents(tmp_path))
    retry_until(lambda: status_of(cli, cfg, "busy").get("status") == "WORKING")
    before = pane_text(cli, "busy")
    r = run_cli(cli, cfg, "answer", "busy", "y")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("mission-control: busy is WORKING")
    assert "not waiting for an answer: nothing typed" in r.stderr
    assert "y" not in pane_text(cli, "busy").replace(before, "")
    r = run_cli(cli, cfg, "answer", "nobody", "y")
    assert r.returncode == 1 and "no agent named 'nobody'" in r.stderr
    waiting(cli, cfg, "yn")
    r = run_cli(cli, cfg, "answer", "yn", "7")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "'7' is not one of its options: 1 Yes · 2 No · y = 1 · n = 2; nothing typed" in r.stderr
    assert not (tmp_path / "yn.out").exists()


def menu_pid(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.out.pid"
    retry_until(path.exists)
    return int(path.read_text())


def test_a_prompt_that_changed_is_not_answered(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the look and the keys, in both places: the prompt the person saw (the dashboard's
    `expected`), and the screen read again right before typing."""
    cfg = up(cli, tmp_path, agents(tmp_path, "looked", "racing"))
    monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
    acts = FleetActions(load_config(cfg), actor="test")

    waiting(cli, cfg, "looked")
    seen = acts.waiting_prompt("looked")
    assert seen.question == "Do you want to proceed?" and seen.selected == 1
    os.kill(menu_pid(tmp_path, "looked"), signal.SIGUSR1)  # it asks something else now
    retry_until(lambda: "delete the database" in pane_text(cli, "looked"))
    with pytest.raises(ActionError, match="looked's prompt changed since you looked .*nothing typed"):
        acts.answer("looked", "1", expected=seen)

    waiting(cli, cfg, "racing")
    pid = menu_pid(tmp_path, "racing")

    class Racing(FleetActions):
        """The prompt changes right after the first look, before the keys go in."""
        looks = 0

        def _screen(self, rec):  # type: ignore[no-untyped-def]
            Racing.looks += 1
            if Racing.looks == 2:
                os.kill(pid, signal.SIGUSR1)
                retry_until(lambda: "delete the database" in pane_text(cli, "racing"))
            return super()._screen(rec)

    with pytest.raises(ActionError, match="racing's prompt changed before the answer went in .*nothing typed"):
        Racing(load_config(cfg), actor="test").answer("racing", "y")
    assert not (tmp_path / "looked.out").exists() and not (tmp_path / "racing.out").exists()
    assert "❯ 1. Yes" in pane_text(cli, "racing")  # not a key went in: the highlight did not move
    log = run_cli(cli, cfg, "log").stdout
    assert "answer" not in log


async def test_a_round_of_approvals_from_the_dashboard_keys(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`y` at the first WAITING agent, `n` to the next one needing you, `N` there: both answered,
    without a zoom; the dashboard's keys go through the real actions to the real panes."""
    from mission_control.ui.app import create_app
    from mission_control.ui.widgets.prompt_bar import PromptBar
    from test_dashboard_fleet import wait_for

    monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
    monkeypatch.delenv("TMUX", raising=False)
    cfg = up(cli, tmp_path, agents(tmp_path, "menu"))
    waiting(cli, cfg, "yn")
    waiting(cli, cfg, "menu")
    app = create_app(load_config(cfg), poll_seconds=0.1, bell=False)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(PromptBar)
        await wait_for(pilot, lambda: app.selected_name == "yn" and bar.prompt is not None and bar.agent == "yn",
                       message="yn's prompt on the prompt line")
        assert bar.prompt.question == "Deploy now?"
        await pilot.press("y")
        await wait_for(pilot, lambda: (tmp_path / "yn.out").exists(), message="y answered yn")
        await pilot.press("n")  # next needing you: menu
        await wait_for(pilot, lambda: bar.agent == "menu" and bar.prompt is not None, message="menu's prompt shown")
        assert [o.label for o in bar.prompt.options] == ["Yes", "Yes, and don't ask again for this command", "No"]
        await pilot.press("N")
        await wait_for(pilot, lambda: (tmp_path / "menu.out").exists(), message="N answered menu")
    assert (tmp_path / "yn.out").read_text() == "got:y\n" and (tmp_path / "menu.out").read_text() == "No\n"
    log = run_cli(cli, cfg, "log").stdout
    assert "dashboard" in log and "Deploy now? → 1. Yes" in log and "Do you want to proceed? → 3. No" in log


@pytest.fixture
def fake_model(tmp_path: Path):
    """tests/tools/fake_llm_server.py on a loopback port: its base URL (stopped afterwards)."""
    import subprocess

    port_file = tmp_path / "fake.port"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "tools" / "fake_llm_server.py"), "--port-file",
                               str(port_file), "--lifetime", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        retry_until(lambda: port_file.exists() and port_file.read_text().strip(), timeout=20)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        server.kill()
        server.wait()


@pytest.mark.skipif(not __import__("shutil").which("qwen"), reason="Qwen Code (`qwen`) is not installed")
def test_a_real_qwen_permission_prompt_answered(cli, tmp_path: Path, fake_model: str) -> None:
    """Qwen Code at its shell-permission dialog (the fake model asks to run `echo … > notes.txt`):
    `answer qw y` moves its highlight and presses Enter, and the command runs."""
    import subprocess

    home, repo = tmp_path / "home", tmp_path / "repo"
    (home / ".qwen").mkdir(parents=True)
    (home / ".qwen" / "settings.json").write_text(
        '{"memory": {"enableManagedAutoMemory": false}, "security": {"auth": {"selectedType": "openai"}}}')
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    cfg = up(cli, tmp_path, f'''
[[agent]]
name = "qw"
kind = "qwen"
cwd = "{repo}"
worktree = false
task = "create notes.txt with a greeting"
env = {{ HOME = "{home}", OPENAI_API_KEY = "fake-qwen-key", OPENAI_BASE_URL = "{fake_model}/s/bash/v1", OPENAI_MODEL = "qwen3-coder-plus" }}
''')
    retry_until(lambda: status_of(cli, cfg, "qw").get("status") == "WAITING", timeout=90, message="qwen asks permission")
    shown = run_cli(cli, cfg, "answer", "qw")
    assert shown.returncode == 0 and "qw asks: Allow execution of: 'echo'?" in shown.stdout, shown.stdout + shown.stderr
    r = run_cli(cli, cfg, "answer", "qw", "y")
    assert r.returncode == 0 and "answered qw: 1. Yes, allow once" in r.stdout, r.stderr
    retry_until(lambda: (repo / "notes.txt").exists(), timeout=30, message="the shell command ran")
    assert (repo / "notes.txt").read_text() == "hello from fixture\n"
