"""Actions on agents of other hosts (issue 22 point 3): the command runs on the agent's host, in
that host's own fleet, through the same ssh master connection the view uses (ControlMaster);
what is typed or injected travels on ssh's stdin, never on a command line. The laptop's action log
records the action too (with the host's answer as its outcome), as the host's own log does.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from mission_control.adapters.ssh import UNREACHABLE, SshHost
from mission_control.adapters.store import Store, StoreError
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.env_overlay import EnvTextError, parse_env_text
from mission_control.core.errors import MissionControlError, UsageError
from mission_control.core.hosts import REMOTE_CONFIG, remote_dir

FORWARDED = ("pause", "continue", "resume", "send", "kill", "restart", "inject", "diff", "answer", "merge")
"""The per-agent commands that run on the agent's host when it has one."""


class RemoteActionError(MissionControlError):
    """The host could not be reached for the action (exit 1)."""


@dataclass(frozen=True)
class RemoteResult:
    code: int
    stdout: str
    stderr: str


def host_of(config: FleetConfig, names: list[str]) -> HostSpec | None:
    """The one host all `names` run on (None: this machine). Agents of several places at once: UsageError."""
    where = {name: next((h for h in config.hosts if name in h.agents), None) for name in names}
    hosts = {h.name if h else None for h in where.values()}
    if len(hosts) > 1:
        raise UsageError("these agents run on different hosts (" + ", ".join(
            f"{n}: {h.name if h else 'local'}" for n, h in where.items()) + "): give one host's agents at a time")
    return next(iter(where.values()), None)


def run_on_host(config: FleetConfig, host: HostSpec, words: list[str], *, stdin: str = "", actor: str = "cli",
                log: bool = True) -> RemoteResult:
    """`mission-control WORDS -c <its config>` on `host`; `stdin` is what the command reads.
    `log`: whether the laptop's action log records it (not for what only reads, like `env`)."""
    line = (f"cd && cd {remote_dir(host.config_dir, config.session)} && exec "
            + shlex.join(["mission-control", *words, "-c", REMOTE_CONFIG]))
    r = SshHost(host).run(line, input=stdin, timeout=120)
    if r.returncode == UNREACHABLE and not r.stdout:
        last = [w for w in r.stderr.strip().splitlines() if w.strip()]
        raise RemoteActionError(f"host {host.name!r} is unreachable ({last[-1] if last else 'ssh failed'}): "
                                f"{words[0]} not done")
    if not log:
        return RemoteResult(r.returncode, r.stdout, r.stderr)
    try:
        Store(config.store_path).log_action(actor, words[0], " ".join(n for n in words[1:2]), f"on host {host.name}",
                                            (r.stdout or r.stderr).strip().splitlines()[-1] if (r.stdout or r.stderr).strip() else f"exit {r.returncode}")
    except StoreError:
        pass  # the host's own log has it; a laptop store that cannot be written does not undo the action
    return RemoteResult(r.returncode, r.stdout, r.stderr)


def by_host(config: FleetConfig, names: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`names` split by where they run: {host name: its agents} and the names of this machine."""
    hosts: dict[str, list[str]] = {}
    local = []
    for name in names:
        host = next((h for h in config.hosts if name in h.agents), None)
        if host is None:
            local.append(name)
        else:
            hosts.setdefault(host.name, []).append(name)
    return hosts, local


def host_named(config: FleetConfig, name: str) -> HostSpec:
    return next(h for h in config.hosts if h.name == name)


def env_text(values: dict[str, str]) -> str:
    """`NAME=value` lines that the host's `inject` reads back as exactly `values` (they travel on
    ssh's stdin). A value that would not come back the same (a line of it reading as `NAME=value`,
    a trailing newline) is one line (UsageError) naming the variable, and nothing is sent."""
    text = "".join(f"{name}={value}\n" for name, value in values.items())
    try:
        back = parse_env_text(text).values
    except EnvTextError:
        back = {}
    for name, value in values.items():
        if back.get(name) != value:
            raise UsageError(f"{name}: its value has a line that reads as NAME=value or ends with a newline, so it "
                             "would not reach the other host as it is; nothing changed")
    return text


def injected_on_host(config: FleetConfig, host: HostSpec, name: str) -> dict[str, str]:
    """The variables injected into `name` on its host, masked there (`mission-control env NAME`)."""
    r = run_on_host(config, host, ["env", name], log=False)
    if r.code != 0:
        lines = [line for line in (r.stderr or r.stdout).splitlines() if line.strip()]
        raise RemoteActionError(f"{host.name}: " + (lines[-1].removeprefix("mission-control: ") if lines else f"exit status {r.code}"))
    out = {}
    for line in r.stdout.splitlines():
        if "=" in line and not line.startswith("mission-control: "):
            key, masked = line.split("=", 1)
            out[key] = masked
    return out


def attach_argv(config: FleetConfig, host: HostSpec, name: str) -> list[str]:
    """`ssh -tt <host> mission-control attach NAME`: that host's fleet, attached at the agent's pane,
    through the same master connection as every other command to it."""
    line = (f"cd && cd {remote_dir(host.config_dir, config.session)} && exec "
            + shlex.join(["mission-control", "attach", name, "-c", REMOTE_CONFIG]))
    return SshHost(host).argv(line, tty=True)


def window_argv(argv: list[str], title: str) -> list[str]:
    """A new window of the tmux this process runs in ($TMUX: the laptop's own) running `argv` (one
    shell word each), so that a dashboard inside tmux stays where it is."""
    return ["tmux", "new-window", "-n", title, shlex.join(argv)]
