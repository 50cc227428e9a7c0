"""The light launcher every agent runs under; it is the pane's own process.

    python -I -S launcher.py LAUNCH_FILE

It reads the agent's argv, working dir and environment from LAUNCH_FILE (0600, written by
`core.launch_plan.launch_file_bytes`) and removes it at once, so no value — a task, a secret,
PATH — ever stands on a command line or passes through tmux. Then it starts the agent in a
process group of its own with exactly that environment, hands it the terminal as the
foreground group, waits for it without reacting to stops, and exits with the agent's exit
status (128 + N when a signal N ended it).

Why: tmux sends SIGCONT to a pane's own process group whenever that process
stops, so an agent that *is* the pane's process cannot be paused. Under the
launcher, pausing is SIGSTOP to the agent's group, which tmux leaves alone.

Standard library only, nothing heavy: it lives as long as its agent.
"""

import os
import signal
import sys
import time

GRACE_SECONDS = 5


def _give_terminal(fd, pgid):
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)


GATE_SECONDS = 5


def _wait_for_gate():
    # The agent starts only once its pane is ready: its output log (tmux pipe-pane) open, so not
    # one line is missed, and the pane kept on exit. The fleet removes the gate file when it is;
    # never wait for long.
    gate = os.environ.pop("MISSION_CONTROL_START_GATE", None)
    if not gate:
        return
    deadline = time.monotonic() + GATE_SECONDS
    while os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


MAGIC = b"mission-control-launch-1"


def read_launch_file(path):
    """(argv, env, cwd) from a launch file, which is removed; None (said on stderr) if unusable.
    A file that is not a launch file is left alone: the launcher removes only what the fleet wrote."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        sys.stderr.write("mission-control launcher: cannot read %s: %s\n" % (path, exc.strerror))
        return None
    if data.startswith(MAGIC + b"\0"):
        try:
            os.unlink(path)
        except OSError:
            pass
    fields = data.split(b"\0")
    try:
        if fields[0] != MAGIC:
            raise ValueError
        cwd = fields[1]
        count = int(fields[2])
        argv = fields[3:3 + count]
        if count < 1 or len(argv) != count:
            raise ValueError
    except (ValueError, IndexError):
        sys.stderr.write("mission-control launcher: %s is not a launch file\n" % path)
        return None
    env = {}
    for entry in fields[3 + count:]:
        name, _, value = entry.partition(b"=")
        env[name] = value
    return argv, env, cwd


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("mission-control launcher: usage: launcher.py LAUNCH_FILE\n")
        return 2
    launch = read_launch_file(argv[0])
    if launch is None:
        return 2
    argv, env, cwd = launch
    os.environb.update(env)
    _wait_for_gate()
    try:
        os.chdir(cwd)
    except OSError as exc:
        sys.stderr.write("mission-control launcher: cannot enter %s: %s\n" % (os.fsdecode(cwd), exc.strerror))
        return 127
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        tty = None
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            if tty is not None:
                _give_terminal(tty, os.getpgrp())
                os.close(tty)
            os.execvp(argv[0], argv)
        except OSError as exc:
            sys.stderr.write("mission-control launcher: cannot start %s: %s\n" % (os.fsdecode(argv[0]), exc.strerror))
        os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did it (or already exec'd)
    if tty is not None:
        _give_terminal(tty, pid)

    def forward(signum, _frame):
        # Pass the signal on to the agent's whole group, wake it if paused, and
        # make sure it is gone after a grace period.
        for sig in (signum, signal.SIGCONT):
            try:
                os.killpg(pid, sig)
            except OSError:
                pass
        signal.signal(signal.SIGALRM, lambda *_: _kill_group(pid))
        signal.alarm(GRACE_SECONDS)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, forward)

    while True:
        try:
            _, status = os.waitpid(pid, 0)  # no WUNTRACED: a paused agent is still running
            break
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
    code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    _record_exit(code)
    return code


def _record_exit(code):
    # tmux 3.3a sometimes loses a respawned pane's exit status (#{pane_dead_status} empty):
    # leave it beside the agent's status file, where the supervisor looks when tmux has none.
    status_file = os.environ.get("MISSION_CONTROL_STATUS_FILE")
    if not status_file:
        return
    try:
        fd = os.open(os.path.join(os.path.dirname(status_file), "exit_status"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, ("%d %d\n" % (os.getpid(), code)).encode())  # whose status: a later run's launcher differs
        os.close(fd)
    except OSError:
        pass


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
