"""Issue 22 point 7: what a fleet split over several hosts costs the laptop, and how long an
action on a remote agent takes.

Starts HOSTS real sshd "hosts" on loopback (tests/helpers.SshBox: throwaway host and user keys,
each its own HOME and tmux socket), one ssh config naming them all, and a fleet of AGENTS shell
agents spread over them (one more on this machine), then `mission-control up` as a user would.
Once every agent shows in the laptop's `status --json` (its host reached), it measures for SECONDS:

- the laptop's CPU for the view: its supervisor (with the ssh children it waited for: the
  round-trip pings), the long-lived ssh processes of ours (one status stream per host and
  each host's ControlMaster) and a dashboard running in a 120x40 tmux terminal, as a percentage
  of one core (target: < 5 %);
- ACTIONS pause/continue pairs on remote agents through FleetActions.on_host (what a dashboard key runs),
  each timed from the call to its return, i.e. done on the host (target p99: < 150 ms).

Needs root (the sshd's privilege separation) and openssh-server (scripts/install_sshd.sh).
Full run: `python benchmarks/hosts_bench.py` (100 agents, 4 hosts); a tiny one:
`python benchmarks/hosts_bench.py --agents 8 --hosts 2 --seconds 10 --actions 4`.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import psutil  # noqa: E402

from helpers import SshBox, our_ssh_processes, sshd_missing  # noqa: E402

AGENT = ("while true; do echo \"step $RANDOM\"; sleep {period}; done")
"""A remote agent: prints a line every few seconds, so the hosts' streams carry changes."""


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_actions(acts, names: list[str], pairs: int) -> tuple[list[float], int]:
    """`pairs` pause/continue pairs on the remote agents `names` (what the dashboard's pause key
    sends to the agent's host), each timed from the call to its return (done on the host)."""
    took: list[float] = []
    failed = 0
    for k in range(pairs):
        name = names[k % len(names)]
        for verb in ("pause", "continue"):
            t = time.perf_counter()
            outcome = acts.on_host(name, [verb, name])
            took.append((time.perf_counter() - t) * 1000)
            failed += outcome is None or not outcome.ok
    return took, failed


def config_text(boxes: list[SshBox], agents: int) -> str:
    out = ['[mission]\nsession = "hb"\npoll_interval = 1.0\n']
    for box in boxes:
        out.append(f'[[host]]\nname = "{box.name}"\nssh = "{box.name}"\n')
    out.append('[[agent]]\nname = "here"\nkind = "shell"\ncommand = "bash"\n')
    for i in range(agents):
        box = boxes[i % len(boxes)]
        command = AGENT.format(period=2 + i % 5)
        out.append(f'[[agent]]\nname = "a{i:03d}"\nkind = "shell"\ncommand = {json.dumps(command)}\nhost = "{box.name}"\n')
    return "\n".join(out)


def cli(env: dict[str, str], cwd: Path, *args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mission_control", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, input=input, timeout=timeout)


def cpu_of(procs: list[psutil.Process], with_children: bool = False) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + ((t.children_user + t.children_system) if with_children else 0.0)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--one-shot", action="store_true", help="one ssh + mission-control per action (no action channel)")
    parser.add_argument("--settle", type=float, default=300.0, help="seconds for every agent to be running")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # `timeout` still stops both sides (finally)
    reason = sshd_missing()
    if reason:
        print(json.dumps({"skipped": reason}))
        return 0
    work = Path(tempfile.mkdtemp(prefix="hosts-bench-"))
    boxes: list[SshBox] = []
    env = dict(os.environ, MISSION_CONTROL_SOCKET=f"hb-{uuid.uuid4().hex[:8]}")
    cfg = work / "agents.toml"
    result: dict[str, object] = {"agents": args.agents, "hosts": args.hosts, "seconds": args.seconds}
    try:
        for i in range(args.hosts):
            boxes.append(SshBox(work / f"box{i}", name=f"box{i}").start())
        ssh_config = work / "ssh_config"
        ssh_config.write_text("".join(b.ssh_config.read_text() for b in boxes))
        env["MISSION_CONTROL_SSH_CONFIG"] = str(ssh_config)
        cfg.write_text(config_text(boxes, args.agents))
        began = time.monotonic()
        up = cli(env, work, "up", "--no-attach", "-c", str(cfg))
        if up.returncode != 0:
            result["error"] = f"up failed: {up.stderr.strip()}"
            return 1
        deadline = time.monotonic() + args.settle
        while True:
            r = cli(env, work, "status", "--json", "-c", str(cfg))
            rows = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []
            running = [a for a in rows if a["status"] != "UNREACHABLE" and "connect" not in (a.get("reason") or "")]
            if len(running) == args.agents + 1:
                break
            if time.monotonic() > deadline:
                result["error"] = (f"only {len(running)} of {args.agents + 1} agents running after {args.settle:g} s: "
                                   + ", ".join(sorted({f"{a['name']} {a['status']}" for a in rows} - {f"{a['name']} {a['status']}" for a in running})[:5]))
                return 1
            print(f"hosts_bench: {len(running)}/{args.agents + 1} agents in the view", file=sys.stderr, flush=True)
            time.sleep(1)
        result["up_to_all_running_s"] = round(time.monotonic() - began, 1)

        from mission_control.adapters.ssh import SshHost
        from mission_control.adapters.store import Store
        from mission_control.fleet.actions import FleetActions
        from mission_control.fleet.locate import load_config

        os.environ.update(MISSION_CONTROL_SSH_CONFIG=str(ssh_config), MISSION_CONTROL_SOCKET=env["MISSION_CONTROL_SOCKET"])
        config = load_config(cfg)
        prefixes = [next(o for o in SshHost(h).argv("") if o.startswith("ControlPath=")).split("=", 1)[1].removesuffix("%C")
                    for h in config.hosts]
        snap = Store(config.store_path).latest_snapshot()
        supervisor = psutil.Process(snap.supervisor_pid) if snap and snap.supervisor_pid else None
        procs = our_ssh_processes(ssh_config, prefixes)
        result["long_lived_ssh_processes"] = len(procs)
        dash_socket = f"hb-dash-{uuid.uuid4().hex[:8]}"  # a person's dashboard, in a 120x40 terminal of its own
        subprocess.run(["tmux", "-L", dash_socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
                        shlex.join(["env", *(f"{k}={v}" for k, v in env.items() if k.startswith(("MISSION_CONTROL", "PATH", "HOME"))),
                                    sys.executable, "-m", "mission_control", "dashboard", "-c", str(cfg)])], check=True)
        try:
            time.sleep(5)  # its start (imports, first read) is not the steady cost
            dash_pid = int(subprocess.run(["tmux", "-L", dash_socket, "list-panes", "-F", "#{pane_pid}"],
                                          capture_output=True, text=True).stdout.split()[0])
            dashboard = psutil.Process(dash_pid)
            before = cpu_of(procs) + (cpu_of([supervisor], with_children=True) if supervisor else 0.0)
            dash_before = cpu_of([dashboard] + dashboard.children(recursive=True))
            t0 = time.monotonic()
            time.sleep(args.seconds)
            procs = our_ssh_processes(ssh_config, prefixes)
            after = cpu_of(procs) + (cpu_of([supervisor], with_children=True) if supervisor else 0.0)
            dash_after = cpu_of([dashboard] + dashboard.children(recursive=True))
            elapsed = time.monotonic() - t0
            shown = subprocess.run(["tmux", "-L", dash_socket, "capture-pane", "-p"], capture_output=True, text=True).stdout
            result["dashboard_shows_remote_agents"] = "a000" in shown or "a001" in shown
        finally:
            subprocess.run(["tmux", "-L", dash_socket, "kill-server"], capture_output=True)
        result["supervisor_and_ssh_cpu_percent_of_a_core"] = round(100 * (after - before) / elapsed, 2)
        result["dashboard_cpu_percent_of_a_core"] = round(100 * (dash_after - dash_before) / elapsed, 2)
        result["laptop_cpu_percent_of_a_core"] = round(100 * (after - before + dash_after - dash_before) / elapsed, 2)
        result["load_average_1m"] = round(os.getloadavg()[0], 2)  # this machine's: the hosts' fleets run here too
        result["cores"] = os.cpu_count()
        result["target_cpu_percent"] = 5

        if not args.one_shot:  # as the dashboard does: one action channel per host, opened at its start
            from mission_control.fleet.remote_actions import keep_channels

            t = time.perf_counter()
            keep_channels(config, wait=True)
            result["channels_open_ms"] = round((time.perf_counter() - t) * 1000, 1)
        result["one_shot_ssh_per_action"] = args.one_shot
        acts = FleetActions(config, actor="bench")
        remote = [f"a{i:03d}" for i in range(args.agents)]
        took, failed = timed_actions(acts, remote, args.actions)
        result["actions"] = len(took)
        result["actions_failed"] = failed
        result["action_ms_p50"] = round(percentile(took, 0.5) or 0, 1)
        result["action_ms_p99"] = round(percentile(took, 0.99) or 0, 1)
        if not args.one_shot:  # the naive way of the same run, for comparison: an ssh and a Python per action
            from mission_control.fleet.remote_actions import close_channels

            close_channels()
            naive, naive_failed = timed_actions(acts, remote, max(1, args.actions // 4))
            result["baseline_one_shot_action_ms_p50"] = round(percentile(naive, 0.5) or 0, 1)
            result["baseline_one_shot_action_ms_p99"] = round(percentile(naive, 0.99) or 0, 1)
            result["baseline_actions_failed"] = naive_failed
        result["target_action_ms_p99"] = 150
        return 0
    finally:
        if cfg.exists():
            down = cli(env, work, "down", "-c", str(cfg))
            if down.returncode != 0:
                result["down_error"] = down.stderr.strip()
        for box in boxes:
            box.stop()
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
