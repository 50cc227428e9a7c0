"""The built-in Ollama agent (`mission-control agent`): task after `--task`, its model and
server from the agent's `model` and `ollama_host`, spend from the ledger it writes."""

from __future__ import annotations

import json
from typing import Any

from mission_control.core.model import TokenUsage
from mission_control.core.tokens import LineParser, Response, as_int, as_num
from mission_control.core.kinds import KindSpec


OLLAMA_LEDGER_FIELDS = {"ts": float, "model": str, "prompt_eval_count": int, "eval_count": int}
"""One JSON object per line, one line per model call, appended by the built-in agent:
`{"ts": 1767000000.5, "model": "qwen2.5-coder:7b", "prompt_eval_count": 812, "eval_count": 143}`
(`prompt_eval_count` and `eval_count` as returned by Ollama's chat/generate API)."""


def ollama_ledger_line(ts: float, model: str, prompt_eval_count: int, eval_count: int) -> str:
    """The ledger line for one call (for the writer, so both sides share the format)."""
    return json.dumps(
        {"ts": float(ts), "model": model, "prompt_eval_count": int(prompt_eval_count), "eval_count": int(eval_count)},
        separators=(",", ":"),
    )


class OllamaLedgerParser(LineParser):
    def feed_line(self, line: str) -> None:
        obj = self._json(line)
        if obj is None:
            return
        ts = as_num(obj.get("ts"))
        model = obj.get("model")
        if ts is None or not isinstance(model, str):
            self.skipped_lines += 1
            return
        if self.since is not None and ts < self.since:
            return
        prompt, out = as_int(obj.get("prompt_eval_count")), as_int(obj.get("eval_count"))
        self.book.merge(
            ("ollama", ts, model, prompt, out),
            Response(model=model, usage=TokenUsage(input=prompt, output=out), provider="ollama", ts=ts),
        )


def launch_args(spec: Any) -> list[str]:
    """`--model` and `--host` from the agent's settings, where it gives them."""
    args: list[str] = []
    if spec.model:
        args += ["--model", spec.model]
    if spec.ollama_host:
        args += ["--host", spec.ollama_host]
    return args


SPEC = KindSpec(
    "ollama", "mission-control agent", "argument", task_flag="--task", resume_prompt="continue",
    spend_from="records", records="mission-control-ledger", launch_args=launch_args,
)
