"""`mission-control down`: stop the fleet's session on its socket and nothing else.

Every process below the session's panes is collected first (agents that
daemonised into other process groups included), the session is killed, then
any survivor gets TERM, and KILL after a grace period: no orphans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mission_control.adapters import git_progress
from mission_control.adapters.processes import ProcessTable, terminate_all
from mission_control.adapters.store import STOPPED_KEY, Store
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.core.config import FleetConfig
from mission_control.core.progress import WorktreeInfo


@dataclass
class DownResult:
    was_running: bool
    stopped_processes: int = 0
    survivors: list[int] = field(default_factory=list)
    removed_worktrees: list[str] = field(default_factory=list)
    kept_worktrees: dict[str, list[str]] = field(default_factory=dict)


def stop_session(tmux: Tmux, session: str) -> tuple[int, list[int]]:
    """Kill `session` and every process below its panes (TERM, then KILL), and the tmux server
    when no other session is left on it: (processes stopped, pids that survived KILL).
    `down` uses it, and so does a failed `up` to take back what it started."""
    table = ProcessTable()
    table.refresh()
    pids: list[int] = []
    for pane in tmux.list_panes():
        if pane.session == session and pane.pid and not pane.dead:
            pids += table.descendants(pane.pid)
    try:
        tmux.kill_session(session)
    except TmuxError:
        pass
    if not tmux.sessions():
        tmux.kill_server()
    return len(pids), terminate_all(pids)


def down(config: FleetConfig, clean: bool = False) -> DownResult:
    tmux = Tmux(config.socket)
    result = DownResult(was_running=False)
    if tmux.has_session(config.session):
        result.was_running = True
        result.stopped_processes, result.survivors = stop_session(tmux, config.session)
    if config.store_path.exists():
        store = Store(config.store_path)
        store.set_meta(STOPPED_KEY, "1")  # a deliberate stop: the next `up` starts afresh, not as a recovery
        if clean:
            _clean_worktrees(config, store, result)
        store.log_action("down", "down", None, f"stopped {result.stopped_processes} processes", "ok" if result.was_running else "not running")
    return result


def _clean_worktrees(config: FleetConfig, store: Store, result: DownResult) -> None:
    if config.repo is None:
        return
    for agent in store.agents():
        if not agent.get("worktree"):
            continue
        info = WorktreeInfo(
            path=Path(agent["worktree"]),
            branch=agent["branch"],
            base_branch=agent["spec"].get("base_branch") or "",
            base_commit=agent["base_commit"] or "",
        )
        try:
            blockers = git_progress.worktree_blockers(config.repo, info)
            if blockers:
                result.kept_worktrees[agent["name"]] = blockers
                continue
            git_progress.remove_worktree(config.repo, info)
            result.removed_worktrees.append(agent["name"])
        except git_progress.GitError as exc:
            result.kept_worktrees[agent["name"]] = [str(exc)]
