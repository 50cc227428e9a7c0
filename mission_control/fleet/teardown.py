"""`mission-control down`: stop the fleet's session on its socket and nothing else.

Every process below the session's panes is collected first, and every process
carrying the fleet's mark in its environment (`MISSION_CONTROL_FLEET`: agents that
daemonised, double-forked or `setsid`-ed away from their pane included, and any left
by a crashed run of the same fleet); the session is killed, then each survivor gets
TERM, and KILL after a grace period; then the mark is looked for again until no
process carries it. `down` returns when they are gone: no orphans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mission_control.adapters import git_repo, worktrees
from mission_control.adapters.processes import ProcessTable, marked, stop_marked, terminate_all
from mission_control.adapters.store import STOPPED_KEY, Store
from mission_control.adapters.supervisor_lock import LockBusy, up_lock
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.core.config import FleetConfig
from mission_control.core.launch_plan import FLEET_ENV, fleet_mark
from mission_control.core.progress import WorktreeInfo


@dataclass
class DownResult:
    was_running: bool
    stopped_processes: int = 0
    survivors: list[int] = field(default_factory=list)
    removed_worktrees: list[str] = field(default_factory=list)
    kept_worktrees: dict[str, list[str]] = field(default_factory=dict)


DOWN_WAIT_SECONDS = 30.0
"""How long `down` waits for an `up` of the fleet in progress to finish (then it goes ahead anyway:
`down` is how a person stops everything, it never refuses)."""


def down(config: FleetConfig, clean: bool = False) -> DownResult:
    if not config.state_dir.is_dir():
        return _down(config, clean)
    try:
        with up_lock(config.state_dir, DOWN_WAIT_SECONDS):
            return _down(config, clean)
    except LockBusy:
        return _down(config, clean)


def stop_session(tmux: Tmux, config: FleetConfig) -> tuple[bool, int, list[int]]:
    """Kill the fleet's session and every process below its panes or carrying the fleet's mark
    (TERM, then KILL), and the tmux server when no other session is left on it: (whether the
    session was running, processes stopped, pids that survived KILL). `down` uses it, and so
    does a failed `up` to take back what it started."""
    mark = fleet_mark(config.socket, config.session)
    pids: list[int] = []
    running = tmux.has_session(config.session)
    if running:
        table = ProcessTable()
        table.refresh()
        for pane in tmux.list_panes():
            if pane.session == config.session and pane.pid and not pane.dead:
                pids += table.descendants(pane.pid)
        pids = list(dict.fromkeys(pids + marked(FLEET_ENV, mark)))
        try:
            tmux.kill_session(config.session)
        except TmuxError:
            pass
        if not tmux.sessions():
            tmux.kill_server()
    survivors = terminate_all(pids)
    escaped, left = stop_marked(FLEET_ENV, mark)  # forked meanwhile, or left by a crashed run
    return running, len(set(pids)) + escaped, sorted(set(survivors + left))


def _down(config: FleetConfig, clean: bool) -> DownResult:
    result = DownResult(was_running=False)
    result.was_running, result.stopped_processes, result.survivors = stop_session(Tmux(config.socket), config)
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
        if not agent.worktree:
            continue
        info = WorktreeInfo(
            path=Path(agent.worktree),
            branch=agent.branch,
            base_branch=agent.base_branch or "",
            base_commit=agent.base_commit or "",
        )
        try:
            blockers = worktrees.worktree_blockers(config.repo, info)
            if blockers:
                result.kept_worktrees[agent.name] = blockers
                continue
            worktrees.remove_worktree(config.repo, info)
            result.removed_worktrees.append(agent.name)
        except git_repo.GitError as exc:
            result.kept_worktrees[agent.name] = [str(exc)]
