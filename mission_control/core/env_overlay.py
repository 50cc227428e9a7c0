"""Environment fixes a person injects into agents: parsing `KEY=VALUE` text and masking values.

Pure. The text of the inject dialog (or `mission-control inject`) is lines of
`NAME=value`; a line that does not start with `NAME=` continues the value above
it, so multi-line values (PEM keys, JSON) can be pasted as they are. Values are
taken literally: no quotes are stripped, nothing is expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mission_control.core.diagnosis import mask_value
from mission_control.core.limits import env_problem

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
RESERVED = frozenset(
    {"MISSION_CONTROL_AGENT", "MISSION_CONTROL_KIND", "MISSION_CONTROL_STATUS_FILE", "MISSION_CONTROL_STATE_DIR",
     "MISSION_CONTROL_TASK_FILE", "MISSION_CONTROL_START_GATE", "MISSION_CONTROL_FLEET", "TMUX", "TMUX_PANE"}
)
"""Variables the fleet sets itself; an overlay may not replace them."""


class EnvTextError(ValueError):
    """The injected text is not `NAME=value` lines; `str()` names the line at fault."""


@dataclass(frozen=True)
class EnvFix:
    values: dict[str, str]

    def masked(self) -> str:
        return masked_values(self.values)


def masked_values(values: dict[str, str]) -> str:
    """`NAME=abcd…(masked), ...`: the names, never a whole value."""
    return ", ".join(f"{k}={mask_value(v)}" for k, v in values.items())


def parse_env_text(text: str) -> EnvFix:
    """`NAME=value` lines -> values. Continuation lines join the value above with a newline."""
    values: dict[str, str] = {}
    current: str | None = None
    lines = text.split("\n")
    # a trailing newline from an editor is not part of the last value
    while lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        m = _ASSIGNMENT.match(line)
        if m:
            name = m.group(1)
            if name in RESERVED:
                raise EnvTextError(f"line {number}: {name} is set by mission-control itself and cannot be overridden")
            values[name] = m.group(2)
            current = name
            continue
        if current is None:
            head = line.split("=", 1)[0].strip()
            if "=" in line and head:
                raise EnvTextError(f"line {number}: {head!r} is not a valid environment variable name")
            raise EnvTextError(f"line {number}: expected NAME=value, got {mask_value(line)!r}")
        values[current] += "\n" + line
    if not values:
        raise EnvTextError("no NAME=value given")
    for name, value in values.items():
        if problem := env_problem(name, value):
            raise EnvTextError(problem)
    return EnvFix(values)


def check_env_name(name: str) -> str:
    if not ENV_NAME.fullmatch(name):
        raise EnvTextError(f"{name!r} is not a valid environment variable name")
    if name in RESERVED:
        raise EnvTextError(f"{name} is set by mission-control itself and cannot be overridden")
    return name


def dotenv_line(name: str, value: str) -> str:
    """A `.env` line that dotenv readers (python-dotenv, docker, node) read back as `value`."""
    if re.fullmatch(r"[A-Za-z0-9_./:@+,-]*", value):
        return f"{name}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$")
    return f'{name}="{escaped}"'


def merge_dotenv(existing: str, values: dict[str, str]) -> str:
    """`existing` .env text with `values` replacing same-named lines or appended."""
    out: list[str] = []
    seen: set[str] = set()
    for line in existing.splitlines():
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if m and m.group(1) in values:
            if m.group(1) not in seen:
                out.append(dotenv_line(m.group(1), values[m.group(1)]))
                seen.add(m.group(1))
            continue
        out.append(line)
    for name, value in values.items():
        if name not in seen:
            out.append(dotenv_line(name, value))
    return "\n".join(out) + "\n"
