"""The git watcher: commits seen at the next pass, working-tree status asked at a bounded
rate (active agents first and more often), and its thread keeping figures fresh."""

from __future__ import annotations

from pathlib import Path

from helpers import FakeClock, commit, retry_until
from mission_control.adapters.git_progress import GitProbe
from mission_control.adapters.worktrees import ensure_worktree
from mission_control.adapters.git_watcher import GitWatcher
from test_git_progress import git_env, repo, wt_dir  # noqa: F401  (fixtures)


def watched(repo: Path, wt_dir: Path, clock: FakeClock, names: list[str], **kw) -> tuple[GitWatcher, dict[str, Path]]:
    watcher = GitWatcher(clock=clock, **kw)
    paths = {}
    for name in names:
        info = ensure_worktree(repo, name, wt_dir)
        watcher.watch(name, GitProbe.for_worktree(info, clock=clock))
        paths[name] = info.path
    return watcher, paths


def test_first_pass_reads_everything_and_commits_show_at_the_next(repo: Path, wt_dir: Path) -> None:
    clock = FakeClock()
    watcher, paths = watched(repo, wt_dir, clock, ["a", "b"], status_per_second=0.0)
    assert watcher.progress("a") is None
    watcher.run_once()
    assert watcher.progress("a").commits == 0 and watcher.progress("b").commits == 0
    commit(paths["b"], "b's work", {"b.txt": "b\n"})
    watcher.run_once()  # a ref changed: read at once, whatever the status rate
    assert watcher.progress("b").commits == 1 and watcher.progress("a").commits == 0


def test_status_is_rationed_and_active_agents_come_first(repo: Path, wt_dir: Path) -> None:
    clock = FakeClock()
    names = ["a", "b", "c"]
    watcher, paths = watched(repo, wt_dir, clock, names, pass_every=1.0, status_every=10, quiet_status_every=300,
                             status_per_second=1.0)
    watcher.run_once()
    probes = {n: watcher._agents[n].probe for n in names}
    for n in names:
        (paths[n] / f"{n}-edit.txt").write_text("not staged\n")  # the index does not change

    clock.now += 10
    watcher.run_once()  # nobody showed activity: quiet agents wait for 300 s
    assert all(watcher.progress(n).dirty_files == 0 for n in names)

    for n in names:
        watcher.saw_activity(n)
    for expected in (1, 2, 3):
        clock.now += 1
        watcher.run_once()  # one status a second for the whole fleet
        assert sum(p.status_checks for p in probes.values()) == expected
    assert all(watcher.progress(n).dirty_files == 1 for n in names)

    clock.now += 300
    watcher.run_once()  # quiet for 300 s: read again, still one at a time
    assert sum(p.status_checks for p in probes.values()) == 4


def test_status_rate_holds_with_longer_passes(repo: Path, wt_dir: Path) -> None:
    """Two statuses a second with a pass every 2 s: four a pass, never a burst beyond that."""
    clock = FakeClock()
    names = [f"a{i}" for i in range(6)]
    watcher, _ = watched(repo, wt_dir, clock, names, pass_every=2.0, status_every=10, status_per_second=2.0)
    watcher.run_once()
    probes = [watcher._agents[n].probe for n in names]
    clock.now += 60  # a long quiet spell: the bucket does not fill beyond one pass
    for n in names:
        watcher.saw_activity(n)
    clock.now += 2
    watcher.run_once()
    assert sum(p.status_checks for p in probes) == 4
    clock.now += 2
    watcher.run_once()
    assert sum(p.status_checks for p in probes) == 6


def test_forget_and_keep_only(repo: Path, wt_dir: Path) -> None:
    clock = FakeClock()
    watcher, _ = watched(repo, wt_dir, clock, ["a", "b", "c"])
    watcher.forget("a")
    watcher.keep_only({"b"})
    watcher.run_once()
    assert watcher.progress("a") is None and watcher.progress("c") is None and watcher.progress("b") is not None


def test_the_thread_keeps_figures_fresh(repo: Path, wt_dir: Path) -> None:
    watcher = GitWatcher(pass_every=0.05)
    info = ensure_worktree(repo, "a", wt_dir)
    watcher.watch("a", GitProbe.for_worktree(info))
    watcher.start()
    try:
        retry_until(lambda: watcher.progress("a") is not None, message="first pass")
        commit(info.path, "work", {"w.txt": "w\n"})
        retry_until(lambda: watcher.progress("a").commits == 1, message="the commit seen by the thread")
    finally:
        watcher.stop()
    assert not watcher.running


def test_caught_up_once_every_agent_was_read(repo: Path, wt_dir: Path) -> None:
    clock = FakeClock()
    watcher, _ = watched(repo, wt_dir, clock, ["a", "b"])
    assert not watcher.caught_up()
    watcher.run_once()
    assert watcher.caught_up()
    info = ensure_worktree(repo, "c", wt_dir)
    watcher.watch("c", GitProbe.for_worktree(info, clock=clock))
    assert not watcher.caught_up()
