"""The agent's tools: what the model may do in its working directory.

Each tool returns a `ToolResult`: the text the model reads back, one line for
the pane, and (for `report_status`) a status that ends the turn. Tools never
raise for the model's mistakes (a missing file, a bad argument, a failing
command): the error is the result, so the model can correct itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

MAX_READ_CHARS = 60_000
"""A file read is cut to this many characters (the model's context is small)."""
MAX_OUTPUT_CHARS = 8_000
"""A command's output is cut to this many characters: its head and its tail."""
MAX_LIST_ENTRIES = 400
SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass(frozen=True)
class ToolResult:
    content: str
    """What the model reads back (the `tool` message)."""
    display: str
    """One line for the pane: `→ run: pytest -q (exit 0)`."""
    ok: bool = True
    end_turn: str | None = None
    """`report_status` only: `STUCK` or `DONE` ends the turn with that status."""
    end_message: str = ""
    detail: str = ""
    """A few lines shown under `display` (a command's last output lines)."""


def _prop(kind: str, description: str) -> dict[str, Any]:
    return {"type": kind, "description": description}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOL_SCHEMAS: list[dict[str, Any]] = [
    _tool(
        "read_file",
        "Read a text file of the project. Paths are relative to the project directory.",
        {"path": _prop("string", "file path, relative to the project directory")},
        ["path"],
    ),
    _tool(
        "write_file",
        "Create or overwrite a text file with the given content (parent folders are created).",
        {
            "path": _prop("string", "file path, relative to the project directory"),
            "content": _prop("string", "the whole new content of the file"),
        },
        ["path", "content"],
    ),
    _tool(
        "list_files",
        "List the files under a folder of the project (recursively, without .git).",
        {"path": _prop("string", "folder, relative to the project directory (default: the project root)")},
        [],
    ),
    _tool(
        "run_command",
        "Run a shell command in the project directory and get its exit status and output "
        "(stdout and stderr together; long output is cut). It has no input and a time limit.",
        {"command": _prop("string", "the shell command, e.g. `python -m pytest -q`")},
        ["command"],
    ),
    _tool(
        "git_commit",
        "Stage every change in the project (git add -A) and commit it with the given message.",
        {"message": _prop("string", "the commit message: one short summary line")},
        ["message"],
    ),
    _tool(
        "report_status",
        "Tell the person supervising you how it goes. Use DONE with a one-line summary when "
        "the task is finished, STUCK with the reason when you cannot go on without their help "
        "(a missing credential, an unclear task); both end your turn.",
        {
            "status": {"type": "string", "enum": ["WORKING", "DONE", "STUCK"], "description": "your status"},
            "message": _prop("string", "one line: what you are doing, what you did, or what blocks you"),
        },
        ["status", "message"],
    ),
]

TOOL_NAMES = tuple(t["function"]["name"] for t in TOOL_SCHEMAS)


def one_line(text: str, limit: int = 160) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cut_middle(text: str, limit: int) -> str:
    """`text` if short enough, else its head and tail with a note of what was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    left_out = len(text) - 2 * half
    return f"{text[:half]}\n… [{left_out} characters left out] …\n{text[-half:]}"


class Toolbox:
    """Runs the model's tool calls in `cwd`."""

    def __init__(self, cwd: Path, *, command_timeout: float = 120.0, env: Mapping[str, str] | None = None) -> None:
        self.cwd = Path(cwd).resolve()
        self.command_timeout = command_timeout
        self.env = dict(os.environ if env is None else env)
        self._handlers: dict[str, Callable[[dict[str, Any]], ToolResult]] = {
            "read_file": self.read_file,
            "write_file": self.write_file,
            "list_files": self.list_files,
            "run_command": self.run_command,
            "git_commit": self.git_commit,
            "report_status": self.report_status,
        }

    # ------------------------------------------------------------------ dispatch

    def call(self, name: str, arguments: Any) -> ToolResult:
        handler = self._handlers.get(name)
        if handler is None:
            return ToolResult(
                f"error: there is no tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}",
                f"→ {one_line(name, 40)}: no such tool",
                ok=False,
            )
        if not isinstance(arguments, Mapping):
            return ToolResult(f"error: the arguments of {name} must be an object", f"→ {name}: bad arguments", ok=False)
        try:
            return handler(dict(arguments))
        except _BadArgument as e:
            return ToolResult(f"error: {e}", f"→ {name}: {e}", ok=False)

    # ------------------------------------------------------------------ helpers

    def _path(self, args: dict[str, Any], key: str = "path", default: str | None = None) -> tuple[str, Path]:
        raw = args.get(key, default)
        if not isinstance(raw, str) or not raw.strip():
            raise _BadArgument(f"missing argument {key!r} (a path relative to the project directory)")
        raw = raw.strip()
        path = (self.cwd / raw).resolve() if not os.path.isabs(raw) else Path(raw).resolve()
        return raw, path

    def _inside(self, path: Path) -> bool:
        return path == self.cwd or self.cwd in path.parents

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.cwd)) or "."
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ tools

    def read_file(self, args: dict[str, Any]) -> ToolResult:
        raw, path = self._path(args)
        try:
            data = path.read_bytes()
        except IsADirectoryError:
            return ToolResult(f"error: {raw} is a folder; use list_files", f"→ read_file {raw}: a folder", ok=False)
        except OSError as e:
            return ToolResult(f"error: cannot read {raw}: {e.strerror or e}", f"→ read_file {raw}: {e.strerror or e}", ok=False)
        if b"\0" in data[:8192]:
            return ToolResult(f"error: {raw} is a binary file ({len(data)} bytes)", f"→ read_file {raw}: binary", ok=False)
        text = data.decode("utf-8", errors="replace")
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        note = ""
        if len(text) > MAX_READ_CHARS:
            text = text[:MAX_READ_CHARS]
            note = f"\n… [cut: the file has {len(data)} bytes; only the first {MAX_READ_CHARS} characters are shown]"
        return ToolResult(text + note, f"→ read_file {self._rel(path)} ({lines} lines)")

    def write_file(self, args: dict[str, Any]) -> ToolResult:
        raw, path = self._path(args)
        content = args.get("content")
        if content is None:
            raise _BadArgument("missing argument 'content'")
        if not isinstance(content, str):
            content = str(content)
        if not self._inside(path):
            return ToolResult(
                f"error: {raw} is outside the project directory {self.cwd}; write only inside it",
                f"→ write_file {raw}: outside the project",
                ok=False,
            )
        if path == self.cwd or (self.cwd / ".git") in (path, *path.parents):
            return ToolResult(f"error: cannot write {raw}", f"→ write_file {raw}: refused", ok=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.exists()
            path.write_text(content, encoding="utf-8")
        except OSError as e:
            return ToolResult(f"error: cannot write {raw}: {e.strerror or e}", f"→ write_file {raw}: {e.strerror or e}", ok=False)
        size = len(content.encode("utf-8"))
        verb = "updated" if existed else "created"
        return ToolResult(f"{verb} {self._rel(path)} ({size} bytes)", f"→ write_file {self._rel(path)} ({size} bytes, {verb})")

    def list_files(self, args: dict[str, Any]) -> ToolResult:
        raw, path = self._path(args, default=".")
        if not path.is_dir():
            return ToolResult(f"error: {raw} is not a folder", f"→ list_files {raw}: not a folder", ok=False)
        found: list[str] = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for f in sorted(files):
                found.append(self._rel(Path(root) / f))
                if len(found) >= MAX_LIST_ENTRIES:
                    break
            if len(found) >= MAX_LIST_ENTRIES:
                break
        more = f"\n… [stopped at {MAX_LIST_ENTRIES} files]" if len(found) >= MAX_LIST_ENTRIES else ""
        return ToolResult("\n".join(found) + more if found else "(no files)", f"→ list_files {self._rel(path)} ({len(found)} files)")

    def run_command(self, args: dict[str, Any]) -> ToolResult:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise _BadArgument("missing argument 'command'")
        code, output, timed_out = run_shell(command, self.cwd, self.env, self.command_timeout)
        shown = cut_middle(output, MAX_OUTPUT_CHARS)
        if timed_out:
            head = f"the command did not finish within {self.command_timeout:g}s and was killed"
            display = f"→ run: {one_line(command, 100)} (timed out after {self.command_timeout:g}s)"
        else:
            head = f"exit status {code}"
            display = f"→ run: {one_line(command, 100)} (exit {code})"
        tail = [ln for ln in output.rstrip().splitlines()][-4:]
        return ToolResult(
            f"{head}\n{shown}" if shown else f"{head}\n(no output)",
            display,
            ok=not timed_out and code == 0,
            detail="\n".join("    " + one_line(ln, 110) for ln in tail),
        )

    def git_commit(self, args: dict[str, Any]) -> ToolResult:
        message = args.get("message")
        if not isinstance(message, str) or not message.strip():
            raise _BadArgument("missing argument 'message'")
        message = message.strip()
        short = one_line(message.splitlines()[0], 70)
        add = self._git(["add", "-A"])
        if add.returncode != 0:
            err = (add.stdout + add.stderr).strip()
            return ToolResult(f"error: git add failed: {err}", f"→ git_commit: git add failed: {one_line(err, 80)}", ok=False)
        status = self._git(["status", "--porcelain"])
        if status.returncode == 0 and not status.stdout.strip():
            return ToolResult("nothing to commit: the working tree is clean", f'→ git_commit "{short}" (nothing to commit)')
        commit = self._git(["commit", "-q", "-m", message])
        if commit.returncode != 0:
            err = (commit.stdout + commit.stderr).strip()
            return ToolResult(f"error: git commit failed: {err}", f"→ git_commit: failed: {one_line(err, 80)}", ok=False)
        rev = self._git(["rev-parse", "--short", "HEAD"]).stdout.strip()
        stat = self._git(["show", "--stat", "--format=", "HEAD"]).stdout.strip()
        return ToolResult(f"committed {rev}: {short}\n{stat}", f'→ git_commit "{short}" ({rev})')

    def report_status(self, args: dict[str, Any]) -> ToolResult:
        status = str(args.get("status") or "").strip().upper()
        message = one_line(str(args.get("message") or ""), 200)
        if status not in ("WORKING", "DONE", "STUCK"):
            raise _BadArgument("status must be WORKING, DONE or STUCK")
        end = status if status in ("DONE", "STUCK") else None
        return ToolResult(f"reported {status}", f"→ report_status {status}: {message}", end_turn=end, end_message=message)

    def _git(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *argv], cwd=self.cwd, env=self.env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=max(self.command_timeout, 30.0),
        )


class _BadArgument(Exception):
    pass


def run_shell(command: str, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str, bool]:
    """(exit status, output, timed out) of `command` under /bin/sh in `cwd`.

    It runs in its own session (a Ctrl-C meant for the agent does not reach it
    twice, and on a timeout or an interrupt its whole process group is killed)
    with no standard input (it must never read the agent's prompt).
    """
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out = _drain(proc)
    except BaseException:
        _kill_group(proc)
        _drain(proc)
        raise
    text = out.decode("utf-8", errors="replace") if out else ""
    return (proc.returncode if proc.returncode is not None else -1), text, timed_out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _drain(proc: subprocess.Popen[bytes]) -> bytes:
    try:
        out, _ = proc.communicate(timeout=5)
        return out or b""
    except subprocess.TimeoutExpired:  # a grandchild that left the group keeps the pipe open
        proc.kill()
        proc.wait()
        return b""
