"""The dashboard's keys against a real fleet: real tmux, real processes, the real actions."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from helpers import PROMPTER, pilot_until, retry_until, shell_agent, up, write_scripts
from mission_control.adapters.processes import agent_processes
from mission_control.fleet.actions import FleetActions
from mission_control.fleet.locate import load_config
from mission_control.ui.app import create_app
from mission_control.ui.widgets.agent_table import AgentTable

pytestmark = pytest.mark.tmux

wait_for = pilot_until


async def test_keys_drive_a_real_fleet(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSION_CONTROL_SOCKET", cli.socket)
    monkeypatch.delenv("TMUX", raising=False)
    script = write_scripts(tmp_path, prompter=PROMPTER)["prompter"]
    typed = {n: tmp_path / f"typed-{n}" for n in ("a", "b")}
    cfg = up(cli, tmp_path, "".join(shell_agent(n, f"{sys.executable} {script} {typed[n]}", f'task = "task of {n}"\n')
                                    for n in ("a", "b")))
    retry_until(lambda: all(x["status"] == "IDLE" for x in cli.status("-c", str(cfg))), message="both at their prompt")

    config = load_config(cfg)
    app = create_app(config, poll_seconds=0.1)  # wired as `mission-control dashboard` wires it
    actions = app.actions
    async with app.run_test(size=(170, 42)) as pilot:
        table = app.query_one(AgentTable)
        await wait_for(pilot, lambda: table.row_count == 2, message="the fleet is shown")
        assert table.selected == "a"

        def pane_pid(name: str) -> int:
            return next(p.pid for p in actions.tmux.list_panes() if p.agent == name)

        def stopped(name: str) -> bool:
            _, procs = agent_processes(pane_pid(name))
            return bool(procs) and all(p.status() == psutil.STATUS_STOPPED for p in procs)

        await pilot.press("p")
        await wait_for(pilot, lambda: stopped("a"), message="p pauses every process of a")
        await wait_for(pilot, lambda: str(table.get_cell("a", "status")) == "PAUSED", message="shown PAUSED")
        await pilot.press("p")
        await wait_for(pilot, lambda: not stopped("a"), message="p again continues it")

        # t: send text
        await pilot.press("t")
        await pilot.pause()
        await pilot.press(*"hello a", "enter")
        await wait_for(pilot, lambda: typed["a"].exists() and typed["a"].read_text() == "hello a\n", message="sent")

        # e: inject env into a; it restarts with it
        await pilot.press("e")
        await pilot.pause()
        await pilot.press(*"NOTE=from the dialog", "ctrl+s")
        await wait_for(pilot, lambda: "note: from the dialog" in cli.tmux("capture-pane", "-p", "-t", actions.record("a").pane_id),
                       message="the injected value reached the agent")
        assert "from the dialog" not in "".join(row["outcome"] + row["detail"] for row in actions.store.actions())

        # K asks first; y kills; R restarts
        await pilot.press("K")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: str(table.get_cell("a", "status")).startswith("EXITED"), message="killed")
        await pilot.press("R")
        await wait_for(pilot, lambda: str(table.get_cell("a", "status")) == "IDLE", timeout=30, message="restarted")

        # a: reassign a's task to b (first choice: the idle b)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: typed["b"].exists() and "task of a" in typed["b"].read_text(), timeout=30,
                       message="b got the handoff")
        await wait_for(pilot, lambda: str(table.get_cell("b", "task")).startswith("task of a"), message="task shown on b")

        # s: spawn a third agent
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"c")
        await pilot.press("tab", "tab", *"sleep 1000", "enter")
        await wait_for(pilot, lambda: table.row_count == 3, timeout=30, message="spawned agent shown")
