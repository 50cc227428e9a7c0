"""Git I/O for agents: worktrees, progress counts and safe merging.

Everything runs the ``git`` CLI through one replaceable function,
`_run_git(args, cwd) -> str`, which raises `GitError` (one-line message) on
failure.  No GitPython: a subprocess per question is cheap, leaks nothing in a
long-running supervisor, and `GitProbe` asks git only when something changed.

The meaning of every number is defined in `mission_control.core.progress`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from mission_control.core.errors import MissionControlError
from mission_control.core.progress import (
    LOG_FORMAT,
    RECENT_LIMIT,
    GitProgress,
    MergeResult,
    WorktreeInfo,
    agent_branch,
    author_identity,
    parse_conflicts,
    parse_count,
    parse_left_right,
    parse_log,
    parse_numstat,
    parse_status,
    parse_worktree_list,
    plural,
    progress_from_commits,
    ref_candidates,
    status_due,
    summarize_files,
    symref_target,
)

__all__ = [
    "GitError",
    "GitProbe",
    "GitProgress",
    "MergeResult",
    "WorktreeInfo",
    "author_identity",
    "check_repo",
    "current_branch",
    "diff_stat",
    "dirty_paths",
    "ensure_worktree",
    "merge_agent_branch",
    "has_commit",
    "remove_worktree",
    "top_level",
    "worktree_blockers",
]

GIT_TIMEOUT = 60.0

# Variables that would make `git -C path` look at some other repository.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(MissionControlError):
    """A git question could not be answered.  `str(err)` is one line."""

    def __init__(self, message: str, *, returncode: int | None = None, stdout: str = "", stderr: str = ""):
        super().__init__(" ".join(message.split()))
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        # `git status` must not rewrite the index: we watch the index to know
        # when to ask again, and must not fight the agent for index.lock.
        GIT_OPTIONAL_LOCKS="0",
        GIT_EDITOR="true",
        GIT_MERGE_AUTOEDIT="no",
        GIT_PAGER="cat",
    )
    if extra:
        env.update(extra)
    return env


def _error_text(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr or stdout).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("hint:")]
    text = "; ".join(lines) or "no output"
    return text if len(text) <= 400 else text[:397] + "..."


def _run_git(args: Sequence[str], cwd: Path | str, *, env: dict[str, str] | None = None) -> str:
    """Run ``git -C cwd *args`` and return its stdout; GitError on any failure.

    The single place this module starts a process: replace it to fake git.
    """
    cmd = ["git", "-C", str(cwd), *args]
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=_git_env(env),
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git executable not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args[:2])} timed out after {GIT_TIMEOUT:.0f}s in {cwd}") from None
    except OSError as exc:
        raise GitError(f"cannot run git in {cwd}: {exc}") from None
    if proc.returncode != 0:
        raise GitError(
            f"git {args[0] if args else ''} failed in {cwd}: {_error_text(proc.stderr, proc.stdout)}",
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
        )
    return proc.stdout


def _try_git(args: Sequence[str], cwd: Path | str) -> str | None:
    """Like `_run_git`, but None when git says no (a ref that does not exist)."""
    try:
        return _run_git(args, cwd)
    except GitError as exc:
        if exc.returncode is None:  # git itself could not run: that is an error
            raise
        return None


def _rev(repo: Path | str, rev: str) -> str | None:
    """Full sha of `rev` (a commit), or None if it does not exist."""
    out = _try_git(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], repo)
    return out.strip() or None if out is not None else None


def _count(repo: Path | str, rev_range: Sequence[str]) -> int:
    return parse_count(_run_git(["rev-list", "--count", *rev_range, "--"], repo))


def _same_path(a: Path | str, b: Path | str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _git_dirs(path: Path | str) -> tuple[Path, Path]:
    """(git dir, common dir) of the checkout at `path`, absolute.

    For a linked worktree the git dir is ``<common>/worktrees/<id>``: its own
    HEAD, index and logs/HEAD live there, the refs in the common dir.
    """
    out = _run_git(["rev-parse", "--git-dir", "--git-common-dir"], path)
    lines = out.splitlines()
    if len(lines) < 2:
        raise GitError(f"git rev-parse gave no git dir for {path}")
    gitdir, common = (Path(p) if os.path.isabs(p) else Path(path) / p for p in lines[:2])
    return Path(os.path.realpath(gitdir)), Path(os.path.realpath(common))


# --------------------------------------------------------------------------- repository checks


def check_repo(path: Path | str) -> None:
    """Raise GitError (one line naming `path`) unless it is a git checkout with commits."""
    p = Path(path)
    if not p.exists():
        raise GitError(f"repository path does not exist: {p}")
    if not p.is_dir():
        raise GitError(f"repository path is not a directory: {p}")
    try:
        out = _run_git(["rev-parse", "--is-bare-repository"], p)
    except GitError as exc:
        if exc.returncode is None:
            raise
        reason = _error_text(exc.stderr, exc.stdout)
        detail = "" if "not a git repository" in reason else f" ({reason})"
        raise GitError(f"not a git repository: {p}{detail}") from None
    if out.strip() == "true":
        raise GitError(f"bare git repository, no working tree: {p}")
    if _rev(p, "HEAD") is None:
        raise GitError(f"git repository has no commits yet: {p}")


def top_level(path: Path | str) -> Path:
    """The top folder of the checkout `path` is in (GitError when it is in none)."""
    return Path(_run_git(["rev-parse", "--show-toplevel"], path).strip())


def has_commit(repo: Path | str, rev: str) -> bool:
    """Whether `rev` (a branch, a tag, a sha) names a commit in `repo`."""
    return _rev(repo, rev) is not None


def current_branch(repo: Path | str) -> str | None:
    """Short name of the checked-out branch, None on a detached HEAD."""
    out = _try_git(["symbolic-ref", "-q", "--short", "HEAD"], repo)
    return out.strip() or None if out is not None else None


def dirty_paths(path: Path | str, *, untracked: bool = True) -> list[str]:
    """Paths `git status` lists as changed in the checkout at `path`.

    Staged, unstaged and conflicted tracked files, plus (with `untracked`)
    untracked files that are not ignored, each file counted once.
    """
    args = ["status", "--porcelain=v1", "-z", "--untracked-files=all" if untracked else "--untracked-files=no"]
    return parse_status(_run_git(args, path))


def commit_lines(repo: Path | str, base: str, branch: str) -> list[str]:
    """`<short sha> <subject>` of the commits in ``base..branch``, newest first."""
    return [line for line in _run_git(["log", "--format=%h %s", f"{base}..{branch}"], repo).splitlines() if line.strip()]


def diff_stat(repo: Path | str, branch: str, base: str) -> str:
    """``git diff --stat base...branch``: what the branch changed since it left `base`."""
    return _run_git(["diff", "--stat", "--no-color", f"{base}...{branch}", "--"], repo)


# --------------------------------------------------------------------------- worktrees


def _list_worktrees(repo: Path | str) -> list[dict]:
    return parse_worktree_list(_run_git(["worktree", "list", "--porcelain"], repo))


def ensure_worktree(
    repo: Path | str,
    name: str,
    worktrees_dir: Path | str,
    base_branch: str | None = None,
    start_point: str | None = None,
) -> WorktreeInfo:
    """Give agent `name` its own worktree on branch ``agent/<name>``.

    `start_point` (a branch or commit) makes a *new* branch start there instead of at
    the base branch's tip, and counts the agent's commits from it (a reassigned task
    continues from the previous agent's branch).

    * A live worktree of that branch (wherever it is) is reused as it is.
    * A branch without a (live) worktree gets a new worktree at
      ``worktrees_dir/<name>``; stale worktree records whose directory was
      deleted are pruned first.  ``base_commit`` is then the merge-base of the
      branch and the base branch.
    * Otherwise the branch is created from the base branch's tip (which is
      ``base_commit``) and ``reused`` is False.

    Nothing is clobbered: a non-empty directory at the target path that is
    not that worktree raises GitError.  `base_branch` defaults to the branch
    checked out in `repo`; a relative `worktrees_dir` is relative to `repo`.
    """
    repo = Path(repo)
    check_repo(repo)
    try:
        branch = agent_branch(name)
    except ValueError as exc:
        raise GitError(str(exc)) from None
    if base_branch is None:
        base_branch = current_branch(repo)
        if base_branch is None:
            raise GitError(f"{repo} has a detached HEAD: name the base branch for agent {name}'s worktree")
    base_sha = _rev(repo, base_branch)
    if base_sha is None:
        raise GitError(f"base branch {base_branch!r} not found in {repo}")

    wt_dir = Path(worktrees_dir)
    if not wt_dir.is_absolute():
        wt_dir = repo / wt_dir
    path = wt_dir / name
    ref = f"refs/heads/{branch}"

    entries = _list_worktrees(repo)
    for entry in entries:
        if entry["branch"] == ref and Path(entry["path"]).is_dir():
            return WorktreeInfo(
                path=Path(entry["path"]),
                branch=branch,
                base_branch=base_branch,
                base_commit=_merge_base(repo, branch, base_branch),
                reused=True,
            )
    if any(not Path(e["path"]).exists() and not e["locked"] for e in entries):
        _run_git(["worktree", "prune"], repo)

    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        other = next((e for e in entries if _same_path(e["path"], path)), None)
        what = "not a git worktree"
        if other is not None:
            what = f"a worktree on {other['branch'] or 'a detached HEAD'}"
        raise GitError(f"{path} already exists and is {what}, not {branch}; leaving it alone")
    path.parent.mkdir(parents=True, exist_ok=True)

    if _rev(repo, ref) is not None:
        _run_git(["worktree", "add", str(path), branch], repo)
        return WorktreeInfo(path, branch, base_branch, _merge_base(repo, branch, base_branch), reused=True)
    start_sha = base_sha
    if start_point is not None:
        start_sha = _rev(repo, start_point)
        if start_sha is None:
            raise GitError(f"start point {start_point!r} not found in {repo}")
    _run_git(["worktree", "add", "--no-track", "-b", branch, str(path), start_sha], repo)
    return WorktreeInfo(path, branch, base_branch, start_sha, reused=False)


def _merge_base(repo: Path | str, a: str, b: str) -> str:
    out = _try_git(["merge-base", a, b], repo)
    if not out or not out.strip():
        raise GitError(f"{a} and {b} have no common history in {repo}")
    return out.split()[0]


def _is_worktree_root(path: Path) -> bool:
    if not path.is_dir():
        return False
    out = _try_git(["rev-parse", "--show-toplevel"], path)
    return out is not None and _same_path(out.strip(), path)


def worktree_blockers(repo: Path | str, info: WorktreeInfo) -> list[str]:
    """Reasons the agent's worktree must not be removed ([] means safe).

    Uncommitted work in it (tracked changes and untracked files), commits on
    its branch not merged into the base branch, a worktree HEAD (detached or
    on another branch) holding commits not on the base branch, or a
    directory at its path that is not a git worktree.
    """
    repo = Path(repo)
    blockers: list[str] = []
    base = info.base_branch
    if _rev(repo, base) is None:
        return [f"base branch {base} not found in {repo}: cannot tell what is merged"]

    head_sha: str | None = None
    if info.path.exists():
        if not _is_worktree_root(info.path):
            blockers.append(f"{info.path} exists but is not a git worktree")
        else:
            dirty = dirty_paths(info.path)
            if dirty:
                blockers.append(
                    f"{plural(len(dirty), 'uncommitted file')} in {info.path}: {summarize_files(dirty)}"
                )
            head_sha = _rev(info.path, "HEAD")

    branch_sha = _rev(repo, f"refs/heads/{info.branch}")
    if branch_sha is not None:
        n = _count(repo, [branch_sha, f"^{base}"])
        if n:
            blockers.append(f"{plural(n, 'commit')} on {info.branch} not merged into {base}")
    if head_sha is not None and head_sha != branch_sha:
        n = _count(repo, [head_sha, f"^{base}"])
        if n:
            blockers.append(f"worktree HEAD {head_sha[:10]} has {plural(n, 'commit')} not on {base}")
    return blockers


def remove_worktree(repo: Path | str, info: WorktreeInfo, *, delete_branch: bool = True) -> None:
    """Remove the agent's worktree (and its fully merged branch).

    Refuses with GitError, changing nothing, while `worktree_blockers` has
    anything to say.  A worktree whose directory is already gone is pruned.
    """
    repo = Path(repo)
    check_repo(repo)
    blockers = worktree_blockers(repo, info)
    if blockers:
        raise GitError(f"not removing worktree {info.path}: " + "; ".join(blockers))
    registered = any(_same_path(e["path"], info.path) for e in _list_worktrees(repo))
    if registered and info.path.exists():
        _run_git(["worktree", "remove", str(info.path)], repo)
    else:
        _run_git(["worktree", "prune"], repo)
    if delete_branch and _rev(repo, f"refs/heads/{info.branch}") is not None:
        # Merged (the blockers said so): `branch -D` still refuses a branch
        # that is checked out somewhere.
        _run_git(["branch", "-D", info.branch], repo)


# --------------------------------------------------------------------------- merging


def merge_agent_branch(repo: Path | str, branch: str, base_branch: str) -> MergeResult:
    """Merge `branch` into `base_branch` with ``--no-ff`` in the main checkout `repo`.

    Refuses (ok=False, nothing changed) unless `repo` is the main checkout,
    has `base_branch` checked out, has no merge in progress and no staged or
    unstaged changes to tracked files (untracked files do not block: git
    itself refuses to overwrite one).  A branch already merged gives ok=True
    with the current tip.  On a conflict the merge is aborted: both branches
    keep their SHAs, the tree is clean, and `conflicts` lists the files.
    """
    repo = Path(repo)
    check_repo(repo)

    def refuse(message: str, conflicts: list[str] | None = None) -> MergeResult:
        return MergeResult(ok=False, merged_commit=None, conflicts=conflicts or [], message=message)

    gitdir, common = _git_dirs(repo)
    if gitdir != common:
        return refuse(f"{repo} is a linked worktree: merge {branch} in the main checkout")
    current = current_branch(repo)
    if current != base_branch:
        return refuse(
            f"{repo} has {current or 'a detached HEAD'} checked out, not {base_branch}: "
            f"check out {base_branch} there to merge {branch}"
        )
    branch_sha = _rev(repo, f"refs/heads/{branch}") or _rev(repo, branch)
    if branch_sha is None:
        return refuse(f"branch {branch} not found in {repo}")
    if _rev(repo, "MERGE_HEAD") is not None:
        return refuse(f"{repo} is in the middle of a merge: finish or abort it first")
    dirty = dirty_paths(repo, untracked=False)
    if dirty:
        return refuse(
            f"{repo} has uncommitted changes ({summarize_files(dirty)}): "
            f"commit or stash them before merging {branch}"
        )
    base_sha = _rev(repo, "HEAD")
    assert base_sha is not None  # check_repo saw a commit
    if _count(repo, [branch_sha, f"^{base_sha}"]) == 0:
        return MergeResult(True, base_sha, [], f"{branch} is already merged into {base_branch}")

    try:
        _run_git(["merge", "--no-ff", "--no-edit", "-m", f"Merge branch '{branch}' into {base_branch}", branch_sha], repo)
    except GitError as exc:
        return _undo_failed_merge(repo, branch, base_branch, base_sha, branch_sha, exc)
    merged = _rev(repo, "HEAD")
    return MergeResult(True, merged, [], f"merged {branch} into {base_branch} as {(merged or '')[:10]}")


def _undo_failed_merge(
    repo: Path, branch: str, base_branch: str, base_sha: str, branch_sha: str, exc: GitError
) -> MergeResult:
    conflicts = parse_conflicts(_try_git(["diff", "--name-only", "-z", "--diff-filter=U"], repo) or "")
    if _rev(repo, "MERGE_HEAD") is not None or conflicts:
        try:
            _run_git(["merge", "--abort"], repo)
        except GitError:
            _run_git(["reset", "--merge"], repo)
    problems = []
    if _rev(repo, "HEAD") != base_sha:
        problems.append(f"{base_branch} moved from {base_sha[:10]}")
    if _rev(repo, f"refs/heads/{branch}") not in (branch_sha, None):
        problems.append(f"{branch} moved from {branch_sha[:10]}")
    left = dirty_paths(repo, untracked=False)
    if left:
        problems.append(f"files left changed: {summarize_files(left)}")
    if conflicts:
        message = (
            f"merging {branch} into {base_branch} conflicts in {summarize_files(conflicts)}: "
            "merge aborted, both branches unchanged"
        )
    else:
        message = f"merging {branch} into {base_branch} failed, nothing merged: {exc}"
    if problems:
        message += " (WARNING: " + "; ".join(problems) + ")"
    return MergeResult(ok=False, merged_commit=None, conflicts=conflicts, message=message)


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
        return _run_git(args, self.path)

    def _watched(self) -> tuple[str, list[str]]:
        """HEAD's text and the files whose change means "ask git again" (the list is worked
        out again only when HEAD moves to another branch: a probe runs every second)."""
        if self._dirs is None:
            self.git_calls += 1
            self._dirs = _git_dirs(self.path)
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
