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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mission_control.core.kinds import KIND_NAMES, KINDS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_RULE = "letters, digits, '-' and '_' only, starting with a letter or digit, at most 40 characters"
SOCKET_ENV = "MISSION_CONTROL_SOCKET"
DEFAULT_SOCKET = "mission-control"


class ConfigError(Exception):
    """A config problem, already phrased as the one line a person should read."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_name(value: str, what: str = "name") -> str:
    if not NAME_RE.match(value):
        raise ValueError(f"{what} {value!r} is not allowed: use {NAME_RULE}")
    return value


class MissionSettings(_Strict):
    """The `[mission]` table: fleet-wide settings."""

    session: str = "mission-control"
    """tmux session name of the fleet."""
    socket: str = DEFAULT_SOCKET
    """tmux socket name (`tmux -L`); the environment variable MISSION_CONTROL_SOCKET overrides it."""
    layout: str = "split"
    """Name of a layout preset (a TOML file in `layouts/`)."""
    repo: Path | None = None
    """The git repository the agents work on (relative to this file)."""
    init_repo: bool = False
    """Create `repo` as a scratch git repository with one commit when it does not exist (the demo uses it)."""
    base_branch: str | None = None
    """Branch agents' worktrees start from and merge into (default: the repo's current branch)."""
    state_dir: Path = Path(".mission-control")
    """Where the state store lives (relative to this file); created 0700."""
    poll_interval: float = Field(1.0, gt=0, le=60)
    """Seconds between two supervisor ticks."""
    stuck_after: float = Field(120.0, gt=0)
    """Seconds without screen change or CPU use, away from a prompt, before an agent is STUCK."""
    start_timeout: float = Field(60.0, gt=0)
    """Seconds an agent may stay STARTING before it is STUCK ("never got going")."""
    budget_usd: float | None = Field(None, ge=0)
    """Fleet-wide spend limit in USD."""
    on_status: str | None = None
    """Shell command run on every status change (MC_AGENT, MC_OLD_STATUS, MC_NEW_STATUS, MC_REASON set)."""

    @field_validator("session", "socket")
    @classmethod
    def _names(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("poll_interval", "stuck_after", "start_timeout", "budget_usd", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        # TOML distinguishes 1 and 1.0; people should not have to.
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        return v

    @field_validator("repo", "state_dir", mode="before")
    @classmethod
    def _paths(cls, v: Any) -> Any:
        return Path(v) if isinstance(v, str) else v


class AgentSettings(_Strict):
    """One `[[agent]]` table."""

    name: str
    """Unique name; also the tmux pane title and the `agent/<name>` branch."""
    kind: Literal["claude", "codex", "aider", "gemini", "opencode", "ollama", "shell"]
    """Which detection rules, token meter and launch convention apply."""
    command: str | None = None
    """Shell command that starts the agent (default per kind; required for `shell`)."""
    cwd: Path | None = None
    """Working directory (default: its worktree, else `repo`, else this file's folder)."""
    worktree: bool = False
    """Give the agent its own git worktree on branch `agent/<name>`."""
    task: str | None = None
    """First instruction; delivered the way the kind takes a first prompt."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables (values are passed literally, never through a shell)."""
    resume_prompt: str | None = None
    """Typed by `resume` at the agent's prompt (default per kind, e.g. "continue")."""
    resume_command: str | None = None
    """Command that continues the last conversation (default per kind, e.g. `claude --continue`)."""
    budget_usd: float | None = Field(None, ge=0)
    """Spend limit in USD: warning at 80 %, paused at 100 %."""
    model: str | None = None
    """Model name, where the kind takes one (ollama)."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("command", "resume_command")
    @classmethod
    def _command(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("command is empty")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not ENV_NAME_RE.match(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
        return v

    @field_validator("budget_usd", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        return v

    @field_validator("cwd", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return Path(v) if isinstance(v, str) else v


class TaskSettings(_Strict):
    """One `[[task]]` table: the optional task queue."""

    id: str
    """Unique task id."""
    prompt: str
    """What the task asks for."""
    assignee: str | None = None
    """Agent that holds the task (must name an `[[agent]]`)."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _check_name(v, "task id")


class FileSchema(_Strict):
    """The whole file."""

    mission: MissionSettings = Field(default_factory=MissionSettings)
    agent: list[AgentSettings] = Field(default_factory=list)
    task: list[TaskSettings] = Field(default_factory=list)


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
    index: int


class FleetConfig(BaseModel):
    """What the builder and the supervisor work from."""

    model_config = ConfigDict(frozen=True)

    path: Path
    session: str
    socket: str
    layout: str
    repo: Path | None
    init_repo: bool
    base_branch: str | None
    state_dir: Path
    poll_interval: float
    stuck_after: float
    start_timeout: float
    budget_usd: float | None
    on_status: str | None
    agents: tuple[AgentSpec, ...]
    tasks: tuple[TaskSettings, ...]

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "state.db"


# ---------------------------------------------------------------- errors


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the key at `loc` (e.g. ('agent', 2, 'comand'))."""
    lines = text.splitlines()
    if not loc:
        return None
    table, rest = loc[0], loc[1:]
    start = 0
    if table in ("agent", "task") and rest and isinstance(rest[0], int):
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
    elif table == "mission":
        for i, line in enumerate(lines):
            if re.match(r"^\s*\[\s*mission\s*\]", line):
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
        known = list(_FIELDS.get(parent, {}))
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        msg = f"unknown key {where!r}"
        msg += f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {', '.join(known)})"
        return msg, loc
    if kind == "missing":
        return f"missing required key {where!r}", loc
    if kind == "literal_error":
        allowed = ", ".join(KIND_NAMES) if loc[-1] == "kind" else err.get("ctx", {}).get("expected", "")
        hint = difflib.get_close_matches(str(value), list(KIND_NAMES), n=1) if loc[-1] == "kind" else []
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"{where} = {value!r} is not a known kind{extra}; use one of: {allowed}", loc
    if kind == "value_error":
        return f"{where}: {err['msg'].removeprefix('Value error, ')}", loc
    expected = {
        "string_type": "a string",
        "bool_type": "true or false",
        "float_type": "a number",
        "int_type": "a whole number",
        "dict_type": "a table",
        "list_type": "an array of tables",
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


def validate(path: Path, text: str, raw: dict[str, Any]) -> FileSchema:
    """Check types and keys; the first problem becomes a ConfigError."""
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
        if agent.kind == "shell" and agent.command is None:
            raise _error(path, text, f"agent[{i}] ({agent.name}).command is required for kind 'shell'", ("agent", i))
    ids: set[str] = set()
    for i, task in enumerate(schema.task):
        if task.id in ids:
            raise _error(path, text, f"duplicate task id {task.id!r}", ("task", i, "id"))
        ids.add(task.id)
        if task.assignee is not None and task.assignee not in seen:
            hint = difflib.get_close_matches(task.assignee, list(seen), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise _error(path, text, f"task[{i}].assignee {task.assignee!r} names no agent{extra}", ("task", i, "assignee"))
    return schema


def _abs(base: Path, p: Path) -> Path:
    p = Path(os.path.expanduser(str(p)))
    return p if p.is_absolute() else (base / p)


def expand(path: Path, schema: FileSchema, environ: dict[str, str] | None = None) -> FleetConfig:
    """Fill in defaults, make paths absolute, apply environment overrides."""
    environ = dict(os.environ) if environ is None else environ
    base = path.parent
    m = schema.mission
    repo = _abs(base, m.repo) if m.repo else None
    state_dir = _abs(base, m.state_dir)
    socket = environ.get(SOCKET_ENV) or m.socket
    if not NAME_RE.match(socket):
        raise ConfigError(f"{SOCKET_ENV}={socket!r}: socket name is not allowed: use {NAME_RULE}")
    tasks_by_agent = {t.assignee: t for t in schema.task if t.assignee}
    agents = []
    for i, a in enumerate(schema.agent):
        spec = KINDS[a.kind]
        command = a.command or spec.default_command
        assert command is not None  # validate() guarantees it for kinds without a default
        if a.cwd is not None:
            cwd = _abs(base, a.cwd)
        elif a.worktree:
            cwd = state_dir / "worktrees" / a.name
        else:
            cwd = repo or base
        task = a.task
        if task is None and a.name in tasks_by_agent:
            task = tasks_by_agent[a.name].prompt
        agents.append(
            AgentSpec(
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
                index=i,
            )
        )
    return FleetConfig(
        path=path,
        session=m.session,
        socket=socket,
        layout=m.layout,
        repo=repo,
        init_repo=m.init_repo,
        base_branch=m.base_branch,
        state_dir=state_dir,
        poll_interval=m.poll_interval,
        stuck_after=m.stuck_after,
        start_timeout=m.start_timeout,
        budget_usd=m.budget_usd,
        on_status=m.on_status,
        agents=tuple(agents),
        tasks=tuple(schema.task),
    )


def load_text(path: Path, text: str, environ: dict[str, str] | None = None) -> FleetConfig:
    """The whole pipeline on text already read (pure)."""
    path = Path(os.path.abspath(path))
    raw = parse(path, text)
    for i, agent in enumerate(raw.get("agent", []) if isinstance(raw.get("agent"), list) else []):
        if isinstance(agent, dict) and isinstance(agent.get("worktree"), bool) and agent.get("worktree") and "cwd" in agent:
            raise _error(path, text, f"agent[{i}]: give either worktree = true or cwd, not both", ("agent", i, "cwd"))
    schema = validate(path, text, raw)
    return expand(path, schema, environ)
