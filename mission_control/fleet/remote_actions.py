"""Actions on agents of other hosts (issue 22 point 3): the command runs on the agent's host, in
that host's own fleet, through the same ssh master connection the view uses (ControlMaster);
what is typed or injected travels on ssh's stdin, never on a command line. The laptop's action log
records the action too (with the host's answer as its outcome), as the host's own log does.
"""

from __future__ import annotations

import atexit
import shlex
import socket
import subprocess
import threading
from dataclasses import dataclass

from mission_control.adapters.ssh import UNREACHABLE, SshHost
from mission_control.adapters.store import Store, StoreError
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.env_overlay import EnvTextError, parse_env_text
from mission_control.core.errors import MissionControlError, UsageError
from mission_control.core.hosts import ACTOR_ENV, REMOTE_CONFIG, remote_actor, remote_dir
from mission_control.fleet.host_channel import ChannelLost, ChannelUnusable, HostChannel

FORWARDED = ("pause", "continue", "resume", "send", "kill", "restart", "inject", "diff", "answer", "merge")
"""The per-agent commands that run on the agent's host when it has one."""


CHANNEL_COMMANDS = (*FORWARDED, "env", "reassign", "spawn")
"""What a host's action channel runs (in its one process): the per-agent actions, not programs or
commands that take the process over (supervise, attach, dashboard); others go by one-shot ssh."""


class RemoteActionError(MissionControlError):
    """The host could not be reached for the action (exit 1)."""


@dataclass(frozen=True)
class RemoteResult:
    code: int
    stdout: str
    stderr: str


SPAWNED_ON = "spawned_on:"
"""Laptop store meta key prefix: the host an agent was spawned on from here (`spawn --host`), for
the moments before the laptop's snapshot shows it there."""


def agent_hosts(config: FleetConfig, names: list[str]) -> dict[str, HostSpec | None]:
    """Where each of `names` runs (None: this machine): a configured agent where the config puts
    it; any other (spawned on a host, a role's agent there) where the laptop's latest snapshot
    shows it; one not shown yet and no agent of this machine, where it was spawned from here —
    the store is read only for such names."""
    where = {name: next((h for h in config.hosts if name in h.agents), None) for name in names}
    others = [n for n, h in where.items() if h is None and config.agent(n) is None]
    if others and config.hosts:
        shown = shown_hosts(config)
        for name in others:
            where[name] = next((h for h in config.hosts if h.name == (shown.get(name) or _spawned_on(config, name))), None)
    return where


def _spawned_on(config: FleetConfig, name: str) -> str | None:
    """The host `name` was spawned on from here, unless it is (now) an agent of this machine."""
    if not config.store_path.exists():
        return None
    try:
        store = Store(config.store_path)
        if any(a.name == name for a in store.agents(include_removed=True)):
            return None
        return store.get_meta(SPAWNED_ON + name) or None
    except StoreError:
        return None


def shown_hosts(config: FleetConfig) -> dict[str, str]:
    """{agent: its host} of the agents of other hosts in the laptop's latest snapshot ({}: none, or
    no store yet — never made by looking)."""
    if not config.store_path.exists():
        return {}
    try:
        snapshot = Store(config.store_path).latest_snapshot()
    except StoreError:
        return {}
    return {a.name: a.host for a in (snapshot.agents if snapshot else ()) if a.host}


def host_of(config: FleetConfig, names: list[str]) -> HostSpec | None:
    """The one host all `names` run on (None: this machine). Agents of several places at once: UsageError."""
    where = agent_hosts(config, names)
    hosts = {h.name if h else None for h in where.values()}
    if len(hosts) > 1:
        raise UsageError("these agents run on different hosts (" + ", ".join(
            f"{n}: {h.name if h else 'local'}" for n, h in where.items()) + "): give one host's agents at a time")
    return next(iter(where.values()), None)


def _remote_line(config: FleetConfig, host: HostSpec, words: list[str], actor: str | None = None) -> str:
    """The remote shell line running `mission-control WORDS -c <its config>` in the host's config folder
    (`actor`: who its action log names, through MISSION_CONTROL_ACTOR)."""
    named = ["env", f"{ACTOR_ENV}={actor}"] if actor else []
    return (f"cd && cd {remote_dir(host.config_dir, config.session)} && exec "
            + shlex.join([*named, "mission-control", *words, "-c", REMOTE_CONFIG]))


def run_on_host(config: FleetConfig, host: HostSpec, words: list[str], *, stdin: str = "", actor: str = "cli",
                log: bool = True) -> RemoteResult:
    """`mission-control WORDS -c <its config>` on `host`; `stdin` is what the command reads.
    `log`: whether the laptop's action log records it (not for what only reads, like `env`); the
    host's log names `actor` with this machine (`dashboard@laptop`)."""
    there = remote_actor(actor, socket.gethostname())
    r = _through_channel(config, host, words, stdin, there) if _KEEP_CHANNELS and words[0] in CHANNEL_COMMANDS else None
    if r is None:
        r = SshHost(host).run(_remote_line(config, host, words, there), input=stdin, timeout=120)
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


_KEEP_CHANNELS = False
_CHANNELS: dict[tuple[str, str, str], HostChannel] = {}
_CHANNELS_LOCK = threading.Lock()


def keep_channels(config: FleetConfig | None = None, *, wait: bool = False) -> None:
    """From now on this process keeps one action channel per host (fleet/host_channel.py) and sends
    its actions through it (the dashboard, the supervisor: processes that act often); the one-shot
    CLI does not. With `config`, each host's channel is opened now (in the background unless
    `wait`), so the first key does not wait for it. The channels end when the process does."""
    global _KEEP_CHANNELS
    if not _KEEP_CHANNELS:
        _KEEP_CHANNELS = True
        atexit.register(close_channels)
    if config is None:
        return
    opening = [threading.Thread(target=_channel(config, host).open, daemon=True) for host in config.hosts]
    for thread in opening:
        thread.start()
    for thread in opening if wait else ():
        thread.join()


def close_channels() -> None:
    """End this process's channels; actions use the one-shot ssh again until `keep_channels`."""
    global _KEEP_CHANNELS
    _KEEP_CHANNELS = False
    with _CHANNELS_LOCK:
        channels = list(_CHANNELS.values())
        _CHANNELS.clear()
    for channel in channels:
        channel.close()


def _channel(config: FleetConfig, host: HostSpec) -> HostChannel:
    """This process's channel to `host` (not started yet when new)."""
    where = remote_dir(host.config_dir, config.session)
    key = (host.name, host.ssh, where)
    with _CHANNELS_LOCK:
        channel = _CHANNELS.get(key)
        if channel is None:
            channel = _CHANNELS[key] = HostChannel(host, _remote_line(config, host, ["host-channel"]))
        return channel


def _through_channel(config: FleetConfig, host: HostSpec, words: list[str], stdin: str,
                     actor: str) -> subprocess.CompletedProcess[str] | None:
    """`words` run through the host's channel (started or restarted as needed); None: the channel
    cannot take it and nothing ran (the caller uses the one-shot ssh). A channel lost mid-request
    is one failure (exit 1), never a second run."""
    try:
        code, out, err = _channel(config, host).request(words, stdin, actor, timeout=120)
    except ChannelUnusable:
        return None
    except ChannelLost as exc:
        return subprocess.CompletedProcess(words, 1, "", f"mission-control: host {host.name!r}: the action channel "
                                           f"was lost during {words[0]} ({exc}); it may or may not have been done\n")
    return subprocess.CompletedProcess(words, code, out, err)


def by_host(config: FleetConfig, names: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`names` split by where they run: {host name: its agents} and the names of this machine."""
    hosts: dict[str, list[str]] = {}
    local = []
    where = agent_hosts(config, names)
    for name in names:
        host = where[name]
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
    return SshHost(host).argv(_remote_line(config, host, ["attach", name]), tty=True)


def window_argv(argv: list[str], title: str) -> list[str]:
    """A new window of the tmux this process runs in ($TMUX: the laptop's own) running `argv` (one
    shell word each), so that a dashboard inside tmux stays where it is."""
    return ["tmux", "new-window", "-n", title, shlex.join(argv)]
