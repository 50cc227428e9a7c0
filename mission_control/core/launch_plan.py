"""How each agent is started: the argv of its pane and its environment (pure).

`command` is the only value a shell ever sees. The task, when a kind takes it
as an argument, is passed as a positional parameter: `sh -c '<command> "$@"' name TASK`,
so quotes, `$(...)` or newlines in it reach the agent byte for byte.

A command whose first word is `mission-control` runs the mission-control that started the
fleet (the same interpreter, `<python> -m mission_control`), whatever the agent's PATH holds:
that is how the demo agents and the built-in Ollama agent are started.

Nothing about an agent travels on a command line but the launcher's own path and the path
of its launch file: the agent's argv, working dir and environment (task, secrets) are written
to a 0600 file that the launcher reads and removes (`launch_file_bytes`). So no value can be
read from `/proc/*/cmdline`, none is parsed by tmux (which takes an argument ending in `;` for
a command separator and refuses commands over ~16 KB), and the environment given here, PATH
included, is the one the agent gets (tmux would otherwise put its client's PATH in front).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Sequence

from mission_control.core.config import AgentSpec
from mission_control.core.kinds import KINDS
from mission_control.core.limits import MAX_ARG_BYTES, byte_length
from mission_control.core.progress import author_identity


FLEET_ENV = "MISSION_CONTROL_FLEET"
"""In the environment of every process started for a fleet (inherited by all an agent starts,
daemons included): how `down` finds the ones that left the fleet's panes."""


def fleet_mark(socket: str, session: str) -> str:
    """The value of FLEET_ENV: the fleet's tmux socket and session (names tmux keeps unique)."""
    return f"{socket}/{session}"


BUILTIN_WORD = "mission-control"
"""A command starting with this word runs this mission-control (see the module docstring)."""
LAUNCH_MAGIC = "mission-control-launch-1"
"""The first field of a launch file (a launcher refuses any other)."""


def builtin_command(command: str, python: str) -> str:
    """`command` with a leading `mission-control` word replaced by this interpreter running the package."""
    stripped = command.lstrip()
    if stripped.split(None, 1)[:1] != [BUILTIN_WORD]:
        return command
    return f"{shlex.quote(python)} -m mission_control{stripped[len(BUILTIN_WORD):]}"


def shell_argv(command: str, args: list[str], name: str, python: str) -> list[str]:
    """`sh -c` running `command` with `args` appended as quoted positional parameters."""
    command = builtin_command(command, python)
    script = f'{command} "$@"' if args else command
    return ["/bin/sh", "-c", script, f"mc-{name}", *args]


def agent_command(spec: AgentSpec, *, python: str, resume: bool = False, with_task: bool = True,
                  hook_args: Sequence[str] = ()) -> list[str]:
    """The agent's own argv (before the launcher is put in front).

    `hook_args` are the kind's own options that make it report to us (`--settings FILE`,
    `-c notify=[...]`); they go before the task. A task too long to be one argument
    (`MAX_ARG_BYTES`) is typed at the first prompt instead (`typed_task`)."""
    kind = KINDS[spec.kind]
    args: list[str] = list(hook_args)
    if kind.launch_args is not None:
        args += kind.launch_args(spec)
    if resume and spec.resume_command:
        return shell_argv(spec.resume_command, args, spec.name, python)
    if with_task and spec.task and kind.task_delivery == "argument" and fits_argument(spec.task):
        args += ([kind.task_flag] if kind.task_flag else []) + [spec.task]
    return shell_argv(spec.command, args, spec.name, python)


def fits_argument(value: str) -> bool:
    """Can `value` be passed to a program as one argument?"""
    return byte_length(value) <= MAX_ARG_BYTES


def pane_argv(python: str, launcher: Path, launch_file: Path) -> list[str]:
    """What the pane runs: the launcher (isolated, no site imports) given its launch file."""
    return [python, "-I", "-S", str(launcher), str(launch_file)]


def launch_file_bytes(argv: Sequence[str], env: dict[str, str], cwd: str) -> bytes:
    """The launch file's content: NUL-separated fields — the magic word, the working dir, the
    number of arguments, the arguments, then `NAME=value` for each environment variable. Values
    are validated free of NUL (core.config), so every byte reaches the agent as given."""
    fields = [LAUNCH_MAGIC, cwd, str(len(argv)), *argv, *(f"{k}={v}" for k, v in env.items())]
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def agent_env(
    spec: AgentSpec, *, status_file: Path, state_dir: Path, path_prefix: str | None, base_path: str,
    task_file: Path | None = None, fleet: str = "",
) -> dict[str, str]:
    """The environment an agent gets on top of the tmux server's (its launcher sets it, so it
    wins over tmux's own, PATH included)."""
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
    if task_file is not None:
        env["MISSION_CONTROL_TASK_FILE"] = str(task_file)
    if spec.task and fits_argument(f"MISSION_CONTROL_TASK={spec.task}"):
        env["MISSION_CONTROL_TASK"] = spec.task  # a longer one only in MISSION_CONTROL_TASK_FILE
    return env


def typed_task(spec: AgentSpec) -> str | None:
    """The task to type at the agent's first prompt: for kinds that take it that way, and for a
    task too long to pass as an argument to a kind that takes it as one."""
    delivery = KINDS[spec.kind].task_delivery
    if spec.task and (delivery == "typed" or (delivery == "argument" and not fits_argument(spec.task))):
        return spec.task
    return None


def logs_output(spec: AgentSpec) -> bool:
    """Is everything the agent prints logged (for its meter)? When its meter reads what it printed:
    aider (its token lines, when it keeps no chat history file), and a kind without records of
    its own given `tokens` regexes (a log nothing reads is not kept)."""
    spend_from = KINDS[spec.kind].spend_from
    return spend_from == "records+output" or (spend_from == "tokens" and bool(spec.tokens))
