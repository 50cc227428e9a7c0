"""The command an agent's own hooks run to tell us what happened: one line appended to a file.

    python -I -S hook_appender.py EVENTS_FILE EVENT [PAYLOAD]

The payload is the JSON document the agent hands its hook: on stdin (Claude Code), or as the
last argument (Codex's `notify` program). One JSON line `{"at": <time>, "event": EVENT,
"data": {...}}` is appended to EVENTS_FILE (the agent's `hook-events.jsonl` in the fleet's
state dir), with only the short fields worth keeping (`KEPT_FIELDS`: never a prompt, an
answer or a tool's input or output). The supervisor tails the file each tick and records the
events in the state store.

Why a file and not the store: the agent waits for its hook before it goes on (Claude Code
shows `running stop hook`). This costs one interpreter start without site imports, a JSON
parse and one `write()` — no SQLite, no lock, no supervisor — so it returns in a few tens of
milliseconds whether the store is busy or the supervisor is down (`benchmarks/hook_latency.py`).
The write is one O_APPEND `write()` of a short line, so concurrent hooks never interleave; the
file is 0600 and kept under `MAX_BYTES` (emptied when full: the supervisor reads it every tick).

Standard library only, no package imports: it runs with `-I -S`, like the launcher. It always
exits 0 and prints nothing: a failing hook must never disturb the agent.
"""

import json
import os
import sys
import time

KEPT_FIELDS = (
    "hook_event_name", "message", "notification_type", "session_id", "transcript_path", "cwd", "tool_name", "type",
    "thread-id", "turn-id", "error", "error_details", "reason", "source", "trigger",
)
"""Payload fields kept (strings, cut to `FIELD_CHARS`); prompts, answers and tool data are not."""
FIELD_CHARS = 300
MAX_PAYLOAD = 8 << 20
"""Bytes of payload read at most (a tool's whole output may come along; it is not kept)."""
MAX_BYTES = 1 << 20
"""The events file is emptied before it grows past this."""


def keep(event, payload):
    """The parts of a hook payload worth keeping (short strings only)."""
    out = {}
    for key in KEPT_FIELDS:
        value = payload.get(key)
        if isinstance(value, str):
            out[key] = value[:FIELD_CHARS]
    if event == "StopFailure" and isinstance(payload.get("last_assistant_message"), str):
        # on a failed turn this is the API error the agent printed, not an answer
        out["error_message"] = payload["last_assistant_message"][:FIELD_CHARS]
    msgs = payload.get("input-messages")
    if isinstance(msgs, list) and msgs and isinstance(msgs[0], str):
        out["first_input"] = msgs[0][:80]  # only to tell Codex's own title turn apart
    return out


def parse(text):
    try:
        loaded = json.loads(text) if text else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def line(event, payload, at):
    return (json.dumps({"at": at, "event": event, "data": keep(event, payload)}, ensure_ascii=True) + "\n").encode()


def append(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_size + len(data) > MAX_BYTES:
            os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


def read_stdin():
    try:
        if os.isatty(0):
            return ""
        chunks, size = [], 0
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size <= MAX_PAYLOAD:
                chunks.append(chunk)
            # past that the rest is read and dropped: the agent's write must not fail on a closed pipe
        return b"".join(chunks).decode("utf-8", "replace") if size <= MAX_PAYLOAD else ""
    except (OSError, ValueError):
        return ""


def main(argv):
    if len(argv) < 2:
        return 0
    path, event = argv[0], argv[1]
    text = argv[-1] if len(argv) > 2 else read_stdin()
    try:
        append(path, line(event, parse(text), time.time()))
    except (OSError, ValueError, TypeError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
