"""What "resume" does for an agent in a given state (pure), so the person can be told before it happens.

    PAUSED            -> continue its processes (SIGCONT)
    STUCK or IDLE     -> type its resume prompt, then Enter — only when it sits at its prompt
    WAITING           -> show its pane, so the person answers the question themselves
    EXITED            -> restart it with its task
    WORKING/STARTING  -> nothing to do
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mission_control.core.model import Status


class ResumeStep(str, Enum):
    CONTINUE = "continue"
    PROMPT = "prompt"
    ATTACH = "attach"
    RESTART = "restart"
    NOTHING = "nothing"
    NOT_AT_PROMPT = "not-at-prompt"


@dataclass(frozen=True)
class ResumePlan:
    step: ResumeStep
    description: str
    """One line saying what will happen (shown before it happens)."""


def resume_plan(name: str, status: Status, at_prompt: bool, resume_prompt: str) -> ResumePlan:
    if status is Status.PAUSED:
        return ResumePlan(ResumeStep.CONTINUE, f"continue {name}'s paused processes (SIGCONT)")
    if status in (Status.STUCK, Status.IDLE):
        if at_prompt:
            return ResumePlan(ResumeStep.PROMPT, f"type {resume_prompt!r} + Enter at {name}'s prompt")
        return ResumePlan(
            ResumeStep.NOT_AT_PROMPT,
            f"{name} is not at its prompt, so nothing will be typed: attach (z) to look, or restart (R)",
        )
    if status is Status.WAITING:
        return ResumePlan(ResumeStep.ATTACH, f"show {name}'s pane so you can answer its question")
    if status is Status.EXITED:
        return ResumePlan(ResumeStep.RESTART, f"restart {name} with its task")
    return ResumePlan(ResumeStep.NOTHING, f"{name} is {status.value.lower()}: nothing to resume")
