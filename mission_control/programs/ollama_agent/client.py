"""The Ollama client the agent uses, and what its failures mean to a person."""

from __future__ import annotations

from typing import Any

import httpx
import ollama

from mission_control.programs.ollama_agent.loop import CallFailed
from mission_control.programs.ollama_agent.tools import one_line

CONNECT_TIMEOUT = 10.0

CALL_ERRORS: tuple[type[BaseException], ...] = (ollama.ResponseError, httpx.HTTPError, ConnectionError, OSError, ValueError)
"""What a chat call may raise that is the server's or the network's doing (ValueError covers
an answer that is not JSON or not the shape the client expects)."""


def make_client(host: str, request_timeout: float) -> Any:
    return ollama.Client(host=host, timeout=httpx.Timeout(request_timeout, connect=CONNECT_TIMEOUT))


def unreachable_reason(host: str, detail: str) -> str:
    return f"cannot reach Ollama at {host}: {detail} (start it with `ollama serve` or set OLLAMA_HOST)"


def model_missing_reason(model: str, host: str) -> str:
    return f"model {model} not found on {host}: run `ollama pull {model}`"


def is_model_missing(error: BaseException) -> bool:
    if not isinstance(error, ollama.ResponseError):
        return False
    text = str(error.error).lower()
    return error.status_code == 404 or ("model" in text and "not found" in text)


def classify_error(error: BaseException, *, host: str, model: str) -> CallFailed:
    """The STUCK reason for a failed call: one line saying what is wrong and what fixes it."""
    if isinstance(error, ollama.ResponseError):
        text = one_line(str(error.error), 200)
        if is_model_missing(error):
            return CallFailed(model_missing_reason(model, host), "model-missing")
        if "does not support tools" in text.lower():
            return CallFailed(
                f"model {model} on {host} does not support tools: choose one that does (e.g. qwen2.5-coder, llama3.1)",
                "no-tools",
            )
        status = f" (HTTP {error.status_code})" if error.status_code and error.status_code > 0 else ""
        return CallFailed(f"Ollama at {host} answered with an error{status}: {text}", "server")
    detail = one_line(str(error) or type(error).__name__, 160)
    if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
        return CallFailed(f"Ollama at {host} did not answer in time ({type(error).__name__}): is the model too big for this machine?", "timeout")
    if isinstance(error, (httpx.TransportError, ConnectionError, OSError)):
        return CallFailed(unreachable_reason(host, detail), "unreachable")
    return CallFailed(f"unexpected answer from Ollama at {host}: {detail}", "protocol")
