"""A scripted numbered menu drawn the way Claude Code draws its permission dialog (`❯ 1. Yes` …
`Esc to cancel · Tab to amend`), driven by ↑/↓ and Enter in raw mode, for the `answer` tests.

    python menu_prompt.py OUT [extra args are ignored]

Writes its pid to OUT.pid; on SIGUSR1 it asks another question (the prompt changes under the
person's eyes); on Enter it appends the chosen option's label to OUT and shows `● chose: …`.
Digits are ignored (only the arrows move), so a test can tell how the choice was made.
"""

from __future__ import annotations

import os
import signal
import sys
import termios
import tty

OUT = sys.argv[1]
QUESTIONS = ["Do you want to proceed?", "Do you want to delete the database?"]
OPTIONS = ["Yes", "Yes, and don't ask again for this command", "No"]
state = {"question": 0, "at": 0}


def draw() -> None:
    lines = ["\x1b[2J\x1b[H", "● I'll run the build script.", "", "─" * 60, " Bash command", "   ./build.sh --all", "",
             f" {QUESTIONS[state['question']]}"]
    for i, label in enumerate(OPTIONS):
        lines.append(f" {'❯' if i == state['at'] else ' '} {i + 1}. {label}")
    lines += ["", " Esc to cancel · Tab to amend"]
    sys.stdout.write("\r\n".join(lines))
    sys.stdout.flush()


def other_question(*_: object) -> None:
    state["question"] = 1
    draw()


def main() -> None:
    with open(OUT + ".pid", "w") as f:
        f.write(str(os.getpid()))
    signal.signal(signal.SIGUSR1, other_question)
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        draw()
        pending = b""
        while True:
            pending += os.read(fd, 16)
            while pending:
                if pending.startswith(b"\x1b[A") or pending.startswith(b"\x1bOA"):
                    state["at"], pending = max(0, state["at"] - 1), pending[3:]
                elif pending.startswith(b"\x1b[B") or pending.startswith(b"\x1bOB"):
                    state["at"], pending = min(len(OPTIONS) - 1, state["at"] + 1), pending[3:]
                elif pending[:1] == b"\x1b" and len(pending) < 3:
                    break  # the rest of an arrow key is on its way
                elif pending[:1] in (b"\r", b"\n"):
                    with open(OUT, "a") as f:
                        f.write(OPTIONS[state["at"]] + "\n")
                    sys.stdout.write("\x1b[2J\x1b[H● chose: " + OPTIONS[state["at"]] + "\r\n")
                    sys.stdout.flush()
                    while True:
                        signal.pause()
                else:
                    pending = pending[1:]
                draw()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


if __name__ == "__main__":
    main()
