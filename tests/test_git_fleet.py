"""Commits per agent through the whole fleet: worktrees, counts in `status --json`,
`merge` (clean and conflicting), `diff`, worktree reuse over down/up, `down --clean`,
and attribution by author when agents share one checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, make_repo, retry_until, rows, run_cli, up

pytestmark = pytest.mark.tmux


# each agent commits N files, and (optionally) its own version of shared.txt, then idles at a prompt
# (retrying: agents sharing one checkout race for git's index lock)
COMMITTER = (
    "for i in $(seq 1 {n}); do echo $i > {name}-$i.txt; "
    "until git add {name}-$i.txt && git commit -qm \"{name} step $i\" -- {name}-$i.txt; do sleep 0.1; done; done; "
    "{shared}echo done; while true; do printf '$ '; read x; done"
)


def agent(name: str, n: int, shared: str = "", worktree: bool = True) -> str:
    shared_cmd = f"echo {shared} > shared.txt; git commit -qam '{name} edits shared'; " if shared else ""
    cmd = COMMITTER.format(n=n, name=name, shared=shared_cmd)
    return f"[[agent]]\nname = \"{name}\"\nkind = \"shell\"\nworktree = {'true' if worktree else 'false'}\ncommand = '''{cmd}'''\n"


def test_worktrees_counts_merge_conflict_reuse_and_clean(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    cfg = up(cli, tmp_path, agent("a", 2, shared="from a") + agent("b", 3, shared="from b") + agent("c", 1), f'repo = "{repo}"\n')
    counts = retry_until(lambda: (r := rows(cli, cfg)) and all(r[n]["commits"] == want for n, want in (("a", 3), ("b", 4), ("c", 1))) and r,
                         message="each agent's commits counted")
    assert counts["a"]["ahead"] == 3 and counts["a"]["behind"] == 0 and counts["a"]["dirty_files"] == 0
    assert counts["a"]["last_commit"]["subject"] == "a edits shared"
    assert git(repo, "branch", "--list", "--format=%(refname:short)", "agent/*").split() == ["agent/a", "agent/b", "agent/c"]

    diff = run_cli(cli, cfg, "diff", "b")
    assert diff.returncode == 0 and "b-3.txt" in diff.stdout and "shared.txt" in diff.stdout

    r = run_cli(cli, cfg, "merge", "a")
    assert r.returncode == 0, r.stderr
    assert "merged agent/a into main" in r.stdout
    assert (repo / "a-1.txt").exists()
    assert git(repo, "log", "-1", "--format=%P", "main").count(" ") == 1  # --no-ff: a merge commit

    main_before = git(repo, "rev-parse", "main").strip()
    b_before = git(repo, "rev-parse", "agent/b").strip()
    r = run_cli(cli, cfg, "merge", "b")
    assert r.returncode == 1
    assert "shared.txt" in r.stderr  # the conflicting file is named
    assert git(repo, "rev-parse", "main").strip() == main_before
    assert git(repo, "rev-parse", "agent/b").strip() == b_before
    assert git(repo, "status", "--porcelain") == ""
    # the behind count follows the base branch
    retry_until(lambda: rows(cli, cfg)["b"]["behind"] == 4, message="b is behind main after a's merge")

    # down keeps the worktrees; up reuses them with their commits
    assert run_cli(cli, cfg, "down").returncode == 0
    assert (tmp_path / ".mission-control" / "worktrees" / "b" / "b-3.txt").exists()
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: (r := rows(cli, cfg)) and (r["b"]["commits"] or 0) >= 4, message="b's branch reused")
    assert run_cli(cli, cfg, "down").returncode == 0

    # down --clean removes merged work only, and says what it kept
    r = run_cli(cli, cfg, "down", "--clean")
    out = r.stdout + r.stderr
    assert "kept worktree of b" in out and "removed worktree of a" in out
    assert not (tmp_path / ".mission-control" / "worktrees" / "a").exists()
    assert (tmp_path / ".mission-control" / "worktrees" / "b").exists()


def test_shared_checkout_counts_commits_by_author(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    cfg = up(cli, tmp_path, agent("x", 2, worktree=False) + agent("y", 3, worktree=False), f'repo = "{repo}"\n')
    retry_until(lambda: (r := rows(cli, cfg)) and r["x"]["commits"] == 2 and r["y"]["commits"] == 3,
                message="commits attributed by the author identity each agent got")
    authors = git(repo, "log", "--format=%an <%ae>").splitlines()
    assert sum("x" in a for a in authors[:5]) == 2
