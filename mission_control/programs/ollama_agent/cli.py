"""`python -m mission_control.programs.ollama_agent` / `mission-control agent`: options and start-up."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mission_control.programs.ollama_agent.paths import default_ledger_path, normalize_host
from mission_control.programs.ollama_agent.report import Ledger, StatusFile

DEFAULT_MAX_STEPS = 40
DEFAULT_COMMAND_TIMEOUT = 120.0
DEFAULT_REQUEST_TIMEOUT = 900.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mission-control agent",
        description="A small coding agent on an Ollama server: it reads and writes files, runs "
        "commands and commits in the current directory, then waits at a `› ` prompt for more.",
    )
    p.add_argument("--model", default=os.environ.get("MISSION_CONTROL_MODEL"),
                   help="Ollama model name, e.g. qwen2.5-coder:7b (default: $MISSION_CONTROL_MODEL)")
    p.add_argument("--task", default=None,
                   help="the first instruction (default: $MISSION_CONTROL_TASK, else the file $MISSION_CONTROL_TASK_FILE; "
                   "without one it waits at its prompt)")
    p.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                   help="Ollama server (default: $OLLAMA_HOST, else http://127.0.0.1:11434)")
    p.add_argument("--ledger", type=Path, default=None,
                   help="token ledger to append to (default: $MISSION_CONTROL_STATE_DIR/agents/$MISSION_CONTROL_AGENT/"
                   "ollama-ledger.jsonl when both are set, else none)")
    p.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS,
                   help=f"model calls allowed in one turn before it stops and asks (default {DEFAULT_MAX_STEPS})")
    p.add_argument("--command-timeout", type=float, default=DEFAULT_COMMAND_TIMEOUT,
                   help=f"seconds a run_command may take before it is killed (default {DEFAULT_COMMAND_TIMEOUT:g})")
    p.add_argument("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT,
                   help=f"seconds to wait for the server during one model call (default {DEFAULT_REQUEST_TIMEOUT:g})")
    return p


def task_from_env(environ) -> str | None:
    """The fleet's task for this agent: $MISSION_CONTROL_TASK, or the file that holds a task too long
    for an environment variable."""
    if environ.get("MISSION_CONTROL_TASK"):
        return environ["MISSION_CONTROL_TASK"]
    path = environ.get("MISSION_CONTROL_TASK_FILE")
    if path:
        try:
            return Path(path).read_text(errors="surrogateescape") or None
        except OSError:
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    status = StatusFile(os.environ.get("MISSION_CONTROL_STATUS_FILE"))
    if not args.model:
        reason = "no model given: pass --model (or set `model` for this agent in agents.toml)"
        status.stuck(reason)
        print(f"mission-control agent: {reason}", file=sys.stderr)
        return 2
    if args.max_steps < 1 or args.command_timeout <= 0 or args.request_timeout <= 0:
        print("mission-control agent: --max-steps, --command-timeout and --request-timeout must be positive", file=sys.stderr)
        return 2
    try:
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass

    from mission_control.programs.ollama_agent.client import CALL_ERRORS, classify_error, make_client
    from mission_control.programs.ollama_agent.loop import Agent
    from mission_control.programs.ollama_agent.tools import Toolbox

    host = normalize_host(args.host)
    ledger_path = args.ledger or default_ledger_path(os.environ)
    cwd = Path.cwd()
    agent = Agent(
        client=make_client(host, args.request_timeout),
        model=args.model,
        host=host,
        cwd=cwd,
        toolbox=Toolbox(cwd, command_timeout=args.command_timeout),
        status=status,
        ledger=Ledger(ledger_path),
        max_steps=args.max_steps,
        errors=CALL_ERRORS,
        classify_error=lambda e: classify_error(e, host=host, model=args.model),
    )
    try:
        return agent.run(args.task if args.task is not None else task_from_env(os.environ))
    except KeyboardInterrupt:  # outside a turn and the prompt (start-up, shutting down)
        print()
        return 130
