"""The message a new owner of a reassigned task receives (pure)."""

from __future__ import annotations

from dataclasses import dataclass

TAIL_LINES = 15
"""How many of the previous agent's last screen lines travel with the task."""


@dataclass(frozen=True)
class Handoff:
    task: str
    from_agent: str
    why: str
    """Why the previous agent stopped (its status reason)."""
    last_lines: tuple[str, ...] = ()
    branch: str | None = None
    commits: tuple[str, ...] = ()
    """`<sha> <subject>` of its commits since its base, newest first."""
    continue_on_branch: bool = False
    """The new owner works in a worktree checked out on `branch`."""


def handoff_message(h: Handoff) -> str:
    lines = [
        f"You are taking over a task from agent {h.from_agent}, which stopped: {h.why or 'no reason given'}.",
        "",
        "TASK:",
        h.task.strip(),
    ]
    if h.branch:
        lines += ["", f"Its work is on git branch {h.branch}" + (" (checked out here: continue on it)." if h.continue_on_branch else ".")]
        if h.commits:
            lines += ["Its commits, newest first:"] + [f"  {c}" for c in h.commits[:10]]
        else:
            lines.append("It made no commits yet.")
    tail = [ln for ln in h.last_lines if ln.strip()][-TAIL_LINES:]
    if tail:
        lines += ["", f"The last lines on {h.from_agent}'s screen:"] + [f"  | {ln}" for ln in tail]
    lines += ["", "Carry on with the task from where it was left; fix what stopped the previous agent if you can."]
    return "\n".join(lines)
