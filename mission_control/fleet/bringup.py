"""`mission-control up`: from a validated config to a running fleet in tmux.

Order matters so that bad input never leaves a half-started fleet: everything
that can be checked (config, layout, tmux, repo, worktrees) is checked before
the tmux session exists; once it exists, any failure kills it again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from mission_control.adapters import git_repo
from mission_control.adapters.metrics_http import METRICS_ADDRESS_KEY, MetricsBindError, check_bindable
from mission_control.adapters.run import CommandError, run
from mission_control.adapters.store import STOPPED_KEY, Store, StoreError, ensure_private_dir
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.fleet.teardown import stop_session
from mission_control.core.config import AgentSpec, ConfigError, FleetConfig
from mission_control.core.listen_address import parse_listen_address
from mission_control.core.launch_plan import FLEET_ENV, fleet_mark, typed_task
from mission_control.core.layouts import LayoutPreset, fit_note, layout_string, misplaced, plan
from mission_control.core.records import own_task_id
from mission_control.fleet.locate import CONFIG_OPTION, STATE_OPTION, load_layout
from mission_control.fleet.panes import agent_worktree, record_agent_run, start_agent_pane
from mission_control.adapters.supervisor_lock import UP_LOCK_NAME, LockBusy, output_log, supervisor_alive, up_lock
from mission_control.fleet.preflight import check_state_dir, preflight
from mission_control.fleet.tasks import add_config_tasks
from mission_control.core.errors import MissionControlError


class UpError(MissionControlError):
    """`up` could not start the fleet; nothing was left running."""


@dataclass(frozen=True)
class UpResult:
    started: bool
    """False when the fleet was already running (nothing new was started)."""
    panes: dict[str, str]
    supervisor_restarted: bool = False
    resumed: tuple[str, ...] = ()
    """Agents brought back after a crash with their kind's resume command (conversation continues)."""
    restarted: tuple[str, ...] = ()
    """Agents brought back after a crash that started again from their task."""
    note: str | None = None
    """Where the agents went when the terminal was smaller than the layout serves (see `fit_note`)."""
    waited: bool = False
    """Another `up` of this fleet was running: this one waited for it to finish."""
    notes: tuple[str, ...] = ()
    """What happened to the state store on the way (a damaged one moved aside), to be said."""


def recovery_specs(config: FleetConfig, store: Store) -> tuple[list[AgentSpec], dict[str, str | None]] | None:
    """After a crash (the fleet was not stopped by `down`): every agent the store knows, started
    with the task it held last (a task it took from the board or was handed, none when its task
    moved away). None when there is nothing to recover."""
    records = store.agents()
    if not records or store.get_meta(STOPPED_KEY) == "1":
        return None
    specs: list[AgentSpec] = []
    tasks: dict[str, str | None] = {}
    for i, rec in enumerate(records):
        spec = config.agent(rec.name)
        if spec is None:  # spawned into the running fleet: rebuilt from what the store recorded
            spec = rec.spec.model_copy(update={"index": len(config.agents) + i})
        specs.append(spec.model_copy(update={"task": rec.task}))  # the task it held (taken, handed over), not its config's
        tasks[spec.name] = rec.task
    return specs, tasks


def mission_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mission_control", *args]


def init_scratch_repo(path: Path) -> None:
    """A new git repository with one commit (for the demo fleet)."""
    path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="mission-control", GIT_AUTHOR_EMAIL="mission-control@localhost",
        GIT_COMMITTER_NAME="mission-control", GIT_COMMITTER_EMAIL="mission-control@localhost",
    )
    run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(path)], env=env)
    (path / "README.md").write_text("# Scratch repository\n\nCreated by mission-control for the demo fleet.\n")
    run(["git", "-C", str(path), "add", "README.md"], env=env)
    run(["git", "-C", str(path), "commit", "-q", "-m", "Start the scratch repository"], env=env)


def prepare_repo(config: FleetConfig) -> None:
    """Create the scratch repo `init_repo` asks for (the config passed `preflight` already)."""
    if config.repo is None:
        return
    if config.init_repo and not (config.repo / ".git").exists():
        try:
            init_scratch_repo(config.repo)
        except CommandError as exc:
            raise UpError(f"cannot create the scratch repository {config.repo}: {exc}") from None
    try:
        git_repo.check_repo(config.repo)
    except git_repo.GitError as exc:
        raise ConfigError(f"{config.path}: mission.repo: {exc}") from None


def attached_terminal() -> tuple[int, int] | None:
    """The terminal `up` or `attach` runs in (columns, lines), when there is one worth fitting the
    fleet's windows to (at least 40x10); None without one (windows keep the preset's size)."""
    if not sys.stdout.isatty():
        return None
    size = shutil.get_terminal_size((0, 0))
    return (size.columns, size.lines) if size.columns >= 40 and size.lines >= 10 else None


def terminal_size(preset: LayoutPreset) -> tuple[int, int]:
    """The size of the fleet's windows: the terminal's (less one line for tmux's status bar), else the preset's."""
    term = attached_terminal()
    return (term[0], term[1] - 1) if term else (preset.width, preset.height)


def fit_windows(config: FleetConfig, tmux: Tmux, columns: int, lines: int) -> str | None:
    """Fit the running fleet's windows to a terminal of columns x lines (what `attach` does before
    attaching): every window takes the size, and agents move between windows (their processes keep
    running) so that none is squeezed below the layout's minimum pane size — into further windows
    on a small terminal, back together on a large one. Returns the line to tell the person when the
    terminal is smaller than the layout serves or agents moved, else None. Raises TmuxError."""
    preset = load_layout(config)
    width, height = columns, lines - 1  # one line for tmux's status bar
    session = config.session
    panes = [p for p in tmux.list_panes() if p.session == session]
    dashboard = next((p for p in panes if p.role == "dashboard"), None)
    where = {p.agent: p.window_name for p in panes if p.agent}
    known = [a.name for a in Store(config.store_path).agents() if a.name in where]  # the fleet's order
    windows = plan(preset, known + [a for a in where if a not in known], width, height)
    tmux.set_option(session, "default-size", f"{width}x{height}")
    for window_id, _, _ in tmux.windows(session):
        tmux.resize_window(window_id, width, height)
    movers = misplaced(where, windows)
    pane_of = {p.agent: p.pane_id for p in panes if p.agent}
    for name in movers:  # out first, so no window is ever crowded while agents change places
        tmux.break_pane(pane_of[name], f"mc-moving-{name}")
    previous: str | None = None
    for w in windows:
        current = {wid: (wname, ids) for wid, wname, ids in tmux.windows(session)}
        if w.dashboard and dashboard is not None:
            home = next((wid for wid, (_, ids) in current.items() if dashboard.pane_id in ids), None)
        else:
            home = next((wid for wid, (wname, _) in current.items() if wname == w.name), None)
        for name in w.agents:
            pane = pane_of[name]
            if home is None:
                home = next(wid for wid, (_, ids) in current.items() if pane in ids)
                tmux.rename_window(home, w.name)
                if previous is not None:
                    tmux.move_window_after(home, previous)
            elif pane not in current[home][1]:
                tmux.select_layout(home, "tiled")  # room for one more
                tmux.join_pane(pane, current[home][1][-1])
            current = {wid: (wname, ids) for wid, wname, ids in tmux.windows(session)}
        if home is None:
            continue
        ids = current[home][1]
        dash = int(dashboard.pane_id[1:]) if dashboard is not None and dashboard.pane_id in ids else None
        agents = [int(p[1:]) for p in ids if dashboard is None or p != dashboard.pane_id]
        if agents:
            tmux.select_layout(home, layout_string(preset, width, height, dash, agents))
        previous = home
    return fit_note(preset, windows, width, height, f"{columns}x{lines}", moved=bool(movers))


def agent_cwds(config: FleetConfig, store: Store) -> dict[str, tuple[Path, dict[str, str | None]]]:
    """Each agent's working dir (creating worktrees), with what to record about it."""
    out: dict[str, tuple[Path, dict[str, str | None]]] = {}
    for spec in config.agents:
        if spec.worktree:
            try:
                out[spec.name] = agent_worktree(config, spec.name)
            except git_repo.GitError as exc:
                raise UpError(f"agent {spec.name!r}: cannot prepare its worktree: {exc}") from None
        else:
            if not spec.cwd.is_dir():
                raise ConfigError(f"{config.path}: agent {spec.name!r}: cwd {spec.cwd} is not a directory")
            base = None
            if config.repo is not None:
                try:
                    base = run(["git", "-C", str(config.repo), "rev-parse", "HEAD"]).strip()
                except CommandError:
                    base = None
            out[spec.name] = (spec.cwd, {"base_commit": base, "branch": None, "worktree": None, "base_branch": None})
    return out


def _spec(config: FleetConfig, name: str) -> AgentSpec:
    spec = config.agent(name)
    assert spec is not None, name
    return spec







def fleet_env(config: FleetConfig) -> dict[str, str]:
    from mission_control.adapters.ssh import SSH_CONFIG_ENV

    return {
        FLEET_ENV: fleet_mark(config.socket, config.session),
        "MISSION_CONTROL_SOCKET": config.socket,
        "MISSION_CONTROL_CONFIG": str(config.path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        # the supervisor reaches the other hosts (issue 22) with the ssh config `up` was given,
        # whatever the environment of a tmux server that was already running
        **({SSH_CONFIG_ENV: os.environ[SSH_CONFIG_ENV]} if config.hosts and os.environ.get(SSH_CONFIG_ENV) else {}),
    }


def ensure_supervisor(config: FleetConfig, tmux: Tmux) -> bool:
    """Start the supervisor window again if the fleet's supervisor is not running (holds no lock
    and its pane is dead or gone: a live pane is a supervisor still starting)."""
    if supervisor_alive(config.state_dir):
        return False
    argv = mission_command("supervise", "-c", str(config.path))
    panes = [p for p in tmux.list_panes() if p.session == config.session and p.role == "supervisor"]
    if panes and not panes[0].dead:
        return False
    if panes:
        tmux.respawn(panes[0].pane_id, argv, cwd=str(config.path.parent), env=fleet_env(config))
    else:
        pane = tmux.new_window(config.session, "supervisor", argv, cwd=str(config.path.parent), env=fleet_env(config))
        tmux.set_option(pane, "@mc_role", "supervisor", scope="-p")
        tmux.set_option(pane, "remain-on-exit", "on", scope="-p")
    return True


UP_WAIT_SECONDS = 120.0
"""How long an `up` waits for another `up` of the same fleet to finish before saying so."""


def up(config: FleetConfig, fresh: bool = False, metrics: str | None = None) -> UpResult:
    """Start the fleet (or find it running). Raises ConfigError/UpError with nothing left behind.

    After a crash (tmux server or machine died, no `down`), the fleet is rebuilt from the state
    store: each agent resumes its conversation with its kind's resume command where it has one,
    keeps its task, worktree and injected environment. `fresh` starts over from the config.

    One `up` at a time per fleet (a lock in the state dir): a second one waits for the first and
    then finds the fleet running, so concurrent `up`s leave exactly one fleet.

    `metrics`: the `/metrics` address for this fleet's supervisor instead of `[mission] metrics`
    (`up --metrics`, already checked by `metrics_override`)."""
    preset = load_layout(config)
    if not Tmux.available():
        raise UpError("tmux is not installed (not found on PATH): install it, e.g. `apt-get install tmux`")
    check_state_dir(config)  # before the lock is made in it: a file there is a config error
    made_state_dir = not config.state_dir.exists()
    ensure_private_dir(config.state_dir)
    try:
        with up_lock(config.state_dir, UP_WAIT_SECONDS) as waited:
            result = _up(config, preset, fresh, metrics)
    except LockBusy as exc:
        raise UpError(f"another `up` is starting this fleet (pid {exc.holder}) and has not finished "
                      f"within {UP_WAIT_SECONDS:.0f} s; nothing started") from None
    except (ConfigError, MetricsUnavailable):
        if made_state_dir:  # a bad config leaves nothing behind, not even an empty state dir
            (config.state_dir / UP_LOCK_NAME).unlink(missing_ok=True)
            try:
                config.state_dir.rmdir()
            except OSError:
                pass
        raise
    return replace(result, waited=waited)


def check_state_owner(config: FleetConfig) -> None:
    """The state dir is this config's: not the fleet of another config that still exists (its
    agents would be revived, or reset, as this one's), nor this fleet running on another socket.
    Raises ConfigError."""
    if not config.store_path.exists():
        return
    try:
        record = Store(config.store_path).fleet()
    except StoreError:  # damaged or unreadable: its supervisor (or `up`) repairs it, saying so
        return
    if record is None:
        return
    other = Path(record["config_path"])
    key = f"{config.path}: mission.state_dir {config.state_dir}"
    if other != config.path and other.exists() and not other.samefile(config.path):  # not the same file by another path
        raise ConfigError(f"{key} holds the fleet of {other}; give this config a state_dir of its own")
    if record["socket"] != config.socket and Tmux(record["socket"]).has_session(record["session"]):
        raise ConfigError(f"{key} belongs to the fleet running on tmux socket {record['socket']!r} "
                          f"(session {record['session']!r}): stop it first, or use that socket")


def _up(config: FleetConfig, preset: LayoutPreset, fresh: bool, metrics: str | None = None) -> UpResult:
    """`up` under the fleet's `up` lock."""
    check_state_owner(config)
    tmux = Tmux(config.socket)
    if tmux.has_session(config.session):
        notes: tuple[str, ...] = ()
        if supervisor_alive(config.state_dir):
            if metrics is not None:
                notes = (f"the running supervisor keeps its metrics address; --metrics {metrics} takes effect "
                         "when the fleet is started again (`down`, then `up --metrics`)",)
        else:
            metrics_before_start(config, metrics, running=True)
        restarted = ensure_supervisor(config, tmux)  # it repairs a damaged or deleted store: not read here
        panes = {p.agent: p.pane_id for p in tmux.list_panes() if p.session == config.session and p.agent}
        return UpResult(started=False, panes=panes, supervisor_restarted=restarted, notes=notes)

    preflight(config)  # what `check` checks: nothing below starts for a config it would refuse
    metrics_before_start(config, metrics)
    prepare_repo(config)
    ensure_private_dir(config.state_dir)
    store = Store(config.store_path, keeper=True)  # a damaged store is moved aside: this fleet starts afresh
    notes = tuple(store.notes)
    recovery = None if fresh else recovery_specs(config, store)
    if fresh or recovery is None:
        store.reset_fleet()
        specs, held = list(config.agents), {}
    else:
        specs, held = recovery
        config = config.model_copy(update={"agents": tuple(specs)})
    cwds = agent_cwds(config, store)
    width, height = terminal_size(preset)
    windows = plan(preset, [a.name for a in config.agents], width, height)
    term = attached_terminal()
    note = fit_note(preset, windows, width, height, f"{term[0]}x{term[1]}") if term else None
    env_fleet = fleet_env(config)
    home = str(config.path.parent)
    dashboard_argv = mission_command("dashboard", "-c", str(config.path))
    panes: dict[str, str] = {}
    launched: dict[str, float] = {}
    created: list[str] = []  # the session, once this `up` made it: a failure removes only that
    if not recovery:  # a fresh fleet counts spend afresh
        for spec in config.agents:
            output_log(config.state_dir, spec.name).unlink(missing_ok=True)
    try:
        for w_index, window in enumerate(windows):
            pane_ids: list[str] = []
            agents = list(window.agents)

            def make_first(argv: list[str], env: dict[str, str], cwd: str, w_index: int = w_index, window=window) -> str:
                if w_index:
                    return tmux.new_window(config.session, window.name, argv, cwd=cwd, env=env)
                pane = tmux.new_session(config.session, window.name, argv, cwd=cwd, env=env, width=width, height=height)
                created.append(config.session)
                for option, value in (
                    ("window-size", "manual"), (CONFIG_OPTION, str(config.path)), (STATE_OPTION, str(config.state_dir)),
                    ("remain-on-exit", "on"), ("pane-border-status", "top"),
                    ("pane-border-format", " #{?@mc_agent,#{@mc_agent},#{?@mc_role,#{@mc_role},#{pane_title}}} "),
                    ("status-left", "[mission-control] "), ("status-left-length", "40"),
                ):
                    tmux.set_option(config.session, option, value)
                return pane

            if window.dashboard:
                first = make_first(dashboard_argv, env_fleet, home)
                tmux.set_option(first, "@mc_role", "dashboard", scope="-p")
                tmux.set_option(first, "remain-on-exit", "off", scope="-p")
                dashboard = first
            else:
                dashboard = None
                name = agents.pop(0)
                first = start_agent_pane(tmux, config, store, _spec(config, name), cwds[name][0], make_first, resume=bool(recovery))
                panes[name], launched[name] = first, time.time()
                pane_ids.append(first)
            target = first
            for name in agents:
                pane = start_agent_pane(
                    tmux, config, store, _spec(config, name), cwds[name][0],
                    # `tiled` at once, in the same tmux process: it makes room for the next split
                    lambda argv, env, cwd: tmux.split(target, argv, cwd=cwd, env=env, relayout="tiled"), resume=bool(recovery),
                )
                panes[name], launched[name] = pane, time.time()
                pane_ids.append(pane)
                target = pane  # split after the last one: tmux lays panes out in pane order, the fleet's order
            w, h = tmux.window_size(first)
            layout = layout_string(
                preset, w, h, int(dashboard[1:]) if dashboard else None, [int(p[1:]) for p in pane_ids]
            )
            if pane_ids:
                tmux.select_layout(first, layout)

        store.record_fleet(
            config.session, config.socket, str(config.path), time.time(),
            {"layout": config.layout, "state_dir": str(config.state_dir), "repo": str(config.repo) if config.repo else None},
        )
        for spec in config.agents:
            cwd, extra = cwds[spec.name]
            task = held[spec.name] if spec.name in held else spec.task
            record_agent_run(store, spec, panes[spec.name], launched[spec.name], task, cwd, extra)
        resumed = tuple(a.name for a in config.agents if recovery and a.resume_command)
        restarted = tuple(a.name for a in config.agents if recovery and not a.resume_command)
        if recovery:
            for spec in config.agents:
                typed = typed_task(spec.model_copy(update={"task": held.get(spec.name)}))
                if spec.name in restarted and typed:
                    store.queue_delivery(spec.name, "task", typed)
            outcome = (f"recovered after a crash: resumed {', '.join(resumed) or 'none'}; "
                       f"restarted from their task {', '.join(restarted) or 'none'}")
        else:
            record_tasks(config, store)
            outcome = "ok"
        add_config_tasks(config, store)
        store.set_meta(STOPPED_KEY, "0")
        store.set_meta(METRICS_ADDRESS_KEY, metrics or "")  # read by the supervisor (and whoever restarts it)
        store.log_action("up", "up", None, f"{len(config.agents)} agents, layout {config.layout}", outcome)
        ensure_supervisor(config, tmux)
        first_window = windows[0].name
        tmux.cmd("select-window", "-t", f"{config.session}:{first_window}")
    except BaseException as exc:  # whatever failed (a store fault, a bad value, a bug, Ctrl-C): take back all of it
        if created:  # never a session this `up` did not create
            try:
                stop_session(tmux, config)
            except Exception as cleanup:  # say both: the cause, and that something may be left
                raise UpError(f"could not start the fleet: {exc}; stopping what had started failed too: {cleanup}") from None
        if isinstance(exc, (TmuxError, CommandError, OSError, ValueError, StoreError, sqlite3.Error)):
            raise UpError(f"could not start the fleet: {exc}") from None
        raise
    return UpResult(started=True, panes=panes, resumed=resumed, restarted=restarted, note=note, notes=notes)


class MetricsUnavailable(UpError):
    """The `/metrics` address cannot be served: `up` starts nothing (and leaves no state dir it made)."""


def metrics_before_start(config: FleetConfig, override: str | None, *, running: bool = False) -> None:
    """Before a supervisor is started: the address it will serve `/metrics` at can be bound
    (MetricsUnavailable, one line, when the port is taken or the address is not this machine's).
    `running`: a running fleet whose supervisor is started again — the address its fleet was
    started with stands, unless `up --metrics` gives one (kept in the store for it)."""
    store_text = None
    if running and override is None and config.store_path.exists():
        try:
            store_text = Store(config.store_path).get_meta(METRICS_ADDRESS_KEY)
        except StoreError:
            store_text = None
    text = override or store_text or config.metrics
    if not text:
        return
    try:
        check_bindable(parse_listen_address(text))
    except (ValueError, MetricsBindError) as exc:
        raise MetricsUnavailable(f"{exc}; " + ("the supervisor was not restarted" if running else "nothing started")) from None
    if running and override is not None:
        try:
            Store(config.store_path).set_meta(METRICS_ADDRESS_KEY, override)
        except StoreError:
            pass


def record_tasks(config: FleetConfig, store: Store) -> None:
    """Start the task ledger: every held task, and the typed ones queued for the agent's first prompt."""
    held = store.current_tasks()
    by_agent = {t.assignee: t for t in config.tasks if t.assignee}
    for spec in config.agents:
        if not spec.task:
            continue
        task_id = by_agent[spec.name].id if spec.name in by_agent else own_task_id(spec.name)
        if task_id not in held:
            store.record_task(task_id, spec.task, spec.name, None, "assigned in agents.toml", None)
        text = typed_task(spec)
        if text:
            store.queue_delivery(spec.name, "task", text)


