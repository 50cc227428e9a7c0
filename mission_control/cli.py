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
from mission_control.core.errors import MissionControlError, UsageError

__all__ = ["CliError", "UsageError", "build_parser", "main"]


class CliError(MissionControlError):
    """A runtime failure worth one line (exit 1); wrong or missing arguments are a `UsageError` (exit 2)."""


def say(text: str, file=None, *, lines: bool = False) -> None:
    """Print text that carries outside values (names, paths, agents' words, git's output) inert:
    what an agent or a config wrote can never drive the operator's terminal."""
    from mission_control.core.terminal_text import inert

    print(inert(text, lines=lines), file=sys.stdout if file is None else file)


def _actor() -> str:
    """Who the action log names for this command: `cli`, or MISSION_CONTROL_ACTOR (issue 22: another
    machine's mission-control running it here says who acted there, `dashboard@laptop`)."""
    from mission_control.core.hosts import ACTOR_ENV, ACTOR_PATTERN

    actor = os.environ.get(ACTOR_ENV)
    if actor is None:
        return "cli"
    if not ACTOR_PATTERN.fullmatch(actor):
        raise UsageError(f"{ACTOR_ENV}={actor[:40]!r}: who acted, as 1 to 64 letters, digits and . _ - @ : +")
    return actor


def _config(args: argparse.Namespace) -> FleetConfig:
    from mission_control.fleet.locate import find_config, load_config

    return load_config(find_config(args.config))


# ------------------------------------------------------------------ commands


def cmd_up(args: argparse.Namespace) -> int:
    from mission_control.fleet.bringup import up

    config = _config(args)
    metrics = metrics_override(config, args.metrics)
    if config.hosts:  # issue 22: the other hosts' fleets first, all or none
        _up_hosts(config)
    try:
        result = up(config, fresh=args.fresh, metrics=metrics)
    except BaseException:
        if config.hosts:
            _down_hosts(config, quiet=True)
        raise
    for note in result.notes:
        say(f"mission-control: {note}", sys.stderr)
    if result.started:
        print(f"mission-control: fleet {config.session!r} started: {len(result.panes)} agents on tmux socket {config.socket!r}")
        if metrics or config.metrics:
            print(f"mission-control: Prometheus metrics at http://{metrics or config.metrics}/metrics")
        if result.resumed or result.restarted:
            print(f"mission-control: recovered after a crash: resumed {', '.join(result.resumed) or 'none'}; "
                  f"restarted from their task {', '.join(result.restarted) or 'none'} (`up --fresh` starts over)")
    else:
        if result.waited:
            print(f"mission-control: another `up` was starting fleet {config.session!r}; waited for it")
        print(f"mission-control: fleet {config.session!r} is already running ({len(result.panes)} agents); nothing new started")
        if result.supervisor_restarted:
            print("mission-control: its supervisor was not running and has been restarted")
    if args.no_attach or not sys.stdin.isatty():
        if result.note:
            print(f"mission-control: {result.note}")
        print("attach with: mission-control attach   (status: mission-control status)")
        return 0
    return _attach(config)


def metrics_override(config: FleetConfig, text: str | None) -> str | None:
    """`up --metrics ADDR`, checked as `[mission] metrics` is (ConfigError, exit 2): a malformed
    address, or one beyond loopback without the config's `metrics_token` or `metrics_public`."""
    if text is None:
        return None
    from mission_control.core.listen_address import exposure_problem, parse_listen_address

    try:
        address = parse_listen_address(text)
    except ValueError as exc:
        raise ConfigError(f"--metrics {exc}") from None
    problem = exposure_problem(address, config.metrics_token, config.metrics_public)
    if problem:
        raise ConfigError(f"--metrics {problem} (in {config.path} [mission])")
    return str(address)


def _up_hosts(config: FleetConfig) -> None:
    from mission_control.fleet.hosts import up_hosts

    for line in up_hosts(config).lines:
        say(f"mission-control: {line}")


def _down_hosts(config: FleetConfig, *, quiet: bool = False, clean: bool = False) -> None:
    from mission_control.fleet.hosts import HostError, down_hosts

    try:
        lines = down_hosts(config, clean=clean).lines
    except HostError as exc:
        if not quiet:
            raise
        say(f"mission-control: {exc}", sys.stderr)
        return
    for line in lines if not quiet else []:
        say(f"mission-control: {line}")


def _attach(config: FleetConfig) -> int:
    from mission_control.adapters.store import StoreError
    from mission_control.adapters.tmux import Tmux, TmuxError
    from mission_control.fleet.bringup import attached_terminal, fit_windows

    tmux = Tmux(config.socket)
    if not tmux.has_session(config.session):
        raise no_fleet(config)
    if os.environ.get("TMUX") and _inside_tmux(config, tmux):
        return 0
    note = None
    if (term := attached_terminal()) is not None:
        try:
            note = fit_windows(config, tmux, *term)
        except (TmuxError, ConfigError, StoreError) as exc:  # attach all the same: the fleet is there, only its layout is not
            note = f"could not fit the windows to this {term[0]}x{term[1]} terminal: {exc}"
        if note:
            print(f"mission-control: {note}")
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    argv = tmux.attach_argv(config.session, note)
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


def no_fleet(config: FleetConfig) -> CliError:
    """The one line for a command that needs the fleet running and finds it is not."""
    return CliError(f"no fleet running (session {config.session!r} on tmux socket {config.socket!r}): start it with `mission-control up`")


def _inside_tmux(config: FleetConfig, tmux) -> bool:
    """From inside tmux (TMUX set), where a plain `tmux attach` would be refused or nest one tmux
    in another: inside the fleet's own server, switch this client to the fleet (True: done); inside
    another server, say that the fleet's tmux is attached nested in this pane (False: go on)."""
    if Path(os.environ["TMUX"].split(",")[0]).name == config.socket:
        tmux.cmd("switch-client", "-t", config.session)
        print(f"mission-control: switched this tmux client to the fleet's session {config.session!r}")
        return True
    print(f"mission-control: inside another tmux: the fleet's own tmux (socket {config.socket!r}) is attached inside "
          "this pane; its keys take the prefix twice (C-b C-b d detaches it)")
    return False


def cmd_attach(args: argparse.Namespace) -> int:
    config = _config(args)
    if getattr(args, "agent", None):  # at that agent's pane; on its host, over ssh (issue 22)
        from mission_control.fleet.remote_actions import attach_argv, host_of

        if (host := host_of(config, [args.agent]) if config.hosts else None) is not None:
            argv = attach_argv(config, host, args.agent)
            os.execvp(argv[0], argv)
        from mission_control.fleet.actions import FleetActions

        acts = FleetActions(config, actor=_actor())
        rec = acts.record(args.agent)
        if rec.pane_id:
            acts.tmux.select_pane(rec.pane_id)
    return _attach(config)


def cmd_down(args: argparse.Namespace) -> int:
    from mission_control.fleet.teardown import down

    config = _config(args)
    result = down(config, clean=args.clean)
    if not result.was_running:
        print(f"mission-control: no fleet running (session {config.session!r} on tmux socket {config.socket!r})"
              + (f"; stopped {result.stopped_processes} processes a previous run left behind" if result.stopped_processes else ""))
    else:
        print(f"mission-control: fleet {config.session!r} stopped ({result.stopped_processes} processes)")
    for name in result.removed_worktrees:
        say(f"removed worktree of {name}")
    for name, why in result.kept_worktrees.items():
        say(f"kept worktree of {name}: {'; '.join(why)}")
    if config.hosts:  # issue 22: every host's fleet too (--clean: their worktrees there as well)
        _down_hosts(config, clean=args.clean)
    if result.survivors:
        raise CliError(f"processes survived SIGKILL: {result.survivors}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from mission_control.adapters.tmux import Tmux
    from mission_control.fleet.locate import FleetNotFound
    from mission_control.fleet.status_report import current_snapshot, render_table

    if getattr(args, "watch", False):
        return _watch_status(args)
    if not Tmux.available():
        raise CliError("tmux is not installed (not found on PATH): install it, e.g. `apt-get install tmux`")
    try:
        config = _config(args)
    except FleetNotFound:
        config = None
    snapshot, warning = current_snapshot(config) if config else (None, None)
    if warning:
        say(f"mission-control: {warning}", sys.stderr)
    agents = list(snapshot.agents) if snapshot else []
    if args.json:
        print(json.dumps([a.to_json() for a in agents], indent=2))
    elif not agents:
        print("no fleet running")
    else:
        print(render_table(snapshot))
    return 0


def _watch_status(args: argparse.Namespace) -> int:
    """`status --json --watch` (issue 20 point 3): a snapshot line each time anything changed."""
    from mission_control.fleet.events import watch_status

    if not args.json:
        raise UsageError("status --watch prints JSON lines: use `status --json --watch`")
    tails = getattr(args, "tails", False)  # a laptop's feed of this host (issue 22): screen texts too, watches on stdin
    return watch_status(_config(args), out=sys.stdout, err=sys.stderr, tails=tails, watch_in=sys.stdin if tails else None)


def cmd_events(args: argparse.Namespace) -> int:
    """`events [--json] [--follow] [--since SEQ]` (issue 20 point 3)."""
    from mission_control.fleet.events import print_events

    if args.since is not None and args.since < 0:
        raise UsageError(f"--since {args.since}: a sequence number is 0 or more")
    return print_events(_config(args), since=args.since, follow=args.follow, as_json=args.json,
                        out=sys.stdout, err=sys.stderr)


def _on_host(args: argparse.Namespace) -> int | None:
    """An action on agents of another host (issue 22): run there, its output and exit status ours;
    None when the agents are this machine's (or the command is not a per-agent action)."""
    from mission_control.fleet.remote_actions import FORWARDED, host_of, run_on_host

    if args.command not in FORWARDED or getattr(args, "all", False):
        return None
    names = list(getattr(args, "agents", None) or ([args.agent] if getattr(args, "agent", None) else []))
    if not names:
        return None
    config = _config(args)
    host = host_of(config, names) if config.hosts else None
    if host is None:
        return None
    words, stdin = [args.command, *names], ""
    if args.command == "inject":  # the values on stdin, never on a command line
        stdin = _read_env_text(args)
        words += ["--dotenv"] if args.dotenv else []
    elif args.command == "send":
        stdin = " ".join(args.text) if args.text else sys.stdin.read()
        words += ["--force"] if args.force else []
    elif args.command == "answer" and args.choice is not None:
        words.append(args.choice)
    elif args.command == "diff" and args.json:
        words.append("--json")
    result = run_on_host(config, host, words, stdin=stdin, actor=_actor())
    if result.stdout.strip():  # the host's words, shown inert like every outside text
        say(result.stdout.rstrip("\n"), lines=True)
    if result.stderr.strip():
        say(result.stderr.rstrip("\n"), sys.stderr, lines=True)
    return result.code


def cmd_dashboard(args: argparse.Namespace) -> int:
    from mission_control.ui.app import create_app

    create_app(_config(args)).run()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """The dashboard in a browser (mission_control/web.py): one dashboard process per tab, behind a token."""
    from mission_control.adapters.tmux import Tmux
    from mission_control.web import check_bind, serve

    config = _config(args)
    check_bind(args.host, args.port, args.public)
    if not Tmux(config.socket).has_session(config.session):
        raise no_fleet(config)
    return serve(config, host=args.host, port=args.port, public=args.public)


def cmd_supervise(args: argparse.Namespace) -> int:
    from mission_control.fleet.supervisor import serve

    return serve(_config(args))


def cmd_check(args: argparse.Namespace) -> int:
    from mission_control.fleet.bringup import check_state_owner
    from mission_control.fleet.locate import load_layout
    from mission_control.fleet.preflight import preflight

    config = _config(args)
    load_layout(config)
    check_state_owner(config)  # what `up` would refuse
    preflight(config)
    say(f"{config.path}: ok ({len(config.agents)} agents, layout {config.layout!r}, socket {config.socket!r})")
    return 0


def cmd_layouts(args: argparse.Namespace) -> int:
    from mission_control.core.layouts import parse_layout
    from mission_control.fleet.locate import FleetNotFound, available_layouts, read_config_text

    try:  # with no config and no fleet: the shipped presets
        config = _config(args)
    except FleetNotFound:
        config = None
    for name, path in sorted(available_layouts(config).items()):
        preset = parse_layout(path, read_config_text(path))
        say(f"{name:10} {preset.description}  ({path})")
    return 0


# ------------------------------------------------------------------ the human's hands


def _actions(args: argparse.Namespace):
    from mission_control.fleet.actions import FleetActions

    return FleetActions(_config(args), actor=_actor())


def _report(outcomes) -> int:
    outcomes = outcomes if isinstance(outcomes, list) else [outcomes]
    for o in outcomes:
        say(f"mission-control: {o.message}", sys.stdout if o.ok else sys.stderr)
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_pause(args: argparse.Namespace) -> int:
    if bool(args.agents) == bool(args.all):
        print(f"mission-control {args.command}: give agent names or --all (not both)", file=sys.stderr)
        return 2
    acts = _actions(args)
    if args.all:
        return _report(acts.unpause_all() if args.command == "continue" else acts.pause_all())
    return _report([acts.unpause(n) if args.command == "continue" else acts.pause(n) for n in args.agents])


def cmd_resume(args: argparse.Namespace) -> int:
    acts = _actions(args)
    if args.all:
        return _report(acts.resume_all_stuck())
    if not args.agent:
        raise UsageError("name the agent to resume, or give --all for every STUCK agent")
    plan = acts.plan_resume(args.agent)
    say(f"mission-control: resume will {plan.description}")
    return _report(acts.resume(args.agent, plan))


def _read_env_text(args: argparse.Namespace) -> str:
    import getpass

    if args.names:
        lines = []
        for name in args.names:
            if "=" in name:  # NAME=value given on the command line (visible to `ps`: the prompt is safer)
                lines.append(name)
                continue
            if sys.stdin.isatty():
                value = getpass.getpass(f"value for {name} (hidden): ")
            else:
                value = sys.stdin.readline().rstrip("\n")
            lines.append(f"{name}={value}")
        return "\n".join(lines)
    if sys.stdin.isatty():
        print("KEY=VALUE lines, end with Ctrl-D:", file=sys.stderr)
    return sys.stdin.read()


def cmd_inject(args: argparse.Namespace) -> int:
    from mission_control.core.env_overlay import EnvTextError, parse_env_text

    acts = _actions(args)
    if args.all and args.agent:
        args.names, args.agent = [args.agent, *args.names], None
    if not args.all and not args.agent:
        raise UsageError("name the agent, or give --all")
    try:
        fix = parse_env_text(_read_env_text(args))
    except EnvTextError as exc:
        raise UsageError(f"inject: {exc}; nothing changed") from None
    return _report(acts.inject_env(None if args.all else [args.agent], fix, write_dotenv=args.dotenv))


def cmd_env(args: argparse.Namespace) -> int:
    from mission_control.core.env_overlay import EnvTextError, check_env_name

    acts = _actions(args)
    if args.unset:
        try:
            names = [check_env_name(n) for n in args.unset]
        except EnvTextError as exc:
            raise UsageError(f"env: {exc}") from None
        return _report(acts.unset_env(args.agent, names))
    injected = acts.injected_env(args.agent)
    if not injected:
        print(f"mission-control: no variables injected into {args.agent}")
    for name, masked in injected.items():
        print(f"{name}={masked}")
    return 0


def cmd_reassign(args: argparse.Namespace) -> int:
    acts = _actions(args)
    if args.release:  # issue 22: run by another host's `reassign`; the handoff, as JSON, for its `--take`
        given = None
        if args.given_task:  # the laptop's board task, on stdin: this host has no row of it
            try:
                data = json.loads(sys.stdin.read())
                given = (str(data["task_id"]), str(data["prompt"]))
            except (ValueError, KeyError, TypeError):
                raise UsageError("reassign --given-task: stdin is not {\"task_id\", \"prompt\"} JSON; nothing changed") from None
        print(json.dumps(acts.release(args.agent, old=args.old, to=args.to or "another host", given=given)))
        return 0
    if args.take:  # the handoff on stdin, never on a command line
        try:
            handoff = json.loads(sys.stdin.read())
        except ValueError:
            raise UsageError("reassign --take: stdin is not the JSON `reassign --release` prints; nothing taken") from None
        return _report(acts.take(args.agent, handoff if isinstance(handoff, dict) else {}))
    if bool(args.to) == bool(args.new_kind):
        raise UsageError("give either --to AGENT or --new KIND")
    return _report(acts.reassign(args.agent, args.to, new_kind=args.new_kind, old=args.old))


def cmd_send(args: argparse.Namespace) -> int:
    acts = _actions(args)
    text = " ".join(args.text) if args.text else sys.stdin.read()
    if args.command == "broadcast":
        return _report(acts.broadcast(text, force=args.force))
    if getattr(args, "queue_as", None):
        return _report(acts.send(args.agent, text, queue_as=args.queue_as))
    return _report(acts.send(args.agent, text, force=args.force))


def cmd_answer(args: argparse.Namespace) -> int:
    """`answer AGENT CHOICE`: choose an option of the prompt it waits on; without CHOICE, show the prompt."""
    acts = _actions(args)
    if args.choice is None:
        from mission_control.core.prompts import offered

        prompt = acts.waiting_prompt(args.agent)
        keys = prompt.keys()
        lines = [f"{args.agent} asks: {prompt.question}"]
        for o in prompt.options:
            letters = "".join(f" ({k})" for k in ("y", "n") if keys.get(k) == o)
            lines.append(f"  {o.number}. {o.label}{letters}" + ("  [type it in its pane]" if o.needs_text else ""))
        if not prompt.answerable:
            lines.append(f"answer it in its pane: {prompt.why}" if prompt.why else "nothing here can be chosen from outside")
        else:
            lines.append(f"choose with: mission-control answer {args.agent} CHOICE  ({offered(prompt)})")
        say("\n".join(lines), lines=True)
        return 0
    expected = None
    if getattr(args, "expected", False):  # issue 22: the prompt the laptop's person saw, on stdin
        from mission_control.core.prompts import PromptError, expected_from_json

        try:
            expected = expected_from_json(sys.stdin.read())
        except PromptError as exc:
            raise UsageError(f"answer --expected: {exc}") from None
    return _report(acts.answer(args.agent, args.choice, expected=expected))


def cmd_restart(args: argparse.Namespace) -> int:
    acts = _actions(args)
    if args.command == "kill" and args.retire is not None:  # issue 22: a laptop's role retiring its agent here
        return _report([acts.retire(n, args.retire) for n in args.agents])
    return _report([acts.kill(n) if args.command == "kill" else acts.restart(n) for n in args.agents])


def cmd_spawn(args: argparse.Namespace) -> int:
    worktree = True if args.worktree else (False if args.no_worktree else None)
    template, revive = None, False
    if args.stdin_json:  # issue 22: a laptop's spawn on this host, the request as JSON on stdin
        try:
            req = json.loads(sys.stdin.read())
        except ValueError:
            req = None
        template = req.get("template") if isinstance(req, dict) else None  # a [[role]]'s agent keys (its agents spawned here)
        if (not isinstance(req, dict) or not all(isinstance(v, (str, bool)) for k, v in req.items() if k != "template")
                or not (template is None or (isinstance(template, dict) and all(isinstance(k, str) for k in template)))):
            raise UsageError("spawn --stdin-json: stdin is not a spawn request's JSON object; nothing spawned")
        args.kind, args.task, args.copy, args.cmd = req.get("kind"), req.get("task"), req.get("copy"), req.get("command")
        worktree = req.get("worktree") if isinstance(req.get("worktree"), bool) else None
        revive = req.get("revive") is True
    if not args.kind and not args.copy:
        raise UsageError("give --kind KIND or --copy AGENT")
    acts = _actions(args)
    return _report(acts.spawn(args.name, args.kind, args.task, copy_of=args.copy, command=args.cmd, worktree=worktree,
                              host=args.host, template=template, revive=revive))


def cmd_merge(args: argparse.Namespace) -> int:
    return _report(_actions(args).merge(args.agent))


def cmd_diff(args: argparse.Namespace) -> int:
    if args.json:  # the whole diff as JSON (issue 22: how a host hands it to the laptop's diff view)
        from mission_control.core.diff import diff_to_json

        print(json.dumps(diff_to_json(_actions(args).diff(args.agent))))
        return 0
    say(_actions(args).diff_stat(args.agent), lines=True)
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from datetime import datetime

    from mission_control.adapters.store import Store

    store = Store(_config(args).store_path)
    for row in store.actions(limit=args.limit):
        at = datetime.fromtimestamp(row["at"]).strftime("%Y-%m-%d %H:%M:%S")
        say(f"{at}  {row['actor']:10} {row['action']:10} {row['agent'] or '-':14} {row['outcome']}" + (f"  [{row['detail']}]" if row["detail"] else ""))
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from mission_control.adapters.store import Store
    from mission_control.fleet.diagnose import describe, diagnose

    config = _config(args)
    try:
        rules, model = diagnose(config, Store(config.store_path), args.agent, use_model=not args.rules_only)
    except KeyError:
        raise CliError(f"no agent named {args.agent!r} in the latest snapshot of fleet {config.session!r}") from None
    say(describe(rules), lines=True)
    if model is not None:
        say(describe(model), lines=True)
    return 0


def _board(args: argparse.Namespace, *, change: bool = True):
    from mission_control.adapters.store import Store
    from mission_control.fleet.tasks import TaskBoard, require_fleet

    config = _config(args)
    if change:  # before the store is opened: a change with no fleet leaves no store behind
        require_fleet(config)
    return TaskBoard(config, Store(config.store_path), actor=_actor())


def _prompt_arg(text: str, what: str = "task add") -> str:
    """The prompt as given; `-` reads it from stdin (bytes, so that what is not UTF-8 is refused, not altered)."""
    if text != "-":
        return text
    data = sys.stdin.buffer.read(MAX_PROMPT_READ + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what}: the text on stdin is not UTF-8 text (byte {exc.start}); nothing changed") from None


MAX_PROMPT_READ = 4 << 20
"""Most bytes `task add -` reads from stdin (a longer prompt is refused by its size, never read whole)."""


def cmd_task(args: argparse.Namespace) -> int:
    what = args.task_command
    if what in ("list", "show"):
        return _task_read(args)
    board = _board(args)
    if what == "add":
        after = tuple(a.strip() for part in (args.after or []) for a in part.split(",") if a.strip())
        outcome = board.add(_prompt_arg(args.prompt), task_id=args.id, priority=args.priority, after=after,
                            role=args.role, review=args.review_role or args.review, done_when=args.done_when)
        print(outcome.task.id if args.quiet else f"mission-control: {outcome.message}")
        return 0
    if what == "cancel":
        outcome = board.cancel(args.id)
    elif what == "priority":
        outcome = board.set_priority(args.id, args.priority)
    elif what == "assign":
        outcome = board.assign(args.id, args.agent)
    else:
        outcome = board.done(args.id)
    say(f"mission-control: {outcome.message}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """`review ID approve` / `review ID changes TEXT` (issue 19 point 5): a reviewer's verdict."""
    if args.verdict == "approve" and args.text is not None:
        raise UsageError("review ID approve takes no text (changes do: `review ID changes TEXT`); nothing changed")
    text = "" if args.text is None else _prompt_arg(args.text, what="review changes")
    outcome = _board(args).review(args.id, args.verdict, text)
    say(f"mission-control: {outcome.message}")
    return 0


def _task_read(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime

    from mission_control.core.format import age
    from mission_control.core.tasks import history_words, priority_name

    config = _config(args)
    if not config.store_path.exists():  # no fleet has run here: no task either (and no store made by looking)
        if args.task_command == "show":
            raise CliError(f"no task with id {args.id!r} (no fleet has run with {config.path})")
        print("{}" if args.by_role else "[]" if args.json else "no tasks")
        return 0
    board = _board(args, change=False)
    now = time.time()
    if args.task_command == "show":
        shown = board.show(args.id, now)
        if args.json:
            print(json.dumps(shown, indent=2))
            return 0
        lines = [f"{shown['id']}: {shown['state']}" + (f" ({shown['reason']})" if shown["reason"] else ""),
                 f"  priority {priority_name(shown['priority'])}, owner {shown['owner'] or '-'}, role {shown['role'] or 'any'},"
                 f" after {', '.join(shown['after']) or '-'}, review {'yes' if shown['review'] else 'no'},"
                 f" done when {shown['done_when'] or 'default'}, added by {shown['created_by']}",
                 "  time in: " + (", ".join(f"{k} {age(v)}" for k, v in shown["seconds_in"].items()) or "-")]
        if shown["review"] or shown["reviews"] or shown["merge_sha"]:  # review and the merge queue (issue 19 points 5, 6)
            lines.append(f"  reviewed by role {shown['review_role'] or 'reviewer'}" if shown["review"] else
                         f"  reviews task {shown['reviews']}" if shown["reviews"] else "  not reviewed")
            if shown["merge_sha"]:
                lines[-1] += f"; merges {shown['merge_sha'][:10]}" + (f", approved {shown['approved']}" if shown["approved"] else "")
        for h in shown["held_by"]:
            cost = "?" if h["cost_usd"] is None else f"${h['cost_usd']:.2f}"
            lines.append(f"  held by {h['agent']}: spend {cost}, commits {'?' if h['commits'] is None else h['commits']}")
        for e in shown["history"]:
            stamp = datetime.fromisoformat(e["at"]).astimezone().strftime("%H:%M:%S")  # ISO 8601 (UTC) in the JSON
            lines.append(f"  {stamp} {e['event']:8} -> {e['state']:9} {history_words(e['agent'], e['detail'])}".rstrip())
        lines += ["  prompt:", *("    " + ln for ln in shown["prompt"].splitlines())]
        say("\n".join(lines), lines=True)
        return 0
    rows = board.listing(now)
    if args.by_role:
        print(json.dumps(board.totals_by_role(rows), indent=2))
        return 0
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no tasks")
        return 0
    say("\n".join(task_table(rows, now)), lines=True)
    return 0


def task_table(rows: list[dict], now: float) -> list[str]:
    """`task list`'s lines: a header, then a task a line, each column as wide as its longest value
    (ids and agent names go up to 40 characters; a fixed width broke the columns)."""
    from mission_control.core.format import age
    from mission_control.core.tasks import priority_name

    cells = []
    for r in rows:
        created = datetime_seconds(r["created"])
        first = (r["prompt"].splitlines() or [""])[0][:60]
        cells.append((r["id"], priority_name(r["priority"]), r["state"], r["owner"] or "-",
                      age(now - created) if created else "-", first))
    header = ("ID", "PRIO", "STATE", "OWNER", "AGE", "PROMPT")
    w = [max(len(c[i]) for c in [header, *cells]) for i in range(5)]
    return [f"{c[0]:{w[0]}} {c[1]:>{w[1]}} {c[2]:{w[2]}} {c[3]:{w[3]}} {c[4]:>{w[4]}}  {c[5]}".rstrip() for c in [header, *cells]]


def datetime_seconds(text: str | None) -> float | None:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp() if text else None


def cmd_hook(args: argparse.Namespace) -> int:
    from mission_control.fleet.hooks import main as hook_main

    return hook_main(args.state_dir, args.agent, args.event, args.payload)


def run_program(command: str, argv: list[str]) -> int:
    """`mission-control agent ...` / `demo ...`: programs of their own, given every argument after
    their name untouched (their own --help included)."""
    if command == "agent":
        from mission_control.programs.ollama_agent import main as program
    else:
        from mission_control.programs.demo import main as program
    return program(argv)


PROGRAMS = ("agent", "demo")
"""Subcommands that are programs of their own, with their own options (`run_program`)."""


# ------------------------------------------------------------------ parser


def cmd_host_channel(args: argparse.Namespace) -> int:
    """A laptop's action channel to this host (issue 22): JSON requests on stdin, each run by `main`
    here, in this process (fleet/host_channel.py)."""
    from mission_control.fleet.host_channel import serve
    from mission_control.fleet.remote_actions import CHANNEL_COMMANDS

    return serve(main, args.config or "agents.toml", CHANNEL_COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mission-control", description="Supervise a fleet of AI coding agents running in tmux."
    )
    from mission_control import __version__

    parser.add_argument("--version", action="version", version=f"mission-control {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", metavar="PATH", help="fleet config (default: the running fleet, else ./agents.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("up", parents=[common], help="start the fleet and attach to it")
    p.add_argument("--no-attach", action="store_true", help="start detached")
    p.add_argument("--fresh", action="store_true", help="after a crash, start over from agents.toml instead of resuming the agents")
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics at http://HOST:PORT/metrics (instead of [mission] metrics)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", parents=[common], help="stop the fleet (its tmux session and every process in it)")
    p.add_argument("--clean", action="store_true", help="also remove agents' worktrees that hold no unmerged or uncommitted work")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("attach", parents=[common], help="attach to the running fleet (e.g. `ssh host -t mission-control attach`)")
    p.add_argument("agent", nargs="?", help="at this agent's pane (an agent of another host: over ssh, attached there)")
    p.set_defaults(func=cmd_attach)
    p = sub.add_parser("dashboard", parents=[common], help="run the dashboard against the running fleet")
    p.set_defaults(func=cmd_dashboard)
    p = sub.add_parser("web", parents=[common], help="serve the dashboard to browsers (one per tab), behind a token in the printed URL")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; beyond loopback needs --public)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free port)")
    p.add_argument("--public", action="store_true", help="allow a non-loopback --host: anyone who reaches the port with the URL controls the fleet")
    p.set_defaults(func=cmd_web)
    p = sub.add_parser("status", parents=[common], help="print the fleet's latest status")
    p.add_argument("--json", action="store_true", help="as a JSON list")
    p.add_argument("--watch", action="store_true",
                   help="with --json: one line (the snapshot as a JSON object) now and each time anything changed")
    p.add_argument("--tails", action="store_true", help=argparse.SUPPRESS)  # issue 22: fleet/host_view.py's feed
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("events", parents=[common],
                       help="status changes, actions, task and budget events, each with its sequence number")
    p.add_argument("--json", action="store_true", help="as NDJSON: one object per line")
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep printing new events as they happen (without --since: only new ones)")
    p.add_argument("--since", type=int, metavar="SEQ", help="the events after sequence number SEQ (resume where you left off)")
    p.set_defaults(func=cmd_events)
    p = sub.add_parser("supervise", parents=[common], help="run the fleet's supervisor (started by `up`)")
    p.set_defaults(func=cmd_supervise)
    p = sub.add_parser("check", parents=[common], help="validate the config and its layout, start nothing")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("layouts", parents=[common], help="list layout presets")
    p.set_defaults(func=cmd_layouts)

    for name, text in (("pause", "pause agents (SIGSTOP to their process groups)"), ("continue", "continue paused agents")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("agents", nargs="*", metavar="AGENT")
        p.add_argument("--all", action="store_true", help="every agent (that is running / that is paused)")
        p.set_defaults(func=cmd_pause)
    p = sub.add_parser("resume", parents=[common], help="do what resuming means for the agent's state (it says which first)")
    p.add_argument("agent", nargs="?")
    p.add_argument("--all", action="store_true", help="every STUCK agent")
    p.set_defaults(func=cmd_resume)
    p = sub.add_parser("inject", parents=[common], help="give agents environment variables and resume them (NAME=value, or NAME to be asked with a hidden prompt, or NAME=value lines on stdin)")
    p.add_argument("agent", nargs="?")
    p.add_argument("names", nargs="*", metavar="NAME[=VALUE]", help="NAME=value, or NAME alone to be asked for it (else NAME=value lines on stdin)")
    p.add_argument("--all", action="store_true", help="every agent")
    p.add_argument("--dotenv", action="store_true", help="also write them to the agent's working-dir .env (0600)")
    p.set_defaults(func=cmd_inject)
    p = sub.add_parser("env", parents=[common], help="list the variables injected into an agent (names, masked values), or remove them")
    p.add_argument("agent")
    p.add_argument("--unset", action="append", metavar="NAME", default=[], help="forget this injected variable (repeatable)")
    p.set_defaults(func=cmd_env)
    p = sub.add_parser("reassign", parents=[common], help="move an agent's task to another agent, with a handoff")
    p.add_argument("agent")
    p.add_argument("--to", metavar="AGENT")
    p.add_argument("--new", dest="new_kind", metavar="KIND", help="to a new agent of this kind")
    p.add_argument("--old", choices=("pause", "stop", "keep"), default="pause", help="what happens to the old agent (default: pause)")
    p.add_argument("--release", action="store_true", help=argparse.SUPPRESS)  # issue 22: the other host's half of a reassign
    p.add_argument("--take", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--given-task", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_reassign)
    p = sub.add_parser("send", parents=[common], help="type text + Enter into an agent's pane")
    p.add_argument("agent")
    p.add_argument("text", nargs="*")
    p.add_argument("--force", action="store_true", help="type it now even if the agent is busy (else queued until its prompt)")
    p.add_argument("--queue-as", help=argparse.SUPPRESS)  # issue 22: a text the laptop's board hands to this host, once
    p.set_defaults(func=cmd_send)
    p = sub.add_parser("broadcast", parents=[common], help="type text + Enter into every running agent's pane")
    p.add_argument("text", nargs="*")
    p.add_argument("--force", action="store_true", help="type it now even into busy agents")
    p.set_defaults(func=cmd_send)
    p = sub.add_parser("answer", parents=[common], help="answer the prompt a WAITING agent shows (an option's number, y or n); without CHOICE, show it")
    p.add_argument("agent")
    p.add_argument("choice", nargs="?", help="the option's number as shown, y / yes, n / no, or its label")
    p.add_argument("--expected", action="store_true", help=argparse.SUPPRESS)  # issue 22: the prompt seen, JSON on stdin
    p.set_defaults(func=cmd_answer)
    for name, text in (("restart", "restart agents with their task"), ("kill", "stop agents' processes (their panes stay)")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("agents", nargs="+", metavar="AGENT")
        p.add_argument("--retire", metavar="WHY", help=argparse.SUPPRESS)  # a role's agent stopped for good (issue 22)
        p.set_defaults(func=cmd_restart)
    p = sub.add_parser("spawn", parents=[common], help="start a new agent in the running fleet")
    p.add_argument("name")
    p.add_argument("--kind")
    p.add_argument("--task")
    p.add_argument("--copy", metavar="AGENT", help="same settings as this agent")
    p.add_argument("--command", dest="cmd", metavar="CMD")
    p.add_argument("--worktree", action="store_true")
    p.add_argument("--no-worktree", action="store_true")
    p.add_argument("--host", metavar="HOST", help="in that [[host]]'s fleet, over ssh (default: this machine; a --copy: where the copied agent runs)")
    p.add_argument("--stdin-json", action="store_true", help=argparse.SUPPRESS)  # issue 22: a laptop's spawn here
    p.set_defaults(func=cmd_spawn)
    p = sub.add_parser("merge", parents=[common], help="merge an agent's branch into the base branch (--no-ff; nothing changes on conflict)")
    p.add_argument("agent")
    p.set_defaults(func=cmd_merge)
    p = sub.add_parser("diff", parents=[common], help="diff stat of an agent's branch against its base")
    p.add_argument("agent")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # issue 22: the whole diff, for a laptop's view
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("diagnose", parents=[common], help="why an agent is stuck and what would fix it (rules, then diagnose_model)")
    p.add_argument("agent")
    p.add_argument("--rules-only", action="store_true", help="do not ask the Ollama model")
    p.set_defaults(func=cmd_diagnose)
    p = sub.add_parser("log", parents=[common], help="the action log")
    p.add_argument("-n", "--limit", type=int, default=50)
    p.set_defaults(func=cmd_log)
    p = sub.add_parser("task", help="the task board: add, list, show, cancel, prioritise, assign, finish tasks")
    tasks = p.add_subparsers(dest="task_command", metavar="ACTION")
    tasks.required = True
    t = tasks.add_parser("add", parents=[common], help="add a task to the queue (PROMPT `-`: read it from stdin)")
    t.add_argument("prompt", metavar="PROMPT")
    t.add_argument("--id", help="its id (default: task-<n>)")
    t.add_argument("--priority", default="normal", help="high, normal, low or a whole number; higher first (default: normal)")
    t.add_argument("--after", action="append", metavar="ID,...", help="tasks that must be done first")
    t.add_argument("--role", help="only agents with this role take it")
    t.add_argument("--review", action="store_true", help="a reviewer approves it before it is merged")
    t.add_argument("--review-role", metavar="ROLE", help="reviewed by an agent of this role (implies --review; default role: reviewer)")
    t.add_argument("--done-when", choices=("commit", "idle", "word"), help="when it is done (default: commit with a repository, else idle)")
    t.add_argument("-q", "--quiet", action="store_true", help="print only the new task's id")
    t = tasks.add_parser("list", parents=[common], help="every task: id, priority, state, owner, age")
    t.add_argument("--json", action="store_true", help="as JSON, with times and what was measured per task")
    t.add_argument("--by-role", action="store_true", help="totals per role as JSON (tasks per state, time, spend, commits)")
    t = tasks.add_parser("show", parents=[common], help="one task: its fields, history and measurements")
    t.add_argument("id")
    t.add_argument("--json", action="store_true")
    t = tasks.add_parser("cancel", parents=[common], help="cancel a task (an agent working on it is not interrupted)")
    t.add_argument("id")
    t = tasks.add_parser("priority", parents=[common], help="change a task's priority")
    t.add_argument("id")
    t.add_argument("priority", metavar="PRIORITY")
    t = tasks.add_parser("assign", parents=[common], help="give a queued task to an agent (typed at its prompt when it is idle)")
    t.add_argument("id")
    t.add_argument("agent")
    t = tasks.add_parser("done", parents=[common], help="mark a task done (from an agent's pane, without ID: the task it holds)")
    t.add_argument("id", nargs="?")
    p.set_defaults(func=cmd_task)
    p = sub.add_parser("review", parents=[common], help="a reviewer's verdict on a task in review: approve, or changes TEXT (`-`: stdin)")
    p.add_argument("id", metavar="ID", help="the task, or its review task")
    p.add_argument("verdict", metavar="approve|changes", help="approve it (into the merge queue), or send it back with TEXT")
    p.add_argument("text", metavar="TEXT", nargs="?", help="what to change (typed at the worker's prompt); `-` reads it from stdin")
    p.set_defaults(func=cmd_review)
    p = sub.add_parser("hook")  # run by agents' own hooks, not by people
    p.add_argument("--state-dir", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--event")
    p.add_argument("payload", nargs="*")
    p.set_defaults(func=cmd_hook)
    p = sub.add_parser("host-channel", parents=[common])  # issue 22: the laptop's action channel to this host, not for people
    p.set_defaults(func=cmd_host_channel)
    # programs of their own: `main` hands them their arguments before this parser sees them
    sub.add_parser("agent", help="run the built-in Ollama coding agent (what kind = \"ollama\" launches; see `agent --help`)", add_help=False)
    sub.add_parser("demo", help="run one simulated agent of the demo fleet (see `demo --help`)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PROGRAMS:
        return run_program(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        forwarded = _on_host(args)
        if forwarded is not None:
            return forwarded
        return args.func(args)
    except MissionControlError as exc:  # every error a person reads: one line, its exit code (2 usage/config, 1 failed)
        say(f"mission-control: {exc}", sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mission-control status | head -3`: the reader has gone; end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    except Exception as exc:  # a bug: still one line, never a traceback (MISSION_CONTROL_DEBUG=1 shows it)
        if os.environ.get("MISSION_CONTROL_DEBUG"):
            raise
        say(f"mission-control: internal error: {type(exc).__name__}: {exc} (set MISSION_CONTROL_DEBUG=1 for details)", sys.stderr)
        return 1
