"""What an agent has done in git, as pure values.

No I/O here: `mission_control.adapters` (git_repo, worktrees, merging, git_progress) run git and hand the
output to the parsers below, which turn it into `GitProgress`,
`WorktreeInfo` and `MergeResult` values.

Definitions (the adapter follows them, the UI can rely on them):

* ``commits``: commits in the agent's range that match its filters.  The
  range is ``base..branch`` when the probe has a ``base`` (for a worktree
  agent: the commit its branch was created from), else everything reachable
  from ``branch`` (``HEAD`` for agents sharing one checkout).  An author
  filter keeps only commits whose author email (or name) is the agent's
  identity; a ``since`` time keeps only commits whose *committer* date is at
  or after it (an amend or a rebase re-dates a commit, so it still counts).
  Without an author filter the count is git's literal answer: after rebasing
  the branch onto a newer base branch, the base branch's new commits are in
  ``base..branch`` too (``ahead`` is the number that ignores them).
* ``ahead`` / ``behind``: ``git rev-list --left-right --count
  base_branch...branch`` (0/0 without a base branch).
* ``dirty_files``: paths ``git status --porcelain -uall`` lists for the
  probed checkout: staged, unstaged, conflicted and untracked (not ignored)
  files.  In a shared checkout this is the whole checkout's count.
* ``lines_added`` / ``lines_removed``: with a ``base``, the committed net
  diff ``git diff --numstat base...branch``; without one, the sum of the
  per-commit numstat of the counted commits (merge commits add nothing).
  Uncommitted edits are never included (see ``dirty_files``).  Binary files
  count 0.
* ``last_commit`` / ``recent``: the newest counted commit and the newest 10,
  newest first, each ``{"sha": short sha, "subject", "time": committer unix
  time, "author": author name}``.  ``last_commit`` is None with no commits.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECENT_LIMIT = 10

# Separators for `git log --format`: a record starts with RS, fields split on US.
RS = "\x1e"
US = "\x1f"
LOG_FORMAT = "%x1e%H%x1f%h%x1f%ct%x1f%an%x1f%ae%x1f%s"

_AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HEX_SHA = re.compile(r"[0-9a-fA-F]{40}([0-9a-fA-F]{24})?")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class GitProgress:
    """An agent's git progress at one moment (see the module doc for meanings)."""

    commits: int = 0
    ahead: int = 0
    behind: int = 0
    dirty_files: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    last_commit: dict[str, Any] | None = None  # {"sha", "subject", "time", "author"}
    recent: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recent"] = list(self.recent)
        return data


@dataclass(frozen=True)
class WorktreeInfo:
    """An agent's own worktree: where it is, its branch and where it started."""

    path: Path
    branch: str
    base_branch: str
    base_commit: str
    reused: bool = False


@dataclass(frozen=True)
class MergeResult:
    """What `merge_agent_branch` did.  On failure nothing was changed."""

    ok: bool
    merged_commit: str | None = None
    conflicts: list[str] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class Commit:
    """One line of `git log --format=LOG_FORMAT [--numstat]`."""

    sha: str
    short: str
    time: int
    author: str
    email: str
    subject: str
    added: int = 0
    removed: int = 0

    def summary(self) -> dict[str, Any]:
        return {"sha": self.short, "subject": self.subject, "time": self.time, "author": self.author}


# --------------------------------------------------------------------------- naming


def validate_agent_name(name: str) -> str:
    """Return `name` if it is usable in a branch name and a directory name."""
    if not _AGENT_NAME.fullmatch(name or "") or ".." in name or name.endswith((".lock", ".")):
        raise ValueError(
            f"agent name {name!r} cannot name a git branch/worktree "
            "(use letters, digits, '.', '_' and '-', starting with a letter or digit)"
        )
    return name


def agent_branch(name: str) -> str:
    """The branch an agent's worktree works on: ``agent/<name>``."""
    return f"agent/{validate_agent_name(name)}"


def author_identity(agent_name: str) -> tuple[str, str]:
    """(GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL) the fleet sets for an agent.

    Its commits in a shared checkout are attributed to it by this identity.
    """
    local = re.sub(r"[^A-Za-z0-9._-]+", "-", agent_name).strip("-.") or "agent"
    return f"mc-agent-{agent_name}", f"{local}@mission-control.local"


def author_env(agent_name: str) -> dict[str, str]:
    """The environment variables that give an agent its author identity."""
    name, email = author_identity(agent_name)
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}


def is_sha(ref: str) -> bool:
    return bool(_HEX_SHA.fullmatch(ref))


def ref_candidates(ref: str) -> list[str]:
    """Paths (relative to the git common dir) a loose ref named `ref` may live at.

    A change to any of them means the ref may have moved.  Full shas and
    revision expressions (``main~2``) have no file and yield nothing.
    """
    if not ref or is_sha(ref) or ref == "HEAD" or any(c in ref for c in "~^:@{ "):
        return []
    if ref.startswith("refs/"):
        return [ref, "logs/" + ref]
    out: list[str] = []
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        out += [prefix + ref, "logs/" + prefix + ref]
    return out


def symref_target(head_text: str) -> str | None:
    """``refs/heads/x`` for a HEAD file reading ``ref: refs/heads/x`` (None if detached)."""
    text = head_text.strip()
    if text.startswith("ref:"):
        return text[4:].strip() or None
    return None


# --------------------------------------------------------------------------- parsers


def parse_count(out: str) -> int:
    """`git rev-list --count` output."""
    text = out.strip()
    return int(text) if text else 0


def parse_left_right(out: str) -> tuple[int, int]:
    """`git rev-list --left-right --count A...B` output -> (left, right).

    With ``base_branch...branch`` that is (behind, ahead).
    """
    parts = out.split()
    if len(parts) != 2:
        raise ValueError(f"unexpected rev-list --left-right output: {out!r}")
    return int(parts[0]), int(parts[1])


def parse_numstat(out: str) -> tuple[int, int]:
    """Sum of `git diff --numstat` lines -> (added, removed); binary files count 0."""
    added = removed = 0
    for line in out.splitlines():
        parts = line.split("\t", 2)
        if len(parts) < 3:
            continue
        if parts[0].isdigit():
            added += int(parts[0])
        if parts[1].isdigit():
            removed += int(parts[1])
    return added, removed


def parse_log(out: str) -> list[Commit]:
    """`git log --format=LOG_FORMAT [--numstat]` output, newest first."""
    commits: list[Commit] = []
    for record in out.split(RS):
        if not record.strip():
            continue
        header, _, rest = record.partition("\n")
        fields_ = header.split(US)
        if len(fields_) < 6:
            continue
        sha, short, ctime, author, email = fields_[:5]
        subject = US.join(fields_[5:])
        added, removed = parse_numstat(rest)
        commits.append(
            Commit(
                sha=sha,
                short=short,
                time=int(ctime) if ctime.strip().isdigit() else 0,
                author=author,
                email=email,
                subject=subject,
                added=added,
                removed=removed,
            )
        )
    return commits


def matches_author(commit: Commit, author: tuple[str, str] | None) -> bool:
    """Whether `commit` was authored by identity (name, email); None matches all.

    The email decides (case-insensitively); an empty email falls back to the name.
    """
    if author is None:
        return True
    name, email = author
    if email:
        return commit.email.strip().lower() == email.strip().lower()
    return commit.author == name


def parse_status(out: str) -> list[str]:
    """Paths in `git status --porcelain=v1 -z` output (a rename counts once, its new path)."""
    paths: list[str] = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        xy, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in xy or "C" in xy:
            i += 1  # the original path follows as its own NUL-terminated field
    return paths


def parse_conflicts(out: str) -> list[str]:
    """`git diff --name-only -z --diff-filter=U` output -> sorted unique paths."""
    return sorted({p for p in out.split("\0") if p})


def parse_worktree_list(out: str) -> list[dict[str, Any]]:
    """`git worktree list --porcelain` output -> [{"path", "head", "branch", "detached", "bare", "prunable", "locked"}]."""
    result: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in out.splitlines() + [""]:
        if not line.strip():
            if current is not None:
                result.append(current)
            current = None
            continue
        key, _, value = line.partition(" ")
        if key == "worktree":
            current = {
                "path": value,
                "head": None,
                "branch": None,
                "detached": False,
                "bare": False,
                "prunable": False,
                "locked": False,
            }
        elif current is None:
            continue
        elif key == "HEAD":
            current["head"] = value
        elif key == "branch":
            current["branch"] = value
        elif key in ("detached", "bare", "prunable", "locked"):
            current[key] = True
    return result


def summarize_files(paths: list[str], limit: int = 5) -> str:
    """'a, b, c' or 'a, b, c, d, e and 3 more'."""
    shown = ", ".join(paths[:limit])
    if len(paths) > limit:
        shown += f" and {len(paths) - limit} more"
    return shown


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- assembling


def progress_from_commits(
    commits: list[Commit],
    *,
    author: tuple[str, str] | None = None,
    ahead: int = 0,
    behind: int = 0,
    dirty_files: int = 0,
    lines: tuple[int, int] | None = None,
    count: int | None = None,
    limit: int = RECENT_LIMIT,
) -> GitProgress:
    """Build a GitProgress from a parsed log (newest first).

    `commits` is filtered by `author`; `lines` (added, removed) overrides the
    per-commit numstat sum (used when the range has a base: the net diff);
    `count` overrides the number of commits (when `commits` holds only the
    newest few of an unfiltered range).
    """
    mine = [c for c in commits if matches_author(c, author)]
    if lines is None:
        lines = (sum(c.added for c in mine), sum(c.removed for c in mine))
    recent = tuple(c.summary() for c in mine[:limit])
    return GitProgress(
        commits=len(mine) if count is None else count,
        ahead=ahead,
        behind=behind,
        dirty_files=dirty_files,
        lines_added=lines[0],
        lines_removed=lines[1],
        last_commit=dict(recent[0]) if recent else None,
        recent=recent,
    )


def status_due(last_status_at: float | None, now: float, max_age: float | None) -> bool:
    """Whether the working-tree status is old enough to be asked again."""
    if last_status_at is None:
        return True
    if max_age is None:
        return False
    return now - last_status_at >= max_age
