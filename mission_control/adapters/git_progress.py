"""Agents' git progress: how many commits, how far ahead and behind, what changed, asked of git
only when something changed.

`GitProbe` watches a few files per agent (its HEAD, index, ref and reflog) by `stat` and asks
git (through `git_repo.run_git`) only when one moved; the git watcher runs the probes on a
thread of its own. Hand-written rather than GitPython's object model: the probe runs on the
supervisor's tick path, where a `stat` of four files (a few microseconds) decides whether any git
process is needed at all, and a long-lived `Repo` keeps `git cat-file` processes and caches per
repository alive for the supervisor's lifetime. The meaning of every number is defined in
`mission_control.core.progress`; worktrees are in `worktrees`, merging in `merging`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from mission_control.adapters import git_repo
from mission_control.core.progress import (
    LOG_FORMAT,
    RECENT_LIMIT,
    GitProgress,
    WorktreeInfo,
    author_identity,
    parse_count,
    parse_left_right,
    parse_log,
    parse_numstat,
    parse_status,
    progress_from_commits,
    ref_candidates,
    status_due,
    symref_target,
)

# --------------------------------------------------------------------------- the probe


Stat = tuple[int, int, int] | None


_UNSEEN = object()
_INDEX = 1
"""Where the index is among a probe's watched files (see `_watched`)."""


def _without_index(signature: tuple) -> tuple:
    """A probe's signature without the index: what says a ref, HEAD or a reflog moved."""
    head_text, stats = signature
    return head_text, stats[:_INDEX] + stats[_INDEX + 1 :]


def _stat(path: Path | str) -> Stat:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class GitProbe:
    """One agent's git progress, asking git only when something changed.

    Each `poll()` stats a handful of files -- the checkout's HEAD, index and
    HEAD reflog (for a linked worktree in ``<common>/worktrees/<id>/``), and
    in the common dir ``packed-refs``, ``reftable/tables.list`` and the loose
    ref and reflog of the branch, the base and the base branch -- and returns
    the cached `GitProgress` when none of their (mtime_ns, size, inode)
    changed.  Unstaged edits do not touch the index, so the working-tree
    status alone is re-read when it is older than `max_age` seconds (None:
    never).  `git_calls` counts the git processes this probe ran,
    `refreshes` the full recounts and `status_checks` the status-only ones.

    Parameters (see `mission_control.core.progress` for the definitions):
      path         the checkout to watch (the agent's worktree, or the shared one)
      branch       the agent's tip ("HEAD": whatever is checked out in `path`)
      base         exclusive start of the range (``base..branch``), e.g. the
                   worktree's base_commit; None: everything reachable
      base_branch  what ahead/behind compare to (None: `base`, or nothing)
      author       (name, email) whose commits count; None: all
      since        unix time; only commits committed at or after it count
    """

    def __init__(
        self,
        path: Path | str,
        *,
        branch: str = "HEAD",
        base: str | None = None,
        base_branch: str | None = None,
        author: tuple[str, str] | None = None,
        since: float | None = None,
        max_age: float | None = 10.0,
        clock: Callable[[], float] = time.monotonic,
        recent: int = RECENT_LIMIT,
    ) -> None:
        self.path = Path(path)
        self.branch = branch
        self.base = base
        self.base_branch = base_branch
        self.author = author
        self.since = since
        self.max_age = max_age
        self.clock = clock
        self.recent = recent
        self.git_calls = 0
        self.refreshes = 0
        self.status_checks = 0
        self._dirs: tuple[Path, Path] | None = None
        self._files: tuple[str, list[str]] | None = None
        self._signature: tuple | None = None
        self._status_at: float | None = None
        self._progress: GitProgress | None = None

    @classmethod
    def for_worktree(cls, info: WorktreeInfo, **kwargs) -> GitProbe:
        """A probe of an agent's own worktree: ``base_commit..branch``, ahead/behind its base branch."""
        return cls(info.path, branch=info.branch, base=info.base_commit, base_branch=info.base_branch, **kwargs)

    @classmethod
    def for_shared_checkout(
        cls, repo: Path | str, agent_name: str, launched_at: float, *, base_branch: str | None = None, **kwargs
    ) -> GitProbe:
        """A probe of one agent in a shared checkout: its author's commits on HEAD since launch."""
        return cls(repo, branch="HEAD", author=author_identity(agent_name), since=launched_at,
                   base_branch=base_branch, **kwargs)

    @property
    def last(self) -> GitProgress | None:
        """The last result, without asking anything."""
        return self._progress

    def invalidate(self) -> None:
        """Make the next poll ask git again."""
        self._signature = None

    # -- internals

    def _git(self, args: Sequence[str]) -> str:
        self.git_calls += 1
        return git_repo.run_git(args, self.path)

    def _watched(self) -> tuple[str, list[str]]:
        """HEAD's text and the files whose change means "ask git again" (the list is worked
        out again only when HEAD moves to another branch: a probe runs every second)."""
        if self._dirs is None:
            self.git_calls += 1
            self._dirs = git_repo.git_dirs(self.path)
        gitdir, common = self._dirs
        try:
            with open(os.path.join(gitdir, "HEAD"), errors="replace") as f:
                head_text = f.read()
        except OSError:
            head_text = ""
        if self._files is not None and self._files[0] == head_text:
            return head_text, self._files[1]
        files = [
            gitdir / "HEAD",
            gitdir / "index",
            gitdir / "logs" / "HEAD",
            common / "packed-refs",
            common / "reftable" / "tables.list",
        ]
        refs: list[str] = []
        target = symref_target(head_text)
        if self.branch == "HEAD" and target:
            refs += [target, "logs/" + target]
        for name in (self.branch, self.base, self.base_branch):
            if name:
                refs += ref_candidates(name)
        files += [common / r for r in dict.fromkeys(refs)]
        self._files = (head_text, [str(f) for f in files])
        return head_text, self._files[1]

    def _sig(self, shared: dict[str, Stat] | None = None) -> tuple:
        head_text, files = self._watched()
        if shared is None:
            return (head_text, tuple(_stat(f) for f in files))
        out = []
        for f in files:
            st = shared.get(f, _UNSEEN)
            if st is _UNSEEN:
                st = shared[f] = _stat(f)
            out.append(st)
        return (head_text, tuple(out))

    def _dirty_count(self) -> int:
        out = self._git(["status", "--porcelain=v1", "-z", "--untracked-files=all"])
        return len(parse_status(out))

    def _recount(self) -> GitProgress:
        tip = self.branch
        rev_range = [tip] if self.base is None else [tip, f"^{self.base}"]
        log = ["log", "--no-color", f"--format={LOG_FORMAT}"]
        lines: tuple[int, int] | None = None
        if self.author is not None or self.since is not None:
            args = list(log)
            if self.since is not None:
                args.append(f"--max-age={int(self.since)}")
            if self.base is None:
                args.append("--numstat")
            commits = parse_log(self._git([*args, *rev_range, "--"]))
            count = None
        else:
            commits = parse_log(self._git([*log, f"--max-count={self.recent}", *rev_range, "--"]))
            # fewer than asked for: that is all of them (one git process fewer, most of the time)
            count = len(commits) if len(commits) < self.recent else parse_count(self._git(["rev-list", "--count", *rev_range, "--"]))
            if self.base is None:
                lines = (0, 0)  # an unbounded range: lines are not counted
        if self.base is not None:
            lines = parse_numstat(self._git(["diff", "--numstat", "--no-color", f"{self.base}...{tip}", "--"]))
        ahead = behind = 0
        against = self.base_branch or self.base
        if against:
            behind, ahead = parse_left_right(
                self._git(["rev-list", "--left-right", "--count", f"{against}...{tip}", "--"])
            )
        return progress_from_commits(
            commits,
            author=self.author,
            ahead=ahead,
            behind=behind,
            dirty_files=self._dirty_count(),
            lines=lines,
            count=count,
            limit=self.recent,
        )

    # -- the API

    def poll(self, *, force: bool = False, status: bool | None = None, shared_stats: dict[str, Stat] | None = None) -> GitProgress:
        """The agent's progress now; git runs only if the watched files changed,
        or (status only) if the last status is older than `max_age` -- or, when `status`
        is given, when the caller says so (True: now, False: not this time).
        `shared_stats`: file -> stat already taken in this pass (many worktrees of one repo
        watch the same packed-refs and base branch), filled in as files are stat'ed.
        Raises GitError when git cannot answer (the next poll asks again)."""
        signature = self._sig(shared_stats)  # before asking git: a change while it runs is seen next time
        now = self.clock()
        due = status_due(self._status_at, now, self.max_age) if status is None else status
        old = self._signature
        refs_moved = old is None or _without_index(signature) != _without_index(old)
        if force or self._progress is None or refs_moved:
            self._signature = None
            self._progress = self._recount()
            self._signature = signature
            self._status_at = now
            self.refreshes += 1
        elif due or signature != old:  # only the index changed (something staged): status alone
            dirty = self._dirty_count()
            self._signature = signature
            self._status_at = now
            self.status_checks += 1
            if dirty != self._progress.dirty_files:
                self._progress = replace(self._progress, dirty_files=dirty)
        return self._progress

    def diff_stat(self) -> str:
        """``git diff --stat base...branch`` for this agent ('' without a base)."""
        against = self.base or self.base_branch
        if not against:
            return ""
        return self._git(["diff", "--stat", "--no-color", f"{against}...{self.branch}", "--"])
