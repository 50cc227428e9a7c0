#!/usr/bin/env python
"""Does anything grow without bound?  `python benchmarks/soak.py [--agents 100] [--minutes 60] [--json]`

Brings up the benchmark's fleet (benchmarks/bench.py: the same simulated agents, the same
mix, the same `mission-control up` on a throwaway tmux server `-L mc-bench-<random>`, killed
at the end, on Ctrl-C too), keeps the supervisor that `up` started (the real one, in its
tmux pane), closes the dashboard `up` opened inside tmux and opens ONE real dashboard on a
pseudo-terminal of 200x50 instead (bench's `Dashboard`: its output read and thrown away, as
a terminal would). Then, once a minute, one line: the minute, the supervisor's RSS, the
dashboard's RSS, the size of state.db + WAL + shm, and what the supervisor wrote in that
minute, from its /proc/<pid>/io: `write_bytes`, what it sent to the disk, which from this
process is the store alone (state.db, WAL, and the shm index written through mmap; pipes
never reach a disk), page-granular, and 0 when the state dir is on tmpfs; and `wchar`, every
write() of the process: the store's SQLite pages plus the commands it sends its tmux control
client, which cannot be told apart from outside the process (bench.py, whose supervisor runs
in a process of its own, subtracts them).

At the end: the dashboard's growth in MB/hour after its first 30 minutes (the least-squares
slope of its RSS over the minutes >= 30; in a shorter run, first sample to last), the
store's size, and the row counts of the history tables (status_changes, actions, deliveries,
hook_events; read with sqlite3 read-only, "absent" when a table does not exist), against
issue 18's targets: state.db + WAL < 100 MB at the end, dashboard growth < 5 MB/hour.
`--json` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402

from bench import Bench, Dashboard, guarded, io_counters, rss_mb, store_bytes, verdict, wait_for  # noqa: E402

HISTORY_TABLES = ("status_changes", "actions", "deliveries", "hook_events")
SETTLED_AFTER_MINUTES = 30
TARGETS = {
    "store_mb_end": (100.0, "<"),
    "dashboard_growth_mb_per_hour": (5.0, "<"),
}


def growth_mb_per_hour(samples: list[dict[str, Any]]) -> tuple[float | None, str]:
    """The dashboard's RSS growth per hour, and how it was worked out."""
    late = [s for s in samples if s["minute"] >= SETTLED_AFTER_MINUTES]
    if len(late) >= 2:
        xs, ys = [s["minute"] for s in late], [s["dashboard_rss_mb"] for s in late]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return round(slope * 60, 2), f"least-squares slope over minutes {xs[0]}-{xs[-1]}"
    if len(samples) >= 2 and samples[-1]["minute"] > samples[0]["minute"]:
        first, last = samples[0], samples[-1]
        slope = (last["dashboard_rss_mb"] - first["dashboard_rss_mb"]) / (last["minute"] - first["minute"])
        return round(slope * 60, 2), f"first to last sample (minutes {first['minute']}-{last['minute']}; shorter than {SETTLED_AFTER_MINUTES + 1} minutes)"
    return None, "too few samples"


def history_rows(store_path: Path) -> dict[str, int | None]:
    """Rows in each history table (None: no such table), read without writing anything."""
    out: dict[str, int | None] = {}
    try:
        conn = sqlite3.connect(f"{store_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return {t: None for t in HISTORY_TABLES}
    try:
        for table in HISTORY_TABLES:
            try:
                out[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            except sqlite3.Error:
                out[table] = None
    finally:
        conn.close()
    return out


def supervisor_process(bench: Bench) -> psutil.Process:
    """The supervisor `up` started: the process in the fleet's supervisor pane running `supervise`."""
    pane = bench.role_pane("supervisor")
    if pane is None or not pane.pid:
        raise RuntimeError("the fleet has no supervisor pane")
    top = psutil.Process(pane.pid)
    for p in [top, *top.children(recursive=True)]:
        try:
            if "supervise" in p.cmdline():
                return p
        except psutil.Error:
            pass
    return top


def soak_bench(args: argparse.Namespace) -> Bench:
    """The benchmark's fleet-maker, for this soak's fleet (no phase of its own runs)."""
    return Bench(argparse.Namespace(agents=args.agents, seconds=0.0, interval=args.interval, layout=args.layout,
                                    mix=args.mix, worktrees=False, json=args.json, strategies=False, exact=False))


def soak(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    say = bench.log
    results: dict[str, Any] = {"agents": args.agents, "minutes": args.minutes, "interval_s": args.interval, "samples": []}
    bench.write_fleet()
    bench.up(keep_supervisor=True)
    sup = supervisor_process(bench)
    results["up_seconds"] = bench.results["up_seconds"]
    dash = Dashboard(bench.config, bench.env)
    bench.dashboards.append(dash)
    wait_for(lambda: b"a001" in dash.tail or dash.proc.poll() is not None, 60, "the dashboard to show the fleet")
    if dash.proc.poll() is not None:
        raise RuntimeError(f"the dashboard exited: {dash.tail[-400:]!r}")
    dp = psutil.Process(dash.proc.pid)
    say(f"soak: {args.agents} agents, one dashboard, {args.minutes:g} minutes; a line a minute")
    if not args.json:
        print(f"{'minute':>6} {'supervisor MB':>14} {'dashboard MB':>13} {'store MB':>9} {'store to disk KB':>17} {'all write() KB':>15}", flush=True)
    start = time.monotonic()
    last = io_counters(sup.pid)
    minute = 0
    while True:
        try:
            gone = sup.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            gone = True
        if gone:
            raise RuntimeError(f"the supervisor exited at minute {minute}")
        if dash.proc.poll() is not None:
            raise RuntimeError(f"the dashboard exited at minute {minute}: {dash.tail[-400:]!r}")
        now = io_counters(sup.pid)
        sample = {
            "minute": minute,
            "supervisor_rss_mb": round(rss_mb(sup), 1),
            "dashboard_rss_mb": round(rss_mb(dp), 1),
            "store_mb": round(store_bytes(bench.store_path) / 1e6, 2),
            "store_to_disk_bytes": now[1] - last[1],
            "write_call_bytes": now[0] - last[0],
        }
        last = now
        results["samples"].append(sample)
        if not args.json:
            print(f"{minute:>6} {sample['supervisor_rss_mb']:>14.1f} {sample['dashboard_rss_mb']:>13.1f} {sample['store_mb']:>9.2f} "
                  f"{sample['store_to_disk_bytes'] / 1e3:>17.1f} {sample['write_call_bytes'] / 1e3:>15.1f}", flush=True)
        if minute >= args.minutes:
            break
        minute += 1
        time.sleep(max(0.0, start + 60 * minute - time.monotonic()))
    growth, method = growth_mb_per_hour(results["samples"])
    results["dashboard_growth_mb_per_hour"] = growth
    results["dashboard_growth_method"] = method
    results["store_mb_end"] = results["samples"][-1]["store_mb"]
    results["history_rows"] = history_rows(bench.store_path)
    if not any(s["store_to_disk_bytes"] for s in results["samples"]):
        results["note"] = "write_bytes stayed 0: the state dir is likely on tmpfs; only the write() column counts"
    results["checks"] = {
        key: {"value": results[key], "target": f"{op} {limit:g}", "verdict": verdict(results[key], limit, op)}
        for key, (limit, op) in TARGETS.items()
    }
    return results


def report(r: dict[str, Any]) -> str:
    c = r["checks"]
    lines = [
        "",
        f"soak: {r['agents']} agents, one dashboard on a pty, {r['minutes']:g} minutes (up took {r['up_seconds']:g} s)",
        f"  state.db + WAL + shm at the end   {r['store_mb_end']:>8.2f} MB     target < 100 MB  {c['store_mb_end']['verdict']}",
        f"  dashboard growth                  {'—' if r['dashboard_growth_mb_per_hour'] is None else format(r['dashboard_growth_mb_per_hour'], '.2f'):>8} MB/h   "
        f"target < 5 MB/h  {c['dashboard_growth_mb_per_hour']['verdict']}  ({r['dashboard_growth_method']})",
        "  history rows at the end: " + ", ".join(f"{t} {'absent' if n is None else n}" for t, n in r["history_rows"].items()),
        "  store to disk = the supervisor's write_bytes (files only: the store); all write() = its wchar (store + tmux commands)",
    ]
    if r.get("note"):
        lines.append(f"  note: {r['note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0, help="supervisor poll interval")
    parser.add_argument("--layout", default="split")
    parser.add_argument("--mix", choices=["mixed", "quiet"], default="mixed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    bench = soak_bench(args)
    code, results = guarded("soak", lambda: soak(args, bench), bench.cleanup)
    if results is None:
        return code
    print(json.dumps(results) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
