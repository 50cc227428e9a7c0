"""Plain helpers shared by the test files: the CLI runner, fleet builders, status rows, tmux
panes, real git repositories and fake agents. One copy each, imported by every test that needs
it; pytest fixtures stay in conftest.py (which builds on these)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import psutil

ROOT = Path(__file__).resolve().parent.parent
"""The checkout's root folder."""


# ---------------------------------------------------------------------------- waiting


def retry_until(check: Callable[[], Any], timeout: float = 45.0, interval: float = 0.1, message: str = "") -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {message or check} (last: {last!r})")


async def pilot_until(pilot: Any, check: Callable[[], Any], timeout: float = 20.0, message: str = "") -> Any:
    """`retry_until` for a running Textual app: await `check()` truthy, the app's loop (and its
    workers' messages) going on meanwhile; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await pilot.pause(0.05)
    raise AssertionError(f"not within {timeout}s: {message or check}")


class FakeClock:
    """A clock that stands still until a test moves `now`."""

    def __init__(self) -> None:
        self.now = 1000.0
        """The time it reports, in seconds."""

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- the CLI


class Cli:
    """Runs `python -m mission_control ...` as a user would, on the test's socket."""

    def __init__(self, socket: str, cwd: Path) -> None:
        self.socket = socket
        """The tmux socket name (`-L`) of the test's server."""
        self.cwd = cwd
        """Where the commands run."""

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("TMUX", None)
        env["MISSION_CONTROL_SOCKET"] = self.socket
        env.update(extra)
        return env

    def __call__(self, *args: str, timeout: float = 60, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mission_control", *args],
            cwd=cwd or self.cwd, env=self.env(**extra), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def status(self, *args: str, **kw: Any) -> list[dict[str, Any]]:
        r = self("status", "--json", *args, **kw)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def tmux(self, *args: str, check: bool = True) -> str:
        r = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {args}: {r.stderr}")
        return r.stdout

    def server_running(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "list-sessions"], capture_output=True).returncode == 0


def run_cli(cli: Cli, cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mission-control ARGS -c CFG` on the test's socket, with `stdin` fed in."""
    return subprocess.run(
        [sys.executable, "-m", "mission_control", *args, "-c", str(cfg)],
        cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, input=stdin, timeout=60,
    )


# ---------------------------------------------------------------------------- fleets


def write_config(folder: Path, body: str, name: str = "agents.toml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


def fleet(folder: Path, agents: str, mission: str = "", *, stuck_after: float | None = 30,
          name: str = "agents.toml") -> Path:
    """A config in `folder`: session "t", a 0.3 s poll, `stuck_after` (None: the default), the
    extra `mission` lines, then the `agents` tables."""
    stuck = "" if stuck_after is None else f"stuck_after = {stuck_after:g}\n"
    return write_config(folder, f'[mission]\nsession = "t"\npoll_interval = 0.3\n{stuck}{mission}\n{agents}', name)


def up(cli: Cli, folder: Path, agents: str, mission: str = "", *, stuck_after: float | None = None,
       name: str = "agents.toml") -> Path:
    """`fleet(...)`, brought up detached; fails the test if `up` fails."""
    cfg = fleet(folder, agents, mission, stuck_after=stuck_after, name=name)
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    return cfg


def shell_agent(name: str, command: str, extra: str = "") -> str:
    """One `[[agent]]` table of kind shell; `command` is quoted as TOML, `extra` lines follow."""
    return f'\n[[agent]]\nname = "{name}"\nkind = "shell"\ncommand = {json.dumps(command)}\n{extra}'


def rows(cli: Cli, cfg: Path) -> dict[str, dict]:
    """`status --json` of the fleet, by agent name."""
    return {r["name"]: r for r in cli.status("-c", str(cfg))}


def status_of(cli: Cli, cfg: Path, name: str) -> dict:
    """One agent's `status --json` row ({} while it is not listed)."""
    return rows(cli, cfg).get(name, {})


# ---------------------------------------------------------------------------- panes


def pane_of(cli: Cli, agent: str) -> str:
    """The tmux pane id of `agent` (its `@mc_agent` option)."""
    for line in cli.tmux("list-panes", "-a", "-F", "#{pane_id} #{@mc_agent}").splitlines():
        pid, _, name = line.partition(" ")
        if name == agent:
            return pid
    raise AssertionError(f"no pane for {agent}")


def pane_text(cli: Cli, agent: str, *, joined: bool = False) -> str:
    """The agent's screen; `joined`: wrapped lines joined again (`capture-pane -J`)."""
    return cli.tmux("capture-pane", "-p", *(["-J"] if joined else []), "-t", pane_of(cli, agent))


def pane_ids(cli: Cli) -> list[str]:
    """Every pane id on the test's server, sorted."""
    return sorted(cli.tmux("list-panes", "-a", "-F", "#{pane_id}").split())


def role_pid(cli: Cli, role: str) -> int:
    """The pid in the one pane whose `@mc_role` is `role` (supervisor, dashboard)."""
    panes = [line.split() for line in cli.tmux("list-panes", "-a", "-F", "#{pane_pid} #{@mc_role}").splitlines()]
    (pid,) = [int(p[0]) for p in panes if len(p) > 1 and p[1] == role]
    return pid


# ---------------------------------------------------------------------------- processes


def gone(pid: int) -> bool:
    """The process has ended (or is a zombie waiting for its parent)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def kill_hard(pid: int) -> None:
    """SIGKILL `pid` and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: gone(pid), message=f"pid {pid} killed")


# ---------------------------------------------------------------------------- git


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`git -C cwd ARGS` with `env` over the process's; its stdout, or the test fails with its stderr."""
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def sha(cwd: Path, rev: str = "HEAD") -> str:
    return git(cwd, "rev-parse", rev).strip()


def commit(cwd: Path, message: str, files: dict[str, str], *, env: dict[str, str] | None = None, at: int | None = None) -> str:
    """Write and add `files`, commit them (at `at`, seconds since the epoch), return the new sha.
    The identity is the environment's where it sets one, else "T <t@x>"."""
    for name, text in files.items():
        path = cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(cwd, "add", name)
    env = dict(env or {})
    if at is not None:
        env.setdefault("GIT_AUTHOR_DATE", f"@{at} +0000")
        env.setdefault("GIT_COMMITTER_DATE", f"@{at} +0000")
    git(cwd, "-c", "user.name=T", "-c", "user.email=t@x", "commit", "-q", "-m", message, env=env)
    return sha(cwd)


def make_repo(path: Path, files: dict[str, str] | None = None, message: str = "base") -> Path:
    """A new repository at `path` on branch main with one commit of `files` (shared.txt by default)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    commit(path, message, {"shared.txt": "base\n"} if files is None else files)
    return path


# ---------------------------------------------------------------------------- fake agents

NOTIFIER = r"""
import os, sys, time
key = os.environ.get("NOTIFICATION_KEY")
if key is None:
    print("Error: NOTIFICATION_KEY is not set; cannot reach the notification service", flush=True)
    time.sleep(1000)
open(sys.argv[1], "wb").write(key.encode())
print("notified", flush=True)
time.sleep(1000)
"""
"""Reports STUCK (with the variable's name) until NOTIFICATION_KEY is set, then writes it to argv[1]."""

PROMPTER = r"""
import os, sys
out = open(sys.argv[1], "a")
print("task:", os.environ.get("MISSION_CONTROL_TASK", "-"), flush=True)
if "NOTE" in os.environ:
    print("note:", os.environ["NOTE"], flush=True)
if os.environ.get("SAY_STUCK"):
    print("STUCK: the build server refuses me", flush=True)
while True:
    try:
        line = input("> ")
    except EOFError:
        break
    out.write(line + "\n"); out.flush()
    print("ok:", line, flush=True)
"""
"""A prompt-driven agent: prints its task (and $NOTE where set), then reads lines at a `> ` prompt
into the file argv[1], answering each with `ok:`."""


def write_scripts(folder: Path, **bodies: str) -> dict[str, Path]:
    """Each body written to `folder/NAME.py`; the paths by name."""
    out = {}
    for name, body in bodies.items():
        path = folder / f"{name}.py"
        path.write_text(body)
        out[name] = path
    return out


# ---------------------------------------------------------------------------- a second host over SSH (issue 22)


SSHD = Path("/usr/sbin/sshd")


def sshd_missing() -> str | None:
    """Why a test sshd cannot run here (None: it can): the reason a test is skipped with."""
    import shutil

    if not SSHD.exists() or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        return "openssh-server is not installed (scripts/install_sshd.sh installs it as root)"
    if os.geteuid() != 0:
        return "the test sshd logs in as its own user, which needs root (privilege separation)"
    return None


def our_ssh_processes(ssh_config: Path, prefixes: list[str]) -> list[psutil.Process]:
    """The ssh processes of ours running here for some hosts: those given their ssh config (`-F`,
    the status streams, the channels) and the master connections (`ssh: <ControlPath> [mux]`,
    whose paths start with one of `prefixes`)."""
    out = []
    for p in psutil.process_iter():
        try:
            line = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if line.startswith("ssh") and (str(ssh_config) in line or any(x in line for x in prefixes)):
            out.append(p)
    return out


class SshBox:
    """A real `sshd` on a loopback port with throwaway host and user keys: a second "host" with its
    own HOME, state and tmux socket. Its sessions get HOME, PATH (this venv's `mission-control`
    first) and MISSION_CONTROL_SOCKET through the key's `environment=` options; the local side
    reaches it as `box` through `ssh_config` (ssh takes ~/.ssh from the password database, not
    $HOME, so the tests hand ssh this file with `-F`: MISSION_CONTROL_SSH_CONFIG)."""

    def __init__(self, folder: Path, name: str = "box") -> None:
        self.folder = folder
        """Everything of this box: keys, configs, its HOME."""
        self.name = name
        """The `Host` alias in `ssh_config`."""
        self.home = folder / "home"
        """The box's HOME (agents' config and state go under it)."""
        self.socket = f"mcbox-{uuid.uuid4().hex[:10]}"
        """The box's tmux socket (-L)."""
        self.ssh_config = folder / "ssh_config"
        """The client config the local side uses (`-F`)."""
        self.port = 0
        self.env: dict[str, str] = {}
        """What its sessions get through the key's `environment=` options."""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "SshBox":
        import socket as socketlib

        self.home.mkdir(parents=True, exist_ok=True)
        for key in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.folder / key)], check=True)
        bindir = Path(sys.executable).parent
        self.env = {"HOME": str(self.home), "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
                    "MISSION_CONTROL_SOCKET": self.socket, "LANG": "C.UTF-8"}
        options = ",".join(f'environment="{k}={v}"' for k, v in self.env.items())
        (self.folder / "authorized_keys").write_text(f"{options} {(self.folder / 'user_key.pub').read_text()}")
        with socketlib.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        (self.folder / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.folder / 'host_key'}\n"
            f"PidFile {self.folder / 'sshd.pid'}\nAuthorizedKeysFile {self.folder / 'authorized_keys'}\n"
            "PermitUserEnvironment yes\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nAllowTcpForwarding no\nX11Forwarding no\n"
            "MaxSessions 50\nMaxStartups 50\nLogLevel ERROR\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation folder
        host_pub = (self.folder / "host_key.pub").read_text().split()
        (self.folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        user = os.environ.get("USER") or "root"
        self.ssh_config.write_text(
            f"Host {self.name}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {user}\n"
            f"  IdentityFile {self.folder / 'user_key'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.folder / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
            "  BatchMode yes\n  LogLevel ERROR\n")
        return self.restart()

    def cut(self) -> None:
        """Cut every link to the box: its sshd and each connection's sshd process go (what they ran
        there loses its session; the box's fleet, under its own tmux server, keeps running)."""
        assert self.proc is not None
        links = [p for p in psutil.Process(self.proc.pid).children(recursive=True) if p.name() == "sshd"]
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for link in links:
            try:
                link.kill()
            except psutil.NoSuchProcess:
                pass

    def restart(self) -> "SshBox":
        """Start its sshd (again, after a test cut the link) on the same port and keys."""
        self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.folder / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.folder / "sshd.log", "ab"))
        retry_until(lambda: self.ssh("true").returncode == 0, timeout=20, message=f"sshd on port {self.port}")
        return self

    def alias(self, name: str, **env: str) -> str:
        """Another way in (`Host NAME`, its own user key) whose sessions get `env` over the usual
        (e.g. a PATH without mission-control): a host set up differently, on the same sshd."""
        key = self.folder / f"key_{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        options = ",".join(f'environment="{k}={v}"' for k, v in {**self.env, **env}.items())
        with open(self.folder / "authorized_keys", "a") as f:
            f.write(f"{options} {(self.folder / f'key_{name}.pub').read_text()}")
        config = self.ssh_config.read_text().split("Host ", 2)[1].split("\n", 1)[1]
        config = config.replace(str(self.folder / "user_key"), str(key))
        with open(self.ssh_config, "a") as f:
            f.write(f"Host {name}\n{config}")
        return name

    def ssh(self, *command: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run `command` on the box through ssh (one shell line, as ssh sends it)."""
        return subprocess.run(["ssh", "-F", str(self.ssh_config), self.name, *command], capture_output=True, text=True,
                              input=input, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop its tmux server and its sshd (and the sessions it forked)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.proc is not None and self.proc.poll() is None:
            parent = psutil.Process(self.proc.pid)
            children = parent.children(recursive=True)
            self.proc.terminate()
            for child in children:
                try:
                    child.terminate()
                except psutil.NoSuchProcess:
                    pass
            self.proc.wait(timeout=10)
