"""What each agent kind needs to be launched, given its task and resumed.

Data, not code paths: a new agent CLI is a new row here (plus its rules file).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    """How to start, instruct and resume one kind of agent."""

    kind: str
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


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec("claude", "claude", "argument", resume_command="claude --continue", hooks="claude-settings", spend_from="records"),
        KindSpec("codex", "codex", "argument", resume_command="codex resume --last", hooks="codex-notify", enter_delay=1.0,
                 spend_from="records"),
        KindSpec("aider", "aider", "typed", resume_command="aider --restore-chat-history", spend_from="records+output"),
        KindSpec("gemini", "gemini", "argument", task_flag="--prompt-interactive", resume_command="gemini --resume latest",
                 spend_from="records"),
        KindSpec("opencode", "opencode", "typed", resume_command="opencode --continue", spend_from="records"),
        KindSpec("ollama", "mission-control agent", "argument", task_flag="--task", resume_prompt="continue",
                 spend_from="records"),
        KindSpec("shell", None, "env"),
    )
}

KIND_NAMES = tuple(KINDS)
