"""The first minute, as a newcomer meets it: run by `.ci/run`, fails loudly when it would fail for a user.

    python3 scripts/smoke_newcomer.py [clone|wheel|all]

Every command runs in a clean environment — `env -i HOME=<temp> PATH=/usr/local/bin:/usr/bin:/bin
TERM=xterm-256color`: nothing activated, no `python` on PATH (as on a stock Debian) — on a tmux
socket of its own.

- clone: a fresh `git clone` of this checkout; the README's first command, verbatim but for
  `--no-attach`; within 60 s at least 4 agents, commits growing, `notifier` STUCK on
  NOTIFICATION_KEY, `asker` WAITING; then `down` leaves no tmux server and no process.
- wheel: a wheel built from that clone, installed into a fresh venv (what pipx and `uv tool` do);
  `layouts` with no config, then `check` and `up --no-attach` of the shipped demo config copied
  to a temp dir; the demo agents live; `down` leaves nothing.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 60.0


class SmokeFailure(Exception):
    pass


def clean_env(home: Path, socket: str) -> dict[str, str]:
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "xterm-256color",
            "MISSION_CONTROL_SOCKET": socket}


def sh(command: str, *, cwd: Path, env: dict[str, str], timeout: float = 600, quiet: bool = False) -> str:
    if not quiet:
        print(f"$ {command}    (in {cwd})", flush=True)
    r = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SmokeFailure(f"`{command}` exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def readme_first_command() -> str:
    """The first line of the README's first code block, without its comment."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    if not block:
        raise SmokeFailure("README.md has no code block")
    line = block.group(1).splitlines()[0].split("#")[0].strip()
    if not line.endswith("mission-control up"):
        raise SmokeFailure(f"README's first command does not end in `mission-control up`: {line!r}")
    return line


def fleet_lives(mc: str, cwd: Path, env: dict[str, str]) -> list[dict]:
    """Wait until the demo fleet is alive as the README promises; the last status read."""
    first: dict[str, int] = {}
    deadline = time.monotonic() + DEADLINE
    rows: list[dict] = []
    problems = "no status yet"
    while time.monotonic() < deadline:
        rows = json.loads(sh(f"{mc} status --json", cwd=cwd, env=env, quiet=True) or "[]")
        by = {r["name"]: r for r in rows}
        for r in rows:
            if r["commits"] is not None:
                first.setdefault(r["name"], r["commits"])
        grew = [n for n, r in by.items() if (r["commits"] or 0) > first.get(n, 0)]
        problems = "; ".join(p for p, bad in (
            (f"{len(rows)} agents", len(rows) < 4),
            (f"commits grew for {grew}", len(grew) < 2),
            (f"notifier is {by.get('notifier', {}).get('status')} ({by.get('notifier', {}).get('reason')})",
             by.get("notifier", {}).get("status") != "STUCK" or "NOTIFICATION_KEY" not in (by["notifier"].get("reason") or "")),
            (f"asker is {by.get('asker', {}).get('status')}", by.get("asker", {}).get("status") != "WAITING"),
            (f"exited: {[n for n, r in by.items() if r['status'] == 'EXITED']}", any(r["status"] == "EXITED" for r in rows)),
        ) if bad)
        if not problems:
            alive = ", ".join(f"{r['name']} {r['status']} {r['commits']} commits" for r in rows)
            print(f"  alive: {alive}", flush=True)
            return rows
        time.sleep(1.0)
    raise SmokeFailure(f"the demo fleet is not alive within {DEADLINE:.0f} s: {problems}\n{json.dumps(rows, indent=1)[:4000]}")


def processes_under(folder: Path) -> list[str]:
    """Processes whose command line or working dir lies in `folder`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if int(pid) != os.getpid() and (str(folder) in cmdline or cwd.startswith(str(folder))):
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def down_leaves_nothing(mc: str, cwd: Path, env: dict[str, str], folder: Path) -> None:
    sh(f"{mc} down", cwd=cwd, env=env)
    r = subprocess.run(["tmux", "-L", env["MISSION_CONTROL_SOCKET"], "list-sessions"], capture_output=True, text=True)
    if r.returncode == 0:
        raise SmokeFailure(f"after down, tmux still has sessions: {r.stdout}")
    deadline = time.monotonic() + 10
    while (left := processes_under(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        raise SmokeFailure("after down, processes are left:\n" + "\n".join(left))
    print("  down: no session, no process left", flush=True)


def smoke_clone(tmp: Path) -> Path:
    print("== the README's first command, in a fresh clone, nothing activated", flush=True)
    clone, home = tmp / "clone", tmp / "home-clone"
    home.mkdir()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = clean_env(home, f"smoke-{uuid.uuid4().hex[:8]}")
    try:
        out = sh(readme_first_command() + " --no-attach", cwd=clone, env=env)
        print("  " + out.strip().replace("\n", "\n  "), flush=True)
        fleet_lives(".venv/bin/mission-control", clone, env)
        down_leaves_nothing(".venv/bin/mission-control", clone, env, clone)
    finally:
        subprocess.run(["tmux", "-L", env["MISSION_CONTROL_SOCKET"], "kill-server"], capture_output=True)
    return clone


def smoke_wheel(tmp: Path, clone: Path) -> None:
    print("== installed from a wheel into a fresh venv, the demo config copied elsewhere", flush=True)
    home, demo = tmp / "home-wheel", tmp / "somewhere" / "else"
    home.mkdir()
    demo.mkdir(parents=True)
    env = clean_env(home, f"smoke-{uuid.uuid4().hex[:8]}")
    sh(f"python3 -m venv {tmp}/build && {tmp}/build/bin/pip wheel -q --no-deps -w {tmp}/wheels {clone}", cwd=tmp, env=env)
    (wheel,) = (tmp / "wheels").glob("mission_control-*.whl")
    sh(f"python3 -m venv {tmp}/tool && {tmp}/tool/bin/pip install -q {wheel}", cwd=tmp, env=env)
    mc = f"{tmp}/tool/bin/mission-control"
    layouts = sh(f"{mc} layouts", cwd=Path("/"), env=env)
    for preset in ("split", "tiled", "columns", "stacked", "windows"):
        if not re.search(rf"^{preset}\s", layouts, re.M):
            raise SmokeFailure(f"`layouts` from the wheel lacks {preset!r}:\n{layouts}")
    if str(clone) in layouts:
        raise SmokeFailure(f"`layouts` from the wheel reads the checkout, not the package:\n{layouts}")
    shutil.copy(clone / "agents.toml", demo / "agents.toml")
    print("  " + sh(f"{mc} check", cwd=demo, env=env).strip(), flush=True)
    try:
        sh(f"{mc} up --no-attach", cwd=demo, env=env)
        fleet_lives(mc, demo, env)
        down_leaves_nothing(mc, demo, env, demo)
    finally:
        subprocess.run(["tmux", "-L", env["MISSION_CONTROL_SOCKET"], "kill-server"], capture_output=True)


def main(argv: list[str]) -> int:
    which = argv[0] if argv else "all"
    if which not in ("clone", "wheel", "all"):
        print(__doc__)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mc-smoke-"))
    try:
        clone = smoke_clone(tmp) if which in ("clone", "all") else None
        if which in ("wheel", "all"):
            if clone is None:
                clone = tmp / "clone"
                subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            smoke_wheel(tmp, clone)
    except (SmokeFailure, subprocess.SubprocessError) as exc:
        print(f"SMOKE FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("smoke: the first minute works, from a clone and from a wheel", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
