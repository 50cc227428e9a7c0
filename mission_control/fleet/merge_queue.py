"""The merge queue (issue 19 point 6): finished board tasks' branches merged into the base branch
one at a time, oldest approval first, each tried first on a scratch worktree.

A task joins the queue (`merging`) when it is approved, or done without review, by an agent with
a worktree branch while `[mission] merge_queue = true`; it carries the commit to merge
(`merge_sha`: its branch's tip when it was done). Each supervisor tick (`MergeQueue.tick`, from
`TaskBoard.tick`) moves the queue's head one step, never waiting on anything slow:

1. its branch merged onto the base branch's tip in a scratch worktree (`<state_dir>/merges/<id>`,
   detached: no branch moves); a conflict sends the task back to its agent (`changes`) with the
   conflicting files as its next prompt, and the queue goes on with the next;
2. `merge_check` started there as a process group of its own, polled each tick (the tick never
   waits for it); past `merge_check_timeout` the whole group is killed. A non-zero exit (or the
   timeout) sends the task back with the check's last 50 lines;
3. the check passed: if the base branch has not moved since step 1, the branch is merged into it
   by the safe merge (`merging.merge_agent_branch`, in the main checkout) and the task is `merged`.
   If it moved, the task starts again at step 1 (the check ran on a result that is not the one
   that would land).

Nothing is merged twice and nothing is lost across a supervisor killed at any point: the queue is
the store's `merging` tasks; a task whose commit is already in the base branch (a supervisor
killed between the merge and its write) is marked `merged` without merging again; a scratch
worktree and a check left by a killed supervisor are removed and killed when the next one starts
(the check's pid is kept beside its worktree, and killed only while its working folder is there).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mission_control.adapters import git_repo, merging
from mission_control.adapters.git_repo import GitError
from mission_control.adapters.store import Store
from mission_control.core.config import FleetConfig
from mission_control.core.model import AgentSnapshot
from mission_control.core.progress import parse_conflicts, summarize_files
from mission_control.core.records import AgentRecord
from mission_control.core.tasks import Event, Task, TaskError, last_lines, merge_queue, transition
from mission_control.core.terminal_text import plain_line

SCRATCH_IDENTITY = {
    "GIT_AUTHOR_NAME": "mission-control", "GIT_AUTHOR_EMAIL": "mission-control@localhost",
    "GIT_COMMITTER_NAME": "mission-control", "GIT_COMMITTER_EMAIL": "mission-control@localhost",
}
"""Who makes the scratch merge commit (thrown away with its worktree; the real merge is the user's,
or this one's where git knows no identity: a fresh machine's queue would otherwise wait for ever)."""
LAND_RETRY = 5.0
"""Seconds between two tries of a merge the main checkout refused (not on its base branch, or dirty)."""
OUTPUT_TAIL_BYTES = 64 << 10
"""How much of the end of a check's output is read for its last lines (it may print gigabytes)."""


def branch_tip(repo: Path, branch: str) -> str | None:
    """The commit `branch` points at, or None (no such branch, or git cannot say)."""
    try:
        return git_repo.rev_sha(repo, f"refs/heads/{branch}")
    except GitError:
        return None


@dataclass
class MergeJob:
    """The queue head's merge in progress."""

    task: str
    owner: str
    branch: str | None
    """The owner's branch (named in the merge commit when it still points at `sha`)."""
    sha: str
    base: str
    base_sha: str
    """The base branch's tip the scratch merge was made on: the real merge needs it unmoved."""
    scratch: Path
    check: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    """When the check started (monotonic clock)."""
    land_after: float = 0.0
    """Monotonic time before which a refused merge is not tried again."""


class MergeQueue:
    """The supervisor's side of the merge queue: one job at a time, a step per tick."""

    def __init__(self, config: FleetConfig, store: Store, actor: str = "supervisor") -> None:
        self.config = config
        self.store = store
        self.actor = actor
        self.job: MergeJob | None = None
        self.cleaned = False
        """Scratch worktrees (and checks) left by an earlier supervisor were removed (at the first tick)."""
        self.said: dict[str, str] = {}
        """Per task, the last reason its merge waits that was logged (said once, not every tick)."""

    @property
    def folder(self) -> Path:
        return self.config.state_dir / "merges"

    # -- each tick ---------------------------------------------------------------

    def tick(self, tasks: list[Task], recs: dict[str, AgentRecord], snaps: dict[str, AgentSnapshot], now: float) -> bool:
        """One step of the queue's head; True when it may have changed a task (the board is read again)."""
        if self.config.repo is None:
            return False
        if not self.cleaned:
            self.clean_left_behind()
            self.cleaned = True
        if self.job is not None:
            task = next((t for t in tasks if t.id == self.job.task), None)
            if task is None or task.state != "merging":  # cancelled (or sent back by hand) meanwhile
                self._drop_job()
            else:
                self._step(task, snaps, now)
            return True
        queue = merge_queue(tasks)
        if queue:
            self._start(queue[0], recs, snaps, now)
        return bool(queue)

    def stop(self) -> None:
        """The supervisor stops: a running check is killed and its scratch worktree removed (the
        task stays in the queue; the next supervisor starts its merge again)."""
        if self.job is not None:
            self._drop_job()

    # -- the steps -------------------------------------------------------------------

    def _start(self, task: Task, recs: dict[str, AgentRecord], snaps: dict[str, AgentSnapshot], now: float) -> None:
        repo = self.config.repo
        assert repo is not None
        rec = recs.get(task.owner or "")
        branch = rec.branch if rec is not None else None
        sha = task.merge_sha or (branch_tip(repo, branch) if branch else None)
        if not sha or not task.owner:
            self._change(task, Event("fail", now, reason="nothing to merge: its agent has no branch"), "fail")
            return
        base = (rec.base_branch if rec is not None else None) or self.config.base_branch or git_repo.current_branch(repo)
        base_sha = branch_tip(repo, base) if base else None
        if not base or not base_sha:
            self._say(task, f"cannot merge task {task.id}: no base branch {base or '(detached HEAD)'} in {repo}")
            return
        try:
            if git_repo.count_commits(repo, [sha, f"^{base_sha}"]) == 0:  # in the base already: a merge written, its task not
                self._merged(task, f"{sha[:10]} is in {base} already", {"commit": base_sha}, now)
                return
        except GitError as exc:
            self._send_back(task, snaps, f"its commit {sha[:10]} cannot be merged: {exc}", now)
            return
        scratch = self.folder / task.id
        self._remove_scratch(scratch)
        job = MergeJob(task.id, task.owner, branch, sha, base, base_sha, scratch)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            git_repo.run_git(["worktree", "add", "--detach", str(scratch), base_sha], repo)
        except (GitError, OSError) as exc:
            self._remove_scratch(scratch)
            self._say(task, f"cannot make a scratch worktree for task {task.id}: {exc}")
            return
        try:
            git_repo.run_git(["merge", "--no-ff", "--no-edit", "-m", f"scratch merge of task {task.id}", sha], scratch,
                             env=SCRATCH_IDENTITY)
        except GitError as exc:
            conflicts = parse_conflicts(git_repo.try_git(["diff", "--name-only", "-z", "--diff-filter=U"], scratch) or "")
            self._remove_scratch(scratch)
            if conflicts:
                text = (f"Merging your branch {branch or sha[:10]} (task {task.id}) into {base} conflicts in "
                        f"{', '.join(conflicts)}. Merge {base} into your branch, resolve the conflicts and commit; "
                        "the task goes back into the merge queue when you are done.")
                self._send_back(task, snaps, text, now, detail=f"conflicts in {summarize_files(conflicts)}")
            else:
                self._send_back(task, snaps, f"Merging your branch into {base} failed: {exc}", now)
            return
        self.job = job
        self._log(task, "merge-try", f"task {task.id}: {sha[:10]} merged onto {base} {base_sha[:10]} in a scratch worktree")
        if not self.config.merge_check:
            self._step(task, {}, now)
            return
        try:
            self._run_check(job)
        except OSError as exc:  # the shell cannot be started: said, tried again next tick
            self._drop_job()
            self._say(task, f"cannot start the merge check of task {task.id}: {exc}")

    def _run_check(self, job: MergeJob) -> None:
        out = self.folder / f"{job.task}.out"
        with open(out, "wb") as sink:  # the check writes to the file itself: nothing to drain, however much it prints
            job.check = subprocess.Popen(
                ["/bin/sh", "-c", self.config.merge_check or "true"], cwd=job.scratch, stdin=subprocess.DEVNULL,
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "MISSION_CONTROL_MERGE_TASK": job.task, "MISSION_CONTROL_MERGE_SHA": job.sha},
            )
        (self.folder / f"{job.task}.pid").write_text(str(job.check.pid))
        job.started = time.monotonic()

    def _step(self, task: Task, snaps: dict[str, AgentSnapshot], now: float) -> None:
        job = self.job
        assert job is not None
        if job.check is not None:
            code = job.check.poll()
            if code is None:
                waited = time.monotonic() - job.started
                if waited < self.config.merge_check_timeout:
                    return
                kill_group(job.check.pid)
                job.check.wait()
                tail = self._output(job)
                self._drop_job()
                self._send_back(task, snaps, f"The merge check `{self.config.merge_check}` on your branch merged into "
                                f"{job.base} timed out after {self.config.merge_check_timeout:g}s and was killed."
                                + (f" Its last lines:\n{tail}" if tail else ""), now,
                                detail=f"merge_check timed out after {self.config.merge_check_timeout:g}s")
                return
            (self.folder / f"{job.task}.pid").unlink(missing_ok=True)
            if code != 0:
                tail = self._output(job)
                self._drop_job()
                self._send_back(task, snaps, f"The merge check `{self.config.merge_check}` failed (exit {code}) on your "
                                f"branch merged into {job.base}. Fix it and commit; its last lines:\n{tail}", now,
                                detail=f"merge_check failed (exit {code})")
                return
            job.check = None
        self._land(task, now)

    def _land(self, task: Task, now: float) -> None:
        job = self.job
        assert job is not None and self.config.repo is not None
        if time.monotonic() < job.land_after:
            return
        if branch_tip(self.config.repo, job.base) != job.base_sha:  # moved since the scratch merge: try again on its new tip
            self._log(task, "merge-retry", f"task {task.id}: {job.base} moved during its merge check: merged again on its tip")
            self._drop_job()
            return
        same = job.branch is not None and branch_tip(self.config.repo, job.branch) == job.sha
        try:
            result = merging.merge_agent_branch(self.config.repo, job.branch if same else job.sha, job.base,
                                                identity=SCRATCH_IDENTITY)
        except GitError as exc:
            result = None
            refused = str(exc)
        else:
            refused = result.message
        if result is not None and result.ok:
            self._drop_job()
            self._merged(task, result.message, {"commit": result.merged_commit}, now)
            return
        if result is not None and result.conflicts:  # cannot be (same base, same commit): said like any conflict
            self._drop_job()
            self._send_back(task, {}, f"Merging your branch into {job.base} conflicts in {', '.join(result.conflicts)}.", now)
            return
        job.land_after = time.monotonic() + LAND_RETRY  # the main checkout is not ready: the task waits at the head
        self._say(task, f"task {task.id} waits to be merged: {refused}")

    # -- outcomes ----------------------------------------------------------------------

    def _merged(self, task: Task, message: str, data: dict[str, Any], now: float) -> None:
        if self._change(task, Event("merged", now, reason=message), "merged", data={**data, "sha": task.merge_sha}):
            self._log(task, "task-merged", f"task {task.id}: {message}")

    def _send_back(self, task: Task, snaps: dict[str, AgentSnapshot], text: str, now: float, detail: str = "") -> None:
        """Back to its agent (`changes`): `text` typed at its prompt when it is idle, as its next prompt."""
        owner = task.owner or ""
        snap = snaps.get(owner)
        text = "\n".join(plain_line(line) for line in text.splitlines())
        reason = detail or text.splitlines()[0][:200]
        try:
            self.store.change_task(
                task.id, lambda t, b: transition(t, Event("changes", now, agent=owner, reason=reason,
                                                           commits=snap.commits if snap else None)),
                event="changes", agent=owner, detail=reason, at=now, deliver_text=text,
                hold=(owner, reason, snap.cost_usd if snap else None),
                data={"cost_usd": snap.cost_usd, "commits": snap.commits} if snap else {},
            )
        except TaskError:
            return
        self._log(task, "merge-refused", f"task {task.id} back to {owner}: {reason}")

    def _change(self, task: Task, event: Event, kind: str, data: dict[str, Any] | None = None) -> bool:
        try:
            self.store.change_task(task.id, lambda t, b: transition(t, event), event=kind, agent=task.owner,
                                   detail=event.reason, data=data, at=event.at)
        except TaskError:
            return False
        return True

    def _output(self, job: MergeJob) -> str:
        """The check's last lines (its output file's end: it may have printed gigabytes), made plain."""
        path = self.folder / f"{job.task}.out"
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.path.getsize(path) - OUTPUT_TAIL_BYTES))
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return last_lines("\n".join(plain_line(line) for line in text.splitlines()))

    def _say(self, task: Task, line: str) -> None:
        """Why its merge waits: logged once (the queue tries again each tick)."""
        if self.said.get(task.id) != line:
            self.said[task.id] = line
            self._log(task, "merge-wait", line)

    def _log(self, task: Task, action: str, line: str) -> None:
        self.store.log_action(self.actor, action, task.owner, f"task {task.id}", line)

    # -- scratch worktrees -----------------------------------------------------------------

    def _drop_job(self) -> None:
        job, self.job = self.job, None
        if job is None:
            return
        if job.check is not None and job.check.poll() is None:
            kill_group(job.check.pid)
            job.check.wait()
        self._remove_scratch(job.scratch)

    def _remove_scratch(self, scratch: Path) -> None:
        """The scratch worktree gone (its check's process group killed first), and git told so."""
        pid_file = scratch.with_name(scratch.name + ".pid")
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and runs_in(pid, scratch):
            kill_group(pid)
        pid_file.unlink(missing_ok=True)
        scratch.with_name(scratch.name + ".out").unlink(missing_ok=True)
        if self.config.repo is not None and scratch.exists():
            git_repo.try_git(["worktree", "remove", "--force", "--force", str(scratch)], self.config.repo)
        shutil.rmtree(scratch, ignore_errors=True)
        if self.config.repo is not None:
            git_repo.try_git(["worktree", "prune"], self.config.repo)

    def clean_left_behind(self) -> None:
        """Scratch worktrees (and running checks) an earlier supervisor left: removed."""
        if not self.folder.is_dir():
            return
        for entry in sorted(self.folder.iterdir()):
            if entry.is_dir():
                self._remove_scratch(entry)
            elif entry.suffix in (".pid", ".out") and not entry.with_suffix("").exists():
                self._remove_scratch(entry.with_suffix(""))


def runs_in(pid: int, folder: Path) -> bool:
    """Does process `pid` still run with its working folder in `folder` (a check this queue started,
    not another process that got its pid since)?"""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return cwd == folder.resolve() or cwd.is_relative_to(folder.resolve())


def kill_group(pid: int) -> None:
    """SIGKILL to the process group `pid` leads (a check started with a session of its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
