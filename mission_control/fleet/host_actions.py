"""Actions on agents of another host (issue 22 point 3): the same `mission-control` action, run there.

`HostActions` is `FleetActions` for a fleet with `[[host]]`s: an action on an agent of this
machine is done here as always; one on an agent of another host runs that host's own
`mission-control ACTION AGENT` over ssh (the host's ControlMaster connection, `adapters/ssh.py`),
in the host's config folder, so its own supervisor, store and action log see it as any action
there. Text and injected values travel on ssh's stdin, never on a command line (here or there).
The action is logged on both sides: there by the host's own command, here with `on host NAME`.
"""

from __future__ import annotations

import shlex
from typing import Any

from mission_control.adapters.ssh import UNREACHABLE, SshHost
from mission_control.core.config import FleetConfig, HostSpec
from mission_control.core.env_overlay import EnvFix, parse_env_text
from mission_control.core.model import Status
from mission_control.core.resume import ResumePlan, ResumeStep, resume_plan
from mission_control.fleet.actions import ActionError, FleetActions, Outcome, recorded
from mission_control.fleet.hosts import _in_dir

ACTION_TIMEOUT = 120.0
"""Seconds an action on another host may take (a respawn waits for the agent's prompt there)."""


class HostActions(FleetActions):
    """FleetActions that sends the actions on other hosts' agents to those hosts."""

    def host_of(self, name: str) -> HostSpec | None:
        """The `[[host]]` the agent runs on (None: this machine)."""
        return next((h for h in self.config.hosts if name in h.agents), None)

    def record(self, name: str) -> Any:
        host = self.host_of(name)
        if host is not None:  # what is not sent to its host below cannot be done from here yet
            raise ActionError(f"{name!r} runs on host {host.name!r}: this action is not supported on another "
                              f"host yet (on that host: `mission-control ... {name}`)")
        return super().record(name)

    def remote(self, host: HostSpec, action: str, name: str | None, args: list[str], detail: str,
               stdin: str | None = None) -> Outcome:
        """Run `mission-control ACTION ARGS` in the host's config folder (`stdin` fed in), and log it here."""
        command = _in_dir(host, self.config, "mission-control", *(shlex.quote(a) for a in [action, *args]),
                          "-c", "agents.toml")
        r = SshHost(host).run(command, input=stdin if stdin is not None else "", timeout=ACTION_TIMEOUT)
        lines = [line.strip() for line in (r.stdout + "\n" + r.stderr).splitlines() if line.strip()]
        said = "; ".join(line.removeprefix("mission-control: ") for line in lines[-3:])
        if r.returncode == UNREACHABLE and not lines:
            said = "cannot reach it over ssh"
        message = f"on host {host.name}: {said or ('done' if r.returncode == 0 else f'exit status {r.returncode}')}"
        return self._log(action, name, f"{detail} (on host {host.name})".lstrip(), message, ok=r.returncode == 0)

    # -- the actions ------------------------------------------------------------

    @recorded
    def pause(self, name: str, reason: str = "paused by you") -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "pause", name, [name], "") if host else super().pause(name, reason)

    @recorded
    def unpause(self, name: str) -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "continue", name, [name], "") if host else super().unpause(name)

    def toggle_pause(self, name: str) -> Outcome:
        host = self.host_of(name)
        if host is None:
            return super().toggle_pause(name)
        snap = self.snapshot(name)
        return self.unpause(name) if snap is not None and snap.status is Status.PAUSED else self.pause(name)

    def plan_resume(self, name: str) -> ResumePlan:
        host = self.host_of(name)
        if host is None:
            return super().plan_resume(name)
        snap = self.snapshot(name)
        if snap is None or snap.status is Status.UNREACHABLE:
            return ResumePlan(ResumeStep.NOTHING, f"nothing: host {host.name} cannot be reached now")
        plan = resume_plan(name, snap.status, snap.at_prompt, "its resume prompt")
        return ResumePlan(plan.step, f"{plan.description} (on host {host.name})")

    @recorded
    def resume(self, name: str, plan: ResumePlan | None = None, *, why: str = "") -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "resume", name, [name], "") if host else super().resume(name, plan, why=why)

    @recorded
    def restart(self, name: str) -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "restart", name, [name], "") if host else super().restart(name)

    @recorded
    def kill(self, name: str) -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "kill", name, [name], "") if host else super().kill(name)

    @recorded
    def send(self, name: str, text: str, *, force: bool = False) -> Outcome:
        host = self.host_of(name)
        if host is None:
            return super().send(name, text, force=force)
        if not text.strip():
            raise ActionError("nothing to send: the text is empty")
        return self.remote(host, "send", name, [name, *(["--force"] if force else [])], f"{len(text)} chars", stdin=text)

    @recorded
    def inject_env(self, names: list[str] | None, text: str | EnvFix, *, write_dotenv: bool = False) -> list[Outcome]:
        """Local agents as always; each remote one by its host's `inject NAME` with the
        `NAME=value` lines on stdin (`--all` here: this machine's agents only)."""
        fix = text if isinstance(text, EnvFix) else parse_env_text(text)
        remote = [n for n in names or [] if self.host_of(n)]
        local = [n for n in names or [] if not self.host_of(n)]
        out = super().inject_env(local, fix, write_dotenv=write_dotenv) if local or names is None else []
        lines = "".join(f"{k}={v}\n" for k, v in fix.values.items())
        for name in remote:
            host = self.host_of(name)
            assert host is not None
            out.append(self.remote(host, "inject", name, [name, *(["--dotenv"] if write_dotenv else [])],
                                   fix.masked(), stdin=lines))
        return out

    @recorded
    def merge(self, name: str) -> Outcome:
        host = self.host_of(name)
        return self.remote(host, "merge", name, [name], "") if host else super().merge(name)

    def diff_stat(self, name: str) -> str:
        host = self.host_of(name)
        if host is None:
            return super().diff_stat(name)
        command = _in_dir(host, self.config, "mission-control", "diff", shlex.quote(name), "-c", "agents.toml")
        r = SshHost(host).run(command, timeout=ACTION_TIMEOUT)
        if r.returncode != 0:
            raise ActionError(f"on host {host.name}: {(r.stderr.strip().splitlines() or ['diff failed'])[-1]}")
        return r.stdout.rstrip("\n")


def fleet_actions(config: FleetConfig, actor: str, **kwargs: Any) -> FleetActions:
    """The actions of a person (CLI, dashboard): across hosts when the config has any."""
    return (HostActions if config.hosts else FleetActions)(config, actor, **kwargs)
