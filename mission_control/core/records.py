"""What the state store knows about each agent, as a typed record.

The store keeps an agent's row (its pane, window, launch times, task, git branch) and the
spec it was started from as JSON; `agent_record` turns one row into an `AgentRecord`, its
spec an `AgentSpec`, so callers read `rec.spec.budget_usd` instead of
`rec["spec"].get("budget_usd")` and no caller validates a spec of its own. Pure: the store
reads the row (and the spec's env values from their private file) and hands them here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mission_control.core.config import AgentSpec

SPEC_DEFAULTS: dict[str, Any] = {
    "command": "", "cwd": ".", "worktree": False, "task": None, "env": {}, "resume_prompt": "",
    "resume_command": None, "budget_usd": None, "model": None, "index": 0,
}
"""What a stored spec that lacks a field is read with: stores written before a field existed, or a
row recorded without a spec (`record_agent(spec=None)`)."""


@dataclass(frozen=True)
class AgentRecord:
    """One agent as the state store records it (not what it is doing: that is its snapshot)."""

    name: str
    kind: str
    pane_id: str | None
    """Its tmux pane (`%12`), None before it has one."""
    window: str | None
    """The tmux window its pane is in."""
    launched_at: float | None
    """When its current process started (up, restart, respawn)."""
    task: str | None
    """The task it holds now."""
    base_commit: str | None
    """The commit its worktree branched from (its progress is counted from here)."""
    branch: str | None
    """Its own branch, when it works in a worktree."""
    worktree: str | None
    """Its worktree's path, when it has one."""
    first_launched_at: float | None
    """Its first launch: spend is counted from here across restarts."""
    spec: AgentSpec
    """What it was started from (its `env` with the values read back)."""
    base_branch: str | None = None
    """The branch its worktree was made from (merges go back there)."""

    @classmethod
    def of_spec(cls, spec: AgentSpec, *, pane_id: str | None = None, launched_at: float | None = None) -> AgentRecord:
        """A record for an agent from its configured spec alone (the store has no row for it:
        a store rebuilt after damage, or a one-off look)."""
        return cls(name=spec.name, kind=spec.kind, pane_id=pane_id, window=None, launched_at=launched_at, task=spec.task,
                   base_commit=None, branch=None, worktree=None, first_launched_at=None, spec=spec)

    def spec_data(self) -> dict[str, Any]:
        """The spec as `Store.record_agent` takes it (to record this agent again)."""
        return {**self.spec.model_dump(mode="json"), "base_branch": self.base_branch}


def parse_spec(name: str, kind: str, data: dict[str, Any]) -> AgentSpec:
    """A stored spec as an `AgentSpec`; missing or unreadable fields take `SPEC_DEFAULTS`."""
    full = {**SPEC_DEFAULTS, **data, "name": name, "kind": kind}
    try:
        return AgentSpec.model_validate(full)
    except ValidationError:  # a field of the wrong type (a hand-edited store): the defaults, not a traceback
        return AgentSpec.model_validate({**SPEC_DEFAULTS, "name": name, "kind": kind})


def spec_json_fields(text: str | None) -> dict[str, Any]:
    """A stored spec's JSON text as a dict (an empty one for none or garbage)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def agent_record(row: dict[str, Any], spec: AgentSpec, base_branch: str | None) -> AgentRecord:
    """A store row (its columns by name) and its parsed spec as an `AgentRecord`."""
    return AgentRecord(
        name=row["name"], kind=row["kind"], pane_id=row["pane_id"], window=row["window"],
        launched_at=row["launched_at"], task=row["task"], base_commit=row["base_commit"], branch=row["branch"],
        worktree=row["worktree"], first_launched_at=row["first_launched_at"], spec=spec, base_branch=base_branch,
    )


def own_task_id(agent: str) -> str:
    """The ledger's id for the task an agent was given in agents.toml (`task =`, no `[[task]]`):
    not on the task board, so the fleet view's task id column leaves it out."""
    return f"{agent}-task"
