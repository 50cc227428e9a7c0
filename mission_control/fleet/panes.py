"""Starting an agent's pane: one way for `up`, `spawn`, `restart` and `inject` alike.

An agent starts under the launcher, given a 0600 launch file (its argv, cwd and environment with
the injected overlay; see core.launch_plan) and held at a start gate until its pane is ready: its
output logged (for a meter that reads it), the pane marked as its own and kept when it exits.
`add_agent_pane` places one more agent in a running fleet (`spawn`, `reassign --new`).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

from mission_control.adapters import git_repo, worktrees
from mission_control.adapters.store import Store, ensure_private_dir, write_private
from mission_control.adapters.supervisor_lock import exit_status_file, hook_events_file, output_log, status_file
from mission_control.adapters.tmux import Tmux, pipe_output_args
from mission_control.core.config import AgentSpec, FleetConfig
from mission_control.core.hook_config import appender_argv, claude_settings, codex_notify_option
from mission_control.core.kinds import KINDS
from mission_control.core.launch_plan import (
    agent_command, agent_env, fleet_mark, launch_file_bytes, logs_output, pane_argv, typed_task,
)
from mission_control.core.layouts import capacity, layout_string, window_name
from mission_control.fleet.locate import load_layout
from mission_control.programs import hook_appender, launcher


def agent_worktree(config: FleetConfig, name: str, start_point: str | None = None) -> tuple[Path, dict[str, str | None]]:
    """The agent's own worktree (created or reused), with what to record about it. Raises GitError."""
    assert config.repo is not None
    info = worktrees.ensure_worktree(
        config.repo, name, config.state_dir / "worktrees", base_branch=config.base_branch, start_point=start_point
    )
    return Path(info.path), {
        "base_commit": info.base_commit, "branch": info.branch, "worktree": str(info.path), "base_branch": info.base_branch,
    }


def hook_args(spec: AgentSpec, config: FleetConfig) -> list[str]:
    """The kind's own options that make it report its events to our hook appender, which
    appends them to the agent's events file (read by the supervisor each tick)."""
    kind = KINDS[spec.kind]
    if kind.hooks is None:
        return []
    events = str(hook_events_file(config.state_dir, spec.name))
    appender = str(Path(hook_appender.__file__))
    if kind.hooks == "claude-settings":
        path = status_file(config.state_dir, spec.name).parent / "claude-hooks.json"
        write_private(path, json.dumps(claude_settings(sys.executable, appender, events), indent=1).encode())
        return ["--settings", str(path)]
    if kind.hooks == "codex-notify":
        return codex_notify_option(appender_argv(sys.executable, appender, events, "notify"))
    return []


def start_gate(config: FleetConfig, spec: AgentSpec) -> Path:
    """A file the agent's launcher waits on before it starts the agent, removed once its pane is
    ready: output logged (for a meter that reads it) and the pane kept when the agent exits (an
    agent that exits at once would otherwise take its pane, and `up`, down with it)."""
    gate = status_file(config.state_dir, spec.name).parent / "start-gate"
    ensure_private_dir(gate.parent)
    gate.touch(mode=0o600)
    return gate


def open_output_log(tmux: Tmux, config: FleetConfig, spec: AgentSpec, pane: str) -> None:
    """Log everything the agent prints, for its meter (when its meter reads what it printed)."""
    if logs_output(spec):
        tmux.pipe_output(pane, str(output_log(config.state_dir, spec.name)))


def agent_launch(
    spec: AgentSpec, config: FleetConfig, *, resume: bool = False, extra_env: dict[str, str] | None = None,
    gate: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The agent's own argv and environment, as its launcher will start it."""
    sfile = status_file(config.state_dir, spec.name)
    ensure_private_dir(sfile.parent)
    for stale in (sfile, exit_status_file(config.state_dir, spec.name)):
        if stale.exists():
            stale.unlink()
    task_file: Path | None = sfile.parent / "task"
    if spec.task:
        write_private(task_file, spec.task.encode("utf-8", "surrogateescape"))
    else:  # a task moved away (reassign) leaves no copy behind
        task_file.unlink(missing_ok=True)
        task_file = None
    env = agent_env(
        spec,
        status_file=sfile,
        state_dir=config.state_dir,
        path_prefix=str(Path(sys.executable).parent),
        base_path=os.environ.get("PATH", ""),
        task_file=task_file,
        fleet=fleet_mark(config.socket, config.session),
    )
    env.update(extra_env or {})
    if gate is not None:
        env["MISSION_CONTROL_START_GATE"] = str(gate)
    argv = agent_command(spec, python=sys.executable, resume=resume, hook_args=hook_args(spec, config))
    return argv, env


def start_agent_pane(
    tmux: Tmux, config: FleetConfig, store: Store, spec: AgentSpec, cwd: Path,
    create: Callable[[list[str], dict[str, str], str], str], *, resume: bool = False,
) -> str:
    """Start an agent in a pane that `create(argv, env, cwd)` makes: its environment with the
    injected overlay; the agent starts only once its output log is open and the pane is marked
    as its own (and kept when it exits).

    The pane's own argv is only the launcher and its launch file (0600, removed by the launcher
    as it reads it): the agent's argv and environment never pass through tmux (see
    core.launch_plan)."""
    gate = start_gate(config, spec)
    argv, env = agent_launch(spec, config, resume=resume, extra_env=store.env_overlay(spec.name), gate=gate)
    for stale in gate.parent.glob("launch-*"):  # a launcher that never ran (pane killed at once)
        stale.unlink(missing_ok=True)
    launch_file = gate.parent / f"launch-{uuid.uuid4().hex}"
    try:
        write_private(launch_file, launch_file_bytes(argv, env, str(cwd)))
        pane = create(pane_argv(sys.executable, Path(launcher.__file__), launch_file), {}, str(cwd))
        mark_agent_pane(tmux, pane, spec.name, log=output_log(config.state_dir, spec.name) if logs_output(spec) else None)
    except BaseException:
        launch_file.unlink(missing_ok=True)  # on success the launcher reads and removes it
        raise
    finally:
        gate.unlink(missing_ok=True)  # let it start (or, on failure, not leave it waiting)
    return pane


def record_agent_run(store: Store, spec: AgentSpec, pane: str, launched_at: float, task: str | None,
                     cwd: Path, extra: dict[str, str | None]) -> None:
    """What the store keeps of an agent's run: its pane, its task, its worktree and its full spec."""
    store.record_agent(
        spec.name, kind=spec.kind, pane_id=pane, window=None, launched_at=launched_at, task=task,
        base_commit=extra["base_commit"], branch=extra["branch"], worktree=extra["worktree"],
        spec={**spec.model_dump(mode="json"), "cwd": str(cwd), "base_branch": extra["base_branch"]},
    )


def mark_agent_pane(tmux: Tmux, pane: str, name: str, *, log: Path | None = None) -> None:
    """Name the pane after its agent, and keep it (with its last screen and exit status) when the
    agent exits; `log`: and log what it prints there (see `open_output_log`). Set on the pane
    itself: tmux 3.3a applies a session-level remain-on-exit only to the windows that existed
    when it was set. One tmux process."""
    tmux.build_chain(
        *([pipe_output_args(pane, str(log))] if log is not None else []),
        ["set-option", "-p", "-t", pane, "@mc_agent", name],
        ["set-option", "-p", "-t", pane, "remain-on-exit", "on"],
    )


def add_agent_pane(
    config: FleetConfig, store: Store, tmux: Tmux, data: dict, *, start_point: str | None = None
) -> tuple[AgentSpec, str]:
    """Start one more agent in the running fleet: the last agent window if it has room, else a new window.
    Raises ValueError (bad request) or TmuxError."""
    from mission_control.core.config import agent_from_request

    known = store.agents(include_removed=True)
    spec = agent_from_request(config, data, index=len(known))
    preset = load_layout(config)
    extra: dict = {"base_commit": None, "branch": None, "worktree": None, "base_branch": None}
    cwd = spec.cwd
    if spec.worktree:
        if config.repo is None:
            raise ValueError("worktree = true needs mission.repo")
        try:
            cwd, extra = agent_worktree(config, spec.name, start_point)
        except git_repo.GitError as exc:
            raise ValueError(f"cannot prepare {spec.name}'s worktree: {exc}") from None
    elif not cwd.is_dir():
        raise ValueError(f"cwd {cwd} is not a directory")
    spec = spec.model_copy(update={"cwd": cwd})
    panes = [p for p in tmux.list_panes() if p.session == config.session]
    agent_windows: dict[int, list] = {}
    for p in panes:
        if p.agent:
            agent_windows.setdefault(p.window_index, []).append(p)
    output_log(config.state_dir, spec.name).unlink(missing_ok=True)
    target_window = max(agent_windows) if agent_windows else None
    room = 0
    if target_window is not None:  # as many as fit at the layout's minimum pane size in that window's size
        w, h = tmux.window_size(agent_windows[target_window][0].pane_id)
        beside_dashboard = any(p.role == "dashboard" for p in panes if p.window_index == target_window)
        room = capacity(preset, w, h, dashboard=beside_dashboard)
    if target_window is not None and len(agent_windows[target_window]) < room:
        first = agent_windows[target_window][0]
        tmux.select_layout(first.pane_id, "tiled")  # make room for the split
        pane = start_agent_pane(tmux, config, store, spec, cwd,
                                lambda argv, env, cwd: tmux.split(first.pane_id, argv, cwd=cwd, env=env))
        window_panes = [p for p in panes if p.window_index == target_window]
        dashboard = next((p for p in window_panes if p.role == "dashboard"), None)
        agent_ids = [int(p.pane_id[1:]) for p in window_panes if p.agent] + [int(pane[1:])]
        w, h = tmux.window_size(first.pane_id)
        tmux.select_layout(first.pane_id, layout_string(preset, w, h, int(dashboard.pane_id[1:]) if dashboard else None, agent_ids))
    else:
        window = window_name(preset, len({p.window_index for p in panes}) + 1, [spec.name])
        pane = start_agent_pane(tmux, config, store, spec, cwd,
                                lambda argv, env, cwd: tmux.new_window(config.session, window, argv, cwd=cwd, env=env))
    now = time.time()
    record_agent_run(store, spec, pane, now, spec.task, cwd, extra)
    text = typed_task(spec)
    if text:
        store.queue_delivery(spec.name, "task", text, at=now)
    return spec, pane
