"""What a person can do to agents, from a key or a command.

Each action goes straight to tmux and the processes (not through the supervisor),
and into the action log with its outcome. An action the state store could not record is not
done (`recorded` tries a write first); one whose record fails after it acted says so. Injected values are never logged: the
log and every message carry masked values only.
"""

from __future__ import annotations

import difflib
import json
import functools
import os
import signal
import stat
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from mission_control.adapters import git_repo, merging
from mission_control.adapters.processes import is_stopped, kill_agent, signal_agent
from mission_control.adapters.store import Store, StoreError, ensure_private_dir, write_private
from mission_control.adapters.supervisor_lock import LockBusy, env_lock
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.fleet.panes import add_agent_pane, open_output_log, start_agent_pane
from mission_control.core.config import NAME_RE, NAME_RULE, FleetConfig
from mission_control.core.diagnosis import mask_value
from mission_control.core.diff import BranchDiff, diff_from_json, parse_diff
from mission_control.core.env_overlay import EnvFix, merge_dotenv, parse_env_text
from mission_control.core.errors import MissionControlError
from mission_control.core.handoff import Handoff, handoff_message
from mission_control.core.kinds import KINDS
from mission_control.core.launch_plan import typed_task
from mission_control.core.model import AgentSnapshot, Status
from mission_control.core.prompts import Prompt, PromptError, choose, expected_json, keystrokes, read_prompt
from mission_control.core.records import AgentRecord
from mission_control.core.resume import ResumePlan, ResumeStep, resume_plan
from mission_control.core.rules import rules_with_user
from mission_control.core.status import ScreenFacts, tail_lines
from mission_control.core.tasks import HELD, Event, transition
from mission_control.core.records import own_task_id

PAUSE_REASON_KEY = "paused_reason:"
"""Store meta key prefix: why an agent was paused (the process state says *that* it is)."""
OLD_FATES = {"pause": "paused", "stop": "stopped", "keep": "kept"}
"""What `reassign --old` does to the old agent, as the outcome says it."""
ENV_LOCK_WAIT = 60.0
"""How long a change to an agent's injected variables waits for another one to finish."""
TYPED_OPTION = "@mc_typed"
"""Pane option: the id of the queued text last typed into the pane (set by the same tmux command
that pastes it)."""
QUIET_CHECK_SECONDS = 0.25
"""Two captures this far apart must be identical before text is typed at a prompt."""
HIGHLIGHT_WAIT_SECONDS = 3.0
"""How long an answer waits for a menu's highlight to reach the chosen option before Enter."""


class ActionError(MissionControlError):
    """The action could not be done; `str()` says why in one line."""


def recorded(method: Any) -> Any:
    """An action that changes something: before it acts, one real write to the state store, so
    that a store that cannot record it (read-only, full, damaged, missing) refuses the action
    with one line (StoreError) and nothing is done."""

    @functools.wraps(method)
    def act(self: "FleetActions", *args: Any, **kwargs: Any) -> Any:
        self.store.check_writable()
        return method(self, *args, **kwargs)

    return act


@dataclass(frozen=True)
class Outcome:
    agent: str | None
    message: str
    ok: bool = True

    def __str__(self) -> str:
        return self.message


class FleetActions:
    def __init__(self, config: FleetConfig, actor: str = "cli", *, store: Store | None = None, tmux: Tmux | None = None) -> None:
        self.config = config
        self.actor = actor
        self.tmux = tmux or Tmux(config.socket)
        self.store = store or Store(config.store_path)

    # -- lookups ---------------------------------------------------------------

    def _log(self, action: str, agent: str | None, detail: str, message: str, ok: bool = True,
             meta: dict[str, str] | None = None) -> Outcome:
        """Record what was done (and `meta`); when the store fails now, after the act, the outcome
        says it was done but not recorded (and is not ok)."""
        try:
            for key, value in (meta or {}).items():
                self.store.set_meta(key, value)
            self.store.log_action(self.actor, action, agent, detail, message if ok else f"failed: {message}")
        except StoreError as exc:
            return Outcome(agent, f"{message}; but it could not be recorded: {exc}", False)
        return Outcome(agent, message, ok)

    def on_host(self, name: str, words: list[str], stdin: str = "") -> Outcome | None:
        """An agent of another host (issue 22): `mission-control WORDS` runs there (its outcome
        the host's last line); None for an agent of this machine."""
        from mission_control.fleet.remote_actions import host_of, run_on_host

        host = host_of(self.config, [name]) if self.config.hosts else None
        if host is None:
            return None
        return self._host_outcome(name, host.name, run_on_host(self.config, host, words, stdin=stdin, actor=self.actor))

    @staticmethod
    def _host_outcome(name: str | None, host: str, result: Any) -> Outcome:
        """A host's answer to an action as one outcome: its last line, `host: ` first."""
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        message = lines[-1].removeprefix("mission-control: ") if lines else f"exit status {result.code}"
        return Outcome(name, f"{host}: {message}", result.code == 0)

    def record(self, name: str) -> AgentRecord:
        agents = {a.name: a for a in self.store.agents()}
        if name not in agents:
            raise self._unknown(name, list(agents))
        return agents[name]

    def _unknown(self, name: str, known: list[str]) -> ActionError:
        hint = difflib.get_close_matches(name, known, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else f" (agents: {', '.join(known) or 'none'})"
        return ActionError(f"no agent named {name!r} in fleet {self.config.session!r}{extra}")

    def _known(self, name: str) -> None:
        """An agent of the config or of the store, running or not (its injected variables may be
        what keeps it from starting)."""
        known = list(dict.fromkeys([a.name for a in self.config.agents] +
                                   [a.name for a in self.store.agents(include_removed=True)]))
        if name not in known:
            raise self._unknown(name, known)

    def snapshot(self, name: str) -> AgentSnapshot | None:
        """The agent as `status` shows it: the supervisor's latest snapshot, or, before it has one
        with this agent, the same one-off poll `status` makes (so an action never contradicts it)."""
        from mission_control.fleet.status_report import agent_as_shown

        return agent_as_shown(self.config, self.store, name)

    def pane_pid(self, rec: AgentRecord) -> int | None:
        """The agent's launcher (its pane's process), None when it has no live pane."""
        return self.tmux.live_pane_pid(rec.pane_id) if rec.pane_id else None

    def inside_fleet_tmux(self) -> bool:
        """Is this process running in a pane of the fleet's own tmux server?"""
        value = os.environ.get("TMUX", "")
        return bool(value) and Path(value.split(",")[0]).name == self.config.socket

    def needs_terminal(self) -> bool:
        return not self.inside_fleet_tmux()

    def at_prompt(self, rec: AgentRecord) -> bool:
        """The agent sits at its own prompt now: the idle rule matches and the screen is still."""
        pane = rec.pane_id
        if not pane or not self.tmux.pane_alive(pane):
            return False
        try:
            first = self.tmux.capture(pane)
            time.sleep(QUIET_CHECK_SECONDS)
            second = self.tmux.capture(pane)
        except TmuxError:
            return False
        if first != second:
            return False
        return ScreenFacts(rules_with_user(rec.kind, self.config.rules_for(rec.kind)), second).at_prompt

    # -- typing ----------------------------------------------------------------

    def type_text(self, rec: AgentRecord, text: str, mark: str | None = None) -> None:
        """Paste `text` into the agent's pane and submit it (Enter after its kind's delay, pressed
        by the tmux server: a caller killed meanwhile leaves no text unsubmitted). `mark`: set as
        the pane's `TYPED_OPTION` in the same tmux command, so that a supervisor killed before it
        recorded the text as delivered can tell it was typed (`typed_mark`)."""
        self.tmux.paste_submit(rec.pane_id or "", text, KINDS[rec.kind].enter_delay,
                               (TYPED_OPTION, mark) if mark is not None else None)

    def typed_mark(self, rec: AgentRecord) -> str | None:
        """The mark of the last text `type_text` typed into the agent's pane (None: none, or no pane)."""
        return self.tmux.pane_option(rec.pane_id, TYPED_OPTION) if rec.pane_id else None

    @staticmethod
    def _busy(agent: AgentSnapshot | None) -> bool:
        """In the middle of a turn (by the latest snapshot): text typed now could interrupt it."""
        return agent is not None and agent.status in (Status.WORKING, Status.STARTING)

    @recorded
    def send(self, name: str, text: str, *, force: bool = False, queue_as: str | None = None) -> Outcome:
        """Type text + Enter; to a busy agent it is queued until its next prompt (unless forced).
        `queue_as`: always queued, under this key, and only once per key (a text the laptop's
        supervisor hands to this host: handed again after a cut link, it is not typed twice)."""
        remote = self.on_host(name, ["send", name, *(["--force"] if force else [])], stdin=text)
        if remote is not None:
            return remote
        rec = self.record(name)
        if not text.strip():
            raise ActionError("nothing to send: the text is empty")
        if queue_as is not None:
            new = self.store.queue_delivery_once(name, queue_as, text)
            return self._log("send", name, f"{len(text)} chars", "queued: typed when it next sits at its prompt" if new
                             else "handed over before: not queued again")
        if not force and self._busy(self.snapshot(name)):
            self.store.queue_delivery(name, "message", text)
            return self._log("send", name, f"{len(text)} chars", f"{name} is busy: queued, typed when it next reaches its prompt")
        try:
            self.type_text(rec, text)
        except TmuxError as exc:
            return self._log("send", name, f"{len(text)} chars", str(exc), ok=False)
        return self._log("send", name, f"{len(text)} chars", f"sent {len(text)} characters to {name}")

    @recorded
    def broadcast(self, text: str, *, force: bool = False) -> Outcome:
        if not text.strip():
            raise ActionError("nothing to send: the text is empty")
        snap = self.store.latest_snapshot()
        sent, queued, skipped = [], [], []
        for rec in self.store.agents():
            agent = snap.agent(rec.name) if snap else None
            if agent is not None and agent.status in (Status.EXITED, Status.PAUSED):
                skipped.append(rec.name)
                continue
            if not force and self._busy(agent):
                self.store.queue_delivery(rec.name, "message", text)
                queued.append(rec.name)
                continue
            try:
                self.type_text(rec, text)
                sent.append(rec.name)
            except TmuxError:
                skipped.append(rec.name)
        message = f"sent to {len(sent)} agents"
        if queued:
            message += f"; queued for {', '.join(queued)} (busy)"
        if skipped:
            message += f"; skipped {', '.join(skipped)} (exited, paused or gone)"
        return self._log("broadcast", None, f"{len(text)} chars", message)

    # -- pause / resume ----------------------------------------------------------

    @recorded
    def pause(self, name: str, reason: str = "paused by you") -> Outcome:
        return self._pause_pid(name, self.pane_pid(self.record(name)), reason)

    @recorded
    def unpause(self, name: str) -> Outcome:
        return self._unpause_pid(name, self.pane_pid(self.record(name)))

    @recorded
    def pause_all(self, reason: str = "paused by you (all agents)") -> list[Outcome]:
        """Pause every running agent not paused yet: the emergency stop (spend, a bad plan)."""
        return self._every("pause", lambda pid: not is_stopped(pid), lambda name, pid: self._pause_pid(name, pid, reason))

    @recorded
    def unpause_all(self) -> list[Outcome]:
        """Continue every paused agent."""
        return self._every("continue", is_stopped, self._unpause_pid)

    def _pause_pid(self, name: str, pid: int | None, reason: str) -> Outcome:
        if pid is None:
            raise ActionError(f"{name} is not running: nothing to pause")
        n = signal_agent(pid, signal.SIGSTOP)
        if n == 0:
            raise ActionError(f"{name} has no agent process to pause")
        return self._log("pause", name, reason, f"paused {name} ({n} processes stopped)", meta={PAUSE_REASON_KEY + name: reason})

    def _unpause_pid(self, name: str, pid: int | None) -> Outcome:
        if pid is None:
            raise ActionError(f"{name} is not running: nothing to continue")
        n = signal_agent(pid, signal.SIGCONT)
        return self._log("continue", name, "", f"continued {name} ({n} processes)", meta={PAUSE_REASON_KEY + name: ""})

    def _every(self, what: str, wanted: Any, act: Any) -> list[Outcome]:
        """`act(name, pane pid)` for each live agent whose pane pid is `wanted` (one listing of
        the panes for the whole fleet); an agent that fails does not stop the others."""
        live = {p.pane_id: p.pid for p in self.tmux.list_panes() if not p.dead}
        out: list[Outcome] = []
        for rec in self.store.agents():
            pid = live.get(rec.pane_id)
            if pid is None or not wanted(pid):
                continue
            try:
                out.append(act(rec.name, pid))
            except ActionError as exc:
                out.append(Outcome(rec.name, str(exc), ok=False))
        return out or [Outcome(None, f"no agent to {what}")]

    @recorded
    def toggle_pause(self, name: str) -> Outcome:
        shown = self.store.latest_snapshot()
        agent = shown.agent(name) if shown and self.config.hosts else None
        remote = self.on_host(name, ["continue" if agent and agent.status.value == "PAUSED" else "pause", name])
        if remote is not None:
            return remote
        rec = self.record(name)
        return self.unpause(name) if is_stopped(self.pane_pid(rec)) else self.pause(name)

    def plan_resume(self, name: str) -> ResumePlan:
        from mission_control.fleet.remote_actions import host_of

        host = host_of(self.config, [name]) if self.config.hosts else None
        if host is not None:  # what its host will do, as far as the view shows it (the host decides again)
            shown = self.store.latest_snapshot()
            agent = shown.agent(name) if shown else None
            plan = resume_plan(name, agent.status if agent else Status.STARTING, bool(agent and agent.at_prompt),
                               "its resume prompt")
            return replace(plan, description=f"on host {host.name}: {plan.description}")
        rec = self.record(name)
        spec = rec.spec
        pid = self.pane_pid(rec)
        snap = self.snapshot(name)
        if pid is None:
            status = Status.EXITED
        elif is_stopped(pid):
            status = Status.PAUSED
        else:
            status = snap.status if snap else Status.STARTING
        at_prompt = status in (Status.STUCK, Status.IDLE) and self.at_prompt(rec)
        return resume_plan(name, status, at_prompt, spec.resume_prompt)

    @recorded
    def resume(self, name: str, plan: ResumePlan | None = None, *, why: str = "") -> Outcome:
        """`why`: the supervisor's reason (`at the limit's reset`), logged as `auto-resume`."""
        remote = self.on_host(name, ["resume", name])
        if remote is not None:
            return remote
        rec = self.record(name)
        plan = plan or self.plan_resume(name)
        if plan.step is ResumeStep.CONTINUE:
            return self.unpause(name)
        if plan.step is ResumeStep.PROMPT:
            if not self.at_prompt(rec):  # the screen moved since the plan was made
                raise ActionError(f"{name} left its prompt: nothing typed")
            prompt = rec.spec.resume_prompt
            self.type_text(rec, prompt)
            if why:
                return self._log("auto-resume", name, why, f"resumed {name}: typed {prompt!r}")
            return self._log("resume", name, plan.description, f"resumed {name}: typed {prompt!r}")
        if plan.step is ResumeStep.ATTACH:
            return self.zoom(name)
        if plan.step is ResumeStep.RESTART:
            return self.restart(name)
        return self._log("resume", name, "", plan.description, ok=plan.step is ResumeStep.NOTHING)

    @recorded
    def resume_all_stuck(self) -> list[Outcome]:
        snap = self.store.latest_snapshot()
        out = []
        for agent in snap.agents if snap else ():
            if agent.status is Status.STUCK:
                try:
                    out.append(self.resume(agent.name))
                except ActionError as exc:
                    out.append(Outcome(agent.name, str(exc), ok=False))
        if not out:
            out.append(Outcome(None, "no agent is STUCK"))
        return out

    # -- restart / kill / respawn ----------------------------------------------------

    def _respawn(self, rec: AgentRecord, *, resume: bool) -> None:
        """Start the agent's pane afresh (same pane id) with its env overlay applied."""
        spec = rec.spec
        use_resume = resume and spec.resume_command is not None
        pid = self.pane_pid(rec)
        if pid is not None and is_stopped(pid):
            signal_agent(pid, signal.SIGCONT)
        pane = rec.pane_id

        def respawn(argv: list[str], env: dict[str, str], cwd: str) -> str:
            # the old run's output pipe is torn down some time after a respawn (after the new
            # one would have been opened): close it now, so the log follows the new run
            self.tmux.close_pipe(pane)
            try:
                self.tmux.respawn(pane, argv, cwd=cwd, env=env)
            except BaseException:
                try:  # the old run goes on: so does its output log
                    open_output_log(self.tmux, self.config, spec, pane)
                except TmuxError:
                    pass  # its pane is dead: nothing to log
                raise
            return pane

        # as at `up`: the agent starts once its output log is open and its pane kept on exit
        start_agent_pane(self.tmux, self.config, self.store, spec, spec.cwd, respawn, resume=use_resume)
        now = time.time()
        self.store.update_agent(spec.name, launched_at=now)
        self.store.set_meta(PAUSE_REASON_KEY + spec.name, "")
        task = None if use_resume else typed_task(spec)
        if task:
            self.store.drop_deliveries(spec.name)
            self.store.queue_delivery(spec.name, "task", task, at=now)

    @recorded
    def restart(self, name: str) -> Outcome:
        remote = self.on_host(name, ["restart", name])
        if remote is not None:
            return remote
        rec = self.record(name)
        try:
            self._respawn(rec, resume=False)
        except (TmuxError, OSError) as exc:
            return self._log("restart", name, "", str(exc), ok=False)
        return self._log("restart", name, "", f"restarted {name} with its task")

    @recorded
    def restart_resuming(self, name: str, why: str) -> Outcome:
        """The restart policy's restart (`restart = "on-failure"`): the agent started again with its
        resume command (with its command and task when its kind has none), logged as `auto-restart`."""
        rec = self.record(name)
        try:
            self._respawn(rec, resume=True)
        except (TmuxError, OSError) as exc:
            return self._log("auto-restart", name, why, str(exc), ok=False)
        return self._log("auto-restart", name, why, f"restarted {name}")

    @recorded
    def kill(self, name: str) -> Outcome:
        remote = self.on_host(name, ["kill", name])
        if remote is not None:
            return remote
        rec = self.record(name)
        pid = self.pane_pid(rec)
        if pid is None:
            return self._log("kill", name, "", f"{name} was not running")
        count, left = kill_agent(pid)
        self.store.drop_deliveries(name)
        if left:
            return self._log("kill", name, "", f"processes survived SIGKILL: {left}", ok=False)
        return self._log("kill", name, "", f"killed {name} ({count} processes); restart with R")

    @recorded
    def retire(self, name: str, why: str = "retired", *, action: str = "retire") -> Outcome:
        """A role's agent stopped for good (`[[role]] retire_after`, or its process ended): its
        processes killed, its pane closed, its record marked removed; its worktree and branch kept
        (a later agent of that name takes them up again). On its host when it runs on another."""
        remote = self.on_host(name, ["kill", name, "--retire", why])
        if remote is not None:
            return remote
        rec = self.record(name)
        if self.pane_pid(rec) is not None:
            self.kill(name)
        if rec.pane_id:
            try:
                self.tmux.kill_pane(rec.pane_id)
            except TmuxError:
                pass  # gone already
        self.store.update_agent(name, removed=1)
        where = f" ({rec.worktree}, branch {rec.branch})" if rec.worktree else ""
        return self._log(action, name, rec.branch or "", why + where)

    # -- inject an environment fix ---------------------------------------------------

    @recorded
    def inject_env(self, names: list[str] | None, text: str | EnvFix, *, write_dotenv: bool = False) -> list[Outcome]:
        """Give KEY=VALUE to these agents (every agent when `names` is None) and respawn each with
        it, resuming its conversation where the kind can. All or nothing per agent: its injected
        variables (and its `.env`) change only when its respawn succeeded."""
        fix = text if isinstance(text, EnvFix) else parse_env_text(text)
        out, left = self._inject_on_hosts(names, fix, write_dotenv)
        if names and not left:  # every one of them on another host
            return out
        targets = [self.record(n) for n in left] if left else self.store.agents()
        for rec in targets:
            spec = rec.spec
            detail = fix.masked() + (" (+ .env)" if write_dotenv else "")
            try:
                with self._injected(spec.name, fix.values, spec.cwd / ".env" if write_dotenv else None):
                    self._respawn(rec, resume=True)
            except (TmuxError, OSError, StoreError, ActionError) as exc:
                out.append(self._log("inject", spec.name, detail, f"{exc}; nothing changed", ok=False))
                continue
            how = f"resumed with `{spec.resume_command}`" if spec.resume_command else "restarted with its task"
            out.append(self._log("inject", spec.name, detail, f"set {', '.join(fix.values)} for {spec.name}; {how}"))
        return out

    def _inject_on_hosts(self, names: list[str] | None, fix: EnvFix, dotenv: bool) -> tuple[list[Outcome], list[str] | None]:
        """Issue 22: the agents of other hosts get `fix` from their host's `inject` (the values on
        ssh's stdin; every host's agents when `names` is None): their outcomes, and the names left
        to this machine."""
        from mission_control.fleet.remote_actions import by_host, env_text, host_named, run_on_host

        if not self.config.hosts:
            return [], names
        hosts, local = by_host(self.config, names) if names is not None else ({h.name: [] for h in self.config.hosts if h.agents}, None)
        text = env_text(fix.values) if hosts else ""
        out = []
        for host, agents in hosts.items():
            words = ["inject", *(agents or ["--all"]), *(["--dotenv"] if dotenv else [])]
            result = run_on_host(self.config, host_named(self.config, host), words, stdin=text, actor=self.actor)
            out.append(self._host_outcome(agents[0] if len(agents) == 1 else None, host, result))
        return out, local

    @contextmanager
    def _injected(self, name: str, values: dict[str, str], dotenv: Path | None) -> Iterator[None]:
        """`values` kept for `name` (and merged into `dotenv`) for the body; put back as they were
        when the body fails."""
        with self._env_locked(name):
            before = self.store.env_overlay(name)
            dotenv_before = _file_state(dotenv) if dotenv is not None else None
            self.store.set_env_overlay(name, values)
            try:
                if dotenv is not None:
                    write_env_file(dotenv, values)
                yield
            except BaseException:
                self.store.replace_env_overlay(name, before)
                if dotenv is not None:
                    _restore_file(dotenv, dotenv_before)
                raise

    @contextmanager
    def _env_locked(self, name: str) -> Iterator[None]:
        """One change to an agent's injected variables at a time (another inject waits for this one)."""
        try:
            with env_lock(self.config.state_dir, name, ENV_LOCK_WAIT):
                yield
        except LockBusy as exc:
            raise ActionError(f"another change to {name}'s injected variables (pid {exc.holder}) has not "
                              f"finished within {ENV_LOCK_WAIT:.0f} s") from None

    def injected_env(self, name: str) -> dict[str, str]:
        """The variables injected into an agent, by name, with masked values (never a value)."""
        from mission_control.fleet.remote_actions import host_of, injected_on_host

        if (host := host_of(self.config, [name]) if self.config.hosts else None) is not None:
            return injected_on_host(self.config, host, name)  # masked there: no value crosses the link
        self._known(name)
        return {k: mask_value(v) + f" ({len(v)} chars)" for k, v in self.store.env_overlay(name).items()}

    @recorded
    def unset_env(self, name: str, names: list[str]) -> Outcome:
        """Forget injected variables of an agent. The running agent keeps them until it restarts."""
        if (remote := self.on_host(name, ["env", name, *(w for n in names for w in ("--unset", n))])) is not None:
            return remote
        self._known(name)
        with self._env_locked(name):
            injected = self.store.env_overlay(name)
            unknown = [n for n in names if n not in injected]
            if unknown:
                raise ActionError(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not injected into {name} "
                                  f"(injected: {', '.join(injected) or 'none'}); nothing removed")
            removed = self.store.unset_env(name, names)
        return self._log("unset env", name, ", ".join(removed),
                         f"removed {', '.join(removed)} from {name}'s injected variables; "
                         f"its running process keeps them until it restarts (`mission-control restart {name}`)")

    # -- zoom / attach ------------------------------------------------------------

    def zoom(self, name: str) -> Outcome:
        """Show the agent's pane: zoom it in place inside the fleet, else attach to it. An agent of
        another host: `ssh -tt` attaching to it there, in a new window of the tmux this runs in
        (the laptop's), else in this terminal."""
        from mission_control.fleet.remote_actions import attach_argv, host_of, window_argv

        if (host := host_of(self.config, [name]) if self.config.hosts else None) is not None:
            from mission_control.adapters.run import CommandError, interactive, run

            argv = attach_argv(self.config, host, name)
            try:
                if os.environ.get("TMUX"):
                    run(window_argv(argv, f"{name}@{host.name}"))
                else:
                    interactive(argv)
            except CommandError as exc:
                return self._log("zoom", name, f"on host {host.name}", str(exc), ok=False)
            return self._log("zoom", name, f"on host {host.name}", f"showing {name} on host {host.name} over ssh")
        rec = self.record(name)
        if not rec.pane_id:
            raise ActionError(f"{name} has no pane")
        inside = self.inside_fleet_tmux()
        try:
            self.tmux.select_pane(rec.pane_id, zoom=inside)
            if not inside:
                from mission_control.adapters.run import interactive

                interactive(self.tmux.attach_argv(self.config.session))
        except TmuxError as exc:
            return self._log("zoom", name, "", str(exc), ok=False)
        return self._log("zoom", name, "", f"showing {name} ({rec.pane_id}); prefix+z unzooms")

    # -- answer a prompt ---------------------------------------------------------------

    def _screen(self, rec: AgentRecord) -> str:
        """The agent's screen now (one line, ActionError, when it has no live pane)."""
        pane = rec.pane_id
        if not pane or not self.tmux.pane_alive(pane):
            raise ActionError(f"{rec.name} has no live pane: nothing typed")
        try:
            return self.tmux.capture(pane)
        except TmuxError as exc:
            raise ActionError(f"cannot read {rec.name}'s screen: {exc}; nothing typed") from None

    def waiting_prompt(self, name: str) -> Prompt:
        """The prompt the agent waits on, read from its screen now. One line (ActionError) when it
        is not WAITING (never typed into a running turn) or shows nothing that can be read."""
        rec = self.record(name)
        agent = self.snapshot(name)
        if agent is None or agent.status is not Status.WAITING:
            state = f"{agent.status.value}" + (f" ({agent.reason})" if agent.reason else "") if agent else "not running"
            raise ActionError(f"{name} is {state}, not waiting for an answer: nothing typed")
        prompt = read_prompt(rec.kind, self._screen(rec))
        if prompt is None:
            raise ActionError(f"{name} is WAITING ({agent.reason}) but shows no prompt with options I can read: "
                              f"answer it in its pane (`mission-control attach`, or z in the dashboard)")
        return prompt

    @recorded
    def answer(self, name: str, choice: str, expected: Prompt | None = None) -> Outcome:
        """Choose `choice` (an option's number, `y`/`n`, or its label) in the prompt the agent waits
        on, the way its kind takes a choice. Only if it is WAITING, and only into the same prompt:
        the one the person saw (`expected`, when given) and the one read again right before the
        keys go in (and, for menus, again after the highlight moved, before Enter). On another
        host, its own `answer` reads the prompt there and checks the same right before typing (and
        that it is still `expected`, sent on its stdin)."""
        remote_words, seen = ["answer", name, choice], ""
        if expected is not None:
            remote_words, seen = [*remote_words, "--expected"], expected_json(expected)
        if (remote := self.on_host(name, remote_words, stdin=seen)) is not None:
            return remote
        rec = self.record(name)
        prompt = self.waiting_prompt(name)
        if expected is not None and not expected.same(prompt):
            raise ActionError(f"{name}'s prompt changed since you looked (now: {prompt.question!r}): nothing typed")
        try:
            option = choose(prompt, choice)
        except PromptError as exc:
            raise ActionError(f"{name}: {exc}; nothing typed") from None
        detail = f"{prompt.question} → {option.number}. {option.label}"
        time.sleep(QUIET_CHECK_SECONDS)  # read again right before typing: the same prompt, still there
        now = read_prompt(rec.kind, self._screen(rec))
        if not prompt.same(now):
            raise ActionError(f"{name}'s prompt changed before the answer went in"
                              f"{f' (now: {now.question!r})' if now else ''}: nothing typed")
        try:
            keys = keystrokes(now, option)  # from where the highlight is now
        except PromptError as exc:
            raise ActionError(f"{name}: {exc}; nothing typed") from None
        try:
            if keys.moves:
                self.tmux.send_keys(rec.pane_id, *keys.moves)
            if keys.check is not None:
                self._await_highlight(rec, now, keys.check)
            if keys.text:
                self.tmux.send_text(rec.pane_id, keys.text, enter=False)
            self.tmux.send_keys(rec.pane_id, *keys.confirm)
        except TmuxError as exc:
            return self._log("answer", name, detail, str(exc), ok=False)
        return self._log("answer", name, detail, f"answered {name}: {option.number}. {option.label}")

    def _await_highlight(self, rec: AgentRecord, prompt: Prompt, number: int) -> None:
        """Wait until the agent's menu highlights option `number` (the same prompt, still); one
        line (ActionError, nothing confirmed) when it changed or the highlight did not get there."""
        deadline = time.monotonic() + HIGHLIGHT_WAIT_SECONDS
        while True:
            now = read_prompt(rec.kind, self._screen(rec))
            if not prompt.same(now):
                raise ActionError(f"{rec.name}'s prompt changed while its highlight moved: Enter not pressed")
            if now is not None and now.selected == number:
                return
            if time.monotonic() >= deadline:
                raise ActionError(f"{rec.name}'s highlight did not reach option {number} within "
                                  f"{HIGHLIGHT_WAIT_SECONDS:g} s: Enter not pressed; answer it in its pane")
            time.sleep(0.05)

    # -- spawn / reassign ------------------------------------------------------------

    @recorded
    def spawn(
        self,
        name: str,
        kind: str | None = None,
        task: str | None = None,
        *,
        copy_of: str | None = None,
        command: str | None = None,
        start_point: str | None = None,
        worktree: bool | None = None,
        env_from: str | None = None,
        template: dict[str, Any] | None = None,
        revive: bool = False,
        host: str | None = None,
    ) -> Outcome:
        """A new agent in the running fleet: its own pane (a new window when the last one is full).
        It gets the injected variables of `env_from` (of `copy_of` when copying). `template`: more
        `[[agent]]` keys (a `[[role]]`'s); `revive`: the name may be a stopped agent's (its record,
        worktree and branch are taken up again). `host`: in that `[[host]]`'s fleet (issue 22; a
        copy goes where the copied agent runs)."""
        if (host not in (None, "local") or (self.config.hosts and copy_of)) and (remote := self._spawn_on_host(
                name, host, kind=kind, task=task, copy=copy_of, command=command, worktree=worktree, template=template,
                revive=revive or None)) is not None:
            return remote
        existing = {a.name for a in self.store.agents(include_removed=not revive)}
        if name in existing or (self.config.hosts and name in self._shown_elsewhere()):
            raise ActionError(f"an agent named {name!r} already exists")
        base: dict[str, Any]
        if copy_of:
            base = dict(self.record(copy_of).spec.model_dump(mode="json"))
            base.pop("cwd", None)
        else:
            if kind is None:
                raise ActionError("give the new agent's kind (or copy an agent)")
            base = {"kind": kind}
        data: dict[str, Any] = {**base, **(template or {}), "name": name}
        if kind:
            data["kind"] = kind
        if command:
            data["command"] = command
        if task is not None:
            data["task"] = task
        if worktree is not None:
            data["worktree"] = worktree
        inherited = self.store.env_overlay(env_from or copy_of) if (env_from or copy_of) else {}
        if inherited and not NAME_RE.match(name):  # a file is written under its name: checked first
            raise ActionError(f"name {name!r} is not allowed: use {NAME_RULE}")
        try:
            with self._injected(name, inherited, None) if inherited else nullcontext():
                spec, pane = add_agent_pane(self.config, self.store, self.tmux, data, start_point=start_point)
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        return self._log("spawn", name, f"kind {spec.kind}" + (f", copy of {copy_of}" if copy_of else ""), f"spawned {name} ({spec.kind}) in {pane}")

    def _shown_elsewhere(self) -> dict[str, str]:
        """{agent: host} of the agents of other hosts the laptop's latest snapshot shows."""
        from mission_control.fleet.remote_actions import shown_hosts

        return shown_hosts(self.config)

    def _spawn_on_host(self, name: str, host: str | None, **request: Any) -> Outcome | None:
        """Spawn `name` in a host's fleet (issue 22): its host's own `spawn`, the request as JSON on
        ssh's stdin (a task or command of any bytes and size, on no command line); None: here."""
        from mission_control.fleet.remote_actions import SPAWNED_ON, host_of, run_on_host

        where = None
        if host not in (None, "local"):
            where = next((h for h in self.config.hosts if h.name == host), None)
            if where is None:
                known = [h.name for h in self.config.hosts]
                hint = difflib.get_close_matches(str(host), known, n=1)
                raise ActionError(f"no host named {host!r} runs a fleet of {self.config.path.name}"
                                  + (f" (did you mean {hint[0]!r}?)" if hint else f" (hosts with agents: {', '.join(known) or 'none'})"))
        if request.get("copy"):
            theirs = host_of(self.config, [request["copy"]])
            if host is not None and (theirs.name if theirs else "local") != (where.name if where else "local"):
                raise ActionError(f"{request['copy']} runs {'on host ' + theirs.name if theirs else 'here'}: "
                                  "a copy starts where the copied agent runs (drop --host)")
            where = theirs
        if where is None:
            return None
        if not NAME_RE.match(name):
            raise ActionError(f"name {name!r} is not allowed: use {NAME_RULE}")
        if name in {a.name for a in self.store.agents(include_removed=True)} | set(self._shown_elsewhere()):
            raise ActionError(f"an agent named {name!r} already exists")
        body = json.dumps({k: v for k, v in request.items() if v is not None})
        outcome = self._host_outcome(name, where.name, run_on_host(self.config, where, ["spawn", name, "--stdin-json"],
                                                                   stdin=body, actor=self.actor))
        if outcome.ok:  # actions find it there before the view shows it
            try:
                self.store.set_meta(SPAWNED_ON + name, where.name)
            except StoreError:
                pass  # the view will show it there within a tick
        return outcome

    def held_task(self, name: str) -> tuple[str, str] | None:
        """(task id, prompt) the agent holds: from the task ledger, else its configured task."""
        for task_id, row in self.store.current_tasks().items():
            if row["agent"] == name:
                return task_id, row["prompt"]
        rec = self.record(name)
        if rec.task:
            return own_task_id(name), rec.task
        return None

    @recorded
    def reassign(self, from_name: str, to_name: str | None = None, *, new_kind: str | None = None, old: str = "pause") -> Outcome:
        """Move `from_name`'s task to another agent (or a new one of `new_kind`) with a handoff message."""
        if self.config.hosts and (moved := self._reassign_on_hosts(from_name, to_name, new_kind, old)) is not None:
            return moved
        rec = self.record(from_name)
        held = self.held_task(from_name)
        if held is None:
            raise ActionError(f"{from_name} holds no task to reassign")
        task_id, prompt = held
        if to_name == from_name:
            raise ActionError("pick another agent to take the task")
        if old not in OLD_FATES:
            raise ActionError(f"old agent action {old!r}: use pause, stop or keep")
        new_agent = to_name is None
        if new_agent:
            if not new_kind:
                raise ActionError("name the agent to take the task, or the kind of a new one")
            to_name = self._free_name(f"{from_name}-{new_kind}")
        else:
            self.record(to_name)  # an unknown name fails here, before anything is done
        message, why, snap = self._step_aside(rec, task_id, prompt, old)
        cost = commits_now = None
        if new_agent:
            src = rec.spec
            self.spawn(
                to_name, new_kind, message, worktree=src.worktree,
                start_point=rec.branch if src.worktree and rec.branch else None, env_from=from_name,
            )
        else:
            target_snap = self.snapshot(to_name)
            cost = target_snap.cost_usd if target_snap else None
            commits_now = target_snap.commits if target_snap else None
            self.store.queue_delivery(to_name, "handoff", message)
        self.store.update_agent(from_name, task=None)
        self.store.update_agent(to_name, task=prompt)
        if self._on_board(task_id):  # a task of the board: its owner, and the commits its done rule counts from
            self._board_handoff(task_id, from_name, to_name, why, snap, self.snapshot(to_name) if new_agent else target_snap)
        else:
            self.store.record_task(task_id, prompt, to_name, from_name, why, cost)
        how = "a new agent" if new_agent else "it"
        return self._log(
            "reassign", from_name, f"task {task_id} -> {to_name}",
            f"task {task_id} moved from {from_name} ({OLD_FATES[old]}) to {to_name}; {how} gets a handoff at its prompt",
        )

    def _step_aside(self, rec: AgentRecord, task_id: str, prompt: str, old: str) -> tuple[str, str, AgentSnapshot | None]:
        """The agent holding `task_id` steps aside (paused, stopped or kept, as `old` says), so that two
        agents never work the task at once: the handoff message for the next one, why it moves, its snapshot."""
        snap = self.snapshot(rec.name)
        why = f"{snap.status.value}: {snap.reason}" if snap else "unknown"
        commits: tuple[str, ...] = ()
        if rec.branch and rec.base_commit and self.config.repo is not None:
            try:
                commits = tuple(git_repo.commit_lines(self.config.repo, rec.base_commit, rec.branch))
            except git_repo.GitError:
                commits = ()
        # the previous agent steps aside first, so two agents never work the task at once
        pid = self.pane_pid(rec)
        if old == "pause" and pid is not None and not is_stopped(pid):
            self.pause(rec.name, reason=f"task {task_id} reassigned")
        elif old == "stop":
            self.kill(rec.name)
        self.store.drop_deliveries(rec.name)  # text still queued for it was for the task it leaves: never typed later
        handoff = Handoff(
            task=prompt,
            from_agent=rec.name,
            why=why,
            last_lines=tuple(tail_lines(self.store.pane_tail(rec.name))),
            branch=rec.branch,
            commits=commits,
            continue_on_branch=bool(rec.branch),
        )
        return handoff_message(handoff), why, snap

    # -- reassign across hosts (issue 22): the handoff leaves one host's agent, another's gets it --

    def _reassign_on_hosts(self, from_name: str, to_name: str | None, new_kind: str | None, old: str) -> Outcome | None:
        """Where an agent of another host is in it: both on one host (or a new agent next to it):
        that host's own `reassign`; across hosts: the old agent's host steps it aside and hands the
        task over (`release`), the new one's takes it (`take`), the handoff on ssh's stdin. None:
        both agents are this machine's."""
        from mission_control.fleet.remote_actions import host_of, run_on_host

        src = host_of(self.config, [from_name])
        dst = host_of(self.config, [to_name]) if to_name else src
        if src is None and dst is None:
            return None
        if to_name == from_name:
            raise ActionError("pick another agent to take the task")
        if old not in OLD_FATES:
            raise ActionError(f"old agent action {old!r}: use pause, stop or keep")
        if src is not None and dst is not None and src.name == dst.name:
            words = ["reassign", from_name, *(["--to", to_name] if to_name else ["--new", new_kind or ""]), "--old", old]
            return self.on_host(from_name, words)
        assert to_name is not None
        if dst is None:
            self.record(to_name)  # an unknown name fails here, before anything is done
        where = f"{to_name} ({'host ' + dst.name if dst else 'local'})"
        board = self.board_task(from_name)  # a task of this fleet's board: it moves on the board too
        from_snap = self.snapshot(from_name)
        if src is None:
            handoff = self.release(from_name, old=old, to=where)
        else:
            words = ["reassign", from_name, "--release", "--to", where, "--old", old, *(["--given-task"] if board else [])]
            given = json.dumps({"task_id": board[0], "prompt": board[1]}) if board else ""
            r = run_on_host(self.config, src, words, stdin=given, actor=self.actor)
            if r.code != 0:
                return self._host_outcome(from_name, src.name, r)
            self.store.drop_deliveries(from_name)  # a board text not handed to its host yet: never handed over now
            try:
                handoff = json.loads((r.stdout.strip().splitlines() or [""])[-1])
            except ValueError:
                raise ActionError(f"{src.name}: its `reassign --release` printed no handoff: nothing taken") from None
        handoff["from"] = f"{from_name}" + (f" (host {src.name})" if src else "")
        if dst is None:
            return self.take(to_name, handoff, on_board=board is not None)
        outcome = self._host_outcome(to_name, dst.name, run_on_host(self.config, dst, ["reassign", to_name, "--take"],
                                                                    stdin=json.dumps(handoff), actor=self.actor))
        if outcome.ok and board is not None:
            self._board_handoff(board[0], from_name, to_name, str(handoff.get("why", "")), from_snap, self.snapshot(to_name),
                                counted=False)
        return outcome

    @recorded
    def release(self, name: str, *, old: str = "pause", to: str = "another host",
                given: tuple[str, str] | None = None) -> dict[str, Any]:
        """`name` steps aside from its task for an agent elsewhere (`to`, as the log says it): the
        task and its handoff, for `take` there; the task is no longer this agent's. `given`: the
        task (id, prompt) as the laptop's board knows it (it gave the task: this host has no row of it)."""
        held = given or self.held_task(name)
        if held is None:
            raise ActionError(f"{name} holds no task to reassign")
        task_id, prompt = held
        message, why, _ = self._step_aside(self.record(name), task_id, prompt, old)
        self.store.update_agent(name, task=None)
        self.store.record_task(task_id, prompt, "", name, f"handed to {to}", None)  # nobody here holds it now
        self._log("reassign", name, f"task {task_id} -> {to}", f"task {task_id} handed from {name} ({OLD_FATES[old]}) to {to}")
        return {"task_id": task_id, "prompt": prompt, "message": message, "why": why}

    @recorded
    def take(self, name: str, handoff: dict[str, Any], *, on_board: bool = False) -> Outcome:
        """`name` takes a task another host's agent handed over (`release`): it gets the handoff at
        its prompt. `on_board`: a task of this fleet's board (it moves there, with its history)."""
        try:
            task_id, prompt, message, why, source = (str(handoff[k]) for k in ("task_id", "prompt", "message", "why", "from"))
        except (KeyError, TypeError):
            raise ActionError("the handoff is not the JSON `reassign --release` prints; nothing taken") from None
        self.record(name)
        target = self.snapshot(name)
        self.store.queue_delivery(name, "handoff", message)
        self.store.update_agent(name, task=prompt)
        if on_board and self._on_board(task_id):
            self._board_handoff(task_id, source, name, why, None, target)
        else:
            self.store.record_task(task_id, prompt, name, source, why, target.cost_usd if target else None)
        return self._log("reassign", name, f"task {task_id} <- {source}",
                         f"task {task_id} moved from {source} to {name}; it gets a handoff at its prompt")

    def _board_handoff(self, task_id: str, from_name: str, to_name: str, why: str, from_snap: AgentSnapshot | None,
                       to_snap: AgentSnapshot | None, *, counted: bool = True) -> None:
        """The board's task moves to `to_name` (its `handoff` event and ledger row): spend and
        commits are measured from the new holder's readings now. `counted`: its commits are
        counted from zero when unknown (an agent of this machine); one of another host whose host
        does not count them yet is held to its `idle` rule instead."""
        cost = to_snap.cost_usd if to_snap else None
        commits_now = to_snap.commits if to_snap else None
        handoff = Event("handoff", time.time(), agent=to_name, commits=commits_now or 0 if counted else commits_now)
        self.store.change_task(task_id, lambda t, board: transition(t, handoff, board), event="handoff", agent=to_name,
                               detail=f"from {from_name}: {why}", hold=(to_name, why, cost),
                               data={"cost_usd": cost, "commits": commits_now, "from_cost_usd": from_snap.cost_usd if from_snap else None,
                                     "from_commits": from_snap.commits if from_snap else None})

    def board_task(self, name: str) -> tuple[str, str] | None:
        """(id, prompt) of the board's task `name` holds, by this fleet's board (also for an agent of another host)."""
        return next(((t.id, t.prompt) for t in self.store.tasks() if t.owner == name and t.state in HELD), None)

    def _on_board(self, task_id: str) -> bool:
        return any(t.id == task_id and t.state in HELD for t in self.store.tasks())

    def _free_name(self, stem: str) -> str:
        names = {a.name for a in self.store.agents(include_removed=True)}
        stem = stem[:36]
        if stem not in names:
            return stem
        for i in range(2, 1000):
            if f"{stem}-{i}" not in names:
                return f"{stem}-{i}"
        raise ActionError("no free agent name")

    # -- git -------------------------------------------------------------------------

    @recorded
    def merge(self, name: str) -> Outcome:
        if (remote := self.on_host(name, ["merge", name])) is not None:
            return remote
        rec = self.record(name)
        if not rec.branch or self.config.repo is None:
            raise ActionError(f"{name} has no worktree branch to merge (worktree = false)")
        base = rec.base_branch or self.config.base_branch or git_repo.current_branch(self.config.repo)
        try:
            result = merging.merge_agent_branch(self.config.repo, rec.branch, base)
        except git_repo.GitError as exc:
            return self._log("merge", name, rec.branch, str(exc), ok=False)
        if result.ok:
            return self._log("merge", name, f"{rec.branch} -> {base}", f"merged {rec.branch} into {base} ({(result.merged_commit or '')[:10]})")
        detail = result.message
        if result.conflicts:
            detail += "; conflicting files: " + ", ".join(result.conflicts)
        return self._log("merge", name, f"{rec.branch} -> {base}", detail, ok=False)

    def diff_stat(self, name: str) -> str:
        if (remote := self.on_host(name, ["diff", name])) is not None:
            if not remote.ok:
                raise ActionError(remote.message)
            return remote.message
        rec, repo, base = self._diff_range(name)
        try:
            text = git_repo.diff_stat(repo, rec.branch or "", base)
        except git_repo.GitError as exc:
            raise ActionError(str(exc)) from None
        return text.strip() or f"{rec.branch} has no changes against its base"

    def diff(self, name: str) -> BranchDiff:
        """The agent's branch against its base, as files (the dashboard's diff view, `D`); the
        worktree's uncommitted files are counted, not shown (a merge takes commits). An agent of
        another host: read by its host's own `diff --json` (issue 22), or its host's one line on why not."""
        if self.config.hosts and (remote := self._diff_on_host(name)) is not None:
            return remote
        rec, repo, base = self._diff_range(name)
        branch = rec.branch or ""
        try:
            files = parse_diff(git_repo.diff_text(repo, branch, base))
            commits = tuple(git_repo.commit_lines(repo, base, branch))
        except git_repo.GitError as exc:
            raise ActionError(str(exc)) from None
        latest = self.store.latest_snapshot()
        snap = latest.agent(name) if latest is not None else None
        return BranchDiff(agent=name, branch=branch, base=rec.base_branch or base[:10], files=files, commits=commits,
                          dirty_files=snap.dirty_files if snap is not None else None)

    def _diff_on_host(self, name: str) -> BranchDiff | None:
        """The diff of an agent of another host, as its host read it (None: an agent of this machine)."""
        from mission_control.fleet.remote_actions import host_of, run_on_host

        if (host := host_of(self.config, [name])) is None:
            return None
        result = run_on_host(self.config, host, ["diff", name, "--json"], actor=self.actor, log=False)
        if result.code != 0:
            raise ActionError(self._host_outcome(name, host.name, result).message)
        try:
            return diff_from_json(json.loads(result.stdout), host=host.name)
        except ValueError as exc:
            raise ActionError(f"{host.name}: its diff of {name} could not be read: {exc}") from None

    def _diff_range(self, name: str) -> tuple[AgentRecord, Path, str]:
        """The agent's record, the repository and what its branch is compared with (the commit it
        started from, else its base branch), or ActionError for an agent without a branch."""
        rec = self.record(name)
        if not rec.branch or self.config.repo is None:
            raise ActionError(f"{name} has no worktree branch (worktree = false)")
        return rec, self.config.repo, rec.base_commit or rec.base_branch or "HEAD"


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Merge `values` into a `.env` file, readable by its owner only."""
    existing = path.read_text() if path.exists() else ""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(merge_dotenv(existing, values))
    os.chmod(path, 0o600)


def _file_state(path: Path) -> tuple[bytes, int] | None:
    """A file's bytes and mode, to put it back later (None: it does not exist)."""
    try:
        return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def _restore_file(path: Path, state: tuple[bytes, int] | None) -> None:
    if state is None:
        path.unlink(missing_ok=True)
        return
    write_private(path, state[0])
    os.chmod(path, state[1])
