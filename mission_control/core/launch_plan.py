"""How each agent is started: the argv of its pane and its environment (pure).

`command` is the only value a shell ever sees. The task, when a kind takes it
as an argument, is passed as a positional parameter: `sh -c '<command> "$@"' name TASK`,
so quotes, `$(...)` or newlines in it reach the agent byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from mission_control.core.config import AgentSpec
from mission_control.core.kinds import KINDS
from mission_control.core.progress import author_identity


FLEET_ENV = "MISSION_CONTROL_FLEET"
"""In the environment of every process started for a fleet (inherited by all an agent starts,
daemons included): how `down` finds the ones that left the fleet's panes."""


def fleet_mark(socket: str, session: str) -> str:
    """The value of FLEET_ENV: the fleet's tmux socket and session (names tmux keeps unique)."""
    return f"{socket}/{session}"


def shell_argv(command: str, args: list[str], name: str) -> list[str]:
    """`sh -c` running `command` with `args` appended as quoted positional parameters."""
    script = f'{command} "$@"' if args else command
    return ["/bin/sh", "-c", script, f"mc-{name}", *args]


def agent_command(spec: AgentSpec, *, resume: bool = False, with_task: bool = True, hook_args: Sequence[str] = ()) -> list[str]:
    """The agent's own argv (before the launcher is put in front).

    `hook_args` are the kind's own options that make it report to us (`--settings FILE`,
    `-c notify=[...]`); they go before the task."""
    kind = KINDS[spec.kind]
    args: list[str] = list(hook_args)
    if spec.kind == "ollama" and spec.model:
        args += ["--model", spec.model]
    if spec.kind == "ollama" and spec.ollama_host:
        args += ["--host", spec.ollama_host]
    if resume and spec.resume_command:
        return shell_argv(spec.resume_command, args, spec.name)
    if with_task and spec.task and kind.task_delivery == "argument":
        args += ([kind.task_flag] if kind.task_flag else []) + [spec.task]
    return shell_argv(spec.command, args, spec.name)


def pane_argv(python: str, launcher: Path, agent_argv: list[str]) -> list[str]:
    """What the pane runs: the launcher (isolated, no site imports) in front of the agent."""
    return [python, "-I", "-S", str(launcher), *agent_argv]


def agent_env(
    spec: AgentSpec, *, status_file: Path, state_dir: Path, path_prefix: str | None, base_path: str, fleet: str = ""
) -> dict[str, str]:
    """The environment an agent's pane gets on top of the tmux server's."""
    env: dict[str, str] = {}
    name, email = author_identity(spec.name)
    env["GIT_AUTHOR_NAME"] = name
    env["GIT_AUTHOR_EMAIL"] = email
    env["GIT_COMMITTER_NAME"] = name
    env["GIT_COMMITTER_EMAIL"] = email
    if path_prefix:
        env["PATH"] = f"{path_prefix}:{base_path}" if base_path else path_prefix
    env.update(spec.env)
    env["MISSION_CONTROL_AGENT"] = spec.name
    env["MISSION_CONTROL_KIND"] = spec.kind
    env["MISSION_CONTROL_STATUS_FILE"] = str(status_file)
    env["MISSION_CONTROL_STATE_DIR"] = str(state_dir)
    if fleet:
        env[FLEET_ENV] = fleet
    if spec.task:
        env["MISSION_CONTROL_TASK"] = spec.task
    return env


def typed_task(spec: AgentSpec) -> str | None:
    """The task to type at the agent's first prompt, for kinds that take it that way."""
    if spec.task and KINDS[spec.kind].task_delivery == "typed":
        return spec.task
    return None


def logs_output(spec: AgentSpec) -> bool:
    """Is everything the agent prints logged (for its meter)? When its meter reads what it printed:
    aider (its token lines, when it keeps no chat history file), and a kind without records of
    its own given `tokens` regexes (a log nothing reads is not kept)."""
    spend_from = KINDS[spec.kind].spend_from
    return spend_from == "records+output" or (spend_from == "tokens" and bool(spec.tokens))
