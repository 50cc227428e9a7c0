"""Hook command used while recording timelines: append one JSON line per hook call.

    python3 -I -S hook_recorder.py LOG [ARGS...]

Claude Code gives the event as JSON on stdin; Codex's `notify` gives it as the last
argument. Both are kept whole, with the time they arrived and the arguments. It never
fails and never blocks the agent for long (no imports beyond the standard library's core).
"""
import json
import os
import sys
import time


def main() -> int:
    at = time.time()
    log, args = sys.argv[1], sys.argv[2:]
    if args and args[-1].lstrip().startswith("{"):
        text = args[-1]  # Codex: the payload is the last argument (stdin is not read)
    else:
        text = ""
        if not sys.stdin.isatty():
            try:
                text = sys.stdin.read(1_000_000)
            except (OSError, ValueError):
                text = ""
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    entry = {"at": at, "args": args, "payload": payload}
    if payload is None and text:
        entry["raw"] = text[:4000]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a recorder must never disturb the agent
        sys.exit(0)
