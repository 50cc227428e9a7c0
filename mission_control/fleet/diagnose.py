"""`diagnose`: why is an agent stuck, and what would fix it.

First the rule-based diagnosis from what the status engine saw; then, when
`[mission] diagnose_model` is set, a second opinion from that Ollama model on the
pane's tail and the agent's task — with every secret the fleet knows masked first.
"""

from __future__ import annotations

import os

from mission_control.adapters.store import Store
from mission_control.fleet.status_report import agent_as_shown
from mission_control.core.config import FleetConfig
from mission_control.core.diagnosis import Diagnosis, rule_diagnosis


def diagnose(config: FleetConfig, store: Store, name: str, *, use_model: bool = True) -> tuple[Diagnosis, Diagnosis | None]:
    """(the rules' diagnosis, the model's or None). Raises KeyError for an unknown agent."""
    agent = agent_as_shown(config, store, name)
    records = {r.name: r for r in store.agents()}
    if agent is None or name not in records:
        raise KeyError(name)
    rules = rule_diagnosis(agent.status.value, agent.reason, agent.evidence, agent.kind)
    if not (use_model and config.diagnose_model):
        return rules, None
    from mission_control.fleet.ollama_diagnose import ask_model

    rec = records[name]
    secrets = [v for v in {**rec.spec.env, **store.env_overlay(name)}.values() if v]
    host = rec.spec.ollama_host or config.ollama_host or os.environ.get("OLLAMA_HOST")
    model = ask_model(
        host, config.diagnose_model, rec.task, store.pane_tail(name), rules, secrets,
        kind=agent.kind, status=agent.status.value, reason=agent.reason,
    )
    return rules, model


def describe(d: Diagnosis) -> str:
    if d.error:  # the model could not be asked: `d` repeats the rules' answer, so say only why
        return f"  (the model could not be asked: {d.error})"
    lines = [f"[{d.source}] {d.summary}"]
    if d.suggested_action == "inject_env" and d.env_var:
        lines.append(f"  fix: inject {d.env_var}   (mission-control inject AGENT {d.env_var})")
    elif d.suggested_action == "send" and d.message:
        lines.append(f"  fix: send {d.message!r}")
    elif d.suggested_action != "none":
        lines.append(f"  fix: {d.suggested_action}")
    if d.command:
        lines.append(f"  run: {d.command}")
    return "\n".join(lines)
