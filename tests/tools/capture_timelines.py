#!/usr/bin/env python3
"""Record timelines of real agent CLIs: screens, CPU and hook events every second, next to the truth.

Usage:
    python tests/tools/capture_timelines.py --kind claude --bin-dir /tmp/cli-claude-2.1.197/node_modules/.bin
    python tests/tools/capture_timelines.py --kind claude --bin-dir ... --only granted,stuck --jobs 3

Each scenario runs the real CLI in its own throwaway tmux server (a 120x40 pane, the CLI
`exec`ed from the pane's shell so the pane dies when it exits, as under mission-control's
launcher) against its own loopback fake model (tests/tools/fake_llm_server.py), with the
hooks mission-control gives that kind — pointed at tests/tools/hook_recorder.py instead
of `mission-control hook`. Claude Code gets a `--settings` file registering every hook
event of interest (a superset of mission-control's, so a replay can choose), Codex
`-c notify=[...]`.

While it runs, a sampler records once a second: the pane's screen as the supervisor
captures it (`capture-pane -p -J -S -10`), the cumulative CPU seconds of the pane's
process tree (mission-control's own ProcessTable), and whether the pane is dead. The
scenario marks the TRUE phase as it goes — `starting`, `working`, `waiting` (a human is
needed), `idle` (at its prompt, done), `stuck`, `exited`, or `retrying` (an API error
being retried by the CLI itself: STUCK or WORKING are both right) — from the fake model's
ledger (when it answered, which tool it asked for) and from its own keystrokes (when it
answered a prompt). The result is tests/data/timelines/<kind>/<version>/<scenario>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from capture_screens import Ctx, cli_version  # noqa: E402
from tmuxcap import Pane  # noqa: E402

from mission_control.adapters.processes import ProcessTable  # noqa: E402

OUT = ROOT / "tests" / "data" / "timelines"
RECORDER = HERE / "hook_recorder.py"
HISTORY = 10
"""Scrollback lines captured above the visible region (as the supervisor's HISTORY_LINES)."""
PHASES = ("starting", "working", "waiting", "idle", "stuck", "exited", "retrying")

CLAUDE_RECORDED_EVENTS = (
    "SessionStart", "SessionEnd", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
    "PermissionRequest", "PermissionDenied", "Notification", "Stop", "StopFailure", "SubagentStart",
    "SubagentStop", "PreCompact", "PostCompact", "Elicitation", "ElicitationResult",
)
"""Every Claude Code hook event that can say something about the agent's state (both versions
have them all); events with side effects (WorktreeCreate) or noise (FileChanged) are left out."""


# --------------------------------------------------------------------- recording
class Timeline:
    """One scenario's recording: a sampler thread plus the truth marks the scenario sets."""

    def __init__(self, ctx: Ctx, kind: str, scenario: str, description: str, version: str) -> None:
        self.ctx, self.kind, self.scenario, self.description, self.version = ctx, kind, scenario, description, version
        self.hook_log = os.path.join(ctx.tmp, "hooks.jsonl")
        self.marks: list[tuple[float, str, str]] = []
        self.samples: list[dict] = []
        self.screens: list[str] = []
        self.pane: Pane | None = None
        self.t0 = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.procs = ProcessTable()
        self.notes: list[str] = []

    # -- the pane ---------------------------------------------------------------
    def launch(self, cmd: str, cwd: str, home: str, env: dict[str, str]) -> Pane:
        self.t0 = time.time()
        self.mark("starting", self.t0, "launched")
        self.pane = self.ctx.pane(self.scenario, "exec " + cmd, cwd, home, env)
        self._thread = threading.Thread(target=self._sample_loop, daemon=True)
        self._thread.start()
        return self.pane

    def screen(self) -> str:
        assert self.pane is not None
        return self.pane._tmux("capture-pane", "-p", "-J", "-S", str(-HISTORY), "-t", self.pane.pane)

    def _pane_info(self) -> tuple[bool, int | None, int | None]:
        out = self.pane._tmux("display-message", "-p", "-t", self.pane.pane,
                              "#{pane_dead} #{pane_dead_status} #{pane_pid}").split()
        dead = bool(out) and out[0] == "1"
        status = int(out[1]) if dead and len(out) > 2 and out[1].lstrip("-").isdigit() else None
        pid = int(out[-1]) if out and out[-1].isdigit() else None
        return dead, status, pid

    def _sample_loop(self) -> None:
        nxt = time.time()
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # a sample lost is noted, the recording goes on
                self.notes.append(f"sample failed at {time.time() - self.t0:.1f}s: {exc!r}")
            nxt += 1.0
            self._stop.wait(max(0.0, nxt - time.time()))

    def sample(self) -> None:
        now = time.time()
        dead, status, pid = self._pane_info()
        text = self.screen()
        cpu = None
        if not dead and pid is not None:
            self.procs.refresh()
            usage = self.procs.usage(pid)
            cpu = round(usage.cpu_seconds, 2) if usage is not None else None
        if not self.screens or self.screens[-1] != text:
            self.screens.append(text)
        s = {"t": round(now - self.t0, 2), "screen": len(self.screens) - 1, "cpu": cpu, "dead": dead}
        if dead:
            s["exit_status"] = status
        self.samples.append(s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # -- the truth --------------------------------------------------------------
    def mark(self, phase: str, at: float | None = None, note: str = "") -> float:
        assert phase in PHASES, phase
        at = time.time() if at is None else at
        self.marks.append((at, phase, note))
        print(f"  [{self.kind}/{self.scenario} {at - self.t0:6.1f}s] {phase}: {note}", flush=True)
        return at

    def stay(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- what the model did -------------------------------------------------------
    def ledger(self) -> list[dict]:
        out = []
        try:
            with open(self.ctx.log, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    out.append({k: e.get(k) for k in ("t", "m", "n", "scen", "path", "code", "outcome", "tool_names") if k in e})
        except OSError:
            pass
        return out

    def wait_end(self, outcome: str = "", after: float | None = None, timeout: float = 60.0) -> dict | None:
        """The first answer the fake model finished after `after` whose outcome matches (regex)."""
        after = self.marks[-1][0] if after is None else after
        rx = re.compile(outcome)
        end = time.time() + timeout
        while time.time() < end:
            for e in self.ledger():
                if e.get("m") == "END" and e["t"] >= after and rx.search(e.get("outcome") or "") \
                        and e.get("outcome") != "side":
                    return e
            time.sleep(0.2)
        self.notes.append(f"no model answer /{outcome}/ within {timeout:.0f}s")
        print(f"  WARNING {self.kind}/{self.scenario}: no model answer /{outcome}/ within {timeout:.0f}s", flush=True)
        return None

    def last_end(self, before: float | None = None) -> dict | None:
        ends = [e for e in self.ledger() if e.get("m") == "END" and e.get("outcome") != "side"
                and (before is None or e["t"] <= before)]
        return ends[-1] if ends else None

    def open_requests(self) -> int:
        posts, ends = set(), set()
        for e in self.ledger():
            if e.get("m") == "POST":
                posts.add(e.get("n"))
            elif e.get("m") == "END":
                ends.add(e.get("n"))
        return len(posts - ends)

    def wait_screen(self, pattern: str, timeout: float = 30.0) -> float | None:
        rx = re.compile(pattern, re.M)
        end = time.time() + timeout
        while time.time() < end:
            if rx.search(self.screen()):
                return time.time()
            time.sleep(0.2)
        self.notes.append(f"/{pattern}/ not on screen within {timeout:.0f}s")
        print(f"  WARNING {self.kind}/{self.scenario}: /{pattern}/ not on screen within {timeout:.0f}s", flush=True)
        return None

    def wait_dead(self, timeout: float = 30.0) -> float | None:
        end = time.time() + timeout
        while time.time() < end:
            if self._pane_info()[0]:
                return time.time()
            time.sleep(0.1)
        self.notes.append(f"pane still alive after {timeout:.0f}s")
        return None

    def wait_quiet(self, quiet: float = 3.0, timeout: float = 90.0) -> float:
        """Until no request is open and the screen has not changed for `quiet` s; returns when it went quiet."""
        end = time.time() + timeout
        last, since = self.screen(), time.time()
        while time.time() < end:
            time.sleep(0.3)
            cur = self.screen()
            if cur != last or self.open_requests():
                last, since = cur, time.time()
            elif time.time() - since >= quiet:
                break
        return since

    def ready(self, pattern: str, timeout: float, note: str) -> float:
        """Wait for the CLI's prompt after launch: from then on the agent is idle."""
        seen = self.wait_screen(pattern, timeout)
        if seen is None:
            raise RuntimeError(f"{self.kind} never showed its prompt:\n" + self.screen())
        return self.mark("idle", seen, note)

    def turn(self, scen: str, prompt: str, final: str = "idle", note: str = "answered", settle: float = 0.5,
             answer: str = "text") -> None:
        """A plain turn: working from the Enter that submitted `prompt` until the fake model's
        answer matching `answer` was sent (its scenario `scen`), then `final`."""
        self.ctx.set_scen("main", scen)
        t = self.mark("working", self.submit(prompt, settle=settle), f"prompt submitted ({scen})")
        e = self.wait_end(answer, after=t)
        self.mark(final, e["t"] if e else None, note)

    def ask(self, scen: str, prompt: str, tool: str, dialog: str, then: str = "text", settle: float = 0.5) -> dict:
        """A turn in which the model asks for a tool that needs the human (its answer matches
        `tool`): working from the Enter, waiting from that answer; the dialog (`dialog`, a regex)
        must come on screen. The fake model answers the next requests as `then`."""
        self.ctx.set_scen("main", scen)
        t = self.mark("working", self.submit(prompt, settle=settle), f"prompt submitted ({scen})")
        e = self.wait_end(tool, after=t)
        if e is None:
            raise RuntimeError(f"the model never asked for /{tool}/")
        self.mark("waiting", e["t"], f"model asked for {e['outcome']}: a dialog")
        self.ctx.set_scen("main", then)
        if self.wait_screen(dialog, 15) is None:
            raise RuntimeError("no dialog on screen:\n" + self.screen())
        return e

    def quit(self, command: str = "/exit", ctrl_c: bool = False) -> None:
        """Type the CLI's quit command (then, with `ctrl_c`, Ctrl-C twice if it did not take):
        exited from the Enter that ended it, as every other truth changes with the key that
        caused it (the pane dies a moment later; the CLI's shutdown is no work), or from the
        moment the pane died if that took more than 3 s."""
        at = self.submit(command, settle=1.0)
        dead = self.wait_dead(30)
        if dead is None and ctrl_c:
            self.keys("C-c")
            time.sleep(1)
            self.keys("C-c")
            dead = self.wait_dead(20)
        if dead is None:
            raise RuntimeError(f"{command} did not end {self.kind}:\n" + self.screen())
        if dead - at <= 3.0:
            self.mark("exited", at, f"{command} submitted: the pane died {dead - at:.1f}s later")
        else:
            self.mark("exited", dead, f"pane dead ({dead - at:.1f}s after {command})")

    # -- keys ---------------------------------------------------------------------
    def submit(self, text: str, settle: float = 0.5) -> float:
        self.pane.type(text)
        time.sleep(settle)
        self.pane.keys("Enter")
        return time.time()

    def keys(self, *keys: str) -> float:
        self.pane.keys(*keys)
        return time.time()

    # -- output ---------------------------------------------------------------------
    def hooks(self) -> list[dict]:
        out = []
        try:
            with open(self.hook_log, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except OSError:
            pass
        return out

    def save(self) -> Path:
        t0 = self.t0
        marks = sorted(self.marks, key=lambda m: m[0])  # stable: marks at the same moment keep their order
        hooks = []
        for h in self.hooks():
            payload = h.get("payload")
            event = None
            if isinstance(payload, dict):
                event = payload.get("hook_event_name") or ("notify" if payload.get("type") == "agent-turn-complete" else None)
            if "--event" in h.get("args", []):
                event = h["args"][h["args"].index("--event") + 1]
            entry = {"t": round(h["at"] - t0, 3), "event": event or "unknown", "payload": payload}
            if "raw" in h:
                entry["raw"] = h["raw"]
            hooks.append(entry)
        model = [dict(e, t=round(e["t"] - t0, 3)) for e in self.ledger() if e.get("t")]
        doc = {
            "kind": self.kind,
            "cli": {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex", "opencode": "opencode-ai",
                    "aider": "aider-chat"}.get(self.kind, self.kind),
            "version": self.version,
            "scenario": self.scenario,
            "description": self.description,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
            "pane": {"width": 120, "height": 40, "history": HISTORY, "interval": 1.0},
            "truth": [{"t": round(at - t0, 2), "phase": ph, "note": note} for at, ph, note in marks],
            "hooks": sorted(hooks, key=lambda h: h["t"]),
            "model": model,
            "screens": encode_screens(self.screens),
            "samples": self.samples,
            "notes": self.notes,
        }
        path = OUT / self.kind / self.version / f"{self.scenario}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"  saved {path.relative_to(ROOT)} ({len(self.samples)} samples, {len(self.screens)} screens, "
              f"{len(hooks)} hooks, {path.stat().st_size // 1024} KB)", flush=True)
        return path


def encode_screens(screens: list[str]) -> list:
    """Each distinct screen in order of appearance: the first in full, the next ones as the lines
    that differ from the one before (`{"n": line count, "set": [[index, line], ...]}`);
    tests/test_timelines.py `decode_screens` rebuilds them."""
    out: list = []
    prev: list[str] | None = None
    for text in screens:
        lines = text.split("\n")
        if prev is None:
            out.append(text)
        else:
            changes = [[i, line] for i, line in enumerate(lines) if i >= len(prev) or prev[i] != line]
            out.append({"n": len(lines), "set": changes})
        prev = lines
    return out


# --------------------------------------------------------------------- the session
def recorder_argv(tl: Timeline) -> list[str]:
    return [sys.executable, "-I", "-S", str(RECORDER), tl.hook_log]


SCENARIOS: dict[str, dict[str, tuple[str, object]]] = {}


def scenario(kind: str, name: str, description: str):
    def deco(fn):
        SCENARIOS.setdefault(kind, {})[name] = (description, fn)
        return fn
    return deco


def run_one(kind: str, name: str, args, version: str) -> bool:
    description, fn = SCENARIOS[kind][name]
    ctx = Ctx(kind, args)
    ctx.version = version
    tl = Timeline(ctx, kind, name, description, version)
    ok = True
    try:
        fn(tl, args)
    except Exception:
        ok = False
        tl.notes.append("scenario failed: " + traceback.format_exc(limit=3))
        traceback.print_exc()
        if tl.pane is not None:
            print(f"  last screen of {kind}/{name}:\n" + tl.screen(), flush=True)
    finally:
        tl.stop()
        if tl.pane is not None and ok:
            tl.save()
        elif tl.pane is not None:
            print(f"  NOT saved {kind}/{name} (scenario failed)", flush=True)
        ctx.close()
    return ok


def hook_sequences() -> str:
    """Markdown: for every recorded timeline, the hook events in order with their time, the
    truth phase at that moment, and the payload's keys (values of the telling ones)."""
    telling = ("notification_type", "message", "tool_name", "source", "reason", "trigger", "error", "type",
               "agent_type", "permission_mode", "last_assistant_message", "last-assistant-message")
    out = []
    for path in sorted(OUT.glob("*/*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out.append(f"### {doc['kind']} {doc['version']} · {doc['scenario']}\n\n{doc['description']}\n")
        out.append("| t (s) | truth | event | payload keys | telling values |")
        out.append("| ---: | --- | --- | --- | --- |")
        for h in doc["hooks"]:
            truth = [m["phase"] for m in doc["truth"] if m["t"] <= h["t"]]
            payload = h["payload"] if isinstance(h["payload"], dict) else {}
            keys = ", ".join(sorted(payload))
            vals = "; ".join(f"{k}={str(payload[k])[:70]!r}" for k in telling if k in payload and payload[k] not in (None, ""))
            out.append(f"| {h['t']:.1f} | {truth[-1] if truth else '-'} | {h['event']} | {keys} | {vals} |")
        if not doc["hooks"]:
            out.append("| | | (no hook events) | | |")
        out.append("")
    return "\n".join(out).replace("\r", "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", help="claude, codex, opencode, aider")
    ap.add_argument("--hook-sequences", action="store_true",
                    help="print the recorded hook events of every timeline as markdown tables (for OBSERVATIONS.md)")
    ap.add_argument("--bin-dir", default="", help="where the CLI lives (node_modules/.bin of its npm prefix)")
    ap.add_argument("--aider", default="/tmp/aider-venv/bin/aider")
    ap.add_argument("--only", help="comma separated scenario names")
    ap.add_argument("--jobs", type=int, default=1, help="scenarios recorded at the same time")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--slow-delay", type=float, default=1.5)
    args = ap.parse_args(argv)
    if args.hook_sequences:
        print(hook_sequences())
        return 0
    if not args.kind:
        ap.error("--kind is required")
    if not shutil.which("tmux"):
        print("tmux is required", file=sys.stderr)
        return 2
    import timeline_scenarios  # noqa: F401  (registers the scenarios)

    if args.kind not in SCENARIOS:
        print(f"unknown kind {args.kind}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    names = [n for n in SCENARIOS[args.kind] if not args.only or n in args.only.split(",")]
    probe = Ctx(args.kind, args)
    exe = args.aider if args.kind == "aider" else args.kind
    version = cli_version(probe, [exe, "--version"])
    probe.close()
    print(f"== {args.kind} {version}: {', '.join(names)}", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda n: (n, run_one(args.kind, n, args, version)), names))
    failed = [n for n, ok in results if not ok]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


sys.modules.setdefault("capture_timelines", sys.modules[__name__])

if __name__ == "__main__":
    sys.exit(main())
