"""One agent's snapshot, built from what the supervisor read this tick.

Pure: the supervisor reads (tmux's screen, the process table, the agent's files, its meter,
git), the classifier decides, and these functions do the arithmetic and put the answer
together. `cpu_percent` turns two readings of a process tree's CPU seconds into a percentage;
`agent_snapshot` assembles the `AgentSnapshot` that `status`, dashboards and the store see.
"""

from __future__ import annotations

from dataclasses import dataclass

from mission_control.core.diagnosis import hide_values
from mission_control.core.model import AgentSnapshot
from mission_control.core.progress import GitProgress
from mission_control.core.records import AgentRecord
from mission_control.core.status import ScreenFacts, Verdict
from mission_control.core.tokens import MeterReading


def cpu_percent(prev_seconds: float | None, prev_at: float | None, seconds: float, now: float) -> float | None:
    """Percent of one core the tree used between two readings of its CPU seconds (None without an
    earlier reading, or with no time between them)."""
    if prev_seconds is None or prev_at is None or now <= prev_at:
        return None
    return round(100.0 * (seconds - prev_seconds) / (now - prev_at), 1)


def last_output_line(lines: list[str]) -> str:
    """The last line of a screen with words on it (not a box border or a bare prompt)."""
    for line in reversed(lines):
        text = line.strip()
        if text and not set(text) <= set("─━═-_│|╭╮╰╯┌┐└┘ >❯$"):
            return text[:200]
    return ""


@dataclass(frozen=True)
class PaneFacts:
    """The agent's pane and process tree as read this tick (None for each when it has no pane)."""

    pid: int | None = None
    """The launcher's pid (the pane's process)."""
    window: str | None = None
    live: bool = False
    """It has a pane whose process runs."""
    cpu_percent: float | None = None
    """Of its process tree, None when there is no tree to read."""
    rss_bytes: int | None = None
    exit_status: int | None = None
    """A dead pane's exit status (reported only when the pane is dead)."""


@dataclass(frozen=True)
class Spend:
    """What the agent's meter read, and what the supervisor made of it."""

    reading: MeterReading | None
    history: tuple[float, ...]
    budget_state: str
    task_id: str | None = None
    cost_at_task_start: float | None = None


def agent_snapshot(rec: AgentRecord, verdict: Verdict, facts: ScreenFacts | None, reason: str, time_in: dict[str, float],
                   pane: PaneFacts, spend: Spend, progress: GitProgress | None, secrets: tuple[str, ...]) -> AgentSnapshot:
    """The agent's snapshot: its record, the classifier's verdict on its screen (`reason` as it is
    shown, `time_in` seconds per status), its pane and processes, its spend and its git progress.
    `secrets` are masked in the line it shows, its reason and its evidence (an agent's printed `STUCK:` line)."""
    reading = spend.reading
    cost = reading.cost_usd if reading is not None else None
    usage = reading.usage if reading is not None else None
    task_cost = None
    if spend.task_id is not None and cost is not None:
        task_cost = round(cost - (spend.cost_at_task_start or 0.0), 6)
    lines = facts.lines if facts is not None else []
    return AgentSnapshot(
        name=rec.name,
        kind=rec.kind,
        status=verdict.status,
        reason=hide_values(reason, secrets),
        since=verdict.since,
        pane_id=rec.pane_id,
        pid=pane.pid,
        task=rec.task,
        budget_usd=rec.spec.budget_usd,
        cpu_percent=pane.cpu_percent,
        rss_bytes=pane.rss_bytes,
        tokens_in=(usage.input if usage else None),
        tokens_out=(usage.output if usage else None),
        tokens_cache_read=(usage.cache_read if usage else None),
        tokens_cache_write=(usage.cache_write if usage else None),
        cost_usd=round(cost, 6) if cost is not None else None,
        cost_source=reading.cost_source if reading is not None else None,
        models=tuple(reading.models) if reading is not None else (),
        spend_history=spend.history,
        budget_state=spend.budget_state,
        task_id=spend.task_id,
        task_cost_usd=task_cost,
        at_prompt=bool(pane.live and facts is not None and facts.at_prompt),
        lines_added=progress.lines_added if progress else None,
        lines_removed=progress.lines_removed if progress else None,
        recent_commits=tuple(progress.recent[:8]) if progress else (),
        time_in={k: round(v, 1) for k, v in time_in.items()},
        last_line=hide_values(last_output_line(lines), secrets),
        exit_code=pane.exit_status,
        evidence=hide_values(verdict.evidence, secrets),
        turns=verdict.turns,
        commits=progress.commits if progress else None,
        ahead=progress.ahead if progress else None,
        behind=progress.behind if progress else None,
        dirty_files=progress.dirty_files if progress else None,
        last_commit=progress.last_commit if progress else None,
        window=pane.window,
    )
