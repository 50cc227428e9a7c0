"""Why an agent is stuck and what would get it going again (pure).

Three parts, all text in, values out:

* `rule_diagnosis(status, reason, evidence, kind)`: a diagnosis from the
  classifier's verdict alone — the answer `diagnose` gives at once, and the one
  it falls back on when no model can be asked.
* `mask_secrets(text, secret_values)`: text fit to show or to send to a model:
  the given secret values and common token shapes masked as `abcd…(masked)`.
* `parse_model_diagnosis(text)`: a model's answer (asked for one JSON object
  `{"diagnosis": ..., "fix": {"type": "inject_env"|"send"|"none", "name": ..., "message": ...}}`)
  as a `Diagnosis`, tolerant of code fences and prose around the object.

A suggested action names one of the things a person can do to an agent:
`inject_env` (give it an environment variable, `env_var`), `wait` (a limit that
resets by itself), `attach` (look at its pane and answer or log in there),
`resume` (type its resume prompt / continue its processes), `send` (type
`message` at its prompt), `restart`, or `none` (nothing to do from here;
`command` may say what to run elsewhere, e.g. `ollama pull M`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable

from mission_control.core.kinds import api_key_vars

ACTIONS = ("inject_env", "wait", "attach", "resume", "send", "restart", "none")

API_KEY_VARS: dict[str, str] = api_key_vars()
"""The variable that carries each kind's API key (kinds that talk to several providers have none)."""

_PROVIDER_VARS = (
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("claude", "ANTHROPIC_API_KEY"),
    ("openrouter", "OPENROUTER_API_KEY"),
    ("openai", "OPENAI_API_KEY"),
    ("gpt-", "OPENAI_API_KEY"),
    ("gemini", "GEMINI_API_KEY"),
    ("deepseek", "DEEPSEEK_API_KEY"),
    ("groq", "GROQ_API_KEY"),
    ("mistral", "MISTRAL_API_KEY"),
)

NUDGE_NO_PROGRESS = (
    "You have not made visible progress for a while. In one or two lines: what are you doing, "
    "and is anything blocking you? If you are blocked, say what you need; otherwise carry on."
)
NUDGE_LOOP = (
    "You seem to be repeating the same failing step. Stop, explain in a few lines why it keeps "
    "failing, then try a different approach."
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Diagnosis:
    summary: str
    """One or two sentences for a person: what is wrong and what would fix it."""
    suggested_action: str = "none"
    """One of `ACTIONS`."""
    env_var: str | None = None
    """With `inject_env`: the variable to give the agent."""
    message: str | None = None
    """With `send`: the text to type at its prompt."""
    source: str = "rules"
    """`rules` or `model`."""
    command: str | None = None
    """A command the person may run outside the agent (e.g. `ollama pull qwen2.5-coder:7b`)."""
    error: str | None = None
    """Why the model could not be asked, when a model diagnosis was wanted but fell back to rules."""

    def __post_init__(self) -> None:
        if self.suggested_action not in ACTIONS:
            raise ValueError(f"unknown action {self.suggested_action!r}; expected one of {', '.join(ACTIONS)}")


# ----------------------------------------------------------------------------- rules

_REPORTED = re.compile(r"^\s*reported:\s*", re.IGNORECASE)
_REPEATED = re.compile(r"\s*\(repeated (\d+)x\)\s*$")
_VAR = r"[A-Z][A-Z0-9_]{2,}"
_MISSING_IN_REASON = re.compile(rf"(?i:\bmissing)\s+(?i:required\s+)?(?i:(?:environment|env)\s+var(?:iable)?\s+)?[`'\"]?\$?({_VAR})\b")
_MISSING_VAR = (
    re.compile(rf"(?i:\b(?:missing|not set|unset|undefined|no)\s+(?:required\s+)?(?:environment|env)\s+var(?:iable)?:?)\s*[`'\"]?\$?({_VAR})\b"),
    re.compile(rf"[`'\"]?\$?\b({_VAR})[`'\"]?\s+(?i:(?:is\s+)?(?:not set|missing|unset|undefined|required|must be set))\b"),
    re.compile(rf"KeyError: '({_VAR})'"),
)
_MODEL_MISSING = (
    re.compile(r"ollama pull\s+[`'\"]?([\w.:/@-]+)"),
    re.compile(r"model\s+[`'\"]?([\w.:/@-]+)[`'\"]?\s+not found", re.I),
)
_OLLAMA_DOWN = re.compile(r"cannot reach ollama at\s+(\S+?)(?=:\s|\s|$)", re.I)
_RATE = re.compile(r"rate[ -]?limit|too many requests|\b429\b|quota|usage limit|resource[_ ]exhausted|overloaded|\b529\b", re.I)
_AUTH = re.compile(
    r"authentication (?:failed|error)|unauthori[sz]ed|\b401\b|invalid (?:x-)?api[ _-]?key|incorrect api key|"
    r"invalid credentials|api key not valid|not logged in|please (?:run )?/?log ?in|log ?in required|invalid_api_key|"
    r"permission_denied|credentials? (?:expired|missing)",
    re.I,
)
_LOGIN = re.compile(r"/login|not logged in|log ?in required|please (?:run )?/?log ?in|sign ?in|oauth|token (?:has )?expired", re.I)
_KEY_NAME = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:API_KEY|KEY|TOKEN))\b")
_EXIT = re.compile(r"exit(?:\s+status)?\s+(-?\d+)", re.I)
_CONNECT = re.compile(r"cannot reach|connection refused|could not connect|failed to connect|network is unreachable|ECONNREFUSED", re.I)


def _clean_reason(reason: str) -> tuple[str, int]:
    text = _REPORTED.sub("", reason or "").strip()
    m = _REPEATED.search(text)
    repeats = int(m.group(1)) if m else 0
    if m:
        text = text[: m.start()].strip()
    return text, repeats


def _first(patterns: Iterable[re.Pattern[str]], *texts: str) -> str | None:
    for text in texts:
        for pattern in patterns:
            m = pattern.search(text)
            if m:
                return m.group(1).rstrip(".:")
    return None


def missing_variable(text: str) -> str | None:
    """The environment variable `text` says is missing (`PAYMENTS_TOKEN is not set`, `missing
    environment variable X`, `KeyError: 'X'`), if it names one: what a person must inject."""
    return _first(_MISSING_VAR, text)


def _api_key_var(kind: str, text: str) -> str | None:
    named = [n for n in _KEY_NAME.findall(text) if n.endswith("API_KEY") or n.endswith("_TOKEN")]
    if named:
        return named[0]
    if kind in API_KEY_VARS:
        return API_KEY_VARS[kind]
    low = text.lower()
    for needle, var in _PROVIDER_VARS:
        if needle in low:
            return var
    return None


def rule_diagnosis(status: str, reason: str, evidence: str, kind: str) -> Diagnosis:
    """What the classifier's verdict (status, reason, evidence) says about an agent of `kind`."""
    state = str(getattr(status, "value", status) or "").upper()
    why, repeats = _clean_reason(reason)
    both = f"{why}\n{evidence or ''}"
    low = why.lower()

    if state == "PAUSED":
        return Diagnosis("Its processes are stopped (paused). Resume continues them.", "resume")
    if state == "EXITED":
        m = _EXIT.search(why) or _EXIT.search(evidence or "")
        code = int(m.group(1)) if m else None
        if code not in (None, 0):
            return Diagnosis(f"It exited with status {code}. Restart it with its task (look at its last output first).", "restart")
        return Diagnosis("It exited normally. Restart it if there is more for it to do.", "none")
    if state in ("WORKING", "STARTING"):
        return Diagnosis(f"It is {state.lower()} ({why or 'busy'}): nothing to fix.", "none")

    var = _first((_MISSING_IN_REASON, *_MISSING_VAR), why) or _first(_MISSING_VAR, evidence or "")
    if var:
        return Diagnosis(
            f"{var} is not set in its environment. Inject it (the value is never shown or logged), then resume.",
            "inject_env",
            env_var=var,
        )
    model = _first(_MODEL_MISSING, why, evidence or "")
    if model and ("not found" in both.lower() or "ollama pull" in both):
        return Diagnosis(
            f"The model {model} is not on the Ollama server. Run `ollama pull {model}` there, then resume it.",
            "none",
            command=f"ollama pull {model}",
        )
    down = _OLLAMA_DOWN.search(why) or _OLLAMA_DOWN.search(evidence or "")
    if down:
        return Diagnosis(
            f"It cannot reach the Ollama server at {down.group(1)}. Start it (`ollama serve`) or set OLLAMA_HOST, then resume.",
            "none",
            command="ollama serve",
        )
    if _RATE.search(why) or (not why and _RATE.search(evidence or "")):
        return Diagnosis("It hit a rate limit or ran out of quota. Wait for the limit to reset, then resume it.", "wait")
    if _AUTH.search(why) or (not why and _AUTH.search(evidence or "")):
        if _LOGIN.search(both):
            return Diagnosis("Its login is missing or expired. Attach to its pane and log in there.", "attach")
        key = _api_key_var(kind, both)
        if key:
            return Diagnosis(
                f"Authentication failed. Inject a valid {key} (the value is never shown), then resume — or attach and log in.",
                "inject_env",
                env_var=key,
            )
        return Diagnosis("Authentication failed. Attach to its pane to log in or fix its credentials.", "attach")
    if state == "WAITING":
        return Diagnosis(f"It waits for an answer ({why or 'a question'}). Attach to its pane and answer it.", "attach")
    if "step limit" in low:
        return Diagnosis("It stopped at its step limit for one turn. Resume it to let it go on.", "resume")
    if _CONNECT.search(why):
        return Diagnosis(f"It cannot reach a service it needs ({why}). Attach to see which, or wait and resume.", "attach")
    if repeats or "loop" in low:
        return Diagnosis(
            f"It keeps hitting the same problem ({why or 'a repeated error'}). Send it a nudge to try another approach.",
            "send",
            message=NUDGE_LOOP,
        )
    if low.startswith("no progress"):
        return Diagnosis(f"{why[:1].upper()}{why[1:]}: it may be hung or waiting silently. Send it a nudge.", "send", message=NUDGE_NO_PROGRESS)
    if "never got going" in low:
        return Diagnosis("It never got going after starting. Attach to its pane to see what it shows.", "attach")
    if state == "IDLE":
        if "interrupted" in low:
            return Diagnosis("It was interrupted and waits at its prompt. Resume it to carry on.", "resume")
        return Diagnosis(f"It finished its turn ({why or 'idle'}). Send it the next instruction, or leave it.", "none")
    if state == "STUCK":
        return Diagnosis(f"It is stuck: {why or 'no reason given'}. Attach to its pane to see what it needs.", "attach")
    return Diagnosis(f"{state or 'unknown'}: {why or 'no reason given'}.", "none")


# ----------------------------------------------------------------------------- secrets

MASK_SUFFIX = "…(masked)"
SHOWN_CHARS = 4

_TOKEN_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{15,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # JWT
)
_ASSIGNED = re.compile(
    r"(?i)(\b[A-Z0-9_.-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?)[A-Z0-9_]*[\"']?\s*(?:=|:)\s*[\"']?)"
    r"([A-Za-z0-9+/_.~-]{12,}={0,2})"
)
_BEARER = re.compile(r"(?i)(\b(?:Bearer|Basic)\s+)([A-Za-z0-9._~+/-]{16,}={0,2})")


def mask_value(value: str) -> str:
    """`abcd…(masked)`: at most the first 4 characters, and none of a short value (nor of one that
    starts with a control character: an escape sequence would reach the terminal); an empty
    value hides nothing and says so."""
    if not value:
        return "(empty)"
    head = value[:SHOWN_CHARS]
    shown = head if len(value) > 2 * SHOWN_CHARS and head.isprintable() else ""
    return shown + MASK_SUFFIX


def hide_values(text: str, secret_values: Iterable[str]) -> str:
    """`text` with each of `secret_values` (of 4 characters or more, the longest first) masked."""
    for secret in sorted({s for s in secret_values if s and len(s) >= 4}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask_value(secret))
    return text


def mask_secrets(text: str, secret_values: Iterable[str] = ()) -> str:
    """`text` with each of `secret_values` and every common token shape masked.

    Token shapes: `sk-...`, `ghp_...`/`github_pat_...`, `AKIA...`, Slack `xox?-...`, Google
    `AIza...`, GitLab `glpat-...`, JWTs, `Bearer ...`, and long values after a name containing
    KEY/TOKEN/SECRET/PASSWORD (`FOO_TOKEN=...`, `"api_key": "..."`)."""
    if not text:
        return text
    text = hide_values(text, secret_values)
    for pattern in _TOKEN_SHAPES:
        text = pattern.sub(lambda m: mask_value(m.group(0)), text)
    text = _ASSIGNED.sub(lambda m: m.group(1) + mask_value(m.group(2)), text)
    text = _BEARER.sub(lambda m: m.group(1) + mask_value(m.group(2)), text)
    return text


# ----------------------------------------------------------------------------- model answers

MODEL_FIX_TYPES = ("inject_env", "send", "none")


def _json_objects(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    i = text.find("{")
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    return found


def _unfence(text: str) -> str:
    m = re.search(r"```(?:json|JSON)?\s*\n?(.*?)```", text, re.DOTALL)
    return m.group(1) if m else text


def parse_model_diagnosis(text: str) -> Diagnosis:
    """A model's answer as a Diagnosis (source `model`). The first JSON object with a
    `diagnosis` or a `fix` wins; without one, the whole answer is the summary."""
    raw = (text or "").strip()
    candidates = _json_objects(_unfence(raw)) or _json_objects(raw)
    obj = next((o for o in candidates if "diagnosis" in o or "fix" in o), None)
    if obj is None:
        summary = " ".join(raw.split()) or "the model gave no answer"
        return Diagnosis(summary[:600], "none", source="model")
    summary = obj.get("diagnosis")
    if not isinstance(summary, str) or not summary.strip():
        summary = obj.get("summary") if isinstance(obj.get("summary"), str) else "the model suggests a fix"
    summary = " ".join(str(summary).split())[:600]
    fix = obj.get("fix")
    if isinstance(fix, str):
        fix = {"type": fix}
    if not isinstance(fix, dict):
        return Diagnosis(summary, "none", source="model")
    kind = str(fix.get("type") or "none").strip().lower().replace("-", "_")
    name = fix.get("name") or fix.get("env_var") or fix.get("variable")
    message = fix.get("message") or fix.get("text")
    if kind in ("inject_env", "env", "set_env"):
        if isinstance(name, str) and ENV_NAME.match(name.strip()):
            return Diagnosis(summary, "inject_env", env_var=name.strip(), source="model")
        return Diagnosis(summary, "none", source="model")
    if kind in ("send", "message", "nudge"):
        if isinstance(message, str) and message.strip():
            return Diagnosis(summary, "send", message=message.strip(), source="model")
        return Diagnosis(summary, "none", source="model")
    if kind in ACTIONS:
        return Diagnosis(summary, kind, source="model")
    return Diagnosis(summary, "none", source="model")


def masked_diagnosis(diag: Diagnosis, secret_values: Iterable[str]) -> Diagnosis:
    """`diag` with its texts passed through `mask_secrets` (for display and logs)."""
    secrets = list(secret_values)
    return replace(
        diag,
        summary=mask_secrets(diag.summary, secrets),
        message=mask_secrets(diag.message, secrets) if diag.message else diag.message,
        error=mask_secrets(diag.error, secrets) if diag.error else diag.error,
    )
