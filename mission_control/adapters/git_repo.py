"""Git for mission-control: the one way it runs `git`, and the repository questions every other
git module asks (is it a checkout, which branch, which commits, what changed).

Everything runs the ``git`` CLI through one replaceable function, `run_git(args, cwd) -> str`,
with an environment that cannot point it at another repository (`GIT_DIR` and friends
removed), C locale, no prompts, no optional locks; it raises `GitError` (one line) on failure.
GitPython (a declared dependency) is not used for these, for a reason checked by hand: a
`Repo(path)` takes its work tree from an inherited `GIT_WORK_TREE`, and its `git` runs with the
caller's whole environment merged in (it can add variables, never drop one), so with
`GIT_WORK_TREE` and `GIT_INDEX_FILE` of another repository in the environment (as in a git hook,
or an agent's shell), `Repo(a).git.status("--porcelain")` says clean while `a` has an untracked
file; `run_git` drops those variables and answers about `a`. Its object model would also keep
`git cat-file` processes alive for the supervisor's lifetime. See `worktrees`, `merging` and `git_progress` for the rest.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mission_control.core.errors import MissionControlError
from mission_control.core.progress import parse_count, parse_status

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


def error_text(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr or stdout).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("hint:")]
    text = "; ".join(lines) or "no output"
    return text if len(text) <= 400 else text[:397] + "..."


def run_git(args: Sequence[str], cwd: Path | str, *, env: dict[str, str] | None = None) -> str:
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
            f"git {args[0] if args else ''} failed in {cwd}: {error_text(proc.stderr, proc.stdout)}",
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
        )
    return proc.stdout


def try_git(args: Sequence[str], cwd: Path | str) -> str | None:
    """Like `run_git`, but None when git says no (a ref that does not exist)."""
    try:
        return run_git(args, cwd)
    except GitError as exc:
        if exc.returncode is None:  # git itself could not run: that is an error
            raise
        return None


def rev_sha(repo: Path | str, rev: str) -> str | None:
    """Full sha of `rev` (a commit), or None if it does not exist."""
    out = try_git(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], repo)
    return out.strip() or None if out is not None else None


def count_commits(repo: Path | str, rev_range: Sequence[str]) -> int:
    return parse_count(run_git(["rev-list", "--count", *rev_range, "--"], repo))


def same_path(a: Path | str, b: Path | str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def git_dirs(path: Path | str) -> tuple[Path, Path]:
    """(git dir, common dir) of the checkout at `path`, absolute.

    For a linked worktree the git dir is ``<common>/worktrees/<id>``: its own
    HEAD, index and logs/HEAD live there, the refs in the common dir.
    """
    out = run_git(["rev-parse", "--git-dir", "--git-common-dir"], path)
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
        out = run_git(["rev-parse", "--is-bare-repository"], p)
    except GitError as exc:
        if exc.returncode is None:
            raise
        reason = error_text(exc.stderr, exc.stdout)
        detail = "" if "not a git repository" in reason else f" ({reason})"
        raise GitError(f"not a git repository: {p}{detail}") from None
    if out.strip() == "true":
        raise GitError(f"bare git repository, no working tree: {p}")
    if rev_sha(p, "HEAD") is None:
        raise GitError(f"git repository has no commits yet: {p}")


def top_level(path: Path | str) -> Path:
    """The top folder of the checkout `path` is in (GitError when it is in none)."""
    return Path(run_git(["rev-parse", "--show-toplevel"], path).strip())


def has_commit(repo: Path | str, rev: str) -> bool:
    """Whether `rev` (a branch, a tag, a sha) names a commit in `repo`."""
    return rev_sha(repo, rev) is not None


def current_branch(repo: Path | str) -> str | None:
    """Short name of the checked-out branch, None on a detached HEAD."""
    out = try_git(["symbolic-ref", "-q", "--short", "HEAD"], repo)
    return out.strip() or None if out is not None else None


def dirty_paths(path: Path | str, *, untracked: bool = True) -> list[str]:
    """Paths `git status` lists as changed in the checkout at `path`.

    Staged, unstaged and conflicted tracked files, plus (with `untracked`)
    untracked files that are not ignored, each file counted once.
    """
    args = ["status", "--porcelain=v1", "-z", "--untracked-files=all" if untracked else "--untracked-files=no"]
    return parse_status(run_git(args, path))


def commit_lines(repo: Path | str, base: str, branch: str) -> list[str]:
    """`<short sha> <subject>` of the commits in ``base..branch``, newest first."""
    return [line for line in run_git(["log", "--format=%h %s", f"{base}..{branch}"], repo).splitlines() if line.strip()]


def diff_stat(repo: Path | str, branch: str, base: str) -> str:
    """``git diff --stat base...branch``: what the branch changed since it left `base`."""
    return run_git(["diff", "--stat", "--no-color", f"{base}...{branch}", "--"], repo)


def diff_text(repo: Path | str, branch: str, base: str) -> str:
    """``git diff base...branch``, whole: what the branch changed since it left `base`, without
    colour, external diff tools or text conversion (never a program of the repository's config),
    renames found."""
    return run_git(["diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", f"{base}...{branch}", "--"], repo)
