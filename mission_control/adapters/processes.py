"""Processes behind the panes: CPU, memory, stopped state, signals.

One pass over the process table per tick (`ProcessTable.refresh`) serves every
agent; psutil `Process` objects are kept across ticks (psutil's `process_iter`
caches them), so per-process CPU accounting stays cheap and correct.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

import psutil

_ATTRS = ["pid", "ppid", "status", "cpu_times", "memory_info"]


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    status: str
    cpu_seconds: float
    rss: int
    children: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class TreeUsage:
    """A pane's process tree, summed."""

    pids: tuple[int, ...]
    cpu_seconds: float
    rss_bytes: int
    stopped: bool
    """The agent (below the launcher) is stopped by a signal."""


class ProcessTable:
    """A snapshot of every process, refreshed once per tick."""

    def __init__(self) -> None:
        self.procs: dict[int, ProcInfo] = {}

    def refresh(self) -> None:
        procs: dict[int, ProcInfo] = {}
        for p in psutil.process_iter(_ATTRS):
            info = p.info
            cpu = info.get("cpu_times")
            mem = info.get("memory_info")
            procs[info["pid"]] = ProcInfo(
                pid=info["pid"],
                ppid=info.get("ppid") or 0,
                status=info.get("status") or "",
                # reaped children's time moves into their parent: the tree's sum stays continuous
                cpu_seconds=(cpu.user + cpu.system + cpu.children_user + cpu.children_system) if cpu else 0.0,
                rss=mem.rss if mem else 0,
            )
        for proc in procs.values():
            parent = procs.get(proc.ppid)
            if parent is not None:
                parent.children.append(proc.pid)
        self.procs = procs

    def descendants(self, root: int) -> list[int]:
        out: list[int] = []
        stack = [root]
        while stack:
            pid = stack.pop()
            proc = self.procs.get(pid)
            if proc is None:
                continue
            out.append(pid)
            stack.extend(proc.children)
        return out

    def usage(self, root: int | None) -> TreeUsage | None:
        if root is None or root not in self.procs:
            return None
        pids = self.descendants(root)
        procs = [self.procs[p] for p in pids]
        below = [p for p in procs if p.pid != root]
        stopped = bool(below) and any(p.status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP) for p in below)
        return TreeUsage(
            pids=tuple(pids),
            cpu_seconds=sum(p.cpu_seconds for p in procs),
            rss_bytes=sum(p.rss for p in procs),
            stopped=stopped,
        )


def signal_tree(pids: list[int], sig: int) -> None:
    """Send `sig` to each pid and to each distinct process group among them."""
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            pass
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            pass
    return out


def terminate_all(pids: list[int], grace: float = 5.0) -> list[int]:
    """TERM (and CONT, for paused ones), wait up to `grace`, then KILL. Returns survivors (should be none)."""
    if not pids:
        return []
    signal_tree(pids, signal.SIGTERM)
    signal_tree(pids, signal.SIGCONT)
    deadline = time.monotonic() + grace
    left = alive(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = alive(left)
    if left:
        signal_tree(left, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = alive(left)
    return left
