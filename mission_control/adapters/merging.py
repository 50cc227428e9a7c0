"""Merging an agent's branch into its base branch, safely: only in the main checkout with the
base branch checked out and clean; a conflict is aborted with both branches where they were, and
the conflicting files named.
"""

from __future__ import annotations

from pathlib import Path

from mission_control.adapters import git_repo
from mission_control.adapters.git_repo import GitError, check_repo, current_branch, dirty_paths
from mission_control.core.progress import MergeResult, parse_conflicts, summarize_files

def merge_agent_branch(repo: Path | str, branch: str, base_branch: str, *,
                       identity: dict[str, str] | None = None) -> MergeResult:
    """Merge `branch` into `base_branch` with ``--no-ff`` in the main checkout `repo`.

    Refuses (ok=False, nothing changed) unless `repo` is the main checkout,
    has `base_branch` checked out, has no merge in progress and no staged or
    unstaged changes to tracked files (untracked files do not block: git
    itself refuses to overwrite one).  A branch already merged gives ok=True
    with the current tip.  On a conflict the merge is aborted: both branches
    keep their SHAs, the tree is clean, and `conflicts` lists the files.
    `identity` (GIT_AUTHOR_*/GIT_COMMITTER_* variables) makes the merge commit only where git
    knows no identity of its own (a fresh machine): the user's wins wherever it is set.
    """
    repo = Path(repo)
    check_repo(repo)

    def refuse(message: str, conflicts: list[str] | None = None) -> MergeResult:
        return MergeResult(ok=False, merged_commit=None, conflicts=conflicts or [], message=message)

    gitdir, common = git_repo.git_dirs(repo)
    if gitdir != common:
        return refuse(f"{repo} is a linked worktree: merge {branch} in the main checkout")
    current = current_branch(repo)
    if current != base_branch:
        return refuse(
            f"{repo} has {current or 'a detached HEAD'} checked out, not {base_branch}: "
            f"check out {base_branch} there to merge {branch}"
        )
    branch_sha = git_repo.rev_sha(repo, f"refs/heads/{branch}") or git_repo.rev_sha(repo, branch)
    if branch_sha is None:
        return refuse(f"branch {branch} not found in {repo}")
    if git_repo.rev_sha(repo, "MERGE_HEAD") is not None:
        return refuse(f"{repo} is in the middle of a merge: finish or abort it first")
    dirty = dirty_paths(repo, untracked=False)
    if dirty:
        return refuse(
            f"{repo} has uncommitted changes ({summarize_files(dirty)}): "
            f"commit or stash them before merging {branch}"
        )
    base_sha = git_repo.rev_sha(repo, "HEAD")
    assert base_sha is not None  # check_repo saw a commit
    if git_repo.count_commits(repo, [branch_sha, f"^{base_sha}"]) == 0:
        return MergeResult(True, base_sha, [], f"{branch} is already merged into {base_branch}")

    env = identity if identity and git_repo.try_git(["var", "GIT_COMMITTER_IDENT"], repo) is None else None
    try:
        git_repo.run_git(["merge", "--no-ff", "--no-edit", "-m", f"Merge branch '{branch}' into {base_branch}", branch_sha], repo,
                         env=env)
    except GitError as exc:
        return _undo_failed_merge(repo, branch, base_branch, base_sha, branch_sha, exc)
    merged = git_repo.rev_sha(repo, "HEAD")
    return MergeResult(True, merged, [], f"merged {branch} into {base_branch} as {(merged or '')[:10]}")


def _undo_failed_merge(
    repo: Path, branch: str, base_branch: str, base_sha: str, branch_sha: str, exc: GitError
) -> MergeResult:
    conflicts = parse_conflicts(git_repo.try_git(["diff", "--name-only", "-z", "--diff-filter=U"], repo) or "")
    if git_repo.rev_sha(repo, "MERGE_HEAD") is not None or conflicts:
        try:
            git_repo.run_git(["merge", "--abort"], repo)
        except GitError:
            git_repo.run_git(["reset", "--merge"], repo)
    problems = []
    if git_repo.rev_sha(repo, "HEAD") != base_sha:
        problems.append(f"{base_branch} moved from {base_sha[:10]}")
    if git_repo.rev_sha(repo, f"refs/heads/{branch}") not in (branch_sha, None):
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
