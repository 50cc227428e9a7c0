"""Simulated agents for the default fleet: no API key, no network, real work.

    mission-control demo ROLE

They are NOT AI agents. Each really edits files in its working directory and
commits every few seconds, prints aider-style token lines
(`Tokens: 1.2k sent, 345 received. Cost: $0.01 message, $0.05 session.`),
and sits at a `> ` prompt between turns, where it takes instructions.
Roles: coder, tester, docs (work in turns), notifier (needs NOTIFICATION_KEY:
reports STUCK until it has it), asker (asks a yes/no question and waits).
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import time
from pathlib import Path

SPIN = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROMPT = "> "

ROLES = {
    "coder": ("src", "py", ["parse config", "validate input", "cache results", "retry requests", "format report", "load plugins"]),
    "tester": ("tests", "py", ["parser edge cases", "empty input", "unicode names", "timeouts", "large files", "bad config"]),
    "docs": ("docs", "md", ["installation", "quick start", "configuration", "troubleshooting", "faq", "architecture"]),
    "notifier": ("notify", "py", ["send digest", "retry on 503", "batch messages", "render template"]),
    "asker": ("db", "sql", ["add users table", "index emails", "add orders", "backfill totals"]),
}


def fmt_tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 10000:
        return f"{n / 1000:.1f}k"
    return f"{round(n / 1000)}k"


class DemoAgent:
    def __init__(self, role: str, turn_steps: int = 3, step_seconds: float = 3.0, idle_seconds: float = 12.0) -> None:
        self.role = role
        self.name = os.environ.get("MISSION_CONTROL_AGENT", role)
        self.rng = random.Random(self.name)
        self.folder, self.ext, self.topics = ROLES[role]
        self.turn_steps = turn_steps
        self.step_seconds = step_seconds
        self.idle_seconds = idle_seconds
        self.session_cost = 0.0
        self.step = 0
        self.status_file = os.environ.get("MISSION_CONTROL_STATUS_FILE")

    # -- output ------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def report(self, line: str | None) -> None:
        """Write our own word to the status file (None clears it)."""
        if not self.status_file:
            return
        with open(self.status_file, "w") as f:
            if line:
                f.write(line + "\n")

    def spin(self, label: str, seconds: float) -> None:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            sys.stdout.write(f"\r{SPIN[i % len(SPIN)]} {label} ")
            sys.stdout.flush()
            i += 1
            time.sleep(0.15)
        sys.stdout.write("\r" + " " * (len(label) + 4) + "\r")
        sys.stdout.flush()

    def tokens_line(self) -> None:
        sent = self.rng.randint(900, 14000)
        received = self.rng.randint(80, 1500)
        cost = sent * 3e-6 + received * 15e-6
        self.session_cost += cost
        self.say(f"Tokens: {fmt_tokens(sent)} sent, {fmt_tokens(received)} received. Cost: ${cost:.2f} message, ${self.session_cost:.2f} session.")

    # -- work --------------------------------------------------------------

    def edit_and_commit(self) -> None:
        topic = self.topics[self.step % len(self.topics)]
        self.step += 1
        folder = Path(self.folder)
        folder.mkdir(exist_ok=True)
        slug = topic.replace(" ", "_")
        path = folder / f"{slug}.{self.ext}"
        self.spin(f"editing {path}", self.step_seconds * 0.6)
        comment = {"py": "#", "md": "<!--", "sql": "--"}[self.ext]
        with open(path, "a") as f:
            f.write(f"{comment} {self.name}: step {self.step}: {topic}{' -->' if comment == '<!--' else ''}\n")
        self.say(f"Applied edit to {path}")
        if Path(".git").exists():
            subprocess.run(["git", "add", str(path)], capture_output=True)
            r = subprocess.run(["git", "commit", "-q", "-m", f"{self.role}: {topic} (step {self.step})"], capture_output=True, text=True)
            if r.returncode == 0:
                sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
                self.say(f"Commit {sha} {self.role}: {topic} (step {self.step})")
        self.tokens_line()
        self.spin("thinking", self.step_seconds * 0.4)

    def wait_at_prompt(self, seconds: float | None) -> str | None:
        """Sit at our prompt; return what was typed, or None when the time is up."""
        sys.stdout.write(PROMPT)
        sys.stdout.flush()
        ready, _, _ = select.select([sys.stdin], [], [], seconds)
        if not ready:
            sys.stdout.write("\n")
            return None
        return sys.stdin.readline().strip()

    def turn(self) -> None:
        for _ in range(self.turn_steps):
            self.edit_and_commit()

    def run(self) -> None:
        task = os.environ.get("MISSION_CONTROL_TASK", "")
        self.say(f"demo {self.role} agent ({self.name}) — simulated, no model behind it")
        if task:
            self.say(f"Task: {task}")
        getattr(self, f"run_{self.role}", self.run_worker)()

    def run_worker(self) -> None:
        while True:
            self.turn()
            typed = self.wait_at_prompt(self.idle_seconds)
            if typed:
                self.say(f"OK: {typed}")

    def run_notifier(self) -> None:
        key = os.environ.get("NOTIFICATION_KEY")
        while not key:
            self.say("Error: cannot reach the notification service: NOTIFICATION_KEY is not set")
            self.report("STUCK missing NOTIFICATION_KEY")
            typed = self.wait_at_prompt(None)
            self.say(f"(got {typed!r}, but NOTIFICATION_KEY is still not set in my environment)")
        self.report(None)
        masked = key[:2] + "…" if len(key) > 4 else "…"
        self.say(f"NOTIFICATION_KEY found ({masked}); connecting to the notification service")
        self.run_worker()

    def run_asker(self) -> None:
        while True:
            self.turn()
            while True:
                self.say("Run the migration against the shared staging database? (y/n)")
                answer = self.wait_at_prompt(None)
                if answer and answer.lower()[0] in "yn":
                    break
            self.say("Migrating…" if answer.lower().startswith("y") else "Skipping the migration.")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="mission-control demo", description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--steps", type=int, default=3, help="edits per turn")
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--idle-seconds", type=float, default=12.0)
    args = parser.parse_args(argv)
    try:
        DemoAgent(args.role, args.steps, args.step_seconds, args.idle_seconds).run()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
