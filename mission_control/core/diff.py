"""A branch's diff as files (issue 21 point 5: review the work in place): `git diff` output split
per file, each with its status, lines added and removed, and its own text; pure.

Splitting is one pass over the lines and keeps each file's lines as they are: nothing is rendered
here, so a diff of thousands of lines costs a list of strings, and the diff view renders only the
lines of the file it shows that are in sight."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_HEADER = re.compile(r"^diff --git (?P<a>\"?a/.*?\"?) (?P<b>\"?b/.*\"?)$")
"""`diff --git a/x b/x` (paths with spaces or odd bytes come quoted)."""


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff."""

    path: str
    """Its path on the branch (the old one for a deleted file)."""
    status: str
    """`modified`, `added`, `deleted`, `renamed`, `copied` or `mode` (only its mode changed)."""
    added: int
    removed: int
    lines: tuple[str, ...]
    """Its part of the diff, header included, line by line (no newlines)."""
    old_path: str | None = None
    """Where it was renamed or copied from."""
    binary: bool = False


@dataclass(frozen=True)
class BranchDiff:
    """What an agent's branch changed since it left its base."""

    agent: str
    branch: str
    base: str
    """What it is compared with (the commit it started from, or its base branch)."""
    files: tuple[FileDiff, ...] = ()
    commits: tuple[str, ...] = field(default_factory=tuple)
    """`<short sha> <subject>` of its commits, newest first."""
    dirty_files: int | None = None
    """Files changed in its worktree but not committed (not in the diff: a merge takes commits)."""
    host: str | None = None
    """The `[[host]]` the agent runs on (None: this machine), whose own git read it."""

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    @property
    def lines(self) -> int:
        return sum(len(f.lines) for f in self.files)


def diff_to_json(d: BranchDiff) -> dict[str, Any]:
    """The diff as JSON values (`diff AGENT --json`: how a host hands its agent's diff to the
    laptop's diff view, issue 22), every line as it is."""
    return asdict(d)


def diff_from_json(data: Any, host: str | None = None) -> BranchDiff:
    """`diff_to_json`'s values back as a BranchDiff (of `host`). ValueError: not such values."""
    try:
        files = tuple(FileDiff(**{**f, "lines": tuple(str(x) for x in f["lines"])}) for f in data["files"])
        return BranchDiff(agent=str(data["agent"]), branch=str(data["branch"]), base=str(data["base"]), files=files,
                          commits=tuple(str(c) for c in data["commits"]), dirty_files=data.get("dirty_files"),
                          host=host if host is not None else data.get("host"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a diff's JSON ({type(exc).__name__}: {exc})") from None


def _unquote(path: str) -> str:
    """A path from a diff header: `a/`/`b/` dropped, C-style quoting undone (git quotes odd bytes)."""
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            path = raw
    return path[2:] if path[:2] in ("a/", "b/") else path


def _file(lines: list[str]) -> FileDiff:
    match = _HEADER.match(lines[0])
    a = _unquote(match.group("a")) if match else lines[0].removeprefix("diff --git ")
    b = _unquote(match.group("b")) if match else a
    status, old, binary = "modified", None, False
    added = removed = 0
    in_hunk = False
    for line in lines[1:]:
        if in_hunk:
            if line.startswith("+"):
                added += 1
            elif line.startswith("-"):
                removed += 1
            elif line.startswith("@@"):
                pass
            elif not line.startswith((" ", "\\")):
                in_hunk = False
            continue
        if line.startswith("@@"):
            in_hunk = True
        elif line.startswith("new file mode"):
            status = "added"
        elif line.startswith("deleted file mode"):
            status = "deleted"
        elif line.startswith("rename from "):
            status, old = "renamed", line.removeprefix("rename from ")
        elif line.startswith("copy from "):
            status, old = "copied", line.removeprefix("copy from ")
        elif line.startswith("Binary files ") or line == "GIT binary patch":
            binary = True
        elif line.startswith("old mode") and status == "modified":
            status = "mode"
    if status == "mode" and (added or removed):
        status = "modified"
    path = a if status == "deleted" else b
    return FileDiff(path=path, status=status, added=added, removed=removed, lines=tuple(lines), old_path=old, binary=binary)


def parse_diff(text: str) -> tuple[FileDiff, ...]:
    """`git diff` output (no colour) as its files, in its order."""
    files: list[FileDiff] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            if current:
                files.append(_file(current))
            current = [line]
        elif current:
            current.append(line)
    if current:
        while current and current[-1] == "":
            current.pop()
        files.append(_file(current))
    return tuple(files)


STATUS_MARK = {"modified": "M", "added": "A", "deleted": "D", "renamed": "R", "copied": "C", "mode": "m"}
"""One letter per file status, as `git status --short` writes them."""


def file_label(f: FileDiff) -> str:
    """`M +3 -1 path` (binary files say so): the counts first, where a narrow list never cuts them."""
    counts = "binary" if f.binary else f"+{f.added} -{f.removed}"
    return f"{STATUS_MARK.get(f.status, '?')} {counts} {f.path}"


def summary(d: BranchDiff) -> str:
    """The view's top line: what is compared, how much changed."""
    commits = f"{len(d.commits)} commit{'s' if len(d.commits) != 1 else ''}"
    dirty = f" · {d.dirty_files} uncommitted file{'s' if d.dirty_files != 1 else ''} not shown" if d.dirty_files else ""
    return (f"{d.agent}{f' (host {d.host})' if d.host else ''}: {d.branch} against {d.base} · {commits} · {len(d.files)} file{'s' if len(d.files) != 1 else ''} "
            f"+{d.added} -{d.removed}{dirty}")
