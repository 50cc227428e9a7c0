"""agents.toml: raw text -> parsed -> expanded -> validated -> a typed `FleetConfig`.

The builder (tmux adapter, supervisor) only ever sees `FleetConfig`: defaults are
filled in, paths are absolute, shorthand is gone. Every problem becomes one
`ConfigError` whose message names the file, the key and (where known) the line.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mission_control.core.errors import UsageError
from mission_control.core.keys import keys_problem
from mission_control.core.kinds import KIND_NAMES, KINDS
from mission_control.core.listen_address import exposure_problem, parse_listen_address, token_problem
from mission_control.core.limits import MAX_ARG_BYTES, MAX_TASK_BYTES, env_problem, env_total_problem, text_problem
from mission_control.core.restart import RESTART_POLICIES
from mission_control.core.hosts import host_config_text
from mission_control.core.tasks import DONE_WHEN, TaskInputError, cycle_text, did_you_mean, find_cycle, parse_priority

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_RULE = "letters, digits, '-' and '_' only, starting with a letter or digit, at most 40 characters"
SOCKET_ENV = "MISSION_CONTROL_SOCKET"
DEFAULT_SOCKET = "mission-control"

MAX_AGENTS = 500
"""Most `[[agent]]` tables a config may hold (each is a pane, a launcher and a process tree)."""
CONFIG_MAX_BYTES = 16 << 20
"""Largest agents.toml read (16 MiB: room for tasks and env values up to the launch limit, no
room for a runaway file; a FIFO or a device is refused before it is read)."""
MAX_SECONDS = 7 * 86400
"""Upper bound of `stuck_after` and `start_timeout` (a week): larger is a typo, not a setting."""
MAX_USD = 1_000_000.0
"""Upper bound of budgets and prices."""


class ConfigError(UsageError):
    """A config problem, already phrased as the one line a person should read (exit 2)."""


class _Strict(BaseModel):
    # a field's docstring is its description: the one source of the README's reference tables
    # (scripts/config_reference.py), where a last line `Default: ...` says the default in words;
    # strict float fields take TOML's whole numbers as floats (1 as 1.0) and refuse booleans
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, use_attribute_docstrings=True)


def _check_name(value: str, what: str = "name") -> str:
    if not NAME_RE.match(value):
        raise ValueError(f"{what} {value!r} is not allowed: use {NAME_RULE}")
    return value


def _check_regex(value: str) -> str:
    """`value` if Python's `re` compiles it; else ValueError naming it and what is wrong."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regex {value!r}: {exc}") from None
    return value


class MissionSettings(_Strict):
    """The `[mission]` table: fleet-wide settings (declared here once; `FleetConfig` carries them resolved)."""

    session: str = "mission-control"
    """tmux session name of the fleet."""
    socket: str = DEFAULT_SOCKET
    """tmux socket (`tmux -L`); the environment variable `MISSION_CONTROL_SOCKET` overrides it."""
    layout: str = "split"
    """Name of a layout preset (a TOML file in `layouts/`)."""
    repo: Path | None = None
    """The git repository the agents work on (relative to the config)."""
    init_repo: bool = False
    """Create `repo` as a scratch git repository with one commit when it does not exist (the demo uses it)."""
    base_branch: str | None = None
    """Branch agents' worktrees start from and merge into.
    Default: the repo's current branch"""
    state_dir: Path = Path(".mission-control")
    """The state store's folder, beside the config (created 0700); one per config, so configs in one
    folder never share a fleet's state. `up` refuses a state dir that holds the fleet of another
    config (one line, exit 2).
    Default: `".mission-control"` for `agents.toml`, `".mission-control/<name>"` for any other `<name>.toml`"""
    poll_interval: float = Field(1.0, gt=0, le=60)
    """Seconds between two supervisor ticks."""
    stuck_after: float = Field(120.0, gt=0, le=MAX_SECONDS)
    """Seconds without screen change or CPU use, away from a prompt, before an agent is STUCK (at most a week)."""
    start_timeout: float = Field(60.0, gt=0, le=MAX_SECONDS)
    """Seconds an agent may show nothing before it is STUCK ("never got going"; at most a week)."""
    budget_usd: float | None = Field(None, ge=0, le=MAX_USD)
    """Fleet-wide spend limit in USD: at it, every running agent is paused once."""
    budget_warn: float = Field(0.8, gt=0, le=1)
    """Fraction of a budget at which its cost is marked as a warning (`▲`)."""
    budget_action: Literal["pause", "warn"] = "pause"
    """What reaching a budget does: `pause` the agent (reason `budget reached`), or only `warn`."""
    on_status: str | None = None
    """Shell command run on each status change, with `MC_AGENT`, `MC_OLD_STATUS`, `MC_NEW_STATUS`, `MC_REASON` set."""
    bell: bool = True
    """Ring the terminal bell in the dashboard when an agent starts to need you (WAITING or STUCK)."""
    ollama_host: str | None = None
    """Ollama server for `ollama` agents and diagnosis.
    Default: `$OLLAMA_HOST`, else the local server"""
    diagnose_model: str | None = None
    """Ollama model asked for a second opinion on why an agent is stuck, by `diagnose` (unset: the rules only)."""
    merge_queue: bool = False
    """Merge each finished board task's branch into `base_branch` (issue 19 point 6): a task done
    by an agent with a worktree branch (approved first, with `review`) joins the merge queue and
    is merged one at a time, oldest approval first; a conflict or a failing `merge_check` sends it
    back to its agent. Off: such a task is `done` and its branch is left for `merge`."""
    merge_check: str | None = None
    """Shell command run in a scratch worktree holding the merged result before the base branch
    moves (e.g. the project's tests); a non-zero exit sends the task back with its last 50 lines.
    Default: none: a merge without conflicts goes in"""
    merge_check_timeout: float = Field(600.0, gt=0, le=MAX_SECONDS)
    """Seconds `merge_check` may run; then its whole process group is killed and the task goes back as failed."""
    # -- Prometheus metrics (issue 20): served by the supervisor, see fleet/metrics.py
    metrics: str | None = None
    """Address (`HOST:PORT`, `[::1]:PORT`) where the supervisor serves Prometheus metrics at `/metrics`; `up --metrics ADDR` sets it for one fleet. Beyond loopback only with `metrics_token` or `metrics_public`.
    Default: not served"""
    metrics_token: str | None = Field(None, repr=False)  # never in a repr (a traceback, a debug print)
    """Bearer token scrapers must send (`Authorization: Bearer TOKEN`; 16 to 4096 printable ASCII characters); without it or with a wrong one: HTTP 401. Read by the supervisor from this file: never on a command line, in a log or in the store."""
    metrics_public: bool = False
    """Serve `metrics` beyond loopback without a token, to anyone who can reach it."""

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: str | None) -> str | None:
        if v is not None:
            parse_listen_address(v)  # its ValueError is the one line
        return v

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, v: str | None) -> str | None:
        problem = token_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _metrics_exposure(self) -> MissionSettings:
        if self.metrics is not None:
            problem = exposure_problem(parse_listen_address(self.metrics), self.metrics_token, self.metrics_public)
            if problem:
                raise ValueError(f"metrics = {problem}")
        return self
    # -- the person's loop (issue 21): resume at a limit's reset, restart with backoff
    auto_resume: bool = True
    """Resume an agent STUCK on a usage or rate limit that printed its reset time, at that time
    (plus `auto_resume_margin`), unless you acted on it meanwhile; `false` turns it off (an
    agent's own `auto_resume` wins)."""
    auto_resume_margin: float = Field(30.0, ge=0, le=3600)
    """Seconds after the printed reset before the agent is resumed."""
    restart: Literal[RESTART_POLICIES] = "never"  # type: ignore[valid-type]
    """Start an exited agent again with its resume command: `on-failure` (a non-zero exit),
    `always`, or `never` (an agent's own `restart` wins)."""
    restart_delay: float = Field(5.0, gt=0, le=3600)
    """Seconds before the first restart; doubled for each further one within 10 minutes (at most 300 s)."""
    max_restarts: int = Field(3, ge=0, le=100)
    """Restarts within 10 minutes; one more failure after them is STUCK `crash loop`, left alone."""

    @field_validator("session", "socket")
    @classmethod
    def _names(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("repo", "state_dir", mode="before")
    @classmethod
    def _paths(cls, v: Any) -> Any:
        return Path(v) if isinstance(v, str) else v


class TokenRegexSettings(_Strict):
    """`tokens = {...}` of an agent: regexes over its output lines, one group each."""

    tokens_in: str | None = None
    """Input tokens of one message (or the session total with `cumulative`); `1.2k` forms allowed."""
    tokens_out: str | None = None
    """Output tokens."""
    cache_read: str | None = None
    """Cache-read tokens."""
    cache_write: str | None = None
    """Cache-write tokens."""
    cost: str | None = None
    """Cost in USD (wins over pricing the tokens)."""
    cumulative: bool = False
    """The numbers are running totals for the session rather than per message."""
    model: str | None = None
    """Model to price the tokens with when there is no cost regex."""

    @field_validator("tokens_in", "tokens_out", "cache_read", "cache_write", "cost")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return v if v is None else _check_regex(v)


class PriceSettings(_Strict):
    """`[prices."model"]`: USD per million tokens, for local or private models."""

    input_mtok: float = Field(0.0, ge=0, le=MAX_USD)
    """Fresh input tokens."""
    output_mtok: float = Field(0.0, ge=0, le=MAX_USD)
    """Output tokens."""
    cache_read_mtok: float | None = Field(None, ge=0, le=MAX_USD)
    """Cache reads (default: the input price)."""
    cache_write_mtok: float | None = Field(None, ge=0, le=MAX_USD)
    """Cache writes (default: the input price)."""


class RuleSettings(_Strict):
    """One `[[rule]]`: a detection rule added before the built-in ones."""

    kind: str | None = None
    """Kind the rule applies to (unset: every kind)."""
    state: Literal["WORKING", "WAITING", "IDLE", "STUCK"]
    """The state the rule detects."""
    pattern: str
    """Regular expression over the screen's last `lines` non-blank lines."""
    reason: str | None = None
    """Reason shown (may use {1}, {2} for the pattern's groups)."""
    lines: int = Field(0, ge=0, le=100_000)
    """Look only at the last N non-blank lines (0: the whole capture)."""
    ignore_case: bool = False
    """Match without regard to case."""

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        if v is not None and v not in KIND_NAMES:
            hint = difflib.get_close_matches(v, list(KIND_NAMES), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(f"{v!r} is not a known kind{extra}; use one of: {', '.join(KIND_NAMES)}")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        if not v:
            raise ValueError("pattern is empty")
        return _check_regex(v)


class AgentSettings(_Strict):
    """One `[[agent]]` table."""

    name: str
    """Unique name of letters, digits, `-` and `_` (at most 40); also the tmux pane title and the `agent/<name>` branch."""
    kind: Literal[KIND_NAMES]  # type: ignore[valid-type]  # the registry's names: mission_control/core/kinds
    """Which detection rules, token meter and launch convention apply: {kinds}."""
    command: str | None = None
    """The shell command that starts the agent; required for `shell`. A command starting with
    `mission-control` runs the mission-control that started the fleet (same interpreter), whatever
    the agent's PATH holds.
    Default: per kind (`claude`, `codex`, ..., `mission-control agent` for `ollama`)"""
    cwd: Path | None = None
    """Working directory.
    Default: its worktree, else `repo`, else the config's folder"""
    worktree: bool = False
    """Give the agent its own `git worktree` on branch `agent/<name>`."""
    task: str | None = None
    """The first instruction, delivered the way the kind takes one: the prompt argument for claude
    and codex (`--prompt-interactive` for gemini), typed at the first prompt for aider and
    opencode, `$MISSION_CONTROL_TASK` and the file `$MISSION_CONTROL_TASK_FILE` for every kind. Up
    to 1 MiB; a task over 128 KiB (too long for one argument) is typed at the first prompt
    instead, and is only in the file."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables, `PATH` included (it reaches the agent as given; values are
    passed literally, never through a shell). Each `NAME=value` up to 128 KiB (the kernel's limit
    for one variable), all together up to 1 MiB."""
    resume_prompt: str | None = None
    """What `resume` types at the agent's prompt.
    Default: `"continue"`"""
    resume_command: str | None = None
    """Command that continues the agent's last conversation.
    Default: per kind (`claude --continue`, `codex resume --last`, `aider --restore-chat-history`)"""
    budget_usd: float | None = Field(None, ge=0, le=MAX_USD)
    """Its spend limit in USD: `▲` at `budget_warn`, paused at 100 %."""
    model: str | None = None
    """Model name, where the kind takes one (ollama)."""
    ollama_host: str | None = None
    """Its Ollama server (an `ollama` agent's).
    Default: `[mission] ollama_host`"""
    tokens: TokenRegexSettings | None = None
    """For commands whose records we cannot read: regexes over its output, one group each —
    `tokens_in`, `tokens_out`, `cache_read`, `cache_write`, `cost`, and `cumulative = true` when the
    numbers are running totals, `model` to price tokens with."""
    pull: bool = False
    """Take the next ready task of the task board whenever it is IDLE at its prompt with no open task."""
    roles: list[str] = Field(default_factory=list)
    """Roles it takes tasks of (a task with a `role` goes only to agents with that role; a task
    without one to any agent that pulls)."""
    auto_resume: bool | None = None
    """Resume it at a usage limit's printed reset (see `[mission] auto_resume`).
    Default: `[mission] auto_resume`"""
    restart: Literal[RESTART_POLICIES] | None = None  # type: ignore[valid-type]
    """`on-failure`, `always` or `never` (see `[mission] restart`).
    Default: `[mission] restart`"""
    restart_delay: float | None = Field(None, gt=0, le=3600)
    """Seconds before its first restart (doubled for each further one).
    Default: `[mission] restart_delay`"""
    max_restarts: int | None = Field(None, ge=0, le=100)
    """Its restarts within 10 minutes before a crash loop.
    Default: `[mission] max_restarts`"""
    host: str | None = None
    """The `[[host]]` it runs on (its own fleet there, started by `up` over ssh). Default: this machine."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        for role in v:
            _check_name(role, "role")
        return v

    @field_validator("command", "resume_command")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("command is empty")
        if v is not None and (problem := text_problem("the command", v, MAX_ARG_BYTES - 16)):
            raise ValueError(problem)
        return v

    @field_validator("task")
    @classmethod
    def _task(cls, v: str | None) -> str | None:
        if v is not None and (problem := text_problem("the task", v, MAX_TASK_BYTES)):
            raise ValueError(problem)
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not ENV_NAME_RE.match(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if problem := env_problem(key, value):
                raise ValueError(problem)
        if problem := env_total_problem(v):
            raise ValueError(problem)
        return v

    @field_validator("cwd", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return Path(v) if isinstance(v, str) else v


class HostSettings(_Strict):
    """One `[[host]]` table: a machine reached with `ssh` that runs its agents in a fleet of its own (issue 22)."""

    name: str
    """How agents name it (`host = "gpu"`): letters, digits, `-` and `_`."""
    ssh: str
    """The destination as `ssh` takes it: `user@box`, `box`, or a `~/.ssh/config` alias."""
    port: int | None = Field(None, ge=1, le=65535)
    """Its sshd's port. Default: ssh's (22, or the ssh config's)."""
    identity: Path | None = None
    """A private key file to log in with. Default: ssh's own (agent, ~/.ssh/id_*)."""
    config_dir: str | None = None
    """Where that host's part of the config goes, on the host (relative: under its HOME).
    Default: `.mission-control-hosts/<session>`."""
    repo: str | None = None
    """The git repository on that host (relative: under its HOME): its agents' `worktree = true`
    worktrees are made from it there, and it is the working dir of its agents without a `cwd`."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v == "local":
            raise ValueError("name 'local' is this machine's: give the host another name")
        return _check_name(v, "host name")

    @field_validator("ssh")
    @classmethod
    def _ssh(cls, v: str) -> str:
        if not v or v.startswith("-") or len(v) > 255 or any(c.isspace() or not c.isprintable() for c in v):
            raise ValueError(f"{v!r} is not an ssh destination (user@host or an alias: no spaces, "
                             "control characters or leading '-', at most 255 characters)")
        return v

    @field_validator("config_dir")
    @classmethod
    def _dir(cls, v: str | None) -> str | None:
        if v is not None and (not v or "\0" in v or not v.isprintable() or len(v) > 1024):
            raise ValueError(f"{v!r} is not a folder name (printable, at most 1024 characters)")
        return v

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str | None) -> str | None:
        if v is not None and (not v or "\0" in v or not v.isprintable() or len(v) > 1024):
            raise ValueError(f"{v!r} is not a path (printable, at most 1024 characters)")
        if v is not None and v.startswith("~") and not (v == "~" or v.startswith("~/")):
            raise ValueError(f"{v!r}: write it relative to the host's HOME, as ~/..., or absolute")
        return v

    @field_validator("identity", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return Path(v) if isinstance(v, str) else v


class TaskSettings(_Strict):
    """One `[[task]]` table: a task of the task board (added to the fleet's board by `up`)."""

    id: str
    """Unique task id."""
    prompt: str
    """What the task asks for (typed at the prompt of the agent that takes it)."""
    assignee: str | None = None
    """Agent that holds the task from the start (must name an `[[agent]]`): its first instruction.
    Default: none: the task waits in the queue for an agent with `pull = true`"""
    priority: int = 0
    """`"high"`, `"normal"`, `"low"` or a whole number; higher first, ties by age.
    Default: `"normal"` (0)"""
    after: list[str] = Field(default_factory=list)
    """Ids of tasks that must be done first (the task is `blocked` until then)."""
    role: str | None = None
    """Only agents with this role (in their `roles`) take it.
    Default: any agent with `pull = true`"""
    review: bool | str = False
    """A reviewer approves the result before it is merged: `true` (an agent of role `reviewer`)
    or the name of the reviewers' role."""
    done_when: Literal[DONE_WHEN] | None = None  # type: ignore[valid-type]
    """When the task is done: `commit` (back at its prompt with a commit since it took the task),
    `idle` (back at its prompt after a turn on it: seen WORKING, or, for a turn shorter than a
    tick, a hook event, a changed screen after its Enter or a commit), `word` (it wrote DONE to
    its status file).
    Default: `commit` when the agent has a repository, else `idle`"""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _check_name(v, "task id")

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, v: Any) -> Any:
        try:
            return parse_priority(v)
        except TaskInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        return v if v is None else _check_name(v, "role")

    @field_validator("review")
    @classmethod
    def _review(cls, v: bool | str) -> bool | str:
        return v if isinstance(v, bool) else _check_name(v, "review role")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():  # as `task add` says it: an empty line typed at an agent's prompt asks nothing
            raise ValueError("the prompt is empty")
        if problem := text_problem("the prompt", v, MAX_TASK_BYTES):
            raise ValueError(problem)
        return v


class RoleSettings(AgentSettings):
    """One `[[role]]` table: agents that scale with the task board (issue 19). While ready tasks of
    the role wait and fewer than `max_instances` of its agents exist, the supervisor spawns one
    more from this template, named `<name>-<n>`, with `pull = true` and `roles = [name]`; one idle
    for `retire_after` seconds with nothing ready for it is stopped (its worktree and branch kept).
    Every `[[agent]]` key but `task`, `pull` and `roles` is the template's."""

    max_instances: int = Field(1, ge=1, le=MAX_AGENTS)
    """Most agents of the role at once."""
    retire_after: float = Field(300.0, gt=0, le=MAX_SECONDS)
    """Seconds an agent of the role sits idle, with no ready task for it, before it is stopped (its worktree kept)."""
    worktree: bool = True
    """Give each of its agents its own `git worktree` on branch `agent/<role>-<n>` (needs `repo`)."""
    hosts: list[str] = Field(default_factory=list)
    """The hosts its tasks run on: `[[host]]` names, `"local"` for this machine. Its tasks go only to
    pulling agents there (an `[[agent]]` of another host with its role does not take them), and its
    own agents are spawned there (through that host's spawn), the host with the fewest of them
    first. Default: this machine spawns them, and any host's agents with the role take its tasks."""

    @field_validator("task", "pull", "roles")
    @classmethod
    def _not_in_template(cls, v: Any, info: Any) -> Any:
        raise ValueError("not a key of a role: its agents pull the role's tasks "
                         "(`pull = true`, `roles = [name]`) and take their work from the board")


class NotifySettings(_Strict):
    """The `[notify]` table: how the person is told when an agent needs them or a task finishes
    (besides the dashboard's bell and the tmux message)."""

    url: str | None = None
    """Webhook: each notification is POSTed there as JSON (agent, status, reason, since, task,
    event, fleet, title, text, dashboard), off the supervisor's tick. `http://` or `https://` with
    a host (and a port 1-65535); a `user:password@` in it is refused (it would not be sent): put a
    token in its path or query."""
    timeout: float = Field(5.0, gt=0, le=120)
    """Seconds one webhook request may take."""
    retries: int = Field(3, ge=0, le=10)
    """Further tries of a webhook request that failed (no answer, or a 5xx/429), 1 s, 2 s, 4 s ... apart."""
    desktop: bool = True
    """Desktop notifications: OSC 777 and OSC 9 to the terminals attached to the fleet, and
    `notify-send` where it is installed."""
    min_interval: float = Field(60.0, ge=0, le=86400)
    """Seconds between two notifications about one agent (the ones in between are counted in the next)."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://[^\s/?#]+", v) or any(not c.isprintable() or c.isspace() for c in v) or len(v) > 4096:
            raise ValueError("must be an http:// or https:// URL without spaces (at most 4096 characters)")
        try:  # what the sender (urllib) would trip on later, in the supervisor's window: said here
            parts = urllib.parse.urlsplit(v)
            parts.port  # noqa: B018 (raises on a port that is no number 0-65535)
        except ValueError:
            raise ValueError("the host or port cannot be read (write [IPv6] in brackets, a port 1-65535)") from None
        if "@" in parts.netloc:  # the value is never repeated: it holds a password
            raise ValueError("user:password@ in the URL is not sent (urllib does not): put a token in its path or query")
        if not parts.hostname:
            raise ValueError("the URL names no host")
        return v


class FileSchema(_Strict):
    """The whole file."""

    mission: MissionSettings = Field(default_factory=MissionSettings)
    agent: list[AgentSettings] = Field(default_factory=list)
    task: list[TaskSettings] = Field(default_factory=list)
    rule: list[RuleSettings] = Field(default_factory=list)
    role: list[RoleSettings] = Field(default_factory=list)
    """Agents that scale with the task board (`[[role]]`)."""
    prices: dict[str, PriceSettings] = Field(default_factory=dict)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    keys: dict[str, str] = Field(default_factory=dict)
    """Dashboard key bindings: action id -> key(s) (e.g. `pause = "space"`, `task_add = "A"`); checked by `keys.keys_problem`."""
    host: list[HostSettings] = Field(default_factory=list)


# ---------------------------------------------------------------- the typed result


class AgentSpec(BaseModel):
    """An agent with every default filled in and every path absolute."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    command: str
    cwd: Path
    worktree: bool
    task: str | None
    env: dict[str, str]
    resume_prompt: str
    resume_command: str | None
    budget_usd: float | None
    model: str | None
    ollama_host: str | None = None
    tokens: dict[str, Any] | None = None
    """Token regexes (only the keys that were given)."""
    index: int
    pull: bool = False
    """It takes the next ready task of the board when idle (`[[agent]] pull`)."""
    roles: tuple[str, ...] = ()
    """The roles of tasks it takes."""
    auto_resume: bool | None = None
    """Its own `auto_resume` (None: the fleet's)."""
    restart: str | None = None
    """Its own restart policy (None: the fleet's)."""
    restart_delay: float | None = None
    max_restarts: int | None = None
    host: str | None = None
    """The `[[host]]` it runs on (None: this machine)."""


class FleetConfig(MissionSettings):
    """What the builder and the supervisor work from: the `[mission]` settings (declared once, in
    `MissionSettings`) resolved — paths absolute, the socket after `MISSION_CONTROL_SOCKET` — and
    the agents with every default filled in."""

    model_config = ConfigDict(strict=False)

    path: Path
    """The config file (absolute)."""
    agents: tuple[AgentSpec, ...]
    tasks: tuple[TaskSettings, ...]
    roles: tuple[RoleSettings, ...] = ()
    """`[[role]]`s: agent templates the supervisor scales with the board (fleet/roles.py)."""
    rules: tuple[RuleSettings, ...] = ()
    prices: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    keys: dict[str, str] = Field(default_factory=dict)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    hosts: tuple["HostSpec", ...] = ()
    """The `[[host]]`s with agents, each with its part of the config (issue 22); `agents` are this machine's only."""

    def role_hosts(self) -> dict[str, tuple[str, ...]]:
        """The roles limited to hosts (`[[role]] hosts`): role -> those hosts (`local`: this machine)."""
        return {r.name: tuple(r.hosts) for r in self.roles if r.hosts}

    def rules_for(self, kind: str) -> list[dict[str, Any]]:
        """The user's rules for `kind`, as raw rule tables (the rules module compiles them)."""
        return [r.model_dump(exclude={"kind"}, exclude_none=True) for r in self.rules if r.kind in (None, kind)]

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    def loop_settings(self, spec: AgentSpec) -> tuple[bool, str, float, int]:
        """The agent's (auto_resume, restart, restart_delay, max_restarts): its own, else the fleet's."""
        return (
            self.auto_resume if spec.auto_resume is None else spec.auto_resume,
            self.restart if spec.restart is None else spec.restart,
            self.restart_delay if spec.restart_delay is None else spec.restart_delay,
            self.max_restarts if spec.max_restarts is None else spec.max_restarts,
        )

    @property
    def store_path(self) -> Path:
        return self.state_dir / "state.db"


class HostSpec(BaseModel):
    """A `[[host]]` resolved: how to reach it, and the config its own fleet runs from."""

    model_config = ConfigDict(frozen=True)

    name: str
    ssh: str
    port: int | None
    identity: Path | None
    """Absolute (or None)."""
    config_dir: str | None
    agents: tuple[str, ...]
    """The names of its agents, in the config's order."""
    config_text: str
    """Its agents.toml (`core/hosts.host_config_text`)."""
    repo: str | None = None
    """Its `[[host]] repo`, as given (a path on the host; relative: under its HOME)."""
    pulling: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(name, roles) of its agents with `pull = true`: the laptop's task board dispatches to them."""


# ---------------------------------------------------------------- errors


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the key at `loc` (e.g. ('agent', 2, 'comand'))."""
    lines = text.splitlines()
    if not loc:
        return None
    table, rest = loc[0], loc[1:]
    start = 0
    if table in ("agent", "task", "rule", "role") and rest and isinstance(rest[0], int):
        header = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
        seen = -1
        found = None
        for i, line in enumerate(lines):
            if header.match(line):
                seen += 1
                if seen == rest[0]:
                    found = i
                    break
        if found is None:
            return None
        start, rest = found, rest[1:]
    elif table in ("mission", "notify", "keys"):
        for i, line in enumerate(lines):
            if re.match(rf"^\s*\[\s*{table}\s*\]", line):
                start = i
                break
        else:
            return None
    else:
        rest = loc
    if not rest:
        return start + 1
    key = str(rest[0])
    key_re = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    for i in range(start, len(lines)):
        if i > start and re.match(r"^\s*\[", lines[i]):
            break
        if key_re.match(lines[i]):
            return i + 1
    return start + 1


def _dotted(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """`agent[2].comand`, or `agent "coder".comand` when the agent has a name."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            name = None
            try:
                entry = raw[loc[i - 1]][item]
                name = entry.get("name") or entry.get("id")
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
            parts[-1] += f"[{item}]" + (f" ({name})" if isinstance(name, str) else "")
        else:
            parts.append(str(item))
    return ".".join(parts)


_FIELDS = {
    (): FileSchema.model_fields,
    ("mission",): MissionSettings.model_fields,
    ("agent",): AgentSettings.model_fields,
    ("task",): TaskSettings.model_fields,
    ("rule",): RuleSettings.model_fields,
    ("role",): RoleSettings.model_fields,
    ("role", "tokens"): TokenRegexSettings.model_fields,
    ("agent", "tokens"): TokenRegexSettings.model_fields,
    ("prices", "*"): PriceSettings.model_fields,
    ("notify",): NotifySettings.model_fields,
}


def _describe(err: dict[str, Any], raw: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    loc = tuple(err["loc"])
    # pydantic adds the literal/union branch to the location; keep the key path only
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
    where = _dotted(loc, raw)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = tuple(p for p in loc[:-1] if not isinstance(p, int))
        if parent[:1] == ("prices",) and len(parent) == 2:
            parent = ("prices", "*")
        known = list(_FIELDS.get(parent, {}))
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        msg = f"unknown key {where!r}"
        msg += f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(known)})"
        return msg, loc
    if kind == "missing":
        return f"missing required key {where!r}", loc
    if kind == "literal_error":
        allowed = ", ".join(KIND_NAMES) if loc[-1] == "kind" else err.get("ctx", {}).get("expected", "")
        hint = difflib.get_close_matches(str(value), list(KIND_NAMES) if loc[-1] == "kind" else re.findall(r"'([^']*)'", allowed), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        what = "a known kind" if loc[-1] == "kind" else "allowed"
        return f"{where} = {value!r} is not {what}{extra}; use one of: {allowed}", loc
    if kind == "value_error":
        return f"{where}: {err['msg'].removeprefix('Value error, ')}", loc
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
        bound = {"greater_than": "greater than {gt:g}", "greater_than_equal": "greater than or equal to {ge:g}", "less_than": "less than {lt:g}",
                 "less_than_equal": "less than or equal to {le:g}", "finite_number": "a finite number"}[kind].format(**err.get("ctx", {}))
        return f"{where} = {value!r} is out of range: it must be {bound}", loc
    expected = {
        "string_type": "a string",
        "bool_type": "true or false",
        "float_type": "a number",
        "int_type": "a whole number",
        "dict_type": "a table",
        "list_type": "an array of tables" if len(loc) == 1 else "an array",  # [[agent]], [[task]]...; or a value's list
        "model_type": "a table",
        "path_type": "a path string",
    }.get(kind)
    if expected:
        return f"{where} must be {expected}, not {type(value).__name__} {value!r}", loc
    return f"{where}: {err['msg']}", loc


def _error(path: Path, text: str, msg: str, loc: tuple[Any, ...] = ()) -> ConfigError:
    line = _line_of(text, loc) if loc else None
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {msg}")


# ---------------------------------------------------------------- the pipeline


def parse(path: Path, text: str) -> dict[str, Any]:
    """Raw text -> a dict (TOML syntax errors carry their own line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None


def unpassable(value: Any, loc: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str, str] | None:
    """The first string (key or value) in `value` that no program can be given, as (where, the
    string, why): a NUL byte ends a C string, so neither argv, the environment nor a path can
    carry one (Python refuses it with "embedded null byte" at launch). Newlines, ';', quotes and
    any unicode pass byte-exact and are not refused."""
    if isinstance(value, str):
        return (loc, value, "contains a NUL byte, which no program can be given") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (*loc, key), key, "is a key with a NUL byte in it"
            found = unpassable(item, (*loc, key))
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = unpassable(item, (*loc, i))
            if found:
                return found
    return None


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for a one-line message: escaped (repr), and cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def validate(path: Path, text: str, raw: dict[str, Any]) -> FileSchema:
    """Check types and keys; the first problem becomes a ConfigError."""
    _check_secrets(path, text, raw)
    bad = unpassable(raw)
    if bad:
        loc, value, why = bad
        raise _error(path, text, f"{_dotted(loc, raw)} = {shown(value)} {why}", loc)
    agents = raw.get("agent")
    if isinstance(agents, list) and len(agents) > MAX_AGENTS:
        raise _error(path, text, f"{len(agents)} agents: at most {MAX_AGENTS} are supported in one fleet", ("agent", MAX_AGENTS))
    try:
        schema = FileSchema.model_validate(raw)
    except ValidationError as exc:
        msg, loc = _describe(exc.errors()[0], raw)
        raise _error(path, text, msg, loc) from None
    seen: dict[str, int] = {}
    for i, agent in enumerate(schema.agent):
        if agent.name in seen:
            raise _error(path, text, f"duplicate agent name {agent.name!r} (also agent[{seen[agent.name]}])", ("agent", i, "name"))
        seen[agent.name] = i
        if KINDS[agent.kind].default_command is None and agent.command is None:
            raise _error(path, text, f"agent[{i}] ({agent.name}).command is required for kind {agent.kind!r}", ("agent", i))
        if agent.worktree and schema.mission.repo is None and agent.host in (None, "local"):  # a host's: its [[host]] repo
            raise _error(path, text, f"agent[{i}] ({agent.name}).worktree = true needs mission.repo (the repository "
                                     "its worktree is made from)", ("agent", i, "worktree"))
    _validate_roles(path, text, schema, raw)
    _validate_tasks(path, text, schema, list(seen))
    _validate_hosts(path, text, schema)
    if problem := keys_problem(schema.keys, shown):
        raise _error(path, text, problem[1], ("keys", problem[0]))
    return schema


def _validate_roles(path: Path, text: str, schema: FileSchema, raw: dict[str, Any]) -> None:
    """`[[role]]` tables: unique names, room in an agent name for `<name>-<max_instances>`, a
    template that can start (a command, a repo for its worktrees), and no `[[agent]]` named like
    one of its agents (`<name>-<n>`)."""
    seen: dict[str, int] = {}
    raw_roles = raw.get("role") if isinstance(raw.get("role"), list) else []
    for i, role in enumerate(schema.role):
        where = f"role[{i}] ({role.name})"
        if role.name in seen:
            raise _error(path, text, f"duplicate role name {role.name!r} (also role[{seen[role.name]}])", ("role", i, "name"))
        seen[role.name] = i
        longest = f"{role.name}-{role.max_instances}"
        if not NAME_RE.match(longest):
            raise _error(path, text, f"{where}.name {role.name!r} is too long for its agents' names ({longest!r}): "
                                     f"{NAME_RULE}", ("role", i, "name"))
        if KINDS[role.kind].default_command is None and role.command is None:
            raise _error(path, text, f"{where}.command is required for kind {role.kind!r}", ("role", i))
        for place in (role.hosts or ["local"]) if role.worktree else ():  # a repository where its agents run
            host = next((h for h in schema.host if h.name == place), None)
            if place == "local" and schema.mission.repo is None:
                raise _error(path, text, f"{where}.worktree = true (the default for a role) needs mission.repo; "
                                         "or set worktree = false", ("role", i, "worktree"))
            if host is not None and host.repo is None:
                raise _error(path, text, f"{where}.worktree = true (the default for a role) needs host {place!r}'s repo "
                                         f"(its agents run there); or set worktree = false", ("role", i, "worktree"))
        if role.worktree and isinstance(raw_roles[i], dict) and "cwd" in raw_roles[i]:
            raise _error(path, text, f"{where}: give either worktree = true or cwd, not both", ("role", i, "cwd"))
        for j, agent in enumerate(schema.agent):
            if re.fullmatch(rf"{re.escape(role.name)}-[0-9]+", agent.name):
                raise _error(path, text, f"agent[{j}] ({agent.name}): the name is one of role {role.name!r}'s agents' "
                                         f"({role.name}-<n>): name it otherwise", ("agent", j, "name"))


SECRET_KEYS = ("metrics_token",)
"""`[mission]` keys holding a secret: a message about one never quotes its value."""


def _check_secrets(path: Path, text: str, raw: dict[str, Any]) -> None:
    """The secret keys' type and NUL bytes, said without their value (the general messages quote it)."""
    mission = raw.get("mission")
    for key in SECRET_KEYS if isinstance(mission, dict) else ():
        value = mission.get(key)
        if key not in mission or (isinstance(value, str) and "\x00" not in value):
            continue
        why = "contains a NUL byte" if isinstance(value, str) else f"must be a string, not {type(value).__name__}"
        raise _error(path, text, f"mission.{key} {why} (its value is not shown)", ("mission", key))


def _validate_hosts(path: Path, text: str, schema: FileSchema) -> None:
    """`[[host]]` names unique; an agent's `host` names one; what a remote agent cannot have yet."""
    names: dict[str, int] = {}
    for i, host in enumerate(schema.host):
        if host.name in names:
            raise _error(path, text, f"duplicate host name {host.name!r} (also host[{names[host.name]}])", ("host", i, "name"))
        names[host.name] = i
    for i, agent in enumerate(schema.agent):
        if agent.host is None or agent.host == "local":
            continue
        if agent.host not in names:
            extra = did_you_mean(agent.host, list(names)) or ("; no [[host]] is configured" if not names else "")
            raise _error(path, text, f"agent[{i}] ({agent.name}).host {agent.host!r} names no [[host]]{extra}",
                         ("agent", i, "host"))
        if agent.worktree and schema.host[names[agent.host]].repo is None:
            raise _error(path, text, f"agent[{i}] ({agent.name}).worktree = true needs host[{names[agent.host]}] "
                                     f"({agent.host}).repo (the repository on that host its worktree is made from)",
                         ("agent", i, "worktree"))
    raw_hosts = [*names, "local"]
    for i, role in enumerate(schema.role):
        if role.host not in (None, "local"):
            raise _error(path, text, f"role[{i}] ({role.name}).host: a role runs on `hosts = [...]` "
                                     f"(e.g. hosts = [{role.host!r}])", ("role", i, "host"))
        for j, name in enumerate(role.hosts):
            if name not in raw_hosts:
                extra = did_you_mean(name, raw_hosts) or ("; no [[host]] is configured" if not names else "")
                raise _error(path, text, f"role[{i}] ({role.name}).hosts[{j}] {name!r} names no [[host]] (or \"local\"){extra}",
                             ("role", i, "hosts", j))


def _validate_tasks(path: Path, text: str, schema: FileSchema, agents: list[str]) -> None:
    """`[[task]]` tables: unique ids, an assignee that is an agent, `after` naming tasks of the
    file without a cycle, a `role` some agent has."""
    ids = {t.id: i for i, t in reversed(list(enumerate(schema.task)))}
    roles = sorted({r for a in schema.agent for r in a.roles} | {r.name for r in schema.role})
    seen: set[str] = set()
    for i, task in enumerate(schema.task):
        where = f"task[{i}] ({task.id})"
        if task.id in seen:
            raise _error(path, text, f"duplicate task id {task.id!r} (also task[{ids[task.id]}])", ("task", i, "id"))
        seen.add(task.id)
        if task.assignee is not None and task.assignee not in agents:
            raise _error(path, text, f"{where}.assignee {task.assignee!r} names no agent{did_you_mean(task.assignee, agents)}",
                         ("task", i, "assignee"))
        if task.assignee is not None and task.after:
            raise _error(path, text, f"{where}: give either assignee (it starts at once) or after, not both", ("task", i, "after"))
        for dep in task.after:
            if dep not in ids:
                raise _error(path, text, f"{where}.after {dep!r} names no task{did_you_mean(dep, list(ids))}", ("task", i, "after"))
        if task.role is not None and task.role not in roles:
            extra = did_you_mean(task.role, roles) or (f"; roles: {', '.join(roles)}" if roles else "; no agent has roles")
            raise _error(path, text, f"{where}.role {task.role!r} is no agent's role{extra}", ("task", i, "role"))
    cycle = find_cycle({t.id: t.after for t in schema.task})
    if cycle:
        raise _error(path, text, f"task.after makes a cycle: {cycle_text(cycle)}", ("task", ids[cycle[0]], "after"))


def _abs(base: Path, p: Path) -> Path:
    p = Path(os.path.expanduser(str(p)))
    return p if p.is_absolute() else (base / p)


def expand_agent(
    a: AgentSettings, index: int, *, base: Path, state_dir: Path, repo: Path | None, ollama_host: str | None, task: str | None
) -> AgentSpec:
    """One `[[agent]]` with its kind's defaults filled in and its paths made absolute."""
    spec = KINDS[a.kind]
    command = a.command or spec.default_command
    if command is None:
        raise ValueError(f"agent {a.name!r}: command is required for kind {a.kind!r}")
    if a.cwd is not None:
        cwd = _abs(base, a.cwd)
    elif a.worktree:
        cwd = state_dir / "worktrees" / a.name
    else:
        cwd = repo or base
    return AgentSpec(
        name=a.name,
        kind=a.kind,
        command=command,
        cwd=cwd,
        worktree=a.worktree,
        task=task,
        env=dict(a.env),
        resume_prompt=a.resume_prompt or spec.resume_prompt,
        resume_command=a.resume_command or spec.resume_command,
        budget_usd=a.budget_usd,
        model=a.model,
        ollama_host=a.ollama_host or ollama_host,
        tokens=a.tokens.model_dump(exclude_defaults=True) if a.tokens else None,
        index=index,
        pull=a.pull,
        roles=tuple(a.roles),
        auto_resume=a.auto_resume,
        restart=a.restart,
        restart_delay=a.restart_delay,
        max_restarts=a.max_restarts,
    )


def agent_from_request(config: FleetConfig, data: dict[str, Any], index: int) -> AgentSpec:
    """An agent added to a running fleet (spawn): validated like an `[[agent]]` table.
    Raises ValueError with a one-line message."""
    fields = {k: v for k, v in data.items() if k in AgentSettings.model_fields and v is not None}
    bad = unpassable(fields)
    if bad:
        loc, value, why = bad
        raise ValueError(f"new agent {'.'.join(map(str, loc))} = {shown(value)} {why}")
    try:
        settings = AgentSettings.model_validate(fields)
    except ValidationError as exc:
        msg, _ = _describe(exc.errors()[0], {"agent": [fields]})
        raise ValueError(msg.replace("agent[0]", "new agent")) from None
    repo = config.repo
    return expand_agent(
        settings, index, base=config.path.parent, state_dir=config.state_dir, repo=repo,
        ollama_host=config.ollama_host, task=settings.task,
    )


DEFAULT_CONFIG_NAME = "agents.toml"
"""The config that `mission-control` reads when none is named, and whose state dir is `.mission-control` itself."""


def default_state_dir(path: Path, given: Path) -> Path:
    """The state dir of the config at `path` when it names none: `given` (`.mission-control`) for
    agents.toml, a folder of its own inside it for any other config — so that configs in one folder
    never share a fleet's state (after a crash, `up -c other.toml` would bring back this fleet)."""
    if path.name == DEFAULT_CONFIG_NAME:
        return given
    key = path.name.removesuffix(".toml") if path.suffix == ".toml" else path.name
    return given / (key if key.strip(".") else path.name)


def expand(path: Path, schema: FileSchema, environ: dict[str, str] | None = None) -> FleetConfig:
    """Fill in defaults, make paths absolute, apply environment overrides."""
    environ = dict(os.environ) if environ is None else environ
    base = path.parent
    m = schema.mission
    repo = _abs(base, m.repo) if m.repo else None
    given = m.state_dir if "state_dir" in m.model_fields_set else default_state_dir(path, m.state_dir)
    state_dir = _abs(base, given)
    socket = environ.get(SOCKET_ENV) or m.socket
    if not NAME_RE.match(socket):
        raise ConfigError(f"{SOCKET_ENV}={socket!r}: socket name is not allowed: use {NAME_RULE}")
    tasks_by_agent = {t.assignee: t for t in schema.task if t.assignee}
    agents = []
    hosts = _expand_hosts(base, schema)
    for i, a in enumerate(schema.agent):
        if a.host not in (None, "local"):
            continue  # runs in its host's own fleet (`hosts`)
        task = a.task
        if task is None and a.name in tasks_by_agent:
            task = tasks_by_agent[a.name].prompt
        agents.append(expand_agent(a, i, base=base, state_dir=state_dir, repo=repo, ollama_host=m.ollama_host, task=task))
    return FleetConfig(
        **{**dict(m), "repo": repo, "state_dir": state_dir, "socket": socket},
        path=path,
        agents=tuple(agents),
        tasks=tuple(schema.task),
        roles=tuple(schema.role),
        rules=tuple(schema.rule),
        prices={k: v.model_dump() for k, v in schema.prices.items()},
        keys=dict(schema.keys),
        notify=schema.notify,
        hosts=hosts,
    )


def _expand_hosts(base: Path, schema: FileSchema) -> tuple[HostSpec, ...]:
    """Each `[[host]]` that has agents, or that a `[[role]]` spawns its agents on (its fleet starts
    empty), with its part of the config rendered as TOML."""
    out = []
    mission = schema.mission.model_dump(mode="json", exclude_unset=True)
    rules = [r.model_dump(mode="json", exclude_none=True) for r in schema.rule]
    prices = {k: v.model_dump(mode="json", exclude_none=True) for k, v in schema.prices.items()}
    mission.setdefault("session", schema.mission.session)
    assigned = {t.assignee: t.prompt for t in schema.task if t.assignee}
    for host in schema.host:
        mine = [a for a in schema.agent if a.host == host.name]
        if not mine and not any(host.name in r.hosts for r in schema.role):
            continue
        tables = [a.model_dump(mode="json", exclude_unset=True) for a in mine]
        for table in tables:  # a `[[task]]` given to it: its first prompt there, as for an agent here
            if table.get("task") is None and table["name"] in assigned:
                table["task"] = assigned[table["name"]]
        out.append(HostSpec(
            name=host.name, ssh=host.ssh, port=host.port, identity=_abs(base, host.identity) if host.identity else None,
            config_dir=host.config_dir, agents=tuple(a.name for a in mine),
            config_text=host_config_text(mission, tables, rules, prices, repo=host.repo), repo=host.repo,
            pulling=tuple((a.name, tuple(a.roles)) for a in mine if a.pull),
        ))
    return tuple(out)


def load_text(path: Path, text: str, environ: dict[str, str] | None = None) -> FleetConfig:
    """The whole pipeline on text already read (pure)."""
    path = Path(os.path.abspath(path))
    raw = parse(path, text)
    for i, agent in enumerate(raw.get("agent", []) if isinstance(raw.get("agent"), list) else []):
        if isinstance(agent, dict) and isinstance(agent.get("worktree"), bool) and agent.get("worktree") and "cwd" in agent:
            raise _error(path, text, f"agent[{i}]: give either worktree = true or cwd, not both", ("agent", i, "cwd"))
    schema = validate(path, text, raw)
    return expand(path, schema, environ)
