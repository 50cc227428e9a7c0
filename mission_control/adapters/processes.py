"""Processes behind the panes: CPU, memory, stopped state, signals.

One pass over the process table per tick (`ProcessTable.refresh`) serves every
agent. On Linux that pass reads each `/proc/PID/stat` once and nothing else
(ppid, state, CPU times including reaped children, RSS are all in it), about 3x
faster than psutil's `process_iter` with the same attributes (which opens stat and
statm per process and builds an object each). RSS from stat may differ from statm's
by a few hundred KB (the kernel's per-thread counters). Elsewhere psutil does the pass.

`ProcessTable.written` says whether a pane's process tree may have printed since it was
last asked: the bytes its processes passed to write() (`wchar` of `/proc/PID/io`, a write
to the terminal included; a reaped child's count moves into its parent, so the tree's sum
only grows) and the tree's pids. It reads `/proc/PID/io` only for the trees it is asked
about, ~5 µs a process.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

_ATTRS = ["pid", "ppid", "status", "cpu_times", "memory_info"]
_PROC = "/proc"
_LINUX = os.path.isfile("/proc/self/stat")
_TICK = os.sysconf("SC_CLK_TCK") if _LINUX else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if _LINUX else 4096
_STATES = {  # the state letter of /proc/PID/stat -> psutil's status string (as psutil maps it)
    "R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped", "t": "tracing-stop", "Z": "zombie",
    "X": "dead", "x": "dead", "K": "wake-kill", "W": "waking", "I": "idle", "P": "parked",
}


def read_written(pid: int) -> int:
    """Bytes process `pid` (its threads and its reaped children) passed to write() so far:
    `wchar` of /proc/PID/io. OSError when it cannot be read (gone, another user's, not Linux)."""
    fd = os.open(f"{_PROC}/{pid}/io", os.O_RDONLY)
    try:
        data = os.read(fd, 1024)
    finally:
        os.close(fd)
    at = data.find(b"wchar: ")
    if at < 0:
        raise OSError(f"no wchar in {_PROC}/{pid}/io")
    return int(data[at + 7 : data.find(b"\n", at)])


def _not_known(pid: int) -> int:
    raise OSError("no /proc/PID/io here")


def _read_proc_stats() -> dict[int, "ProcInfo"]:
    """Every process from /proc/PID/stat (Linux): the fields psutil would give, in one read each."""
    procs: dict[int, ProcInfo] = {}
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"{_PROC}/{name}/stat", os.O_RDONLY)
            try:
                data = os.read(fd, 4096)
            finally:
                os.close(fd)
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ..."; comm may hold spaces and parentheses
        fields = data[data.rfind(b")") + 2 :].split()
        try:
            pid = int(name)
            procs[pid] = ProcInfo(
                pid=pid,
                ppid=int(fields[1]),
                status=_STATES.get(fields[0].decode(), fields[0].decode()),
                # reaped children's time moves into their parent: the tree's sum stays continuous
                cpu_seconds=(int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / _TICK,
                rss=int(fields[21]) * _PAGE,
            )
        except (IndexError, ValueError):
            continue
    return procs


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

    def __init__(self, written_by: Callable[[int], int] | None = None) -> None:
        self.procs: dict[int, ProcInfo] = {}
        self.written_by = written_by or (read_written if _LINUX else _not_known)
        """Bytes a process wrote so far (`read_written`); raises OSError when unknown."""

    def refresh(self) -> None:
        procs = _read_proc_stats() if _LINUX else self._psutil_pass()
        for proc in procs.values():
            parent = procs.get(proc.ppid)
            if parent is not None:
                parent.children.append(proc.pid)
        self.procs = procs

    @staticmethod
    def _psutil_pass() -> dict[int, ProcInfo]:
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
        return procs

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

    def written(self, root: int | None) -> tuple[int, tuple[int, ...]] | None:
        """(Bytes the processes of `root`'s tree passed to write() so far, their pids) as of now:
        a value that differs between two calls says the tree may have printed something
        between them. None when unknown: `root` not in the table, or a process's count
        unreadable (another user's, not dumpable, not Linux); a process gone since the
        table's refresh is left out (the pids of the next refresh differ anyway)."""
        if root is None or root not in self.procs:
            return None
        pids = self.descendants(root)
        total = 0
        for pid in pids:
            try:
                total += self.written_by(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
            except (OSError, ValueError):
                return None
        return total, tuple(pids)

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
    """Send `sig` to each pid and to each distinct process group among them (never our own group)."""
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            pass
    groups.discard(os.getpgrp())
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


def _ancestry() -> set[int]:
    """This process and its ancestors: never ours to stop (a `down` run from inside the fleet)."""
    try:
        me = psutil.Process()
        return {me.pid, *(p.pid for p in me.parents())}
    except psutil.Error:
        return {os.getpid()}


def marked(name: str, value: str) -> list[int]:
    """Processes whose environment (as they were started) holds `name=value`, this process and
    its ancestors left out. A process that cleared its environment is not found."""
    needle = f"\0{name}={value}\0".encode()
    out: list[int] = []
    skip = _ancestry()
    if _LINUX:
        for entry in os.listdir(_PROC):
            if not entry.isdigit() or int(entry) in skip:
                continue
            try:
                with open(f"{_PROC}/{entry}/environ", "rb") as f:
                    data = f.read()
            except OSError:  # gone, or another user's
                continue
            if needle in b"\0" + data:
                out.append(int(entry))
        return out
    for p in psutil.process_iter(["pid"]):
        try:
            if p.pid not in skip and p.environ().get(name) == value:
                out.append(p.pid)
        except psutil.Error:
            continue
    return out


def stop_marked(name: str, value: str, grace: float = 5.0, rounds: int = 5) -> tuple[int, list[int]]:
    """Stop every process marked `name=value` (see `terminate_all`), looking again for ones started
    meanwhile (a fork during the teardown), until none is left. Returns (how many were stopped,
    survivors)."""
    stopped: set[int] = set()
    left: list[int] = []
    for _ in range(rounds):
        found = [p for p in marked(name, value) if p not in left]
        if not found:
            break
        stopped.update(found)
        left = terminate_all(found, grace)
    return len(stopped), left


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


def agent_processes(pane_pid: int | None) -> tuple[int | None, list[psutil.Process]]:
    """The agent's process group id (the launcher's child) and every process below the launcher."""
    if pane_pid is None:
        return None, []
    try:
        launcher = psutil.Process(pane_pid)
        below = launcher.children(recursive=True)
    except psutil.Error:
        return None, []
    pgid = None
    for p in below:  # the launcher's own child leads the agent's group
        try:
            if p.ppid() == pane_pid:
                pgid = os.getpgid(p.pid)
                break
        except (psutil.Error, OSError):  # short-lived processes come and go while we look
            continue
    return pgid, below


def signal_agent(pane_pid: int | None, sig: int) -> int:
    """`sig` to the agent's process group, then to descendants that left it. Returns processes signalled."""
    pgid, below = agent_processes(pane_pid)
    if pgid is None or pgid == os.getpgid(0):
        return 0
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass
    count = 0
    for p in below:
        try:
            if os.getpgid(p.pid) != pgid:
                os.kill(p.pid, sig)
            count += 1
        except OSError:
            continue
    return count


def is_stopped(pane_pid: int | None) -> bool:
    _, below = agent_processes(pane_pid)
    for p in below:
        try:
            if p.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
                return True
        except psutil.Error:
            continue
    return False


def kill_agent(pane_pid: int | None) -> tuple[int, list[int]]:
    """End every process below the agent's launcher (SIGTERM, then SIGKILL after a grace); the
    launcher itself stays, for the pane to be respawned. (How many there were, pids that survived.)"""
    _, below = agent_processes(pane_pid)
    return len(below), terminate_all([p.pid for p in below])


def own_children() -> list[int]:
    """The live (not zombie) processes this process started, and theirs."""
    try:
        return alive([p.pid for p in psutil.Process().children(recursive=True)])
    except psutil.Error:
        return []
