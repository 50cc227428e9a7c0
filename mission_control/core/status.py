"""Where an agent's status is decided — WORKING, WAITING, IDLE, STUCK and the rest.

One pure function, `classify()`, fuses what the adapters observed in a tick
(`Observation`) with what it remembers of earlier ticks (`Memory`) and the kind's
rules, and returns the status to show with its reason, evidence and `since`.

Precedence, strongest first:
  1. the process: pane dead -> EXITED, process group stopped -> PAUSED (shown at once);
  2. the agent's own word: `$MISSION_CONTROL_STATUS_FILE` or a printed `STUCK: ...` line
     (in the current turn, see below);
  3. agent hooks (Claude Code's Notification/Stop/..., Codex notify), while they are fresh;
  4. the screen against the kind's rules: WAITING, then STUCK (errors), then WORKING markers,
     then the idle prompt — a visible prompt counts as IDLE only when the screen and CPU are
     also quiet, since some agents keep their prompt drawn while they work. So an error
     rule beats a working marker: an agent that shows its spinner while it retries a failed
     call (`API error · Retrying in 19s`) is STUCK;
  5. activity alone: a changing screen or CPU use is WORKING; silence for `stuck_after`
     away from a prompt is STUCK (no progress); never getting going is STUCK too.
Any new state except EXITED and PAUSED must hold for two ticks before it is shown.

The screen is read turn by turn: when the kind's rules say what a submitted prompt looks
like (`turn` in its rules file), only what was printed below the last one counts, since
agent TUIs keep old errors and old questions on screen above a newer prompt
(`RuleSet.current`). A single screen cannot always tell the state: codex and aider stream an
answer with no busy marker at all, so that is WORKING only by step 5 (the screen changing).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from mission_control.core.model import Status
from mission_control.core.rules import Region, RuleSet
from mission_control.core.terminal_text import strip_escapes

CPU_BUSY_FRACTION = 0.03
"""CPU seconds per wall second of the agent's process tree above which it counts as busy."""
HOLD_TICKS = 2
"""Ticks a new state must be seen before it is shown (EXITED and PAUSED show at once)."""
HOOK_FRESH_SECONDS = 600.0
"""How long a hook's word outweighs the screen."""
LOOP_REPEATS = 3
"""The same error block seen this many times in a row is a loop."""
CRASH_LOOP_EXITS = 3
"""This many failed exits within `CRASH_LOOP_WINDOW` seconds (across restarts) is a crash loop."""
CRASH_LOOP_WINDOW = 600.0

_OWN_WORD = re.compile(r"^\s*(WORKING|WAITING|STUCK|DONE|IDLE)\b[:\s-]*(.*)$", re.IGNORECASE)
_PRINTED_STUCK = re.compile(r"^\s*STUCK:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Observation:
    """What the adapters gathered about one agent in one tick."""

    now: float
    started_at: float
    """When the agent's current process was launched."""
    screen: str = ""
    """Visible region of its pane plus a little history, plain text."""
    pane_dead: bool = False
    exit_status: int | None = None
    paused: bool = False
    """Its process group (or part of it) is stopped by a signal."""
    cpu_seconds: float | None = None
    """Cumulative CPU time of the pane's whole process tree."""
    own_word: str | None = None
    """The last line of its status file, if written since it started."""
    own_word_at: float | None = None
    hook_event: str | None = None
    """The latest hook event name (Notification, PermissionRequest, Stop, SessionStart, UserPromptSubmit, notify)."""
    hook_at: float | None = None
    hook_detail: str = ""
    recent_failures: int = 0
    """Failed exits of this agent (over its restarts) within `CRASH_LOOP_WINDOW`, this one included."""


@dataclass(frozen=True)
class Memory:
    """What the classifier keeps between ticks for one agent."""

    shown: Status = Status.STARTING
    shown_reason: str = "starting"
    shown_since: float | None = None
    evidence: str = ""
    candidate: Status | None = None
    candidate_reason: str = ""
    candidate_evidence: str = ""
    candidate_ticks: int = 0
    screen_hash: str = ""
    last_change_at: float | None = None
    cpu_seconds: float | None = None
    last_tick_at: float | None = None
    last_busy_at: float | None = None
    ever_active: bool = False
    turns: int = 0
    error_repeats: int = 0
    time_in: dict[str, float] = field(default_factory=dict)
    facts: "ScreenFacts | None" = field(default=None, compare=False, repr=False)
    """The last screen's rule matches (reused while the screen stays the same)."""


@dataclass(frozen=True)
class Settings:
    stuck_after: float = 120.0
    start_timeout: float = 60.0
    hold_ticks: int = HOLD_TICKS
    """1 for a one-shot poll, where there is no second tick to wait for."""


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    since: float
    evidence: str
    changed: bool
    previous: Status | None
    turns: int


def tail_lines(screen: str) -> list[str]:
    """The capture's lines without trailing blank ones (and without colour codes; a
    no-break space, which Claude Code draws after its `❯`, reads as a plain space)."""
    lines = [strip_escapes(line).replace("\xa0", " ").rstrip() for line in screen.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _hash(lines: list[str]) -> str:
    return hashlib.blake2b("\n".join(lines).encode(), digest_size=12).hexdigest()


def _own_word(text: str) -> tuple[Status, str] | None:
    m = _OWN_WORD.match(text.strip().splitlines()[-1] if text.strip() else "")
    if not m:
        return None
    word, rest = m.group(1).upper(), m.group(2).strip()
    status = {"WORKING": Status.WORKING, "WAITING": Status.WAITING, "STUCK": Status.STUCK}.get(word, Status.IDLE)
    reason = rest or {"DONE": "done", "IDLE": "done"}.get(word, word.lower())
    return status, reason


_HOOK_STATES = {
    "Notification": (Status.WAITING, "needs your input"),
    "PermissionRequest": (Status.WAITING, "permission prompt"),
    "Stop": (Status.IDLE, "finished its turn"),
    "notify": (Status.IDLE, "finished its turn"),
    "SessionStart": (Status.IDLE, "session started"),
    "UserPromptSubmit": (Status.WORKING, "working on a prompt"),
    "PreToolUse": (Status.WORKING, "using a tool"),
    "PostToolUse": (Status.WORKING, "using a tool"),
}


class ScreenFacts:
    """What the rules say about one screen, each state's first match worked out once.

    A pane whose screen did not change since the last tick comes back as the same text,
    and its facts are reused from `Memory`: most panes of a large fleet are quiet in a tick."""

    __slots__ = ("rules", "screen", "lines", "digest", "_first", "_region")

    def __init__(self, rules: RuleSet, screen: str) -> None:
        self.rules = rules
        self.screen = screen
        self.lines = tail_lines(screen)
        self.digest = _hash(self.lines)
        self._first: dict[str, tuple[str, object] | None] = {}
        self._region: Region | None = None

    @property
    def region(self) -> Region:
        """The current turn's lines (below the last submitted prompt)."""
        if self._region is None:
            self._region = Region(self.rules.current(self.lines))
        return self._region

    def first(self, state: str):
        if state not in self._first:
            self._first[state] = self.rules.first(state, self.region)
        return self._first[state]

    @property
    def at_prompt(self) -> bool:
        """Its own idle prompt is showing and nothing says it is busy."""
        return bool(self.lines) and self.first("IDLE") is not None and self.first("WORKING") is None


def screen_facts(rules: RuleSet, screen: str, previous: ScreenFacts | None = None) -> ScreenFacts:
    if previous is not None and previous.rules is rules and previous.screen == screen:
        return previous
    return ScreenFacts(rules, screen)


def _raw(obs: Observation, mem: Memory, rules: RuleSet, settings: Settings, facts: ScreenFacts, changed: bool, busy: bool) -> tuple[Status, str, str]:
    """The state this tick's evidence points to, before debouncing."""
    if obs.pane_dead:
        code = obs.exit_status
        if code in (0, None):
            return Status.EXITED, "exited", f"exit status {code}"
        if obs.recent_failures >= CRASH_LOOP_EXITS:
            minutes = int(CRASH_LOOP_WINDOW // 60)
            return (Status.STUCK, f"crash loop: failed {obs.recent_failures} times in {minutes} min",
                    f"exit status {code}; {obs.recent_failures} failed exits within {minutes} min")
        return Status.EXITED, f"failed: exit {code}", f"exit status {code}"
    if obs.paused:
        return Status.PAUSED, "paused", "process group stopped"

    if obs.own_word:
        word = _own_word(obs.own_word)
        if word and word[0] is not Status.WORKING:
            status, reason = word
            return status, (f"reported: {reason}" if status is Status.STUCK else reason), f"status file: {obs.own_word.strip()[:120]}"
        if word:
            return Status.WORKING, word[1], f"status file: {obs.own_word.strip()[:120]}"
    lines = facts.lines
    bottom = facts.region.lines[-15:]
    printed = _PRINTED_STUCK.findall("\n".join(bottom))
    if printed:
        return Status.STUCK, f"reported: {printed[-1]}", f"printed: STUCK: {printed[-1][:120]}"

    waiting = facts.first("WAITING")
    if waiting:
        return Status.WAITING, waiting[0], f"screen matched {waiting[1].source}"
    if obs.hook_event and obs.hook_at and obs.now - obs.hook_at < HOOK_FRESH_SECONDS and obs.hook_event in _HOOK_STATES:
        status, reason = _HOOK_STATES[obs.hook_event]
        # a hook that says "done" is believed unless the screen shows the agent busy again
        if not (status is Status.IDLE and changed and facts.first("WORKING")):
            return status, obs.hook_detail or reason, f"hook {obs.hook_event}"
    error = facts.first("STUCK")
    if error:
        return Status.STUCK, error[0], f"screen matched {error[1].source}"
    working = facts.first("WORKING")
    if working:
        return Status.WORKING, working[0], f"screen matched {working[1].source}"
    idle = facts.first("IDLE")
    if idle and not changed and not busy:
        return Status.IDLE, idle[0], f"screen matched {idle[1].source}"
    if changed or busy:
        return Status.WORKING, "output changing" if changed else "using CPU", "screen changed" if changed else "cpu busy"
    if idle:
        return mem.shown if mem.shown is not Status.STARTING else Status.IDLE, mem.shown_reason if mem.shown is not Status.STARTING else idle[0], "prompt visible, quiet"
    quiet_since = mem.last_change_at or obs.started_at
    if obs.now - quiet_since >= settings.stuck_after and mem.ever_active:
        return Status.STUCK, f"no progress for {int(obs.now - quiet_since)}s", "screen and CPU unchanged, not at a prompt"
    if not mem.ever_active and obs.now - obs.started_at >= settings.start_timeout:
        return Status.STUCK, "never got going", f"no output or CPU for {int(obs.now - obs.started_at)}s since start"
    if mem.shown is Status.PAUSED:  # running again (a stopped group returned above), nothing new on screen yet
        return Status.WORKING, "resumed", "process group running again"
    return mem.shown, mem.shown_reason, mem.evidence or "quiet"


def classify(obs: Observation, mem: Memory, rules: RuleSet, settings: Settings = Settings()) -> tuple[Verdict, Memory]:
    facts = screen_facts(rules, obs.screen, mem.facts)
    lines, digest = facts.lines, facts.digest
    first_tick = mem.last_tick_at is None
    changed = not first_tick and digest != mem.screen_hash
    busy = False
    if obs.cpu_seconds is not None and mem.cpu_seconds is not None and mem.last_tick_at is not None:
        elapsed = max(obs.now - mem.last_tick_at, 1e-3)
        busy = (obs.cpu_seconds - mem.cpu_seconds) / elapsed > CPU_BUSY_FRACTION
    raw, reason, evidence = _raw(obs, mem, rules, settings, facts, changed, busy)

    # a loop: the same error printed again and again
    repeats = 0
    if raw is Status.STUCK and evidence.startswith("screen matched"):
        rule = next(r for r in rules.rules if evidence.endswith(r.source))
        repeats = len(rule.pattern.findall("\n".join(lines)))

    now = obs.now
    last_change = now if (changed or first_tick) else mem.last_change_at
    if busy:
        last_change = now
    ever_active = mem.ever_active or changed or busy or bool(lines)

    shown, shown_reason, shown_since, shown_evidence = mem.shown, mem.shown_reason, mem.shown_since, mem.evidence
    candidate, cand_reason, cand_evidence, cand_ticks = mem.candidate, mem.candidate_reason, mem.candidate_evidence, mem.candidate_ticks
    if shown_since is None:
        shown_since = obs.started_at
    previous = None
    if raw is shown:
        candidate, cand_ticks = None, 0
        shown_reason, shown_evidence = reason, evidence
    else:
        if raw is candidate:
            cand_ticks += 1
        else:
            candidate, cand_ticks = raw, 1
        cand_reason, cand_evidence = reason, evidence
        # exited, stopped and running again are facts about the process: shown at once
        if raw in (Status.EXITED, Status.PAUSED) or shown is Status.PAUSED or cand_ticks >= settings.hold_ticks:
            previous = shown
            shown, shown_reason, shown_evidence, shown_since = raw, reason, evidence, now
            candidate, cand_ticks = None, 0

    turns = mem.turns
    if previous is Status.WORKING and shown in (Status.IDLE, Status.WAITING):
        turns += 1
    time_in = dict(mem.time_in)
    if mem.last_tick_at is not None:
        time_in[mem.shown.value] = time_in.get(mem.shown.value, 0.0) + max(0.0, now - mem.last_tick_at)

    new_mem = Memory(  # every field: cheaper than dataclasses.replace, once per agent per tick
        shown=shown,
        shown_reason=shown_reason,
        shown_since=shown_since,
        evidence=shown_evidence,
        candidate=candidate,
        candidate_reason=cand_reason,
        candidate_evidence=cand_evidence,
        candidate_ticks=cand_ticks,
        screen_hash=digest,
        last_change_at=last_change,
        cpu_seconds=obs.cpu_seconds if obs.cpu_seconds is not None else mem.cpu_seconds,
        last_tick_at=now,
        last_busy_at=now if busy else mem.last_busy_at,
        ever_active=ever_active,
        turns=turns,
        error_repeats=repeats,
        time_in=time_in,
        facts=facts,
    )
    reason_out = shown_reason
    if shown is Status.STUCK and repeats >= LOOP_REPEATS:
        reason_out = f"{shown_reason} (repeated {repeats}x)"
    verdict = Verdict(shown, reason_out, shown_since, shown_evidence, previous is not None, previous, turns)
    return verdict, new_mem
