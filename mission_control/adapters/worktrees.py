"""Agents' git worktrees: one per agent on its own branch (`agent/<name>`), reused when it is
there, never clobbering a folder that is not it; removed at `down` only when nothing in it or on
its branch would be lost.
"""

from __future__ import annotations

from pathlib import Path

from mission_control.adapters import git_repo
from mission_control.adapters.git_repo import GitError, check_repo, current_branch, dirty_paths
from mission_control.core.progress import WorktreeInfo, agent_branch, parse_worktree_list, plural, summarize_files

def _list_worktrees(repo: Path | str) -> list[dict]:
    return parse_worktree_list(git_repo.run_git(["worktree", "list", "--porcelain"], repo))


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
    base_sha = git_repo.rev_sha(repo, base_branch)
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
        git_repo.run_git(["worktree", "prune"], repo)

    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        other = next((e for e in entries if git_repo.same_path(e["path"], path)), None)
        what = "not a git worktree"
        if other is not None:
            what = f"a worktree on {other['branch'] or 'a detached HEAD'}"
        raise GitError(f"{path} already exists and is {what}, not {branch}; leaving it alone")
    path.parent.mkdir(parents=True, exist_ok=True)

    if git_repo.rev_sha(repo, ref) is not None:
        git_repo.run_git(["worktree", "add", str(path), branch], repo)
        return WorktreeInfo(path, branch, base_branch, _merge_base(repo, branch, base_branch), reused=True)
    start_sha = base_sha
    if start_point is not None:
        start_sha = git_repo.rev_sha(repo, start_point)
        if start_sha is None:
            raise GitError(f"start point {start_point!r} not found in {repo}")
    git_repo.run_git(["worktree", "add", "--no-track", "-b", branch, str(path), start_sha], repo)
    return WorktreeInfo(path, branch, base_branch, start_sha, reused=False)


def _merge_base(repo: Path | str, a: str, b: str) -> str:
    out = git_repo.try_git(["merge-base", a, b], repo)
    if not out or not out.strip():
        raise GitError(f"{a} and {b} have no common history in {repo}")
    return out.split()[0]


def _is_worktree_root(path: Path) -> bool:
    if not path.is_dir():
        return False
    out = git_repo.try_git(["rev-parse", "--show-toplevel"], path)
    return out is not None and git_repo.same_path(out.strip(), path)


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
    if git_repo.rev_sha(repo, base) is None:
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
            head_sha = git_repo.rev_sha(info.path, "HEAD")

    branch_sha = git_repo.rev_sha(repo, f"refs/heads/{info.branch}")
    if branch_sha is not None:
        n = git_repo.count_commits(repo, [branch_sha, f"^{base}"])
        if n:
            blockers.append(f"{plural(n, 'commit')} on {info.branch} not merged into {base}")
    if head_sha is not None and head_sha != branch_sha:
        n = git_repo.count_commits(repo, [head_sha, f"^{base}"])
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
    registered = any(git_repo.same_path(e["path"], info.path) for e in _list_worktrees(repo))
    if registered and info.path.exists():
        git_repo.run_git(["worktree", "remove", str(info.path)], repo)
    else:
        git_repo.run_git(["worktree", "prune"], repo)
    if delete_branch and git_repo.rev_sha(repo, f"refs/heads/{info.branch}") is not None:
        # Merged (the blockers said so): `branch -D` still refuses a branch
        # that is checked out somewhere.
        git_repo.run_git(["branch", "-D", info.branch], repo)
