"""Hostile values (issue 16, items 5, 6 and 10): text from configs, people, agents, files and git
never drives the operator's terminal; values that cannot be passed on, and configs `up` would
refuse, are refused by `check` in one line (file, key, value) with exit 2."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import retry_until
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
            from mission_control.actions import Outcome

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
    app = create_app(source, EvilActions(), live=False, clock=lambda: now)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        out = screen_bytes(app)
        assert "OWNED" in out and "␛]0;OWNED␇" in out
        assert raw_controls(out) == []

        # a notice (an agent starting to need you) with the reason in it
        stuck = FleetSnapshot(now + 1, "mission-control", (
            AgentSnapshot("evil", "shell", Status.STUCK, "r" + EVIL, since=now), source.snapshot.agents[1]))
        from mission_control.ui.app import FleetObserved

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

        for key, screen in (("D", "TextViewScreen"), ("a", "ReassignScreen"), ("K", "ConfirmScreen")):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.__class__.__name__ == screen
            out = screen_bytes(app)
            assert raw_controls(out) == [], (screen, raw_controls(out))
            await pilot.press("escape")
            await pilot.pause()


async def test_markup_in_outside_text_is_shown_not_obeyed() -> None:
    """A task like "[/]" or "[link=...]" is Rich markup to a str cell: shown as typed, never a
    crash or a hyperlink escape."""
    now = time.time()
    agent = AgentSnapshot("a", "shell", Status.WORKING, "[/] [link=http://x]y[/link]", since=now, task="[bold]t[/]")
    app = create_app(FixedSource(FleetSnapshot(now, "s", (agent,))), live=False, clock=lambda: now)
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
