"""The headless supervisor: the one process per fleet that polls and decides.

Each tick: one `tmux list-panes -a`, one pass over the process table, a capture of
each agent pane, the agents' status files and hook events -> the core classifier ->
a `FleetSnapshot` in the state store. The next tick is scheduled only when the last
one has finished, so ticks never overlap; a slow tick pushes the next one back.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mission_control.adapters.git_progress import GitError, GitProbe
from mission_control.adapters.processes import ProcessTable
from mission_control.adapters.supervisor_lock import SupervisorRunning, acquire_lock, status_file
from mission_control.adapters.run import spawn
from mission_control.adapters.store import Store
from mission_control.adapters.tmux import PaneInfo, Tmux, TmuxError
from mission_control.core.config import FleetConfig
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.progress import GitProgress, WorktreeInfo
from mission_control.core.rules import rules_for
from mission_control.core.status import Memory, Observation, Settings, classify, tail_lines

HISTORY_LINES = 10
"""Lines of scrollback captured above the visible region."""
@dataclass
class _AgentState:
    """What the supervisor keeps for one agent between ticks."""

    memory: Memory = field(default_factory=Memory)
    status_mtime: float | None = None
    own_word: str | None = None
    own_word_at: float | None = None
    last_hook: dict[str, Any] | None = None
    cpu_prev: float | None = None
    cpu_prev_at: float | None = None
    cpu_percent: float | None = None
    tail_hash: str = ""
    launched_at: float = 0.0
    git: GitProbe | None = None
    git_checked: bool = False


def last_output_line(lines: list[str]) -> str:
    for line in reversed(lines):
        text = line.strip()
        if text and not set(text) <= set("─━═-_│|╭╮╰╯┌┐└┘ >❯$"):
            return text[:200]
    return ""


class Supervisor:
    def __init__(self, config: FleetConfig, store: Store, tmux: Tmux, clock=time.time) -> None:
        self.config = config
        self.store = store
        self.tmux = tmux
        self.clock = clock
        self.procs = ProcessTable()
        self.states: dict[str, _AgentState] = {}
        self.hook_cursor = 0
        self.settings = Settings(stuck_after=config.stuck_after, start_timeout=config.start_timeout)
        self.tick_ms: list[float] = []
        self.stop = threading.Event()
        self.record_changes = True

    # -- one tick -------------------------------------------------------------

    def tick(self, write: bool = True) -> FleetSnapshot:
        started = time.perf_counter()
        now = self.clock()
        agents = self.store.agents()
        panes = {p.pane_id: p for p in self.tmux.list_panes() if p.session == self.config.session}
        self.procs.refresh()
        self._read_hooks()
        snaps: list[AgentSnapshot] = []
        tails: dict[str, str] = {}
        for rec in agents:
            snap, tail = self._observe(rec, panes.get(rec["pane_id"] or ""), now)
            snaps.append(snap)
            if tail is not None:
                tails[rec["name"]] = tail
        elapsed = (time.perf_counter() - started) * 1000
        snapshot = FleetSnapshot(
            taken_at=now, session=self.config.session, agents=tuple(snaps), tick_ms=round(elapsed, 2), supervisor_pid=os.getpid()
        )
        if write:
            self.store.write_tails(tails, now)
            self.store.write_snapshot(snapshot)
        self.tick_ms.append(elapsed)
        return snapshot

    def _read_hooks(self) -> None:
        for event in self.store.hook_events_since(self.hook_cursor):
            self.hook_cursor = event["id"]
            self.states.setdefault(event["agent"], _AgentState()).last_hook = event

    def _own_word(self, st: _AgentState, name: str) -> None:
        path = status_file(self.config.state_dir, name)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            st.own_word = None
            return
        if mtime == st.status_mtime:
            return
        st.status_mtime = mtime
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.path.getsize(path) - 4096))
                text = f.read().decode(errors="replace")
        except OSError:
            return
        lines = [ln for ln in text.splitlines() if ln.strip()]
        st.own_word = lines[-1] if lines else None
        st.own_word_at = mtime

    def _observe(self, rec: dict[str, Any], pane: PaneInfo | None, now: float) -> tuple[AgentSnapshot, str | None]:
        name = rec["name"]
        st = self.states.setdefault(name, _AgentState())
        launched = rec.get("launched_at") or now
        if launched != st.launched_at:
            # a new process in this pane (up, restart, respawn): start afresh
            hook, git = st.last_hook, st.git
            st = self.states[name] = _AgentState(launched_at=launched, last_hook=hook, git=git, git_checked=st.git_checked)
        screen = ""
        if pane is not None:
            try:
                screen = self.tmux.capture(pane.pane_id, history=HISTORY_LINES)
            except TmuxError:
                screen = ""
        usage = self.procs.usage(pane.pid) if pane is not None and not pane.dead else None
        if usage is not None:
            if st.cpu_prev is not None and st.cpu_prev_at is not None and now > st.cpu_prev_at:
                st.cpu_percent = round(100.0 * (usage.cpu_seconds - st.cpu_prev) / (now - st.cpu_prev_at), 1)
            st.cpu_prev, st.cpu_prev_at = usage.cpu_seconds, now
        self._own_word(st, name)
        own = st.own_word if (st.own_word_at or 0) >= launched - 1 else None
        hook = st.last_hook if st.last_hook and st.last_hook["at"] >= launched - 1 else None
        obs = Observation(
            now=now,
            started_at=launched,
            screen=screen,
            pane_dead=pane is None or pane.dead,
            exit_status=pane.dead_status if pane is not None else None,
            paused=bool(usage and usage.stopped),
            cpu_seconds=usage.cpu_seconds if usage else None,
            own_word=own,
            own_word_at=st.own_word_at,
            hook_event=hook["event"] if hook else None,
            hook_at=hook["at"] if hook else None,
            hook_detail=str(hook["data"].get("message", ""))[:120] if hook else "",
        )
        if pane is None:
            obs = Observation(now=now, started_at=launched, pane_dead=True, exit_status=None)
        rules = rules_for(rec["kind"])
        verdict, st.memory = classify(obs, st.memory, rules, self.settings)
        reason = verdict.reason if pane is not None else "pane is gone"
        if verdict.changed and self.record_changes:
            self._status_changed(name, verdict.previous, verdict.status, reason, verdict.evidence, now)
        progress = self._git_progress(rec, st)
        lines = tail_lines(screen)
        tail = None
        digest = str(hash(screen))
        if digest != st.tail_hash:
            st.tail_hash = digest
            tail = "\n".join(lines[-60:])
        snap = AgentSnapshot(
            name=name,
            kind=rec["kind"],
            status=verdict.status,
            reason=reason,
            since=verdict.since,
            pane_id=rec.get("pane_id"),
            pid=pane.pid if pane is not None else None,
            task=rec.get("task"),
            budget_usd=rec["spec"].get("budget_usd"),
            cpu_percent=st.cpu_percent if usage else None,
            rss_bytes=usage.rss_bytes if usage else None,
            last_line=last_output_line(lines),
            exit_code=obs.exit_status if verdict.status is Status.EXITED else None,
            evidence=verdict.evidence,
            turns=verdict.turns,
            commits=progress.commits if progress else None,
            ahead=progress.ahead if progress else None,
            behind=progress.behind if progress else None,
            dirty_files=progress.dirty_files if progress else None,
            last_commit=progress.last_commit if progress else None,
            window=pane.window_name if pane is not None else None,
        )
        return snap, tail

    def _git_progress(self, rec: dict[str, Any], st: _AgentState) -> GitProgress | None:
        """The agent's commits, asking git only when its refs, HEAD or index changed."""
        if not st.git_checked:
            st.git_checked = True
            spec = rec["spec"]
            if rec.get("worktree") and rec.get("branch") and rec.get("base_commit"):
                info = WorktreeInfo(
                    path=Path(rec["worktree"]), branch=rec["branch"],
                    base_branch=spec.get("base_branch") or "", base_commit=rec["base_commit"],
                )
                st.git = GitProbe.for_worktree(info)
            elif self.config.repo is not None and Path(spec.get("cwd", "")).resolve().is_relative_to(self.config.repo.resolve()):
                st.git = GitProbe.for_shared_checkout(self.config.repo, rec["name"], rec.get("launched_at") or 0)
        if st.git is None:
            return None
        try:
            return st.git.poll()
        except GitError:
            return st.git.last

    def _status_changed(self, name: str, old: Status | None, new: Status, reason: str, evidence: str, now: float) -> None:
        self.store.record_status_change(name, old.value if old else None, new.value, reason, evidence, at=now)
        if new.needs_human:
            try:
                self.tmux.display(self.config.session, f"mission-control: {name} is {new.value}: {reason}")
            except TmuxError:
                pass
        if self.config.on_status:
            env = dict(os.environ)
            env.update(MC_AGENT=name, MC_OLD_STATUS=old.value if old else "", MC_NEW_STATUS=new.value, MC_REASON=reason)
            spawn(["/bin/sh", "-c", self.config.on_status], env=env, cwd=str(self.config.path.parent))

    # -- the loop -------------------------------------------------------------

    def run(self) -> None:
        interval = self.config.poll_interval
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # one bad tick must not end supervision
                print(f"mission-control supervise: tick failed: {exc!r}", file=sys.stderr, flush=True)
            took = time.monotonic() - began
            # never overlap; when a tick overruns, wait a full interval after it
            delay = interval - took if took < interval else interval
            self.stop.wait(delay)


def serve(config: FleetConfig) -> int:
    """`mission-control supervise`: hold the lock and tick until told to stop."""
    store = Store(config.store_path)
    try:
        lock = acquire_lock(config.state_dir)
    except SupervisorRunning as exc:
        print(f"mission-control supervise: {exc}", file=sys.stderr)
        return 0
    sup = Supervisor(config, store, Tmux(config.socket))

    def _stop(*_: object) -> None:
        sup.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"mission-control supervisor for session {config.session!r} (pid {os.getpid()}); polling every {config.poll_interval:g}s", flush=True)
    sup.run()
    os.close(lock)
    return 0
