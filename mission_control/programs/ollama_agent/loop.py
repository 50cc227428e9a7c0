"""The agent loop: turns of model calls and tool calls, a prompt between turns.

A *turn* starts with a user message (the task, or what the person typed at the
prompt) and goes on while the model calls tools, up to `max_steps` model calls.
It ends when the model answers without calling a tool (IDLE done), reports DONE
or STUCK itself, hits the step limit, is interrupted (Ctrl-C), or a model call
fails. Then the agent waits at its `› ` prompt — it never retries by itself.

After a failed call (server unreachable, model missing, a server error) the
next line typed at the prompt retries the same turn: the same conversation is
sent again (a line other than `continue`/`retry` is added to it first). After
any other ending, the line typed starts a new turn with the conversation kept.
End of input (Ctrl-D, a closed pipe) exits with status 0.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from mission_control.programs.ollama_agent.report import Ledger, StatusFile
from mission_control.programs.ollama_agent.tools import TOOL_SCHEMAS, Toolbox, one_line

PROMPT = "› "
RETRY_WORDS = {"", "continue", "retry", "resume", "go on", "go", "again", "c"}
"""Lines that, after a failed call, only mean "try again" (they are not added to the conversation)."""

SYSTEM_PROMPT = """\
You are a careful coding agent. You work in the project directory {cwd}{git}.
Do the task you are given by calling your tools: read_file, write_file, list_files,
run_command (a shell command in the project directory), git_commit and report_status.
Work in small steps and check your work (run the tests or the program).
When the task is done, commit your changes with git_commit, then answer with a short
summary of what you did, without calling a tool.
If you cannot go on without the person's help (a missing credential, an unclear task),
call report_status with status STUCK and the reason."""


class CallFailed(Exception):
    """A model call failed in a way only the person can fix; `reason` is the STUCK line."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "unreachable", "model-missing", "no-tools", "server", "protocol"


@dataclass
class CallResult:
    content: str
    tool_calls: list[dict[str, Any]]
    prompt_eval_count: int
    eval_count: int
    done_reason: str | None


# Turn outcomes
DONE, STUCK_BY_MODEL, STEP_LIMIT, INTERRUPTED, FAILED = "done", "stuck", "step-limit", "interrupted", "failed"


class Agent:
    def __init__(
        self,
        *,
        client: Any,
        model: str,
        host: str,
        cwd: Path,
        toolbox: Toolbox,
        status: StatusFile,
        ledger: Ledger,
        max_steps: int = 40,
        out: TextIO | None = None,
        read_line: Callable[[str], str] | None = None,
        errors: tuple[type[BaseException], ...] = (),
        classify_error: Callable[[BaseException], CallFailed] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.host = host
        self.cwd = Path(cwd)
        self.toolbox = toolbox
        self.status = status
        self.ledger = ledger
        self.max_steps = max(1, int(max_steps))
        self.out = out or sys.stdout
        self.read_line = read_line or input
        self.errors = errors
        self.classify_error = classify_error
        git = " (a git repository)" if (self.cwd / ".git").exists() else ""
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT.format(cwd=self.cwd, git=git)}]
        self.turns = 0

    # ------------------------------------------------------------------ output

    def say(self, text: str = "", end: str = "\n") -> None:
        try:
            self.out.write(text + end)
            self.out.flush()
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------------ main loop

    def run(self, task: str | None) -> int:
        self.say(f"ollama agent · model {self.model} · {self.host}")
        self.say(f"working in {self.cwd}")
        outcome: str | None = None
        if task and task.strip():
            self.say(f"task: {task.strip()}")
            self.messages.append({"role": "user", "content": task.strip()})
            outcome = self.turn()
        else:
            self.status.idle("waiting for a task")
            self.say("no task yet: type one at the prompt")
        interrupts = 0
        while True:
            try:
                line = self.read_line(PROMPT)
            except EOFError:
                self.say()
                self.say("bye")
                return 0
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts >= 2:
                    self.say()
                    self.say("bye")
                    return 0
                self.say()
                self.say("(Ctrl-C again or Ctrl-D to quit; type an instruction, or `continue`)")
                continue
            interrupts = 0
            text = line.strip()
            if outcome == FAILED:
                if text.lower() not in RETRY_WORDS:
                    self.messages.append({"role": "user", "content": text})
                self.status.working(f"retrying with {self.model}")
                outcome = self.turn()
                continue
            if not text:
                continue
            self.messages.append({"role": "user", "content": text})
            outcome = self.turn()

    # ------------------------------------------------------------------ one turn

    def turn(self) -> str:
        """Model calls and tool calls until the turn ends; returns how it ended."""
        self.turns += 1
        started = (self.ledger.prompt_eval_count, self.ledger.eval_count)
        try:
            return self._turn(started)
        except KeyboardInterrupt:
            self.say()
            self.say("⏹ interrupted")
            self.status.idle("interrupted: waiting for an instruction")
            return INTERRUPTED

    def _turn(self, started: tuple[int, int]) -> str:
        steps = 0
        while True:
            if steps >= self.max_steps:
                reason = f"step limit reached ({self.max_steps} model calls in this turn): type `continue` to let it go on"
                self._stuck(reason)
                return STEP_LIMIT
            steps += 1
            self.status.working("thinking" if steps == 1 else f"thinking (step {steps})")
            try:
                result = self.call_model()
            except CallFailed as e:
                self._stuck(e.reason)
                self.say("type `continue` and Enter to retry (or an instruction); Ctrl-D quits")
                return FAILED
            assistant: dict[str, Any] = {"role": "assistant", "content": result.content}
            if result.tool_calls:
                assistant["tool_calls"] = result.tool_calls
            self.messages.append(assistant)
            if not result.tool_calls:
                summary = _summary(result.content)
                self._finished(summary, started, steps)
                return DONE
            ending = self._run_tools(result.tool_calls)
            if ending is not None:
                kind, message = ending
                if kind == "STUCK":
                    self._stuck(message or "the model reports it is stuck")
                    return STUCK_BY_MODEL
                self._finished(message or "done", started, steps)
                return DONE

    def _run_tools(self, calls: list[dict[str, Any]]) -> tuple[str, str] | None:
        ending: tuple[str, str] | None = None
        done = 0
        try:
            for call in calls:
                fn = call.get("function") or {}
                name = str(fn.get("name") or "")
                args = fn.get("arguments")
                if isinstance(args, str):  # some models send the arguments as JSON text
                    try:
                        args = json.loads(args)
                    except ValueError:
                        pass
                if name != "report_status":
                    self.status.working(_doing(name, args))
                result = self.toolbox.call(name, args)
                self.say(result.display)
                if result.detail:
                    self.say(result.detail)
                if name == "report_status" and isinstance(args, dict) and str(args.get("status", "")).upper() == "WORKING":
                    self.status.working(result.end_message or "working")
                self.messages.append({"role": "tool", "content": result.content, "tool_name": name})
                done += 1
                if result.end_turn and ending is None:
                    ending = (result.end_turn, result.end_message)
        finally:
            for call in calls[done:]:  # interrupted: every call gets an answer
                name = str((call.get("function") or {}).get("name") or "")
                self.messages.append({"role": "tool", "content": "interrupted by the person", "tool_name": name})
        return ending

    def _stuck(self, reason: str) -> None:
        self.say(f"STUCK: {reason}")
        self.status.stuck(reason)

    def _finished(self, summary: str, started: tuple[int, int], steps: int) -> None:
        tokens_in = self.ledger.prompt_eval_count - started[0]
        tokens_out = self.ledger.eval_count - started[1]
        self.say(f"✓ done: {summary}  ({steps} model call{'s' if steps != 1 else ''}, {tokens_in} tokens in, {tokens_out} out)")
        self.status.idle(f"done: {summary}")

    # ------------------------------------------------------------------ one model call

    def call_model(self) -> CallResult:
        """One streamed chat call: prints the text as it comes, records the counts in the ledger."""
        self.say("● thinking…")
        content: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        final: Any = None
        at_line_start = True
        try:
            stream = self.client.chat(model=self.model, messages=self.messages, tools=TOOL_SCHEMAS, stream=True)
            for chunk in stream:
                msg = chunk.message
                if msg is not None and msg.content:
                    content.append(msg.content)
                    self.say(msg.content, end="")
                    at_line_start = msg.content.endswith("\n")
                if msg is not None and msg.tool_calls:
                    for tc in msg.tool_calls:
                        tool_calls.append({"function": {"name": tc.function.name, "arguments": dict(tc.function.arguments or {})}})
                if chunk.done:
                    final = chunk
        except self.errors as e:
            assert self.classify_error is not None
            raise self.classify_error(e) from None
        finally:
            if not at_line_start:
                self.say()
                at_line_start = True
        if final is None:
            raise CallFailed(f"Ollama at {self.host} ended its answer early (no final message): is it still running?", "protocol")
        try:
            self.ledger.record(self.model, final.prompt_eval_count, final.eval_count)
        except OSError as e:
            self.say(f"(cannot write the token ledger: {e})")
        return CallResult(
            content="".join(content),
            tool_calls=tool_calls,
            prompt_eval_count=int(final.prompt_eval_count or 0),
            eval_count=int(final.eval_count or 0),
            done_reason=final.done_reason,
        )


def _summary(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return one_line(line.strip().lstrip("#*- ").strip() or line, 120)
    return "finished (no summary given)"


def _doing(name: str, args: Any) -> str:
    a = args if isinstance(args, dict) else {}
    if name == "run_command":
        return f"run: {one_line(str(a.get('command', '')), 100)}"
    if name == "git_commit":
        return f"git commit: {one_line(str(a.get('message', '')), 80)}"
    if name in ("read_file", "write_file", "list_files"):
        return f"{name} {one_line(str(a.get('path', '.')), 100)}"
    return one_line(name or "a tool", 60)
