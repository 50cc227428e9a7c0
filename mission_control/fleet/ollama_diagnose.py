"""Ask a local model (Ollama) why an agent is stuck: one chat call, secrets masked first.

Everything sent — the task, the pane's tail, the classifier's reason — passes
through `mask_secrets` with the given secret values before it leaves this
process, and so does the answer before it is returned. Failures (no server,
no such model, a timeout, an answer that is not JSON) never raise: they come
back as the rules' diagnosis with `error` set and the reason in its summary.
"""

from __future__ import annotations

from typing import Any, Iterable

import httpx
import ollama

from mission_control.core.diagnosis import Diagnosis, mask_secrets, masked_diagnosis, parse_model_diagnosis
from mission_control.programs.ollama_agent.client import CALL_ERRORS, classify_error
from mission_control.programs.ollama_agent.paths import normalize_host

MAX_TAIL_LINES = 120
MAX_TAIL_CHARS = 8_000
MAX_TASK_CHARS = 2_000

SYSTEM_PROMPT = """\
You help a person who supervises AI coding agents running in terminal panes.
Given one agent's task, its status and the last lines of its terminal, say in one or two
sentences why it is stuck or waiting, and propose at most one fix.
Answer with one JSON object and nothing else:
{"diagnosis": "<one or two sentences>",
 "fix": {"type": "inject_env" | "send" | "none",
         "name": "<the environment variable to set, for inject_env>",
         "message": "<the text to type to the agent, for send>"}}
Use inject_env only when an environment variable is missing or wrong (name it; never
invent its value). Use send for an instruction that would get the agent going again.
Otherwise use none. Secrets in the input are masked as `abcd…(masked)`: never repeat them."""


def build_messages(
    task: str | None, tail: str, rule_diag: Diagnosis, secrets: Iterable[str], *,
    kind: str | None = None, status: str | None = None, reason: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages, with every secret masked (what `ask_model` sends)."""
    values = [s for s in secrets if s]
    lines = (tail or "").rstrip().splitlines()[-MAX_TAIL_LINES:]
    shown_tail = "\n".join(lines)[-MAX_TAIL_CHARS:]
    parts = []
    if kind:
        parts.append(f"Agent kind: {kind}")
    if status:
        parts.append(f"Status: {status}" + (f" — {reason}" if reason else ""))
    parts.append(f"Task: {(task or '(none given)').strip()[:MAX_TASK_CHARS]}")
    parts.append(f"A rule-based first guess: {rule_diag.summary} (suggested action: {rule_diag.suggested_action})")
    parts.append("Last lines of its terminal:\n```\n" + (shown_tail or "(empty)") + "\n```")
    user = mask_secrets("\n\n".join(parts), values)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def ask_model(
    host: str | None,
    model: str,
    task: str | None,
    tail: str,
    rule_diag: Diagnosis,
    secrets: Iterable[str] = (),
    timeout: float = 60.0,
    *,
    kind: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    client: Any = None,
) -> Diagnosis:
    """The model's diagnosis (source `model`), or `rule_diag` with `error` when it cannot be had."""
    values = [s for s in secrets if s]
    base = normalize_host(host)
    messages = build_messages(task, tail, rule_diag, values, kind=kind, status=status, reason=reason)
    try:
        chat = client or ollama.Client(host=base, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))
        response = chat.chat(model=model, messages=messages, format="json", stream=False, options={"temperature": 0})
        content = response.message.content or ""
    except CALL_ERRORS as e:  # what the built-in agent's calls fail with, said the same way
        why = mask_secrets(classify_error(e, host=base, model=model).reason, values)
        return masked_diagnosis(
            Diagnosis(
                f"{rule_diag.summary} (no model diagnosis: {why})",
                rule_diag.suggested_action,
                env_var=rule_diag.env_var,
                message=rule_diag.message,
                source="rules",
                command=rule_diag.command,
                error=why,
            ),
            values,
        )
    return masked_diagnosis(parse_model_diagnosis(content), values)
