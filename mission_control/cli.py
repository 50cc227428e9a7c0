"""The `mission-control` command line.

Every command accepts `-c/--config`; without it the running fleet is found
through its tmux session (see `locate`). Errors are handled here, in one place:
each becomes one line on stderr and a non-zero exit (2 for bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mission_control.core.config import ConfigError, FleetConfig


class CliError(Exception):
    """A runtime failure worth one line (exit 1)."""


def _config(args: argparse.Namespace) -> FleetConfig:
    from mission_control.locate import find_config, load_config

    return load_config(find_config(args.config))


# ------------------------------------------------------------------ commands


def cmd_up(args: argparse.Namespace) -> int:
    from mission_control.bringup import up

    config = _config(args)
    result = up(config)
    if result.started:
        print(f"mission-control: fleet {config.session!r} started: {len(result.panes)} agents on tmux socket {config.socket!r}")
    else:
        print(f"mission-control: fleet {config.session!r} is already running ({len(result.panes)} agents); nothing new started")
        if result.supervisor_restarted:
            print("mission-control: its supervisor was not running and has been restarted")
    if args.no_attach or not sys.stdin.isatty():
        print(f"attach with: mission-control attach   (status: mission-control status)")
        return 0
    return _attach(config)


def _attach(config: FleetConfig) -> int:
    from mission_control.adapters.tmux import Tmux

    tmux = Tmux(config.socket)
    if not tmux.has_session(config.session):
        raise CliError(f"no fleet running (session {config.session!r} on tmux socket {config.socket!r}): start it with `mission-control up`")
    if sys.stdout.isatty():
        import shutil

        size = os.get_terminal_size()
        if size.columns >= 40 and size.lines >= 10:
            for window in tmux.cmd("list-windows", "-t", config.session, "-F", "#{window_id}").split():
                tmux.resize_window(window, size.columns, size.lines - 1)
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    argv = tmux.attach_argv(config.session)
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


def cmd_attach(args: argparse.Namespace) -> int:
    return _attach(_config(args))


def cmd_down(args: argparse.Namespace) -> int:
    from mission_control.teardown import down

    config = _config(args)
    result = down(config, clean=args.clean)
    if not result.was_running:
        print(f"mission-control: no fleet running (session {config.session!r} on tmux socket {config.socket!r})")
    else:
        print(f"mission-control: fleet {config.session!r} stopped ({result.stopped_processes} processes)")
    for name in result.removed_worktrees:
        print(f"removed worktree of {name}")
    for name, why in result.kept_worktrees.items():
        print(f"kept worktree of {name}: {'; '.join(why)}")
    if result.survivors:
        raise CliError(f"processes survived SIGKILL: {result.survivors}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from mission_control.adapters.tmux import Tmux
    from mission_control.locate import FleetNotFound
    from mission_control.status_report import current_snapshot, render_table

    if not Tmux.available():
        raise CliError("tmux is not installed (not found on PATH): install it, e.g. `apt-get install tmux`")
    try:
        config = _config(args)
    except FleetNotFound:
        config = None
    snapshot, warning = current_snapshot(config) if config else (None, None)
    if warning:
        print(f"mission-control: {warning}", file=sys.stderr)
    agents = list(snapshot.agents) if snapshot else []
    if args.json:
        print(json.dumps([a.to_json() for a in agents], indent=2))
    elif not agents:
        print("no fleet running")
    else:
        print(render_table(snapshot))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from mission_control.actions import FleetActions
    from mission_control.adapters.store import ensure_private_dir
    from mission_control.ui.app import create_app
    from mission_control.ui.source import StoreSource

    config = _config(args)
    ensure_private_dir(config.state_dir)
    create_app(StoreSource(config), FleetActions(config, actor="dashboard")).run()
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    from mission_control.supervisor import serve

    return serve(_config(args))


def cmd_check(args: argparse.Namespace) -> int:
    from mission_control.locate import load_layout

    config = _config(args)
    load_layout(config)
    print(f"{config.path}: ok ({len(config.agents)} agents, layout {config.layout!r}, socket {config.socket!r})")
    return 0


def cmd_layouts(args: argparse.Namespace) -> int:
    from mission_control.core.layouts import parse_layout
    from mission_control.locate import available_layouts

    config = _config(args)
    for name, path in sorted(available_layouts(config).items()):
        preset = parse_layout(path, path.read_text())
        print(f"{name:10} {preset.description}  ({path})")
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mission-control", description="Supervise a fleet of AI coding agents running in tmux."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", metavar="PATH", help="fleet config (default: the running fleet, else ./agents.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("up", parents=[common], help="start the fleet and attach to it")
    p.add_argument("--no-attach", action="store_true", help="start detached")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", parents=[common], help="stop the fleet (its tmux session and every process in it)")
    p.add_argument("--clean", action="store_true", help="also remove agents' worktrees that hold no unmerged or uncommitted work")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("attach", parents=[common], help="attach to the running fleet (e.g. `ssh host -t mission-control attach`)")
    p.set_defaults(func=cmd_attach)
    p = sub.add_parser("dashboard", parents=[common], help="run the dashboard against the running fleet")
    p.set_defaults(func=cmd_dashboard)
    p = sub.add_parser("status", parents=[common], help="print the fleet's latest status")
    p.add_argument("--json", action="store_true", help="as a JSON list")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("supervise", parents=[common], help="run the fleet's supervisor (started by `up`)")
    p.set_defaults(func=cmd_supervise)
    p = sub.add_parser("check", parents=[common], help="validate the config and its layout, start nothing")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("layouts", parents=[common], help="list layout presets")
    p.set_defaults(func=cmd_layouts)
    return parser


def main(argv: list[str] | None = None) -> int:
    from mission_control.adapters.git_progress import GitError
    from mission_control.adapters.store import StoreError
    from mission_control.adapters.tmux import TmuxError
    from mission_control.locate import FleetNotFound

    try:
        from mission_control.bringup import UpError
    except ImportError:  # pragma: no cover
        UpError = CliError  # type: ignore[misc,assignment]

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"mission-control: {exc}", file=sys.stderr)
        return 2
    except FleetNotFound as exc:
        print(f"mission-control: {exc}", file=sys.stderr)
        return 2
    except (CliError, UpError, TmuxError, StoreError, GitError) as exc:
        print(f"mission-control: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
