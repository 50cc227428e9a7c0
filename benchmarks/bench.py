#!/usr/bin/env python
"""How much does supervising N agents cost?  `python benchmarks/bench.py [--agents 100] [--seconds 20] [--interval 1] [--mix quiet] [--worktrees] [--exact] [--json]`

Starts N simulated agents with the project's real bring-up (`mission-control up` on a
generated agents.toml, `shell` agents) in a throwaway tmux server (`-L mc-bench-<random>`,
killed at the end, on Ctrl-C too), then measures, one phase after another on that fleet:

* `up` of N agents (the CLI, wall time) and the launchers' RSS per agent;
* the supervisor (the real `Supervisor` class in a process of its own, ticking every
  `--interval` s): tick p50/p99 (whole tick, store write included), CPU as % of one core
  (its own, its reaped children's and its live children's, e.g. the tmux control client),
  its RSS, and the tmux server's CPU; and the state store: bytes written per minute (the
  supervisor process's own /proc/self/io `wchar`, read after every tick, minus the bytes of
  the commands it wrote to its tmux control client, counted by `ControlClient.stats.written`;
  `write_bytes`, what reached the disk, alongside), per minute and per tick, next to the
  naive phase's (which writes every agent's row every tick) and, for scale, the JSON of the
  whole FleetSnapshot every tick (the first round's store); and the size of state.db + WAL +
  shm after the phase and at the end of the run;
  - "mission-control": the supervisor as `mission-control supervise` runs it (one tmux
    control-mode client, the git watcher in its own thread);
  - "naive": the same Supervisor with one libtmux `capture_pane` and one fresh psutil tree
    walk (`Process(pid).children(recursive=True)` + `cpu_times`) per agent per tick, git
    asked inside the tick, and every agent's row written to the store every tick;
* the whole system's CPU (supervisor + tmux server) with zero and with three dashboards
  open: real `mission-control dashboard` processes, each on a pseudo-terminal of 200x50
  whose output is read and thrown away, as a terminal would; their RSS and CPU;
* the dashboard's time to apply one tick of N agents (`create_app` + `run_test`, headless,
  in a process of its own), handler alone and handler + render;
* key-press latency: `tmux send-keys` (through the adapter, a process, as the dashboard's
  actions do) until an agent reading its terminal byte by byte records `$EPOCHREALTIME`,
  with the three dashboards open;
* `--exact`, after the others (the fleet above stopped first): the scale test's check at N
  (benchmarks/scale_fleet.py, shared with tests/test_scale.py): N agents of five kinds in
  worktrees, each with its own token lines, commits and exit; once every agent shows its
  final state, every agent's status, tokens, cost and commits must equal its plan.

Each figure of issue 18 is printed next to its target with PASS/MISS: the N = 100 targets
for N <= 100, the N = 300 ones above (the header says which set applies). `--json` prints one
JSON object; its `checks` hold every figure with its target and verdict. The 1-hour soak with
a dashboard open is benchmarks/soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import random
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "benchmarks"):  # the package, and scale_fleet next to this file
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import psutil  # noqa: E402

from mission_control.adapters.processes import ProcessTable, TreeUsage  # noqa: E402
from mission_control.adapters.store import StateWriter, Store  # noqa: E402
from mission_control.adapters.tmux import Tmux, TmuxError  # noqa: E402

TARGETS_N100 = {
    "up_seconds": (10.0, "<"),
    "supervisor_cpu_pct": (2.5, "<"),
    "tick_p99_ms": (50.0, "<"),
    "dashboard_cpu_pct": (3.0, "<"),
    "apply_render_p50_ms": (16.0, "<"),
    "apply_render_max_ms": (50.0, "<"),
    "key_p99_ms": (100.0, "<"),
    "naive_over_mission_control_cpu": (20.0, ">="),
    "dashboard_rss_mb": (150.0, "<"),
}
"""Issue 18's targets at N = 100 (used for every N <= 100). `dashboard_cpu_pct` is the busiest of the three."""
TARGETS_N300 = {
    "up_seconds": (20.0, "<"),
    "supervisor_cpu_pct": (6.0, "<"),
    "tick_p99_ms": (150.0, "<"),
    "apply_render_p50_ms": (33.0, "<"),
    "key_p99_ms": (100.0, "<"),
    "dashboard_rss_mb": (150.0, "<"),
}
"""Issue 18's targets at N = 300 (used for every N > 100)."""
WARMUP_TICKS = 3

AGENT_SH = r"""#!/usr/bin/env bash
# Simulated agents for the benchmark. Builtins only in the loops (no process per line).
mode=$1; name=$2
nap() { read -r -t "$1" _ ; }          # sleep without a process: wait for a line that never comes
case "$mode" in
stream)   # a line every 100-500 ms, like an agent narrating its work
    i=0
    while :; do
        i=$((i+1))
        echo "[$name] step $i: reading src/module_$((RANDOM % 90)).py; 3 edits; $((RANDOM % 40)) tests passed"
        if [ -n "$BENCH_COMMIT" ] && (( RANDOM % 100 == 0 )); then   # --worktrees: a commit every ~30 s, at random
            echo "$i" > "progress-$name.txt"; git add "progress-$name.txt"; git commit -qm "$name: step $i"
        fi
        nap "0.$(( (RANDOM % 5) + 1 ))"
    done ;;
spinner)  # redraws one line in place every 200 ms, a result line every ~10 s
    frames=(⠋ ⠙ ⠹ ⠸ ⠼ ⠴ ⠦ ⠧ ⠇ ⠏); i=0; t=0
    echo "[$name] working on the task"
    while :; do
        printf '\r%s Thinking… (%ds · esc to interrupt)' "${frames[$((i % 10))]}" $((i / 5))
        i=$((i+1))
        if (( i % 50 == 0 )); then printf '\n[%s] finished subtask %d\n' "$name" $((i / 50)); fi
        nap 0.2
    done ;;
idle)     # waits at a prompt for a person
    echo "[$name] Task complete. 12 files changed."
    while :; do printf '> '; read -r line; echo "got: $line"; done ;;
bursty)   # quiet for 3-8 s, then 200 lines at once (a build log), then a prompt
    while :; do
        printf '> '
        nap $(( (RANDOM % 6) + 3 ))
        echo
        for ((j = 1; j <= 200; j++)); do echo "[$name] build: compiling unit $j/200 (cache miss, 0.$((RANDOM % 99))s)"; done
        echo "[$name] build finished: 0 errors"
        if [ -n "$BENCH_COMMIT" ]; then echo "$RANDOM" > "build-$name.txt"; fi   # --worktrees: an unstaged edit
    done ;;
keys)     # reads its terminal byte by byte, writes the time each byte arrived
    out=$3
    echo "[$name] ready for keys"
    while IFS= read -r -s -n 1 _; do printf '%s\n' "$EPOCHREALTIME" >> "$out"; done ;;
esac
"""

MIX = ["stream", "idle", "bursty", "stream", "spinner", "idle", "stream", "idle", "bursty", "stream",
       "spinner", "idle", "stream", "bursty", "idle", "stream", "spinner", "idle", "bursty", "stream"]
"""Per 20 agents: 7 streaming, 3 spinners, 6 idle at a prompt, 4 bursty (plus one key reader in the fleet)."""
QUIET = ["idle"] * 17 + ["stream", "spinner", "bursty"]
"""`--mix quiet`: most agents wait for a person (17 of 20), so most windows print nothing."""


# ----------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU of a process, of its reaped children and of its live descendants."""
    try:
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


def io_counters(pid: int | str = "self") -> tuple[int, int]:
    """(wchar, write_bytes) of a process from /proc/<pid>/io: the bytes it passed to write() and
    friends (pipes and sockets too), and the bytes it sent to the block layer (page-sized, 0 on tmpfs)."""
    try:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        return int(fields["wchar"]), int(fields["write_bytes"])
    except (OSError, KeyError, ValueError):
        return 0, 0


def store_bytes(store_path: Path) -> int:
    """The state store's size on disk: the database, its WAL and its shared-memory index."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += store_path.with_name(store_path.name + suffix).stat().st_size
        except OSError:
            pass
    return total


GIT_IDENT = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
             "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def init_repo(repo: Path) -> None:
    """A new repository at `repo` on branch main with one empty commit."""
    repo.mkdir(parents=True)
    for argv in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "base"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env={**os.environ, **GIT_IDENT}, capture_output=True)


def rss_mb(proc: psutil.Process) -> float:
    try:
        return proc.memory_info().rss / 1e6
    except psutil.Error:
        return 0.0


def clean_env(socket: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["MISSION_CONTROL_SOCKET"] = socket
    return env


def socket_file(name: str) -> Path:
    """Where `tmux -L name` keeps its socket."""
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name


def wait_for(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


# ----------------------------------------------------------------------------- adapters of the variants


class NaiveTmux(Tmux):
    """One libtmux `capture_pane` per agent per tick (a tmux process each)."""

    def __init__(self, socket: str) -> None:
        super().__init__(socket)
        import libtmux

        self._libtmux = libtmux
        self._server = libtmux.Server(socket_name=socket)
        self._panes: dict[str, Any] = {}

    def capture(self, pane_id: str, history: int = 0, join: bool = True) -> str:
        pane = self._panes.get(pane_id)
        if pane is None:
            try:
                pane = self._panes[pane_id] = self._libtmux.Pane.from_pane_id(server=self._server, pane_id=pane_id)
            except Exception as exc:  # noqa: BLE001
                raise TmuxError(str(exc)) from None
        lines = pane.capture_pane(start=-history if history else None, join_wrapped=join) or []
        return "\n".join(lines) + "\n"


class NaiveProcessTable(ProcessTable):
    """A fresh psutil tree walk per agent per tick, instead of one pass over the table."""

    def refresh(self) -> None:
        pass

    def usage(self, root: int | None) -> TreeUsage | None:
        if root is None:
            return None
        try:
            top = psutil.Process(root)
            procs = [top, *top.children(recursive=True)]
        except psutil.Error:
            return None
        cpu, rss, stopped = 0.0, 0, False
        for p in procs:
            try:
                t = p.cpu_times()
                cpu += t.user + t.system + t.children_user + t.children_system
                rss += p.memory_info().rss
                if p.pid != root and p.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
                    stopped = True
            except psutil.Error:
                pass
        return TreeUsage(pids=tuple(p.pid for p in procs), cpu_seconds=cpu, rss_bytes=rss, stopped=stopped)


class WriteEverything(StateWriter):
    """The naive store: every agent's row every tick, changed or not (no change detection)."""

    def write(self, snap: Any, tails: dict[str, str]) -> int:
        if self.written is not None:
            self.written = {}  # nothing counts as written already: every row goes again
        return super().write(snap, tails)


def child_supervise(variant: str, config_path: str, out: str) -> int:
    from mission_control.fleet import supervisor as supmod
    from mission_control.adapters.supervisor_lock import acquire_lock
    from mission_control.fleet.locate import load_config

    config = load_config(Path(config_path))
    store = Store(config.store_path)
    lock = acquire_lock(config.state_dir)
    if variant == "naive":
        tmux: Tmux = NaiveTmux(config.socket)
    else:  # as `mission-control supervise` does
        tmux = Tmux(config.socket)
        tmux.enable_control(config.session)

    # (wall time, whole tick ms, Supervisor's own tick_ms, wchar, write_bytes, bytes of tmux commands), the
    # last three read after the tick: the store's share of this process's writes is wchar minus the commands
    ticks: list[tuple[float, float, float, int, int, int]] = []
    clients: dict[int, Any] = {}  # every control client it had (one, unless it reconnected)
    ready = threading.Event()
    started = time.perf_counter()
    git_first_pass: list[float] = []

    class Timed(supmod.Supervisor):
        def tick(self, write: bool = True):  # type: ignore[override]
            t0 = time.perf_counter()
            snap = super().tick(write)
            took_ms = (time.perf_counter() - t0) * 1000
            client = tmux.control() if variant != "naive" else None
            if client is not None:
                clients[id(client)] = client
            wchar, disk = io_counters()
            ticks.append((time.time(), took_ms, snap.tick_ms, wchar, disk, sum(c.stats.written for c in clients.values())))
            watcher = getattr(self, "git", None)
            caught_up = watcher is None or watcher.caught_up()
            if caught_up and not git_first_pass:
                git_first_pass.append(time.perf_counter() - started)
            # steady state: the warm-up ticks done, and the git watcher past its first reading of
            # every agent (their refs, log and status once; timed apart, `git_first_pass_s`)
            if not ready.is_set() and len(ticks) >= WARMUP_TICKS and caught_up:
                ready.set()
                print("ready", flush=True)
            return snap

    sup = Timed(config, store, tmux)
    if variant == "naive":
        sup.procs = NaiveProcessTable()  # and git asked inside each tick, as a tick without the watcher thread does
        sup.state = WriteEverything(store)
    elif hasattr(sup, "git"):
        sup.git.start()  # as `mission-control supervise` does

    def stop(*_: object) -> None:
        sup.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sup.run()
    if variant != "naive" and hasattr(sup, "git"):
        sup.git.stop()
    client = tmux.control()
    stats = client.stats if client is not None else None
    Path(out).write_text(json.dumps({
        "ticks": ticks,
        "captures_per_tick": (stats.captured / stats.ticks) if stats and stats.ticks else None,
        "git_first_pass_s": round(git_first_pass[0], 2) if git_first_pass else None,
        "control_error": tmux.control_error,
    }))
    tmux.close()
    os.close(lock)
    return 0


# ----------------------------------------------------------------------------- child: dashboard apply time


def child_dashboard_apply(config_path: str, out: str, rounds: int) -> int:
    from mission_control.core.model import Status
    from mission_control.fleet.locate import load_config
    from mission_control.ui.app import create_app
    from mission_control.ui.messages import FleetObserved
    from mission_control.ui.source import FixedSource

    config = load_config(Path(config_path))
    snap = Store(config.store_path).latest_snapshot()
    if snap is None:
        raise SystemExit("no snapshot in the store")
    statuses = [Status.WORKING, Status.IDLE, Status.WAITING, Status.WORKING]

    def variant(k: int):
        agents = tuple(
            replace(a, status=statuses[(i + k) % len(statuses)], last_line=f"{a.last_line[:40]} #{k}",
                    cpu_percent=float((i * k) % 100), since=snap.taken_at - i - k)
            for i, a in enumerate(snap.agents)
        )
        return replace(snap, agents=agents, taken_at=snap.taken_at + k)

    handler_ms: list[float] = []
    total_ms: list[float] = []

    async def main() -> None:
        app = create_app(source=FixedSource(snap, session=config.session), live=False)
        app.bell = lambda: None  # type: ignore[method-assign]
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            for k in range(1, rounds + 1):
                message = FleetObserved(variant(k), True)
                t0 = time.perf_counter()
                app.on_fleet_observed(message)
                t1 = time.perf_counter()
                # every message that caused is handled, then the screen is composed and written
                # (pause(0), not pause(): that one also waits for the process to look idle, up to 1 s)
                await pilot.pause(0)
                t2 = time.perf_counter()
                await pilot.pause(0.05)
                handler_ms.append((t1 - t0) * 1000)
                total_ms.append((t2 - t0) * 1000)

    asyncio.run(main())
    Path(out).write_text(json.dumps({
        "agents": len(snap.agents), "handler_ms": handler_ms, "total_ms": total_ms,
        "rss_mb": rss_mb(psutil.Process()),
    }))
    return 0


# ----------------------------------------------------------------------------- the bench


class Dashboard:
    """A real `mission-control dashboard` on a pseudo-terminal whose output we drain."""

    def __init__(self, config: Path, env: dict[str, str], cols: int = 200, rows: int = 50) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(env, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission_control", "dashboard", "-c", str(config)],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, cwd=str(config.parent),
        )
        os.close(slave)
        self.master = master
        self.received = 0
        self.tail = b""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)
            self.tail = (self.tail + data)[-65536:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:
            os.close(self.master)
        except OSError:
            pass


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.n = args.agents
        self.seconds = args.seconds
        self.interval = args.interval
        self.socket = f"mc-bench-{uuid.uuid4().hex[:8]}"
        self.dir = Path(tempfile.mkdtemp(prefix="mc-bench-"))
        self.config = self.dir / "agents.toml"
        self.keys_file = self.dir / "keys.log"
        self.env = clean_env(self.socket)
        self.store_path = self.dir / "state" / "state.db"  # replaced by the config's own once written
        self.tmux = Tmux(self.socket)
        self.children: list[subprocess.Popen[Any]] = []
        self.dashboards: list[Dashboard] = []
        self.results: dict[str, Any] = {"agents": self.n, "interval_s": self.interval, "seconds": self.seconds,
                                        "cpus": os.cpu_count(), "mix": args.mix, "worktrees": args.worktrees}
        self.notes: list[str] = []
        self.exact_socket: str | None = None

    def log(self, msg: str) -> None:
        if not self.args.json:
            print(f"  … {msg}", file=sys.stderr, flush=True)

    # -- fleet ---------------------------------------------------------------

    def write_fleet(self) -> None:
        script = self.dir / "agent.sh"
        script.write_text(AGENT_SH)
        lines = [
            "[mission]", 'session = "bench"', f'socket = "{self.socket}"', f'layout = "{self.args.layout}"',
            'state_dir = "state"', f"poll_interval = {float(self.interval)}", "stuck_after = 3600.0",
            "start_timeout = 3600.0",
        ]
        agent_extra: list[str] = []
        if self.args.worktrees:  # each agent in a worktree of its own, committing now and then
            init_repo(self.dir / "repo")
            lines.append('repo = "repo"')
            agent_extra = ["worktree = true", "env = { BENCH_COMMIT = \"1\", " + ", ".join(f'{k} = "{v}"' for k, v in GIT_IDENT.items()) + " }"]
        lines.append("")
        for i in range(self.n):
            name = f"a{i:03d}"
            mix = QUIET if self.args.mix == "quiet" else MIX
            mode = "keys" if i == 0 else mix[i % len(mix)]
            extra = f" {self.keys_file}" if mode == "keys" else ""
            lines += ["[[agent]]", f'name = "{name}"', 'kind = "shell"',
                      f'command = "exec bash {script} {mode} {name}{extra}"', *agent_extra, ""]
        self.config.write_text("\n".join(lines))
        from mission_control.fleet.locate import load_config

        self.store_path = load_config(self.config).store_path

    def agent_panes(self):
        return [p for p in self.tmux.list_panes() if p.session == "bench" and p.agent]

    def role_pane(self, role: str):
        return next((p for p in self.tmux.list_panes() if p.session == "bench" and p.role == role), None)

    def up(self, keep_supervisor: bool = False) -> None:
        """`mission-control up` of the fleet, timed; then the dashboard it opened inside tmux is closed,
        and so is the supervisor it started, unless `keep_supervisor` (the soak watches that one)."""
        self.log(f"mission-control up: {self.n} agents on tmux socket {self.socket}")
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "mission_control", "up", "--no-attach", "-c", str(self.config)],
            cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
        )
        up_s = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"mission-control up failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        self.results["up_seconds"] = round(up_s, 2)

        def all_running() -> bool:
            panes = self.agent_panes()
            if len(panes) < self.n:
                return False
            for p in panes:
                try:
                    if not psutil.Process(p.pid).children():
                        return False
                except (psutil.Error, TypeError, ValueError):
                    return False
            return True

        wait_for(all_running, 120, "every agent to run")
        self.results["up_to_all_running_seconds"] = round(time.perf_counter() - t0, 2)
        keys = next(p for p in self.agent_panes() if p.agent == "a000")
        self.keys_pane = keys.pane_id
        wait_for(lambda: "ready for keys" in self.tmux.capture(keys.pane_id), 30, "the key reader")
        launchers = [rss_mb(psutil.Process(p.pid)) for p in self.agent_panes() if p.pid]
        trees = []
        for p in self.agent_panes():
            try:
                top = psutil.Process(p.pid)
                trees.append(sum(rss_mb(q) for q in [top, *top.children(recursive=True)]))
            except psutil.Error:
                pass
        self.results["launcher_rss_mb_per_agent"] = round(statistics.mean(launchers), 1)
        self.results["agent_tree_rss_mb_per_agent"] = round(statistics.mean(trees), 1)
        self.server = psutil.Process(int(self.tmux.cmd("display-message", "-p", "#{pid}").strip()))
        self.results["tmux_server_rss_mb"] = round(rss_mb(self.server), 1)
        # `up` started a supervisor and a dashboard inside tmux: the phases below run their own
        sup = self.role_pane("supervisor")
        if not keep_supervisor and sup is not None and sup.pid and not sup.dead:
            os.kill(sup.pid, signal.SIGTERM)
            wait_for(lambda: not psutil.pid_exists(sup.pid) or psutil.Process(sup.pid).status() == psutil.STATUS_ZOMBIE,
                     20, "the fleet's own supervisor to stop")
        dash = self.role_pane("dashboard")
        if dash is not None:
            self.tmux.cmd("kill-pane", "-t", dash.pane_id)

    # -- phases --------------------------------------------------------------

    def start_supervisor(self, variant: str) -> tuple[subprocess.Popen[str], Path]:
        out = self.dir / f"sup-{variant}.json"
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--_supervise", variant, "--config", str(self.config), "--out", str(out)],
            cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.children.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""  # "ready" after the warm-up ticks
        if line.strip() != "ready":
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"supervisor ({variant}) did not start: {line.strip()} {err.strip()[-800:]}")
        return proc, out

    def stop_supervisor(self, proc: subprocess.Popen[str], out: Path) -> dict[str, Any]:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        self.children.remove(proc)
        if not out.exists():
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"supervisor wrote no results: {err.strip()[-800:]}")
        return json.loads(out.read_text())

    def measure(self, procs: dict[str, psutil.Process], seconds: float, during=None) -> dict[str, float]:
        before = {k: cpu_seconds(p) for k, p in procs.items()}
        t0 = time.perf_counter()
        if during is not None:
            during()
        remaining = seconds - (time.perf_counter() - t0)
        if remaining > 0:
            time.sleep(remaining)
        wall = time.perf_counter() - t0
        return {k: 100.0 * (cpu_seconds(p) - before[k]) / wall for k, p in procs.items()} | {"_wall": wall}

    def supervisor_phase(self, variant: str, dashboards: int = 0) -> dict[str, Any]:
        self.log(f"supervisor '{variant}' for {self.seconds:g}s")
        proc, out = self.start_supervisor(variant)
        try:
            sp = psutil.Process(proc.pid)
            t_start = time.time()
            cpu = self.measure({"supervisor": sp, "tmux": self.server}, self.seconds)
            t_end = time.time()
            rss = rss_mb(sp)
            control_rss = sum(rss_mb(c) for c in sp.children(recursive=True))
        finally:
            data = self.stop_supervisor(proc, out)
        ticks = [t for t in data["ticks"] if t_start <= t[0] <= t_end]
        whole = [t[1] for t in ticks]
        own = [t[2] for t in ticks]
        if not whole:
            self.notes.append(f"supervisor '{variant}': no tick ended within the {self.seconds:g} s phase (a longer --seconds times it)")
        return self.store_figures(ticks) | {
            "ticks": len(ticks),
            # None when no tick ended inside the phase (a naive tick at N = 300 outlasts a short phase)
            "tick_p50_ms": rounded(percentile(whole, 50)),
            "tick_p99_ms": rounded(percentile(whole, 99)),
            "tick_max_ms": rounded(max(whole) if whole else None),
            "tick_ms_reported_p50": rounded(percentile(own, 50)),
            "supervisor_cpu_pct": round(cpu["supervisor"], 2),
            "tmux_server_cpu_pct": round(cpu["tmux"], 2),
            "system_cpu_pct": round(cpu["supervisor"] + cpu["tmux"], 2),
            "supervisor_rss_mb": round(rss, 1),
            "control_client_rss_mb": round(control_rss, 1),
            "captures_per_tick": round(data["captures_per_tick"], 1) if data.get("captures_per_tick") is not None else None,
            "control_error": data.get("control_error"),
            "git_first_pass_s": data.get("git_first_pass_s"),
        }

    def store_figures(self, ticks: list[list[float]]) -> dict[str, Any]:
        """Bytes the supervisor wrote to the store per minute, from its own /proc/self/io read after each
        tick: wchar (every write() of the process) minus the commands it wrote to its tmux control client
        (nothing else in it writes while it ticks; the git watcher's git processes are processes of their
        own). The shm index is written through mmap and counts in neither. `disk_write_bytes_per_min` is
        write_bytes: what reached the block layer, page-granular, 0 on tmpfs. For scale, the JSON of the
        whole FleetSnapshot every tick (the first round's store). Per tick too: the naive supervisor's
        ticks are slower, so its bytes per minute understate what it writes a tick."""
        if len(ticks) < 2:
            return {}
        first, last = ticks[0], ticks[-1]
        minutes = (last[0] - first[0]) / 60
        if minutes <= 0:
            return {}

        per_min = (len(ticks) - 1) / minutes
        store = Store(self.store_path)
        try:
            snap = store.latest_snapshot()
        finally:
            store.close()
        full = len(json.dumps(snap.to_json()).encode()) if snap is not None else 0
        written = (last[3] - first[3]) - (last[5] - first[5])
        return {
            "store_bytes_per_min": round(written / minutes),
            "store_bytes_per_tick": round(written / (len(ticks) - 1)),
            "store_disk_write_bytes_per_min": round((last[4] - first[4]) / minutes),
            "control_commands_bytes_per_min": round((last[5] - first[5]) / minutes),
            "full_snapshot_bytes": full,
            "full_snapshot_every_tick_bytes_per_min": round(full * per_min),
            "store_mb_after": round(store_bytes(self.store_path) / 1e6, 2),
        }

    def dashboards_phase(self) -> None:
        """The mission-control supervisor with three real dashboards open; then key presses."""
        self.log(f"three dashboards on pseudo-terminals, {self.seconds:g}s; then key presses")
        proc, out = self.start_supervisor("mission-control")
        try:
            for _ in range(3):
                self.dashboards.append(Dashboard(self.config, self.env))
            for d in self.dashboards:
                wait_for(lambda d=d: b"a001" in d.tail or d.proc.poll() is not None, 60, "a dashboard to show the fleet")
                if d.proc.poll() is not None:
                    raise RuntimeError(f"a dashboard exited: {d.tail[-400:]!r}")
            time.sleep(2 * self.interval)  # let them settle on a snapshot or two
            sp = psutil.Process(proc.pid)
            procs = {"supervisor": sp, "tmux": self.server}
            procs |= {f"dash{i}": psutil.Process(d.proc.pid) for i, d in enumerate(self.dashboards)}
            cpu = self.measure(procs, self.seconds)
            dash_rss = [rss_mb(psutil.Process(d.proc.pid)) for d in self.dashboards]
            dash_cpu = [cpu[f"dash{i}"] for i in range(len(self.dashboards))]
            self.results["three_dashboards"] = {
                "supervisor_cpu_pct": round(cpu["supervisor"], 2),
                "tmux_server_cpu_pct": round(cpu["tmux"], 2),
                "system_cpu_pct": round(cpu["supervisor"] + cpu["tmux"], 2),
                "dashboards_cpu_pct_each": [round(c, 1) for c in dash_cpu],
                "system_plus_dashboards_cpu_pct": round(cpu["supervisor"] + cpu["tmux"] + sum(dash_cpu), 1),
                "dashboard_rss_mb_each": [round(r, 1) for r in dash_rss],
            }
            self.results["dashboard_rss_mb"] = round(max(dash_rss), 1)
            self.key_presses()
        finally:
            for d in self.dashboards:
                d.stop()
            self.dashboards.clear()
            self.stop_supervisor(proc, out)

    def key_presses(self, count: int = 40) -> None:
        sender = Tmux(self.socket)
        latencies: list[float] = []
        for _ in range(count):
            try:
                before = self.keys_file.read_text().count("\n")
            except FileNotFoundError:
                before = 0
            t0 = time.time()
            sender.send_keys(self.keys_pane, "x")
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                try:
                    lines = self.keys_file.read_text().splitlines()
                except FileNotFoundError:
                    lines = []
                if len(lines) > before:
                    latencies.append((float(lines[-1]) - t0) * 1000)
                    break
                time.sleep(0.0005)
            time.sleep(random.uniform(0.05, 0.15))
        self.results["key_presses"] = len(latencies)
        self.results["key_p50_ms"] = round(percentile(latencies, 50) or 0, 1)
        self.results["key_p99_ms"] = round(percentile(latencies, 99) or 0, 1) if latencies else None

    def dashboard_apply_phase(self) -> None:
        self.log("dashboard: time to apply one tick (run_test, headless)")
        out = self.dir / "apply.json"
        r = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--_dashboard-apply", "--config", str(self.config), "--out", str(out)],
            cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        )
        if r.returncode != 0 or not out.exists():
            raise RuntimeError(f"dashboard apply measurement failed: {r.stderr.strip()[-800:]}")
        data = json.loads(out.read_text())
        self.results["dashboard_apply"] = {
            "agents": data["agents"],
            "handler_p50_ms": round(percentile(data["handler_ms"], 50) or 0, 1),
            "handler_render_p50_ms": round(percentile(data["total_ms"], 50) or 0, 1),
            "handler_render_max_ms": round(max(data["total_ms"]), 1),
            "run_test_process_rss_mb": round(data["rss_mb"], 1),
        }

    # -- run -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.write_fleet()
        self.up()
        self.log(f"no supervisor at all for {self.seconds:g}s (what the agents' output alone costs tmux)")
        idle = self.measure({"tmux": self.server}, self.seconds)
        self.results["tmux_server_cpu_pct_without_supervisor"] = round(idle["tmux"], 2)
        self.results["mission_control"] = mc = self.supervisor_phase("mission-control")
        self.dashboards_phase()
        self.results["naive"] = naive = self.supervisor_phase("naive")
        self.dashboard_apply_phase()
        for key in ("tick_p50_ms", "tick_p99_ms", "supervisor_cpu_pct", "system_cpu_pct", "supervisor_rss_mb"):
            if mc.get(key) and naive.get(key) is not None:
                self.results.setdefault("naive_over_mission_control", {})[key] = round(naive[key] / mc[key], 1)
        if self.args.strategies:
            self.results["capture_strategies"] = self.capture_strategies()
        self.results["store_mb_end"] = round(store_bytes(self.store_path) / 1e6, 2)
        if self.args.exact:
            self.stop_fleet(self.socket, self.config)  # its agents would only load the machine
            self.results["exact"] = self.exact_phase()
        return self.results

    def exact_phase(self) -> dict[str, Any]:
        """The scale test's check at N: a fleet of its own (benchmarks/scale_fleet.py), every agent in a
        worktree; once every agent shows its final state, each figure must equal its plan."""
        import scale_fleet

        agents = scale_fleet.plans(self.n)
        where = self.dir / "exact"
        where.mkdir()
        repo = where / "repo"
        init_repo(repo)
        config = where / "agents.toml"
        config.write_text(scale_fleet.fleet_toml(repo, agents, session="exact"))
        self.exact_socket = f"{self.socket}-exact"
        env = clean_env(self.exact_socket)
        self.log(f"exact: mission-control up of {self.n} planned agents in worktrees on socket {self.exact_socket}")
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "mission_control", "up", "--no-attach", "-c", str(config)],
                           cwd=where, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1200)
        up_s = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"exact: mission-control up failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        rows: dict[str, dict[str, Any]] | None = None
        deadline = time.monotonic() + max(90.0, 0.9 * self.n)  # the scale test allows 90 s at N = 100
        while time.monotonic() < deadline:
            rows = scale_fleet.status_rows(config, where, env, timeout=120)
            if scale_fleet.settled(rows, agents) is not None:
                break
            time.sleep(1.0)
        settled_s = time.perf_counter() - t0
        problems = scale_fleet.mismatches(rows or {}, agents)
        wrong = {m.split(":", 1)[0] for m in problems}
        self.stop_fleet(self.exact_socket, config)
        return {"agents": self.n, "exact": self.n - len(wrong), "mismatches": problems,
                "up_seconds": round(up_s, 2), "settled_seconds": round(settled_s, 2)}

    def capture_strategies(self) -> dict[str, Any]:
        """The capture step alone (after one list-panes), per tick, four ways (the last one
        includes the pass over the process table it needs, which the supervisor makes anyway)."""
        from mission_control.adapters.processes import ProcessTable
        from mission_control.adapters.tmux_control import ControlClient

        history = 10
        out: dict[str, Any] = {}
        me = psutil.Process()
        table = ProcessTable()
        for name in ("process per pane", "control, every pane", "control, signature", "control, signature + written"):
            self.log(f"capture strategy '{name}' for {self.seconds:g}s")
            client = ControlClient(self.socket, "bench") if name.startswith("control") else None
            walls: list[float] = []
            counts: list[int] = []

            def loop() -> None:
                end = time.perf_counter() + self.seconds
                while time.perf_counter() < end:
                    began = time.perf_counter()
                    panes = self.agent_panes()
                    t0 = time.perf_counter()
                    if client is None:
                        for p in panes:
                            self.tmux.capture(p.pane_id, history)
                        counts.append(len(panes))
                    elif name == "control, every pane":
                        client.capture_many([p.pane_id for p in panes], history)
                        counts.append(len(panes))
                    elif name == "control, signature":
                        client.capture_changed(panes, history)
                        counts.append(client.stats.last_captured)
                    else:
                        table.refresh()
                        client.capture_changed(panes, history, written=lambda p: table.written(p.pid))
                        counts.append(client.stats.last_captured)
                    walls.append((time.perf_counter() - t0) * 1000)
                    time.sleep(max(0.0, self.interval - (time.perf_counter() - began)))

            cpu = self.measure({"bench": me, "tmux": self.server}, 0, during=loop)
            if client is not None:
                client.close()
            out[name] = {
                "capture_ms_p50": round(percentile(walls, 50) or 0, 1),
                "captures_per_tick": round(statistics.mean(counts), 1),
                "cpu_pct_bench_plus_tmux": round(cpu["bench"] + cpu["tmux"], 2),
            }
        return out

    def stop_fleet(self, socket: str, config: Path) -> None:
        """`mission-control down`, then the tmux server killed and its socket file removed."""
        try:
            subprocess.run(
                [sys.executable, "-m", "mission_control", "down", "-c", str(config)],
                cwd=config.parent, env=clean_env(socket), stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
            )
        except Exception:  # noqa: BLE001 - the server is killed below anyway
            pass
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        socket_file(socket).unlink(missing_ok=True)  # tmux leaves its socket file behind

    def cleanup(self) -> None:
        for d in self.dashboards:
            d.stop()
        for proc in list(self.children):
            if proc.poll() is None:
                proc.kill()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.stop_fleet(self.socket, self.config)
        if self.exact_socket:
            self.stop_fleet(self.exact_socket, self.dir / "exact" / "agents.toml")
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- report


def targets_for(n: int) -> tuple[str, dict[str, tuple[float, str]]]:
    """The set of targets that applies to a fleet of n agents, and its name."""
    return ("N = 100", TARGETS_N100) if n <= 100 else ("N = 300", TARGETS_N300)


def verdict(value: float | None, limit: float, op: str) -> str:
    if value is None:
        return "n/a"
    return "PASS" if (value < limit if op == "<" else value >= limit) else "MISS"


def figures(r: dict[str, Any]) -> dict[str, float | None]:
    """Every figure issue 18 names, by key (the targets use the same keys)."""
    mc, d3, a = r["mission_control"], r["three_dashboards"], r["dashboard_apply"]
    out = {
        "up_seconds": r["up_seconds"],
        "supervisor_cpu_pct": mc["supervisor_cpu_pct"],
        "tick_p99_ms": mc["tick_p99_ms"],
        "captures_per_tick": mc.get("captures_per_tick"),
        "dashboard_cpu_pct": max(d3["dashboards_cpu_pct_each"]),
        "apply_render_p50_ms": a["handler_render_p50_ms"],
        "apply_render_max_ms": a["handler_render_max_ms"],
        "key_p99_ms": r.get("key_p99_ms"),
        "naive_over_mission_control_cpu": r.get("naive_over_mission_control", {}).get("supervisor_cpu_pct"),
        "dashboard_rss_mb": r["dashboard_rss_mb"],
        "store_bytes_per_min": mc.get("store_bytes_per_min"),
        "naive_store_bytes_per_min": r["naive"].get("store_bytes_per_min"),
        "store_bytes_per_tick": mc.get("store_bytes_per_tick"),
        "naive_store_bytes_per_tick": r["naive"].get("store_bytes_per_tick"),
        "full_snapshot_every_tick_bytes_per_min": mc.get("full_snapshot_every_tick_bytes_per_min"),
        "store_mb_end": r.get("store_mb_end"),
    }
    if "exact" in r:
        out["exact_agents"] = r["exact"]["exact"]
    return out


def checks(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every figure with its target and verdict ("no target" where issue 18 sets none at this N)."""
    _, targets = targets_for(r["agents"])
    out: dict[str, dict[str, Any]] = {}
    for key, value in figures(r).items():
        if key in targets:
            limit, op = targets[key]
            out[key] = {"value": value, "target": f"{op} {limit:g}", "verdict": verdict(value, limit, op)}
        else:
            out[key] = {"value": value, "target": None, "verdict": "no target"}
    if "exact" in r:
        e = r["exact"]
        out["exact_agents"] |= {"target": f"= {e['agents']}", "verdict": "PASS" if e["exact"] == e["agents"] else "MISS"}
    return out


def report(r: dict[str, Any], notes: list[str]) -> str:
    mc, naive = r["mission_control"], r["naive"]
    set_name, targets = targets_for(r["agents"])
    judged = checks(r)
    lines = [f"mission-control benchmark: N={r['agents']} agents ({r['mix']} mix{', in worktrees' if r.get('worktrees') else ''}), {r['interval_s']:g} s ticks, {r['seconds']:g} s per phase, "
             f"{r['cpus']} CPUs, tmux {subprocess.run(['tmux', '-V'], capture_output=True, text=True).stdout.strip()}",
             f"targets: issue 18's {set_name} set ({'N <= 100' if set_name.endswith('100') else 'N > 100'})"]
    for n in notes:
        lines.append(f"note: {n}")
    lines.append("")

    def row(label: str, value: Any, unit: str = "", key: str | None = None) -> None:
        shown = "—" if value is None else (f"{value:g}" if isinstance(value, (int, float)) else str(value))
        target = ""
        if key and key in targets:
            limit, op = targets[key]
            target = f"target {op} {limit:g}{unit}  {judged[key]['verdict']}"
        lines.append(f"  {label:<52} {shown if value is None else shown + unit:>14}   {target}")

    def sup_rows(title: str, s: dict[str, Any], targeted: bool) -> None:
        lines.append(title)
        row("tick p50", s["tick_p50_ms"], " ms")
        row("tick p99", s["tick_p99_ms"], " ms", "tick_p99_ms" if targeted else None)
        row("supervisor CPU (% of one core)", s["supervisor_cpu_pct"], " %", "supervisor_cpu_pct" if targeted else None)
        row("tmux server CPU (% of one core)", s["tmux_server_cpu_pct"], " %")
        row("supervisor RSS", s["supervisor_rss_mb"], " MB")
        if s.get("control_client_rss_mb"):
            row("  + its tmux control client RSS", s["control_client_rss_mb"], " MB")
        if s.get("captures_per_tick") is not None:
            row("captures per tick (rest reused)", s["captures_per_tick"])
        if s.get("git_first_pass_s") is not None and r.get("worktrees"):
            row("  first git pass over every worktree (before measuring)", s["git_first_pass_s"], " s")
        if s.get("control_error"):
            row("control client problem", s["control_error"])

    row("up of N agents (CLI wall time)", r["up_seconds"], " s", "up_seconds")
    row("  until every agent runs", r["up_to_all_running_seconds"], " s")
    row("agent launcher RSS per agent", r["launcher_rss_mb_per_agent"], " MB")
    row("agent tree RSS per agent (launcher + bash)", r["agent_tree_rss_mb_per_agent"], " MB")
    row("tmux server CPU with no supervisor (agents' output)", r["tmux_server_cpu_pct_without_supervisor"], " %")
    lines.append("")
    sup_rows("supervisor: mission-control", mc, True)
    lines.append("")
    sup_rows("supervisor: naive baseline (libtmux capture + psutil tree walk per agent)", naive, False)
    lines.append("")
    lines.append("naive / mission-control")
    for k, v in r.get("naive_over_mission_control", {}).items():
        row(k, v, "x", "naive_over_mission_control_cpu" if k == "supervisor_cpu_pct" else None)
    lines.append("")
    def kb(key: str) -> float | None:
        return None if mc.get(key) is None else round(mc[key] / 1e3, 1)

    lines.append("state store, while the mission-control supervisor ticks (its write() bytes minus its tmux commands)")
    row("written per minute (SQLite pages, WAL + checkpoints)", kb("store_bytes_per_min"), " KB")
    row("  reached the disk (write_bytes; 0 on tmpfs)", kb("store_disk_write_bytes_per_min"), " KB")
    naive_kb = None if naive.get("store_bytes_per_min") is None else round(naive["store_bytes_per_min"] / 1e3, 1)
    row("  naive: every agent's row every tick (naive phase)", naive_kb, " KB")
    row("  for scale: a full snapshot's JSON every tick", kb("full_snapshot_every_tick_bytes_per_min"), " KB")
    row("written per tick", kb("store_bytes_per_tick"), " KB")
    naive_tick = None if naive.get("store_bytes_per_tick") is None else round(naive["store_bytes_per_tick"] / 1e3, 1)
    row("  naive: every agent's row every tick (naive phase)", naive_tick, " KB")
    if mc.get("store_bytes_per_tick") and naive.get("store_bytes_per_tick"):
        row("  naive / mission-control, per tick", round(naive["store_bytes_per_tick"] / mc["store_bytes_per_tick"], 1), "x")
    row("state.db + WAL + shm after the supervisor phase", mc.get("store_mb_after"), " MB")
    row("state.db + WAL + shm at the end of the run", r.get("store_mb_end"), " MB")
    lines.append("")
    d3 = r["three_dashboards"]
    lines.append("whole system (supervisor + tmux server), mission-control")
    row("with 0 dashboards (% of one core)", mc["system_cpu_pct"], " %")
    row("with 3 dashboards (% of one core)", d3["system_cpu_pct"], " %")
    lines.append(f"  {'the 3 dashboards themselves, each (busiest judged)':<52} {', '.join(f'{c:g}' for c in d3['dashboards_cpu_pct_each']) + ' %':>14}   "
                 + (f"target < {targets['dashboard_cpu_pct'][0]:g}%  {judged['dashboard_cpu_pct']['verdict']}" if "dashboard_cpu_pct" in targets else ""))
    row("  all together", d3["system_plus_dashboards_cpu_pct"], " %")
    lines.append("")
    lines.append("dashboard")
    row("dashboard RSS (largest of 3, on a pty)", r["dashboard_rss_mb"], " MB", "dashboard_rss_mb")
    a = r["dashboard_apply"]
    row(f"apply one tick of {a['agents']} agents: handler p50", a["handler_p50_ms"], " ms")
    row("  handler + render p50", a["handler_render_p50_ms"], " ms", "apply_render_p50_ms")
    row("  handler + render max", a["handler_render_max_ms"], " ms", "apply_render_max_ms")
    row("  run_test process RSS", a["run_test_process_rss_mb"], " MB")
    lines.append("")
    lines.append(f"key press: tmux send-keys -> agent reads the byte ({r.get('key_presses', 0)} presses, 3 dashboards open)")
    row("key press p50", r.get("key_p50_ms"), " ms")
    row("key press p99", r.get("key_p99_ms"), " ms", "key_p99_ms")
    if "capture_strategies" in r:
        lines.append("")
        lines.append("capture step alone (after one list-panes), per tick")
        for name, s in r["capture_strategies"].items():
            row(f"{name}: wall p50 / captures / CPU %", f"{s['capture_ms_p50']:g} ms / {s['captures_per_tick']:g} / {s['cpu_pct_bench_plus_tmux']:g} %")
    if "exact" in r:
        e = r["exact"]
        lines.append("")
        lines.append(f"exact: {e['exact']}/{e['agents']} agents (status, reason, tokens, cost, commits, exit code as planned)  "
                     f"{judged['exact_agents']['verdict']}")
        lines.append(f"  up {e['up_seconds']:g} s, settled after {e['settled_seconds']:g} s")
        for m in e["mismatches"][:50]:
            lines.append(f"  mismatch: {m}")
        if len(e["mismatches"]) > 50:
            lines.append(f"  … and {len(e['mismatches']) - 50} more")
    misses = [k for k, c in judged.items() if c["verdict"] == "MISS"]
    lines.append("")
    lines.append(f"verdict: {len([c for c in judged.values() if c['verdict'] == 'PASS'])} PASS, {len(misses)} MISS"
                 + (f" ({', '.join(misses)})" if misses else ""))
    return "\n".join(lines)


def guarded(prog: str, work, cleanup) -> tuple[int, Any]:
    """(0, what `work()` returned), or the exit code and None when it failed or was interrupted
    (Ctrl-C or SIGTERM); `cleanup()` runs either way."""

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        return 0, work()
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        return 130, None
    except RuntimeError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1, None
    finally:
        cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured phase")
    parser.add_argument("--interval", type=float, default=1.0, help="supervisor poll interval")
    parser.add_argument("--layout", default="split")
    parser.add_argument("--mix", choices=["mixed", "quiet"], default="mixed",
                        help="mixed: streaming, spinning, bursty and idle agents in every window; quiet: 17 in 20 wait at a prompt")
    parser.add_argument("--worktrees", action="store_true",
                        help="each agent in a git worktree of its own; streaming agents commit every ~30 s, bursty ones leave unstaged edits")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--strategies", action="store_true", help="also time the capture step alone, four ways")
    parser.add_argument("--exact", action="store_true",
                        help="after the other phases, the scale test's check at N (benchmarks/scale_fleet.py): every agent's figures as planned")
    parser.add_argument("--_supervise", dest="supervise", help=argparse.SUPPRESS)
    parser.add_argument("--_dashboard-apply", dest="dashboard_apply", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.supervise:
        return child_supervise(args.supervise, args.config, args.out)
    if args.dashboard_apply:
        return child_dashboard_apply(args.config, args.out, rounds=20)

    bench = Bench(args)
    code, results = guarded("bench", bench.run, bench.cleanup)
    if results is None:
        return code
    set_name, targets = targets_for(results["agents"])
    results["target_set"] = set_name
    results["checks"] = checks(results)  # every figure: value, target, verdict
    results["verdicts"] = {k: c["verdict"] for k, c in results["checks"].items() if c["target"] is not None}
    results["targets"] = {k: c["target"] for k, c in results["checks"].items() if c["target"] is not None}
    results["notes"] = bench.notes
    if args.json:
        print(json.dumps(results))
    else:
        print(report(results, bench.notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
