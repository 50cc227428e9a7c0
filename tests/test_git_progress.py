"""Git progress per agent: worktrees, counts, the cheap probe, safe merging.

Every test builds its own throwaway repositories under tmp_path with a fixed
identity and no user/system git config, so it runs the same on any machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import FakeClock, commit, git, make_repo, sha
from mission_control.adapters import git_repo as gp
from mission_control.adapters.git_progress import GitProbe
from mission_control.adapters.git_repo import GitError, check_repo, diff_stat
from mission_control.adapters.merging import merge_agent_branch
from mission_control.adapters.worktrees import ensure_worktree, remove_worktree, worktree_blockers
from mission_control.core.progress import WorktreeInfo
from mission_control.core.progress import (
    GitProgress,
    agent_branch,
    author_env,
    author_identity,
    parse_left_right,
    parse_log,
    parse_numstat,
    parse_status,
    parse_worktree_list,
    status_due,
)

LAUNCH = 1_700_000_000


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def git_env(monkeypatch, tmp_path):
    """A fixed identity, no global/system config, no repository above tmp_path."""
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Human")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "human@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Human")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "human@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def agent_env(name: str) -> dict[str, str]:
    return author_env(name)


BASE = {"README.md": "hello\n", "f.txt": "base\n"}
"""The files of every test repository's first commit, "initial"."""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", BASE, "initial")


@pytest.fixture
def wt_dir(tmp_path: Path) -> Path:
    return tmp_path / "worktrees"


def status_clean(cwd: Path) -> bool:
    return git(cwd, "status", "--porcelain", "--untracked-files=all") == ""


# --------------------------------------------------------------------------- pure helpers


def test_author_identity_and_branch_names():
    assert author_identity("alpha") == ("mc-agent-alpha", "alpha@mission-control.local")
    assert author_env("alpha") == {
        "GIT_AUTHOR_NAME": "mc-agent-alpha",
        "GIT_AUTHOR_EMAIL": "alpha@mission-control.local",
    }
    assert author_identity("a b/c")[1] == "a-b-c@mission-control.local"
    assert agent_branch("alpha") == "agent/alpha"
    for bad in ("", "../x", "a/b", "x.lock", "-x", "a b"):
        with pytest.raises(ValueError):
            agent_branch(bad)


def test_parsers():
    assert parse_left_right("3\t5\n") == (3, 5)
    assert parse_numstat("3\t1\ta.py\n-\t-\timg.png\n10\t0\tb => c\n") == (13, 1)
    assert parse_status(" M a.py\0R  new.py\0old.py\0?? x y.txt\0UU c.py\0") == ["a.py", "new.py", "x y.txt", "c.py"]
    log = "\x1eabc\x1fab\x1f100\x1fA\x1fa@x\x1fsubj\x1fwith sep\n\n1\t2\tf\n3\t4\tg\n\x1edef\x1fde\x1f90\x1fB\x1fb@x\x1fold\n"
    commits = parse_log(log)
    assert [(c.short, c.subject, c.time, c.added, c.removed) for c in commits] == [
        ("ab", "subj\x1fwith sep", 100, 4, 6),
        ("de", "old", 90, 0, 0),
    ]
    wts = parse_worktree_list(
        "worktree /r\nHEAD abc\nbranch refs/heads/main\n\nworktree /w/a\nHEAD def\ndetached\nprunable gone\n"
    )
    assert wts[0]["branch"] == "refs/heads/main" and wts[1]["detached"] and wts[1]["prunable"]
    assert status_due(None, 0, 10) and not status_due(5, 14, 10) and status_due(5, 15, 10)
    assert not status_due(5, 1e9, None)


def test_git_progress_json():
    p = GitProgress(commits=1, last_commit={"sha": "ab"}, recent=({"sha": "ab"},))
    assert p.to_json()["recent"] == [{"sha": "ab"}]


# --------------------------------------------------------------------------- check_repo


def test_check_repo_errors(tmp_path: Path, repo: Path):
    check_repo(repo)  # fine

    plain = tmp_path / "plain"
    plain.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "-c", "init.defaultBranch=main", "init", "-q")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = {
        tmp_path / "missing": "does not exist",
        a_file: "not a directory",
        plain: "not a git repository",
        empty: "no commits",
    }
    for path, words in cases.items():
        with pytest.raises(GitError) as err:
            check_repo(path)
        text = str(err.value)
        assert words in text and str(path) in text and "\n" not in text, text


def test_run_git_error_is_one_line_and_replaceable(repo: Path, monkeypatch):
    with pytest.raises(GitError) as err:
        gp.run_git(["rev-parse", "--verify", "no-such-ref"], repo)
    assert "\n" not in str(err.value) and err.value.returncode == 128

    seen: list[list[str]] = []
    real = gp.run_git

    def fake(args, cwd, **kw):
        seen.append(list(args))
        return real(args, cwd, **kw)

    monkeypatch.setattr(gp, "run_git", fake)
    check_repo(repo)
    assert seen and all(a[0] == "rev-parse" for a in seen)


def test_another_repositorys_git_variables_are_ignored(repo: Path, tmp_path: Path, monkeypatch):
    """As in a git hook or an agent's shell: GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE of another
    repository in the environment. Every question is still about `repo` (GitPython's `Repo(repo)`
    would take the other work tree: see git_repo's docstring)."""
    other = make_repo(tmp_path / "other", BASE, "initial")
    commit(other, "only in other", {"o.txt": "o\n"})
    mine, theirs = sha(repo), sha(other)
    (repo / "new.txt").write_text("x\n")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert gp.dirty_paths(repo) == ["new.txt"]
    assert gp.top_level(repo) == repo.resolve()
    assert gp.has_commit(repo, mine) and not gp.has_commit(repo, theirs)


def test_missing_git_binary_is_a_git_error(repo: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(repo))  # no git there
    with pytest.raises(GitError, match="git executable not found"):
        check_repo(repo)


# --------------------------------------------------------------------------- worktrees


def test_ensure_worktree_creates_then_reuses(repo: Path, wt_dir: Path):
    base = sha(repo)
    info = ensure_worktree(repo, "alpha", wt_dir)
    assert info == WorktreeInfo(wt_dir / "alpha", "agent/alpha", "main", base, reused=False)
    assert sha(info.path) == base
    assert git(info.path, "branch", "--show-current").strip() == "agent/alpha"

    again = ensure_worktree(repo, "alpha", wt_dir)
    assert again.reused and again.path == info.path and again.base_commit == base
    assert again.branch == "agent/alpha" and again.base_branch == "main"


def test_worktree_reused_after_its_directory_was_deleted(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    tip = commit(info.path, "agent work", {"a.txt": "a\n"})
    shutil.rmtree(info.path)

    again = ensure_worktree(repo, "alpha", wt_dir)
    assert again.reused and again.path == info.path and again.path.is_dir()
    assert sha(again.path) == tip  # the branch and its commit survived
    assert again.base_commit == info.base_commit  # merge-base of branch and main
    assert (again.path / "a.txt").read_text() == "a\n"


def test_existing_branch_without_worktree_is_reused(repo: Path, wt_dir: Path):
    first = sha(repo)
    git(repo, "branch", "agent/beta")
    git(repo, "checkout", "-q", "agent/beta")
    tip = commit(repo, "beta before worktree", {"b.txt": "b\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main moves", {"m.txt": "m\n"})

    info = ensure_worktree(repo, "beta", wt_dir, base_branch="main")
    assert info.reused and sha(info.path) == tip and info.base_commit == first


def test_ensure_worktree_does_not_clobber_a_foreign_directory(repo: Path, wt_dir: Path):
    target = wt_dir / "gamma"
    target.mkdir(parents=True)
    (target / "precious.txt").write_text("keep me")
    with pytest.raises(GitError, match="leaving it alone"):
        ensure_worktree(repo, "gamma", wt_dir)
    assert (target / "precious.txt").read_text() == "keep me"
    assert git(repo, "branch", "--list", "agent/gamma") == ""


def test_relative_worktrees_dir_lives_under_the_repo(repo: Path):
    commit(repo, "ignore worktrees", {".gitignore": ".mission-control/\n"})
    info = ensure_worktree(repo, "alpha", Path(".mission-control/worktrees"))
    assert info.path == repo / ".mission-control" / "worktrees" / "alpha" and info.path.is_dir()
    assert status_clean(repo)
    commit(info.path, "work", {"a.txt": "a\n"})
    assert merge_agent_branch(repo, info.branch, "main").ok


def test_ensure_worktree_errors(tmp_path: Path, repo: Path, wt_dir: Path):
    with pytest.raises(GitError, match="base branch 'nope' not found"):
        ensure_worktree(repo, "a", wt_dir, base_branch="nope")
    with pytest.raises(GitError, match="cannot name a git branch"):
        ensure_worktree(repo, "../evil", wt_dir)
    with pytest.raises(GitError, match="does not exist"):
        ensure_worktree(tmp_path / "nowhere", "a", wt_dir)


def test_worktree_blockers_and_removal(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    assert worktree_blockers(repo, info) == []

    (info.path / "f.txt").write_text("edited\n")
    (info.path / "new.txt").write_text("untracked\n")
    blockers = worktree_blockers(repo, info)
    assert len(blockers) == 1 and "2 uncommitted files" in blockers[0]
    assert "f.txt" in blockers[0] and "new.txt" in blockers[0]

    git(info.path, "add", "-A")
    git(info.path, "commit", "-q", "-m", "agent work")
    blockers = worktree_blockers(repo, info)
    assert blockers == ["1 commit on agent/alpha not merged into main"]
    with pytest.raises(GitError, match="not merged"):
        remove_worktree(repo, info)
    assert info.path.is_dir()

    # A detached HEAD with commits of its own blocks too.
    git(info.path, "checkout", "-q", "--detach")
    commit(info.path, "detached work", {"d.txt": "d\n"})
    assert any("worktree HEAD" in b for b in worktree_blockers(repo, info))
    git(info.path, "checkout", "-q", "agent/alpha")

    assert merge_agent_branch(repo, "agent/alpha", "main").ok
    assert worktree_blockers(repo, info) == []
    remove_worktree(repo, info)
    assert not info.path.exists()
    assert git(repo, "branch", "--list", "agent/alpha") == ""
    assert "alpha" not in git(repo, "worktree", "list")


def test_remove_worktree_whose_directory_is_gone(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    shutil.rmtree(info.path)
    assert worktree_blockers(repo, info) == []
    remove_worktree(repo, info)
    assert str(info.path) not in git(repo, "worktree", "list")


# --------------------------------------------------------------------------- counts in a worktree


def test_counts_through_commit_amend_reset_rebase_merge(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    probe = GitProbe.for_worktree(info)
    env = agent_env("alpha")

    p = probe.poll()
    assert (p.commits, p.ahead, p.behind, p.dirty_files, p.lines_added, p.lines_removed) == (0, 0, 0, 0, 0, 0)
    assert p.last_commit is None and p.recent == ()

    commit(info.path, "add a", {"a.txt": "1\n2\n3\n"}, env=env)
    commit(info.path, "edit f", {"f.txt": "agent\n"}, env=env)
    p = probe.poll()
    assert (p.commits, p.ahead, p.behind) == (2, 2, 0)
    assert (p.lines_added, p.lines_removed) == (4, 1)
    assert p.last_commit["subject"] == "edit f" and p.last_commit["author"] == "mc-agent-alpha"
    assert p.last_commit["sha"] == sha(info.path)[: len(p.last_commit["sha"])]
    assert isinstance(p.last_commit["time"], int)
    assert [c["subject"] for c in p.recent] == ["edit f", "add a"]

    # uncommitted: one tracked edit, one untracked file
    (info.path / "a.txt").write_text("changed\n")
    (info.path / "scratch.txt").write_text("x\n")
    p = probe.poll(force=True)
    assert p.dirty_files == 2
    git(info.path, "checkout", "--", "a.txt")
    (info.path / "scratch.txt").unlink()

    # amend: same count, new subject
    git(info.path, "commit", "-q", "--amend", "-m", "edit f (amended)", env=env)
    p = probe.poll()
    assert (p.commits, p.ahead, p.dirty_files) == (2, 2, 0)
    assert p.last_commit["subject"] == "edit f (amended)"

    # main moves on: the agent is behind
    commit(repo, "main work", {"m.txt": "m\n"})
    p = probe.poll()
    assert (p.commits, p.ahead, p.behind) == (2, 2, 1)

    # reset --hard drops a commit
    git(info.path, "reset", "-q", "--hard", "HEAD~1")
    p = probe.poll()
    assert (p.commits, p.ahead, p.behind) == (1, 1, 1)
    assert (p.lines_added, p.lines_removed) == (3, 0)
    assert p.last_commit["subject"] == "add a"

    # rebase onto main: base..branch now holds main's commit too (git's literal
    # answer); ahead/behind and an author filter tell the agent's own part.
    git(info.path, "rebase", "-q", "main", env=env)
    p = probe.poll()
    assert (p.commits, p.ahead, p.behind) == (2, 1, 0)
    own = GitProbe.for_worktree(info, author=author_identity("alpha")).poll()
    assert (own.commits, own.ahead, own.behind) == (1, 1, 0)
    assert own.last_commit["subject"] == "add a"

    # merged into main: nothing ahead, main is one merge commit ahead
    result = merge_agent_branch(repo, info.branch, "main")
    assert result.ok and result.merged_commit == sha(repo)
    assert len(git(repo, "rev-list", "--parents", "-n1", "HEAD").split()) == 3  # --no-ff
    p = probe.poll()
    assert (p.commits, p.ahead, p.behind) == (2, 0, 1)

    assert "a.txt" in diff_stat(info.path, info.branch, info.base_commit)
    assert "a.txt" in probe.diff_stat()


def test_diff_stat(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    commit(info.path, "work", {"a.txt": "1\n2\n"})
    commit(repo, "main only", {"m.txt": "m\n"})
    out = diff_stat(repo, info.branch, "main")
    assert "a.txt" in out and "m.txt" not in out and "1 file changed, 2 insertions(+)" in out


# --------------------------------------------------------------------------- the probe is cheap


def test_probe_asks_git_only_when_something_changed(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    clock = FakeClock()
    probe = GitProbe.for_worktree(info, clock=clock, max_age=10)

    first = probe.poll()
    calls = probe.git_calls
    assert calls > 0 and probe.refreshes == 1
    for _ in range(5):
        assert probe.poll() is first
    assert probe.git_calls == calls and probe.refreshes == 1

    commit(info.path, "work", {"a.txt": "a\n"})
    p = probe.poll()
    assert p.commits == 1 and probe.git_calls > calls and probe.refreshes == 2
    calls = probe.git_calls
    assert probe.poll() is p and probe.git_calls == calls

    # the base branch moving (in the main checkout) is seen too
    commit(repo, "main work", {"m.txt": "m\n"})
    assert probe.poll().behind == 1 and probe.refreshes == 3

    # staging changes the index alone: the working-tree status is read again, nothing else
    (info.path / "b.txt").write_text("b\n")
    git(info.path, "add", "b.txt")
    calls = probe.git_calls
    assert probe.poll().dirty_files == 1 and probe.refreshes == 3 and probe.git_calls == calls + 1


def test_probe_rechecks_unstaged_edits_after_max_age(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    clock = FakeClock()
    probe = GitProbe.for_worktree(info, clock=clock, max_age=10)
    assert probe.poll().dirty_files == 0
    calls = probe.git_calls

    (info.path / "f.txt").write_text("edited, not staged\n")  # the index does not change
    clock.now += 9.9
    assert probe.poll().dirty_files == 0 and probe.git_calls == calls

    clock.now += 0.1
    p = probe.poll()
    assert p.dirty_files == 1
    assert probe.git_calls == calls + 1 and probe.status_checks == 1 and probe.refreshes == 1
    assert probe.poll() is p and probe.git_calls == calls + 1

    never = GitProbe.for_worktree(info, clock=clock, max_age=None)
    never.poll()
    clock.now += 1e6
    n = never.git_calls
    never.poll()
    assert never.git_calls == n


def test_probe_error_is_raised_and_retried(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    probe = GitProbe(info.path, branch="agent/alpha", base="no-such-base")
    with pytest.raises(GitError):
        probe.poll()
    probe.base = info.base_commit
    assert probe.poll().commits == 0


# --------------------------------------------------------------------------- shared checkout


def test_shared_checkout_attribution_by_author(repo: Path):
    a, b = agent_env("alpha"), agent_env("beta")
    commit(repo, "alpha, previous session", {"old.txt": "x\n"}, env=a, at=LAUNCH - 50)
    commit(repo, "human before launch", {"h.txt": "h\n"}, at=LAUNCH - 10)
    commit(repo, "alpha one", {"a1.txt": "1\n2\n"}, env=a, at=LAUNCH + 10)
    commit(repo, "beta one", {"b1.txt": "1\n"}, env=b, at=LAUNCH + 20)
    commit(repo, "alpha two", {"a1.txt": "1\n"}, env=a, at=LAUNCH + 30)
    commit(repo, "human during", {"h.txt": "hh\n"}, at=LAUNCH + 40)

    clock = FakeClock()
    alpha = GitProbe.for_shared_checkout(repo, "alpha", LAUNCH, clock=clock)
    beta = GitProbe.for_shared_checkout(repo, "beta", LAUNCH, clock=clock)

    pa, pb = alpha.poll(), beta.poll()
    assert pa.commits == 2 and [c["subject"] for c in pa.recent] == ["alpha two", "alpha one"]
    assert (pa.lines_added, pa.lines_removed) == (2, 1)
    assert pa.last_commit == {
        "sha": pa.last_commit["sha"],
        "subject": "alpha two",
        "time": LAUNCH + 30,
        "author": "mc-agent-alpha",
    }
    assert pb.commits == 1 and pb.last_commit["subject"] == "beta one"
    assert (pb.lines_added, pb.lines_removed) == (1, 0)

    calls = alpha.git_calls
    assert alpha.poll() is pa and alpha.git_calls == calls

    commit(repo, "beta two", {"b2.txt": "1\n"}, env=b, at=LAUNCH + 50)
    assert beta.poll().commits == 2
    assert alpha.poll().commits == 2 and alpha.git_calls > calls  # HEAD moved: asked, same answer

    # an amend re-dates the commit: still counted once
    git(repo, "commit", "-q", "--amend", "-m", "beta two (amended)", env={**b, "GIT_COMMITTER_DATE": f"@{LAUNCH + 60} +0000"})
    pb = beta.poll()
    assert pb.commits == 2 and pb.last_commit["subject"] == "beta two (amended)"

    # with a base branch, ahead/behind of the shared HEAD against it
    git(repo, "branch", "-f", "release", "HEAD~2")
    with_base = GitProbe.for_shared_checkout(repo, "alpha", LAUNCH, base_branch="release")
    p = with_base.poll()
    assert (p.commits, p.ahead, p.behind) == (2, 2, 0)


# --------------------------------------------------------------------------- merging


def _conflicting_branches(repo: Path, wt_dir: Path) -> WorktreeInfo:
    info = ensure_worktree(repo, "alpha", wt_dir)
    commit(info.path, "agent edits f", {"f.txt": "agent\n", "a.txt": "a\n"})
    commit(repo, "main edits f", {"f.txt": "main\n"})
    return info


def test_conflicting_merge_leaves_everything_as_it_was(repo: Path, wt_dir: Path):
    info = _conflicting_branches(repo, wt_dir)
    main_before, branch_before = sha(repo, "main"), sha(repo, info.branch)

    result = merge_agent_branch(repo, info.branch, "main")
    assert not result.ok and result.merged_commit is None
    assert result.conflicts == ["f.txt"]
    assert "f.txt" in result.message and "aborted" in result.message and "\n" not in result.message
    assert sha(repo, "main") == main_before and sha(repo, info.branch) == branch_before
    assert sha(repo) == main_before
    assert status_clean(repo) and status_clean(info.path)
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert (repo / "f.txt").read_text() == "main\n"


def test_merge_refuses_a_dirty_base_checkout(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    commit(info.path, "agent work", {"a.txt": "a\n"})
    before = sha(repo)
    (repo / "f.txt").write_text("human is editing\n")

    result = merge_agent_branch(repo, info.branch, "main")
    assert not result.ok and "f.txt" in result.message and "uncommitted" in result.message
    assert sha(repo) == before and (repo / "f.txt").read_text() == "human is editing\n"

    # an untracked file alone does not block
    git(repo, "checkout", "--", "f.txt")
    (repo / "notes.txt").write_text("mine\n")
    result = merge_agent_branch(repo, info.branch, "main")
    assert result.ok and (repo / "a.txt").exists() and (repo / "notes.txt").exists()


def test_merge_refuses_when_base_branch_not_checked_out(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    commit(info.path, "agent work", {"a.txt": "a\n"})
    git(repo, "checkout", "-q", "-b", "other")
    before = sha(repo, "main")

    result = merge_agent_branch(repo, info.branch, "main")
    assert not result.ok and "other" in result.message and "check out main" in result.message
    assert sha(repo, "main") == before

    result = merge_agent_branch(info.path, info.branch, "main")
    assert not result.ok and "main checkout" in result.message


def test_merge_of_missing_or_already_merged_branch(repo: Path, wt_dir: Path):
    result = merge_agent_branch(repo, "agent/ghost", "main")
    assert not result.ok and "not found" in result.message

    info = ensure_worktree(repo, "alpha", wt_dir)
    result = merge_agent_branch(repo, info.branch, "main")
    assert result.ok and result.merged_commit == sha(repo) and "already merged" in result.message


def test_merge_failure_without_conflict_changes_nothing(repo: Path, wt_dir: Path):
    info = ensure_worktree(repo, "alpha", wt_dir)
    commit(info.path, "agent adds a.txt", {"a.txt": "agent\n"})
    (repo / "a.txt").write_text("untracked in main\n")  # the merge would overwrite it
    before = sha(repo)

    result = merge_agent_branch(repo, info.branch, "main")
    assert not result.ok and result.conflicts == [] and "a.txt" in result.message
    assert sha(repo) == before and (repo / "a.txt").read_text() == "untracked in main\n"


def test_probe_counts_past_its_recent_list(repo: Path, wt_dir: Path):
    """The count comes from the log when it holds fewer commits than asked for, else from git."""
    info = ensure_worktree(repo, "alpha", wt_dir)
    probe = GitProbe.for_worktree(info, recent=2)
    commit(info.path, "one", {"1.txt": "1\n"})
    p = probe.poll()
    assert p.commits == 1 and len(p.recent) == 1
    calls = probe.git_calls
    commit(info.path, "two", {"2.txt": "2\n"})
    commit(info.path, "three", {"3.txt": "3\n"})
    p = probe.poll()
    assert p.commits == 3 and [c["subject"] for c in p.recent] == ["three", "two"]
    assert probe.git_calls - calls == 5  # log, rev-list --count, diff, left-right, status
