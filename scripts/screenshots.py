"""Regenerate screenshots/*.svg from the real app on the real demo fleet.

    python scripts/screenshots.py

Starts the shipped demo fleet on a throwaway tmux socket in a temp dir, lets it
run, then renders the dashboard (Textual's own SVG export) against the
supervisor's live state store, and stops the fleet again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"


async def shoot(config_path: Path) -> None:
    from mission_control.fleet.locate import load_config
    from mission_control.ui.app import create_app
    from mission_control.ui.source import StoreSource

    config = load_config(config_path)
    app = create_app(config, source=StoreSource(config), poll_seconds=0.2)  # the real actions: the diff is read by git
    async with app.run_test(size=(180, 46)) as pilot:
        await pilot.pause(1.5)
        app.save_screenshot("dashboard.svg", path=str(OUT))
        await pilot.press("n")  # jump to the next agent needing a human
        await pilot.pause(1.0)
        app.save_screenshot("dashboard-needs-you.svg", path=str(OUT))
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        app.save_screenshot("help.svg", path=str(OUT))
        await pilot.press("escape")
        await shoot_tasks_and_diff(app, pilot, config)


def add_demo_tasks(config) -> None:
    """A board to show: tasks of each priority, one after another, one given to an agent."""
    from mission_control.adapters.store import Store
    from mission_control.fleet.tasks import TaskBoard

    board = TaskBoard(config, Store(config.store_path), actor="screenshots")
    board.add("Add a --strict flag to the config parser", task_id="strict", priority="high")
    board.add("Document the --strict flag", task_id="strict-docs", after=("strict",))
    board.add("Speed up the test suite", task_id="fast-tests", review=True)
    board.add("Tidy the README's examples", task_id="readme", priority="low")
    board.assign("readme", "docs")


async def shoot_tasks_and_diff(app, pilot, config) -> None:
    """The Tasks view (`T`, issue 19) and the coder's diff (`D`, issue 21), at 120x36."""
    await pilot.resize_terminal(120, 36)
    await pilot.pause(0.5)
    await pilot.press("T")
    await pilot.pause(1.5)
    app.save_screenshot("tasks.svg", path=str(OUT))
    await pilot.press("escape")
    app.query_one("AgentTable").select_agent("coder")
    await pilot.pause(0.3)
    await pilot.press("D")
    await pilot.pause(2.0)
    app.save_screenshot("diff.svg", path=str(OUT))


def main() -> int:
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mc-shots-"))
    shutil.copy(ROOT / "agents.toml", work / "agents.toml")
    env = dict(os.environ, MISSION_CONTROL_SOCKET=f"mc-shots-{os.getpid()}")
    env.pop("TMUX", None)
    mc = [sys.executable, "-m", "mission_control"]
    os.environ.update(MISSION_CONTROL_SOCKET=env["MISSION_CONTROL_SOCKET"])
    subprocess.run([*mc, "up", "--no-attach"], cwd=work, env=env, check=True)
    try:
        time.sleep(float(os.environ.get("SCREENSHOT_WAIT", "25")))
        from mission_control.fleet.locate import load_config

        add_demo_tasks(load_config(work / "agents.toml"))
        time.sleep(3)
        asyncio.run(shoot(work / "agents.toml"))
    finally:
        subprocess.run([*mc, "down"], cwd=work, env=env)
        shutil.rmtree(work, ignore_errors=True)
    for f in sorted(OUT.glob("*.svg")):
        print(f.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
