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

Standard library only, no package imports: it runs with `-I -S`, like the launcher, and
parses and writes JSON with `_json` (the C half of `json`) to start in ~10 ms instead of ~20. It always
exits 0 and prints nothing: a failing hook must never disturb the agent.
"""

import os
import sys
import time

try:  # the C half of `json`: `import json` would pull in `re`, doubling the start-up time
    import _json

    class _Context:
        strict = False
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = float
        memo = None

    _scan = _json.make_scanner(_Context())
    _quote = _json.encode_basestring_ascii
except (ImportError, AttributeError, TypeError):  # another Python: the plain module
    import json as _fallback

    _scan = None
    _quote = None

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
    """The payload as a dict ({} for anything else)."""
    try:
        if _scan is None:
            loaded = _fallback.loads(text) if text else {}
        else:
            start = len(text) - len(text.lstrip())
            loaded = _scan(text, start)[0] if text[start:] else {}
    except (ValueError, StopIteration, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def line(event, payload, at):
    """One JSON line (ASCII: escapes, newlines and NULs in values are quoted)."""
    if _quote is None:
        return (_fallback.dumps({"at": at, "event": event, "data": keep(event, payload)}, ensure_ascii=True) + "\n").encode()
    data = ", ".join("%s: %s" % (_quote(k), _quote(v)) for k, v in keep(event, payload).items())
    return ('{"at": %r, "event": %s, "data": {%s}}\n' % (float(at), _quote(event), data)).encode()


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
