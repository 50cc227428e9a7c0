"""How large a value may be to reach an agent byte for byte, and what cannot be passed at all (pure).

Values travel to an agent through its launch file (`core.launch_plan`), so tmux's limits
(~16 KB a command, `;` at an argument's end) no longer apply. What remains is the kernel's:
one argument or one `NAME=value` environment string may hold at most `MAX_ARG_BYTES` bytes
(MAX_ARG_STRLEN), and no value may contain a NUL byte (C strings end there). A task may be
longer than one argument: up to `MAX_TASK_BYTES` it is typed at the agent's first prompt or
read from `$MISSION_CONTROL_TASK_FILE` instead.
"""

from __future__ import annotations

MAX_ARG_BYTES = 131071
"""The longest single argument or `NAME=value` environment string Linux passes to a program
(MAX_ARG_STRLEN, 32 pages of 4 KiB, less the final NUL): a longer one fails exec with E2BIG."""
MAX_TASK_BYTES = 1024 * 1024
"""The longest task (1 MiB): passed as an argument up to `MAX_ARG_BYTES`, typed at the first
prompt beyond that; always in `$MISSION_CONTROL_TASK_FILE`."""
MAX_ENV_TOTAL_BYTES = 1024 * 1024
"""All of an agent's extra environment together (config `env` plus injected values): the
kernel also caps an exec's arguments and environment together (a quarter of the stack limit,
2 MiB by default), and the agent's own command line needs room too."""


def byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _size(n: int) -> str:
    """Whole KiB only when exact: one byte over a limit must not read as the limit itself."""
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} bytes"


def env_problem(name: str, value: str) -> str | None:
    """Why `NAME=value` cannot reach an agent, or None."""
    if "\0" in value:
        return f"the value of {name} contains a NUL byte, which no program can be given"
    size = byte_length(name) + 1 + byte_length(value)
    if size > MAX_ARG_BYTES:
        return (f"{name}=... is {_size(size)}; one environment variable can hold at most "
                f"{_size(MAX_ARG_BYTES)} (the kernel's limit): pass a file path instead")
    return None


def env_total_problem(env: dict[str, str]) -> str | None:
    """Why these variables together cannot reach an agent, or None."""
    total = sum(byte_length(k) + 1 + byte_length(v) + 1 for k, v in env.items())
    if total > MAX_ENV_TOTAL_BYTES:
        return f"the environment variables together are {_size(total)}; at most {_size(MAX_ENV_TOTAL_BYTES)}"
    return None


def text_problem(what: str, text: str, limit: int) -> str | None:
    """Why `text` (a task, a command) is too long to reach an agent, or None. (A NUL anywhere in
    a config is refused before this, by `core.config.unpassable`.)"""
    size = byte_length(text)
    if size > limit:
        return f"{what} is {_size(size)}; at most {_size(limit)}"
    return None
