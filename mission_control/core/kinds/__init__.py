"""The agent kinds: one module each in this package, listed here (pure: part of the core).

A kind module (`claude.py`, `codex.py`, ...) holds everything that kind means and that
needs no I/O: its `SPEC` (how it launches, takes a task and resumes, which hooks it gets,
its API-key variable, the name of its records format) and the pure parsers of its records.
Where its records live and how they are read (files, SQLite) is its meter, in
`mission_control/adapters/meters/`, keyed by `KindSpec.records`.

Everything else asks this registry (`get`, `KINDS`, `KIND_NAMES`) and never compares kind
names. Adding a kind: its module here and a line in `_MODULES`, its meter module if it keeps
records of its own, `rules/<kind>.toml`, screen fixtures and a README row.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class KindSpec:
    """How to start, instruct, resume and meter one kind of agent."""

    kind: str
    """The name used in `agents.toml` (`kind = "..."`) and for its rules file."""
    default_command: str | None
    """Command used when an agent of this kind gives none (None: `command` is required)."""
    task_delivery: str
    """How the first task reaches the agent: `argument` (appended to the command line),
    `typed` (typed at its first prompt), or `env` (only `$MISSION_CONTROL_TASK`)."""
    task_flag: str | None = None
    """With `argument` delivery: the option that precedes the task (None: a bare argument)."""
    resume_command: str | None = None
    """Command that continues the agent's last conversation (None: rerun `command` with its task)."""
    resume_prompt: str = "continue"
    """What `resume` types at the agent's prompt when it is STUCK or IDLE."""
    hooks: str | None = None
    """Which native hook mechanism the kind offers (`claude-settings`, `codex-notify`)."""
    enter_delay: float = 0.3
    """Seconds between pasting text and pressing Enter (codex takes a fast Enter as part of the paste)."""
    spend_from: str = "tokens"
    """Where its spend is read: `records` (its own transcripts or ledger; `tokens` regexes are not
    used), `records+output` (its records, else the token lines it printed: aider), `tokens` (what
    it printed, through the agent's `tokens` regexes)."""
    records: str | None = None
    """The name of its records format: the meter registered under it in
    `mission_control.adapters.meters` reads them (None: it keeps no records we read)."""
    api_key_var: str | None = None
    """The variable that carries its API key (None: it talks to several providers, or none)."""
    launch_args: Callable[[Any], Sequence[str]] | None = None
    """Extra options put on its command line from the agent's settings (the `AgentSpec`), before
    its task: the Ollama agent's `--model` and `--host`."""


_MODULES = ("claude", "codex", "aider", "gemini", "opencode", "qwen", "ollama", "shell")
"""The kind modules, in the order kinds are listed to people (error messages, the spawn dialog)."""

KINDS: dict[str, KindSpec] = {
    spec.kind: spec for spec in (import_module(f"{__name__}.{m}").SPEC for m in _MODULES)
}
"""Every kind, by name."""

KIND_NAMES = tuple(KINDS)
"""The kinds' names, in `_MODULES` order."""


def get(kind: str) -> KindSpec | None:
    """The kind named `kind`, or None for a name no kind has."""
    return KINDS.get(kind)


def api_key_vars() -> dict[str, str]:
    """Each kind's API-key variable, for the kinds that have one."""
    return {name: spec.api_key_var for name, spec in KINDS.items() if spec.api_key_var}


__all__ = ["KIND_NAMES", "KINDS", "KindSpec", "api_key_vars", "get"]
