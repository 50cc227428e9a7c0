"""The shipped default fleet, as the README's first command starts it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, kill_hard, retry_until, role_pid

pytestmark = pytest.mark.tmux


def test_default_fleet_lives(cli, tmp_path: Path) -> None:
    shutil.copy(ROOT / "agents.toml", tmp_path / "agents.toml")
    r = cli("up", "--no-attach")
    assert r.returncode == 0, r.stderr
    repo = tmp_path / ".mission-control" / "demo-repo"
    assert (repo / ".git").is_dir()

    seen: dict[str, set[str]] = {}
    first: dict[str, int] = {}

    def lively() -> bool:
        rows = cli.status()
        for row in rows:
            seen.setdefault(row["name"], set()).add(row["status"])
            if row["commits"] is not None:
                first.setdefault(row["name"], row["commits"])
        names = {r["name"] for r in rows}
        grew = [r for r in rows if r["commits"] is not None and r["commits"] > first.get(r["name"], 0)]
        changing = [n for n, s in seen.items() if len(s - {"STARTING"}) >= 2]
        by = {r["name"]: r for r in rows}
        spending = [r for r in rows if (r["tokens_in"] or 0) > 0 and (r["cost_usd"] or 0) > 0]
        return (
            len(names) >= 4
            and len(grew) >= 2
            and len(spending) >= 2  # read from the agents' token lines by the agents.toml regexes
            and len(changing) >= 1
            and by["notifier"]["status"] == "STUCK"
            and "NOTIFICATION_KEY" in by["notifier"]["reason"]
        )

    retry_until(lively, timeout=60, interval=1.0, message=f"demo statuses change and commits grow: {seen}")
    retry_until(lambda: any(r["name"] == "asker" and r["status"] == "WAITING" for r in cli.status()),
                timeout=60, interval=0.5, message="the asker waits for an answer")

    # the dashboard pane: kill it hard, nothing is lost, a new dashboard shows the fleet
    dash_pid = role_pid(cli, "dashboard")
    before = cli.status()
    kill_hard(dash_pid)
    after = retry_until(lambda: (rows := cli.status()) and rows, message="status still answers")
    assert [r["name"] for r in after] == [r["name"] for r in before]
    assert all((a["commits"] or 0) >= (b["commits"] or 0) for a, b in zip(after, before))

    cli.tmux("new-window", "-d", "-t", "mission-control:", "-n", "dash2",
             f"{os.sys.executable} -m mission_control dashboard")
    retry_until(lambda: "notifier" in cli.tmux("capture-pane", "-p", "-t", "mission-control:dash2")
                and "STUCK" in cli.tmux("capture-pane", "-p", "-t", "mission-control:dash2"),
                timeout=30, message="a new dashboard shows the fleet")

    # the story: the STUCK notifier gets its key with one command and carries on, no other step
    r = cli("inject", "notifier", "NOTIFICATION_KEY=nk-live-0123456789")
    assert r.returncode == 0, r.stderr
    retry_until(lambda: any(r["name"] == "notifier" and r["status"] == "WORKING" for r in cli.status()),
                timeout=30, interval=0.3, message="the notifier works again after inject")
