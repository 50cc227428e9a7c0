#!/usr/bin/env python3
"""Capture real agent-CLI screens as plain-text fixtures.

Usage:
    python tests/tools/capture_screens.py --kind claude [--kind codex ...] [--bin-dir DIR]

Each kind runs the real CLI in a throwaway tmux server (``tmux -L fixtures-...``)
with a 120x40 pane, a temporary git repo as cwd and a temporary HOME, and
drives it with ``send-keys``.  States beyond "no credentials" are reached with
tests/tools/fake_llm_server.py, a loopback-only fake of the vendors' wire
protocols.  Screens go to tests/data/screens/<kind>/<slug>.txt and the entries
for the captured kinds are replaced in tests/data/screens/manifest.toml.

Requirements: tmux, and the CLIs on PATH (or in --bin-dir), e.g.
    npm install --prefix /tmp/npmg @anthropic-ai/claude-code @openai/codex \
        @google/gemini-cli opencode-ai @qwen-code/qwen-code   # --bin-dir /tmp/npmg/node_modules/.bin
    python -m venv /tmp/aider-venv && /tmp/aider-venv/bin/pip install aider-chat
                                                 # --aider /tmp/aider-venv/bin/aider
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.modules.setdefault("capture_screens", sys.modules[__name__])
from tmuxcap import Pane, make_repo, trim  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "screens"
SERVER = Path(__file__).resolve().parent / "fake_llm_server.py"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Ctx:
    def __init__(self, kind: str, args):
        self.kind = kind
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix=f"fx-{kind}-")
        self.ctl = os.path.join(self.tmp, "ctl")
        os.makedirs(self.ctl)
        self.port = free_port()
        self.log = os.path.join(self.tmp, "requests.jsonl")
        self.server = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(self.port), "--log", self.log,
             "--ctl-dir", self.ctl, "--lifetime", "1800", "--slow-delay", str(args.slow_delay)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "server.err"), "w"))
        time.sleep(0.8)
        self.entries: list[dict] = []
        self.version = "?"
        self.panes: list[Pane] = []
        self.path = ":".join(filter(None, [args.bin_dir, "/usr/local/bin:/usr/bin:/bin"]))

    def url(self, scen: str) -> str:
        return f"http://127.0.0.1:{self.port}/s/{scen}"

    def set_scen(self, name: str, scen: str) -> None:
        Path(self.ctl, name).write_text(scen)

    def home(self) -> str:
        return tempfile.mkdtemp(prefix="home-", dir=self.tmp)

    def repo(self) -> str:
        return make_repo(self.tmp)

    def pane(self, name: str, cmd: str, cwd: str, home: str, env: dict | None = None) -> Pane:
        e = {"HOME": home, "PATH": self.path, "TERM": "xterm-256color", "LANG": "C.UTF-8",
             "COLORTERM": "truecolor", "USER": "dev", "SHELL": "/bin/bash"}
        e.update(env or {})
        p = Pane(f"{self.kind}-{name}", cmd, cwd, e)
        self.panes.append(p)
        return p

    def save(self, pane: Pane, slug: str, status: str, reason: str, how: str, scrollback: int = 0,
             text: str | None = None, expect: str | None = None) -> bool:
        """Save the screen; with `expect` (regex) only if it is on screen."""
        if text is None:
            text = pane.capture(scrollback)
        if expect and not re.search(expect, text, re.I | re.M):
            print(f"  WARNING: {self.kind}/{slug}: /{expect}/ not on screen, not saved", flush=True)
            Path(self.tmp, f"unsaved-{slug}.txt").write_text(text)
            return False
        d = OUT / self.kind
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{slug}.txt").write_text(trim(text))
        self.entries = [e for e in self.entries if e["file"] != f"{self.kind}/{slug}.txt"]
        self.entries.append({"file": f"{self.kind}/{slug}.txt", "kind": self.kind, "status": status,
                             "reason": reason, "version": self.version, "how": how})
        print(f"  saved {self.kind}/{slug}.txt [{status}] {reason}", flush=True)
        return True

    def close(self) -> None:
        for p in self.panes:
            p.kill()
        # codex >= 0.16x leaves an app-server daemon running from $HOME/.codex/packages
        # after the TUI exits: stop every process started from this run's temp dir, by pid
        time.sleep(1)
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.tmp in cmdline and "fake_llm_server" not in cmdline:
                try:
                    os.kill(int(pid_dir.name), 15)
                except OSError:
                    pass
        self.server.terminate()
        try:
            self.server.wait(5)
        except subprocess.TimeoutExpired:
            self.server.kill()
        if not self.args.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"  kept {self.tmp}")


def cli_version(ctx: Ctx, cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PATH=ctx.path + ":" + os.environ.get("PATH", ""),
                                      HOME=ctx.home())).stdout
    except Exception:
        return "?"
    import re
    m = re.search(r"\d+\.\d+\.\d+", out)
    return m.group(0) if m else out.strip()


# --------------------------------------------------------------------- registry
KINDS = {}


def kind(name):
    def deco(fn):
        KINDS[name] = fn
        return fn
    return deco


# Each kind lives in its own module capture_<kind>.py which registers itself.
def load_kinds():
    import importlib
    for k in ("claude", "codex", "aider", "gemini", "opencode", "qwen"):
        try:
            importlib.import_module(f"capture_{k}")
        except ModuleNotFoundError as exc:
            if exc.name != f"capture_{k}":
                raise


# --------------------------------------------------------------------- manifest
def toml_str(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def read_manifest() -> list[dict]:
    path = OUT / "manifest.toml"
    if not path.exists():
        return []
    import tomllib
    return tomllib.loads(path.read_text()).get("screen", [])


CAPTURED_KEYS = ("file", "kind", "status", "reason", "version", "how")


def write_manifest(entries: list[dict]) -> None:
    order = ["claude", "codex", "gemini", "opencode", "aider", "qwen"]
    entries = sorted(entries, key=lambda e: (order.index(e["kind"]) if e["kind"] in order else 99, e["file"]))
    # keys the tests added by hand (reason_has, needs, growing, note) survive a re-capture
    old_path = OUT / "manifest.toml"
    kept: dict[str, dict] = {}
    if old_path.exists():
        import tomllib

        for old in tomllib.loads(old_path.read_text()).get("screen", []):
            kept[old["file"]] = {k: v for k, v in old.items() if k not in CAPTURED_KEYS}
    lines = ["# Screen fixtures captured from real agent CLIs (see README.md).", ""]
    for e in entries:
        lines.append("[[screen]]")
        for k in CAPTURED_KEYS:
            lines.append(f"{k} = {toml_str(str(e.get(k, '')))}")
        for k, v in kept.get(e["file"], {}).items():
            value = toml_str(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            lines.append(f"{k} = {value}")
        lines.append("")
    (OUT / "manifest.toml").write_text("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", action="append", help="claude, codex, gemini, opencode, aider, qwen (repeatable)")
    ap.add_argument("--bin-dir", default=os.environ.get("FIXTURE_BIN_DIR", "/tmp/npmg/node_modules/.bin"))
    ap.add_argument("--aider", default=os.environ.get("FIXTURE_AIDER", "/tmp/aider-venv/bin/aider"))
    ap.add_argument("--slow-delay", type=float, default=1.5)
    ap.add_argument("--only", help="comma separated scenario names inside a kind")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args(argv)
    if not shutil.which("tmux"):
        print("tmux is required", file=sys.stderr)
        return 2
    load_kinds()
    kinds = args.kind or list(KINDS)
    for k in kinds:
        if k not in KINDS:
            print(f"unknown kind {k}", file=sys.stderr)
            continue
        print(f"== {k}", flush=True)
        ctx = Ctx(k, args)
        try:
            KINDS[k](ctx)
        finally:
            ctx.close()
            done = {e["file"] for e in ctx.entries}
            manifest = [e for e in read_manifest() if e["file"] not in done] + ctx.entries
            write_manifest(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
