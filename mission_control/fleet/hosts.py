"""Bringing up and stopping the fleets of other hosts over ssh (issue 22).

Each `[[host]]` with agents runs a fleet of its own (its own tmux server, supervisor and store):
`up_hosts` first checks every host (reachable; `mission-control` of the same major version, `tmux`
and `git` there, its `repo` when it has one — each missing thing named), then per host copies its part of the config (on ssh's
stdin, into a 0600 file) and runs `mission-control up` there. When one host fails, the hosts it had
already started are stopped again: nothing is left half-started. `down_hosts` stops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mission_control import __version__
from mission_control.adapters.ssh import UNREACHABLE, SshHost
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.errors import MissionControlError
from mission_control.core.hosts import REMOTE_CONFIG, home_word, remote_dir, version_major

NEEDED = ("mission-control", "tmux", "git")
"""What a host must have on its PATH (for its ssh sessions)."""


class HostError(MissionControlError):
    """A host could not be checked, started or stopped (exit 1): one line per host's problem."""


@dataclass
class HostsResult:
    """What `up_hosts` / `down_hosts` did, per host: a line each for the operator."""

    lines: list[str] = field(default_factory=list)


def _last_line(text: str) -> str:
    """The last non-blank line a host's command printed, without its `mission-control: ` prefix."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip().removeprefix("mission-control: ") if lines else ""


def _where(host: HostSpec) -> str:
    return f"host {host.name!r} ({host.ssh}{f' port {host.port}' if host.port else ''})"


def check_host(host: HostSpec) -> list[str]:
    """What keeps `host` from running its fleet: [] when nothing."""
    probe = "; ".join(f"command -v {name} >/dev/null 2>&1 || echo missing:{name}" for name in NEEDED)
    if host.repo is not None:  # its agents' repository there, at its top level (the version stays the last line)
        probe += (f"; if command -v git >/dev/null 2>&1; then if out=$(cd && cd {home_word(host.repo)} 2>&1 && "
                  'git rev-parse --show-prefix 2>&1); then [ -z "$out" ] || echo "notop:$out"; '
                  'else echo "norepo:$(printf %s "$out" | tail -n 1)"; fi; fi')
    probe += "; command -v mission-control >/dev/null 2>&1 && mission-control --version"
    r = SshHost(host).run(probe, timeout=30)
    if r.returncode == UNREACHABLE:
        return [f"{_where(host)}: cannot reach it over ssh: {_last_line(r.stderr) or 'ssh failed'}"]
    problems = []
    missing = [line.split(":", 1)[1] for line in r.stdout.splitlines() if line.startswith("missing:")]
    if missing:
        problems.append(f"{_where(host)}: missing on its PATH: {', '.join(missing)} (install them there; "
                        "the PATH ssh gives a command, plus ~/.local/bin)")
    for line in r.stdout.splitlines():
        if line.startswith("norepo:"):
            problems.append(f"{_where(host)}: repo {host.repo!r} is not a git repository there "
                            f"({line.removeprefix('norepo:').strip() or 'git said nothing'}): clone it there or fix [[host]] repo")
        elif line.startswith("notop:"):
            problems.append(f"{_where(host)}: repo {host.repo!r} is the folder {line.removeprefix('notop:')!r} inside a "
                            "git repository there, not its top level: name the top level in [[host]] repo")
    if "mission-control" not in missing:
        theirs = version_major(_last_line(r.stdout))
        ours = version_major(f"mission-control {__version__}")
        if theirs != ours:
            problems.append(f"{_where(host)}: mission-control there is {(_last_line(r.stdout) or 'of unknown version')!r}, "
                            f"this one is {__version__}: the major versions must match")
    return problems


def _in_dir(host: HostSpec, config: FleetConfig, *command: str) -> str:
    """A remote shell line running `command` in the host's config folder (relative: under $HOME,
    which `cd` goes to; sshd starts a session in the account's home, which $HOME may override)."""
    return f"cd && cd {remote_dir(host.config_dir, config.session)} && " + " ".join(command)


def start_host(host: HostSpec, config: FleetConfig) -> str:
    """Copy its config there and start its fleet: the line `up` printed there. Raises HostError."""
    ssh = SshHost(host)
    folder = remote_dir(host.config_dir, config.session)
    copy = (f"cd && umask 077 && mkdir -p {folder} && cat > {folder}/{REMOTE_CONFIG}.new"
            f" && mv -f {folder}/{REMOTE_CONFIG}.new {folder}/{REMOTE_CONFIG}")
    r = ssh.run(copy, input=host.config_text)
    if r.returncode != 0:
        raise HostError(f"{_where(host)}: could not copy its config to {folder}: {_last_line(r.stderr) or r.returncode}")
    r = ssh.run(_in_dir(host, config, "mission-control up --no-attach -c", REMOTE_CONFIG), timeout=120)
    if r.returncode != 0:
        raise HostError(f"{_where(host)}: its fleet did not start: {_last_line(r.stderr) or _last_line(r.stdout)}")
    return f"{host.name}: {_last_line(next((line for line in r.stdout.splitlines() if 'fleet' in line), r.stdout))}"


def stop_host(host: HostSpec, config: FleetConfig, *, clean: bool = False) -> str:
    """Stop its fleet: the line `down` printed there (`clean`: `down --clean` there, which removes
    its agents' worktrees that hold no unmerged work: its lines on them follow). Raises HostError."""
    r = SshHost(host).run(_in_dir(host, config, "mission-control down", *(["--clean"] if clean else []), "-c", REMOTE_CONFIG),
                          timeout=120)
    if r.returncode != 0:
        raise HostError(f"{_where(host)}: its fleet could not be stopped: {_last_line(r.stderr) or _last_line(r.stdout)}")
    if clean:
        said = [line.strip().removeprefix("mission-control: ") for line in r.stdout.splitlines() if line.strip()]
        return f"{host.name}: " + "; ".join(said)
    return f"{host.name}: {_last_line(r.stdout)}"


def up_hosts(config: FleetConfig) -> HostsResult:
    """Check every host, then start each; on a failure stop the ones started and raise HostError."""
    result = HostsResult()
    problems = [p for host in config.hosts for p in check_host(host)]
    if problems:
        raise HostError("; ".join(problems) + "; nothing started")
    started: list[HostSpec] = []
    for host in config.hosts:
        try:
            result.lines.append(start_host(host, config))
        except HostError as exc:
            undone = _stop_quietly(started, config)
            raise HostError(f"{exc}; {undone}nothing else left running") from None
        started.append(host)
    return result


def _stop_quietly(hosts: list[HostSpec], config: FleetConfig) -> str:
    """Stop the fleets of `hosts` (a failed `up`): what was stopped, and what could not be."""
    stopped, failed = [], []
    for host in hosts:
        try:
            stop_host(host, config)
            stopped.append(host.name)
        except HostError as exc:
            failed.append(str(exc))
    text = f"stopped again on {', '.join(stopped)}; " if stopped else ""
    return text + "".join(f"{line}; " for line in failed)


def down_hosts(config: FleetConfig, *, clean: bool = False) -> HostsResult:
    """Stop every host's fleet (each tried, whatever the others did); HostError naming those that failed."""
    result, failed = HostsResult(), []
    for host in config.hosts:
        try:
            result.lines.append(stop_host(host, config, clean=clean))
        except HostError as exc:
            failed.append(str(exc))
        SshHost(host).close()  # its master connection too (ControlPersist would keep it a minute)
    if failed:
        raise HostError("; ".join(failed))
    return result
