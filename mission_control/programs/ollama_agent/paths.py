"""Where the built-in agent keeps its ledger, and how it names its server (no I/O)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from mission_control.adapters.supervisor_lock import LEDGER_NAME, ledger_file

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LEDGER_NAME", "default_ledger_path", "normalize_host"]

DEFAULT_HOST = "http://127.0.0.1:11434"
"""The local Ollama server, used when neither `--host` nor `$OLLAMA_HOST` says otherwise."""
DEFAULT_PORT = 11434


def default_ledger_path(env: Mapping[str, str]) -> Path | None:
    """`$MISSION_CONTROL_STATE_DIR/agents/$MISSION_CONTROL_AGENT/ollama-ledger.jsonl`,
    or None when either variable is missing (then no ledger is written)."""
    state_dir = env.get("MISSION_CONTROL_STATE_DIR")
    agent = env.get("MISSION_CONTROL_AGENT")
    if not state_dir or not agent:
        return None
    return ledger_file(Path(state_dir), agent)


def normalize_host(host: str | None) -> str:
    """An Ollama host as a base URL: `None`/`""` -> the local server, `1.2.3.4` ->
    `http://1.2.3.4:11434`, `:5000` -> `http://127.0.0.1:5000`, `http://h` -> `http://h:80`.
    (The same reading as the `ollama` client's, so messages name the server it talks to.)"""
    text = (host or "").strip()
    if not text:
        return DEFAULT_HOST
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    scheme = scheme.lower()
    rest, _, path = rest.partition("/")
    path = path.rstrip("/")
    default_port = DEFAULT_PORT if not sep else (443 if scheme == "https" else 80)
    m = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(\d+))?", rest)
    if m:
        hostname = m.group(1) or "127.0.0.1"
        port = int(m.group(2)) if m.group(2) else default_port
    else:
        hostname, port = rest, default_port
    url = f"{scheme}://{hostname}:{port}"
    return f"{url}/{path}" if path else url
