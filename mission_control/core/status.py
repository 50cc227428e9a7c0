"""Where an agent's status is decided — WORKING, WAITING, IDLE, STUCK and the rest.

One pure function, `classify()`, fuses what the adapters observed in a tick
(`Observation`) with what it remembers of earlier ticks (`Memory`) and the kind's
rules, and returns the status to show with its reason, evidence and `since`.

Precedence, strongest first:
  1. the process: pane dead -> EXITED, process group stopped -> PAUSED (shown at once);
  2. the agent's own word: `$MISSION_CONTROL_STATUS_FILE` or a printed `STUCK: ...` line
     (in the current turn, among its last 15 non-blank lines, wherever it stands on the
     line — `● STUCK:`, `✦ STUCK:` — and only while no busy marker shows it went on);
     a STUCK reason also names a missing variable the screen names;
  3. a prompt on the screen (the kind's WAITING rules);
  4. agent hooks that say a human is needed, the turn failed or the session ended;
  5. the screen's errors (STUCK rules), then hooks that say the turn is done, then the
     screen's WORKING markers, then the idle prompt — a visible prompt counts as IDLE only
     when the screen and CPU are also quiet, since some agents keep their prompt drawn
     while they work. So an error rule beats a working marker: an agent that shows its
     spinner while it retries a failed call (`API error · Retrying in 19s`) is STUCK;
  6. a hook that says work resumed (a prompt submitted, a tool used), for `stuck_after`;
  7. activity alone: output this tick, or output twice at most `PRINT_WINDOW` seconds apart
     until that long after (output: the screen changed, or the pane's history grew — a command
     printing the same line again and again leaves the tail as it was), or CPU use (unless the
     kind's idle CPU is known to be noisy: `idle_cpu` in its rules file), is WORKING,
     except while an agent with `quiet_start` boots (STARTING until it first shows its
     prompt, a marker or a dialog); silence for `stuck_after` away from a prompt is STUCK
     (no progress); never getting going is STUCK too.
Any new state except EXITED and PAUSED must hold for two ticks before it is shown.

Hooks are events, not states (`hook_meaning`): each says what happened and when, and the
state it implies holds only until newer evidence says otherwise. A permission or question
hook ends when a later hook says work resumed (`resumed_at`), or when the screen, with no
prompt on it, changes to show a busy marker, the agent's idle prompt, or busy CPU two ticks
running. A done or failed hook ends when the screen changes to show work, an ended session
when the screen changes at all. The screen is heard only `HOOK_SETTLE_SECONDS` after the
hook, once it had time to catch up (draw the dialog, clear the spinner).
Once a hook's state has ended it stays ended (`Memory.hook_released`), and `Notification`
is read by its `notification_type`: `idle_prompt` is IDLE (done), never WAITING;
`permission_prompt`, `elicitation_dialog` and `agent_needs_input` (auto mode asks) are WAITING.

The screen is read turn by turn: when the kind's rules say what a submitted prompt looks
like (`turn` in its rules file), only what was printed below the last one counts, since
agent TUIs keep old errors and old questions on screen above a newer prompt
(`RuleSet.current`). A single screen cannot always tell the state: codex and aider stream an
answer with no busy marker at all, so that is WORKING only by step 7 (the screen changing).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from mission_control.core.diagnosis import missing_variable
from mission_control.core.model import Status
from mission_control.core.rules import Region, RuleSet
from mission_control.core.terminal_text import strip_escapes

CPU_BUSY_FRACTION = 0.03
"""CPU seconds per wall second of the agent's process tree above which it counts as busy
(a kind whose idle CPU is noisy raises it with `idle_cpu` in its rules file)."""
HOLD_TICKS = 2
"""Ticks a new state must be seen before it is shown (EXITED and PAUSED show at once)."""
PRINT_WINDOW = 5.0
"""A pane that printed (its screen changed or its history grew) twice at most this many seconds
apart counts as active until this many seconds after the second time: output in bursts (a line
every 2 s, ticks every second) leaves ticks in between with nothing new, and a new state must
hold for `HOLD_TICKS` ticks in a row. One change alone (a screen drawn once) is not enough. At
least two tick intervals, for a slow poll."""
HOOK_SETTLE_SECONDS = 2.0
"""A hook fires just before the screen shows what it says (a permission dialog is drawn, the
spinner of a finished turn is cleared): for this long the screen cannot end the hook's state
(a capture taken in between still shows the old screen)."""
PRINTED_STUCK_LINES = 15
"""How many non-blank lines at the bottom of the current turn a printed `STUCK:` is looked for in."""
LOOP_REPEATS = 3
"""The same error block seen this many times in a row is a loop."""
CRASH_LOOP_EXITS = 3
"""This many failed exits within `CRASH_LOOP_WINDOW` seconds (across restarts) is a crash loop."""
CRASH_LOOP_WINDOW = 600.0

_OWN_WORD = re.compile(r"^\s*(WORKING|WAITING|STUCK|DONE|IDLE)\b[:\s-]*(.*)$", re.IGNORECASE)
_PRINTED_STUCK = re.compile(r"^[^\w\n]{0,8}?STUCK:\s*(.+?)[\s│┃|]*$", re.MULTILINE)
"""`STUCK: reason` at the start of a line, after an agent's bullet or box border (`● `, `✦ `, `┃ `)."""


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
    history_size: int | None = None
    """Lines scrolled off the top of the pane into its history (tmux `#{history_size}`; None:
    unknown). A change says the pane printed new lines, even when its tail reads the same (the
    same line printed again and again). A redraw in place (a spinner, a status line) never moves it."""
    own_word: str | None = None
    """The last line of its status file, if written since it started."""
    own_word_at: float | None = None
    hook_event: str | None = None
    """The latest hook event that means something (`hook_meaning`): Notification, PermissionRequest,
    Stop, StopFailure, SessionStart, SessionEnd, UserPromptSubmit, PreToolUse, PostToolUse, ..., notify."""
    hook_at: float | None = None
    hook_detail: str = ""
    """Its message: Notification's `message`, StopFailure's error text."""
    hook_type: str = ""
    """Its sub-type: Notification's `notification_type`, StopFailure's `error`, SessionEnd's and
    SessionStart's `reason`/`source`."""
    resumed_at: float | None = None
    """When a hook last said work resumed (a prompt submitted, a tool used, a turn ended): a
    permission or question hook older than this is answered."""
    recent_failures: int = 0
    """Failed exits of this agent (over its restarts) within `CRASH_LOOP_WINDOW`, this one included."""
    crash_loop_exits: int = CRASH_LOOP_EXITS
    """Failed exits that make a crash loop (an agent with a restart policy: one more than its `max_restarts`)."""


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
    hook_key: float | None = None
    """`hook_at` of the state-giving hook being followed."""
    hook_digest: str = ""
    """The screen when that hook was first seen."""
    hook_released: bool = False
    """Newer evidence ended that hook's state (it does not come back)."""
    history_size: int | None = None
    """The pane's history size at the last tick (`Observation.history_size`)."""
    printed_at: float | None = None
    """When the pane last printed: its screen changed or its history size moved (not the first tick)."""
    printed_before: float | None = None
    """When it printed the time before that."""


@dataclass(frozen=True)
class Settings:
    stuck_after: float = 120.0
    start_timeout: float = 60.0
    hold_ticks: int = HOLD_TICKS
    """1 for a one-shot poll, where there is no second tick to wait for."""
    print_window: float = PRINT_WINDOW
    """Seconds after it last printed that a pane counts as active (`PRINT_WINDOW`)."""


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


_RESUMED = {
    "UserPromptSubmit": "working on a prompt",
    "PreToolUse": "using a tool",
    "PostToolUse": "using a tool",
    "PostToolUseFailure": "using a tool",
    "PreCompact": "compacting its conversation",
}
_DONE = {"Stop": "finished its turn", "notify": "finished its turn"}


def hook_meaning(event: str | None, hook_type: str = "", detail: str = "") -> tuple[Status, str] | None:
    """What a hook event says, as a state and a reason; WORKING means "work resumed". None: it
    says nothing about the agent's state (`auth_success`, a notification type we do not know,
    a session cleared to start again)."""
    if not event:
        return None
    if event == "Notification":
        kind = hook_type
        if not kind:  # versions without `notification_type` (or a caller without it): the message tells
            low = detail.lower()
            if "waiting for your input" in low:
                kind = "idle_prompt"
            elif "permission" in low or not low:
                kind = "permission_prompt"
        if kind == "permission_prompt":
            return Status.WAITING, detail or "needs your input"
        if kind == "elicitation_dialog":
            return Status.WAITING, detail or "asks a question"
        if kind == "agent_needs_input":
            # 2.1.332's auto mode when its safety check cannot run ("Auto mode can't check
            # actions in this session and needs your choice"): no PermissionRequest comes for it
            return Status.WAITING, detail or "needs your choice"
        if kind == "idle_prompt":
            return Status.IDLE, "at its prompt, done"
        return None
    if event == "PermissionRequest":
        return Status.WAITING, detail or "permission prompt"
    if event in _DONE:
        return Status.IDLE, _DONE[event]
    if event == "StopFailure":
        return Status.STUCK, detail or (f"API error: {hook_type}" if hook_type else "its turn failed")
    if event == "SessionStart":
        if hook_type == "compact":  # a compaction mid-turn: it goes on
            return Status.WORKING, "compacted its conversation"
        return Status.IDLE, "session started"
    if event == "SessionEnd":
        if hook_type == "clear":  # /clear: a new session starts at once
            return None
        return Status.EXITED, f"session ended ({hook_type})" if hook_type else "session ended"
    if event in _RESUMED:
        return Status.WORKING, _RESUMED[event]
    return None


@dataclass(frozen=True)
class HookEvidence:
    """What an agent's hooks have said so far, folded event by event (`note_hook`): the latest
    event that means something, and when work last resumed. Its fields are `Observation`'s."""

    event: str | None = None
    at: float | None = None
    detail: str = ""
    type: str = ""
    resumed_at: float | None = None
    asked_at: float | None = None
    """When a `PermissionRequest` last came (its dialog is then on screen)."""

    def fields(self, since: float | None = None) -> dict:
        """The `Observation` fields (none for events before `since`: an earlier run's)."""
        if self.at is None or (since is not None and self.at < since):
            return {}
        resumed = self.resumed_at if self.resumed_at is not None and (since is None or self.resumed_at >= since) else None
        return dict(hook_event=self.event, hook_at=self.at, hook_detail=self.detail, hook_type=self.type, resumed_at=resumed)


_TYPE_FIELDS = ("notification_type", "error", "reason", "source", "trigger")
_DETAIL_FIELDS = ("message", "error_message")


PERMISSION_ECHO_SECONDS = 30.0
"""Claude Code sends Notification(permission_prompt) about 6 s after the `PermissionRequest` it
is about (2.1.197): one that comes after that request was answered is its late echo."""


def note_hook(prev: HookEvidence, event: str, data: dict, at: float) -> HookEvidence:
    """`prev` with one more hook event (`data`: its kept payload fields). An event that says
    nothing (`hook_meaning` None) changes nothing; one that arrives late only moves `resumed_at`;
    a permission notification for a request already answered is ignored."""
    hook_type = next((v for k in _TYPE_FIELDS if isinstance(v := data.get(k), str) and v), "")
    detail = next((v for k in _DETAIL_FIELDS if isinstance(v := data.get(k), str) and v), "")[:120]
    meaning = hook_meaning(event, hook_type, detail)
    if meaning is None:
        return prev
    asked = at if event == "PermissionRequest" else prev.asked_at
    if (event == "Notification" and meaning[0] is Status.WAITING and prev.asked_at is not None
            and prev.resumed_at is not None and prev.resumed_at > prev.asked_at and at - prev.asked_at < PERMISSION_ECHO_SECONDS):
        return prev  # the request it announces was answered already
    resumed = prev.resumed_at
    if meaning[0] is not Status.WAITING:
        resumed = at if resumed is None else max(resumed, at)
    if prev.at is not None and at < prev.at:
        return HookEvidence(prev.event, prev.at, prev.detail, prev.type, resumed, asked)
    return HookEvidence(event, at, detail, hook_type, resumed, asked)


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
    def submitted(self) -> bool:
        """A prompt the user submitted is on screen (the kind's `turn` pattern matched)."""
        return len(self.region.lines) != len(self.lines)

    @property
    def at_prompt(self) -> bool:
        """Its own idle prompt is showing and nothing says it is busy."""
        return bool(self.lines) and self.first("IDLE") is not None and self.first("WORKING") is None


def screen_facts(rules: RuleSet, screen: str, previous: ScreenFacts | None = None) -> ScreenFacts:
    if previous is not None and previous.rules is rules and previous.screen == screen:
        return previous
    return ScreenFacts(rules, screen)


def _with_missing(reason: str, facts: ScreenFacts) -> str:
    """An agent's own STUCK reason, with the variable the screen says is missing (what a person
    must inject) when the reason does not name it already."""
    var = missing_variable(facts.region.text(0))
    if var and var not in reason:
        return f"{reason} (missing {var})"
    return reason


def _printed_stuck(facts: ScreenFacts) -> str | None:
    """The reason of a `STUCK:` line printed near the bottom of the current turn, unless a busy
    marker shows the agent went on since."""
    text = facts.region.text(PRINTED_STUCK_LINES)
    if "STUCK:" not in text:
        return None
    printed = _PRINTED_STUCK.findall(text)
    if not printed or facts.first("WORKING"):
        return None
    return printed[-1]


def _hook_released(state: Status, obs: Observation, mem: Memory, facts: ScreenFacts, changed: bool, busy: bool, seen_digest: str) -> bool:
    """Whether this tick's screen (and CPU) end the state a hook gave (see the module docstring)."""
    assert obs.hook_at is not None
    if obs.now - obs.hook_at < HOOK_SETTLE_SECONDS:
        return False  # the screen may not have caught up with what the hook says yet
    if state is Status.WAITING:
        if facts.first("WAITING"):
            return False
        if changed and facts.first("WORKING"):
            return True
        if facts.at_prompt and facts.digest != seen_digest:
            return True  # the dialog it announced is gone: back at its input prompt
        return changed and busy and mem.last_busy_at is not None and mem.last_busy_at == mem.last_tick_at
    if state is Status.EXITED:
        return facts.digest != seen_digest
    return changed and bool(facts.first("WORKING"))  # IDLE, STUCK: it shows work again


def printed(obs: Observation, mem: Memory, changed: bool) -> tuple[float | None, float | None, bool]:
    """When the pane last printed and the time before, and whether it printed this tick: its
    screen `changed`, or its history size moved (lines scrolled off its top; fewer when tmux drops
    its oldest tenth at `history-limit`). The first tick is no evidence: nothing to compare with."""
    if mem.last_tick_at is None:
        return None, None, False
    scrolled = obs.history_size is not None and mem.history_size is not None and obs.history_size != mem.history_size
    if changed or scrolled:
        return obs.now, mem.printed_at, True
    return mem.printed_at, mem.printed_before, False


def printing(now: float, last: float | None, before: float | None, last_tick_at: float | None,
             window: float = PRINT_WINDOW) -> bool:
    """Whether a pane that printed at `before` and again at `last` counts as active at `now`:
    the two at most `window` seconds apart and the last within `window` seconds (or two tick
    intervals, when ticks are further apart than that). Printing once is not printing on."""
    if last is None or before is None:
        return False
    if last_tick_at is not None:
        window = max(window, 2 * (now - last_tick_at))
    return last - before <= window and now - last <= window


def _raw(
    obs: Observation, mem: Memory, rules: RuleSet, settings: Settings, facts: ScreenFacts, changed: bool, busy: bool,
    hook: tuple[Status, str] | None, active: bool = False,
) -> tuple[Status, str, str]:
    """The state this tick's evidence points to, before debouncing (`hook`: what the latest
    hook still says, if newer evidence has not ended it; `changed`: it printed this tick,
    `active`: this tick or lately, see `printing`)."""
    if obs.pane_dead:
        code = obs.exit_status
        if code in (0, None):
            return Status.EXITED, "exited", f"exit status {code}"
        if obs.recent_failures >= obs.crash_loop_exits:
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
            if status is Status.STUCK:
                reason = _with_missing(f"reported: {reason}", facts)
            return status, reason, f"status file: {obs.own_word.strip()[:120]}"
        if word:
            return Status.WORKING, word[1], f"status file: {obs.own_word.strip()[:120]}"
    printed = _printed_stuck(facts)
    if printed:
        return Status.STUCK, _with_missing(f"reported: {printed}", facts), f"printed: STUCK: {printed[:120]}"

    waiting = facts.first("WAITING")
    if waiting:
        return Status.WAITING, waiting[0], f"screen matched {waiting[1].source}"
    hook_evidence = f"hook {obs.hook_event}" + (f" ({obs.hook_type})" if obs.hook_type else "")
    if hook and hook[0] in (Status.WAITING, Status.STUCK, Status.EXITED):
        return hook[0], hook[1], hook_evidence
    error = facts.first("STUCK")
    if error:
        return Status.STUCK, error[0], f"screen matched {error[1].source}"
    if hook and hook[0] is Status.IDLE:
        return Status.IDLE, hook[1], hook_evidence
    working = facts.first("WORKING")
    if working:
        return Status.WORKING, working[0], f"screen matched {working[1].source}"
    idle = facts.first("IDLE")
    if idle and not changed and (not busy or rules.idle_cpu is not None):
        # a kind whose idle CPU is noisy is believed at its still prompt whatever its CPU says
        return Status.IDLE, idle[0], f"screen matched {idle[1].source}"
    if hook and hook[0] is Status.WORKING and obs.hook_at is not None and obs.now - obs.hook_at < settings.stuck_after:
        return Status.WORKING, hook[1], hook_evidence
    if ((active or busy) and rules.quiet_start and mem.shown is Status.STARTING and not facts.submitted
            and obs.now - obs.started_at < settings.start_timeout):  # its boot screens, no prompt submitted yet
        return Status.STARTING, "starting", "boot screen" if active else "cpu busy while it starts"
    if active or (busy and rules.idle_cpu is None):  # a noisy kind's CPU alone is not work
        if not active:
            return Status.WORKING, "using CPU", "cpu busy"
        evidence = "screen changed" if changed and facts.digest != mem.screen_hash else f"printed within {settings.print_window:g}s"
        return Status.WORKING, "output changing", evidence
    if idle:
        return mem.shown if mem.shown is not Status.STARTING else Status.IDLE, mem.shown_reason if mem.shown is not Status.STARTING else idle[0], "prompt visible, quiet"
    quiet_since = max(mem.last_change_at or obs.started_at, obs.hook_at or 0.0)
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
    last_printed, printed_before, printed_now = printed(obs, mem, changed)
    active = printed_now or printing(obs.now, last_printed, printed_before, mem.last_tick_at, settings.print_window)
    busy = False
    if obs.cpu_seconds is not None and mem.cpu_seconds is not None and mem.last_tick_at is not None:
        elapsed = max(obs.now - mem.last_tick_at, 1e-3)
        busy = (obs.cpu_seconds - mem.cpu_seconds) / elapsed > max(CPU_BUSY_FRACTION, rules.idle_cpu or 0.0)

    # the latest hook's state, unless newer evidence ended it
    hook = hook_meaning(obs.hook_event, obs.hook_type, obs.hook_detail) if obs.hook_at is not None else None
    if hook is not None and obs.resumed_at is not None and obs.hook_at is not None and obs.resumed_at > obs.hook_at:
        hook = None  # answered: work resumed after it
    hook_key, hook_digest, released = mem.hook_key, mem.hook_digest, mem.hook_released
    if hook is not None and hook[0] is not Status.WORKING:
        if hook_key != obs.hook_at:
            hook_key, hook_digest, released = obs.hook_at, digest, False
        if not released:
            released = _hook_released(hook[0], obs, mem, facts, changed, busy, hook_digest)
        if released:
            hook = None
    raw, reason, evidence = _raw(obs, mem, rules, settings, facts, printed_now, busy, hook, active)

    # a loop: the same error printed again and again
    repeats = 0
    if raw is Status.STUCK and evidence.startswith("screen matched"):
        rule = next(r for r in rules.rules if evidence.endswith(r.source))
        repeats = len(rule.pattern.findall("\n".join(lines)))

    now = obs.now
    last_change = now if (printed_now or first_tick) else mem.last_change_at
    if busy:
        last_change = now
    ever_active = mem.ever_active or printed_now or busy or bool(lines)

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
        hook_key=hook_key,
        hook_digest=hook_digest,
        hook_released=released,
        history_size=obs.history_size,
        printed_at=last_printed,
        printed_before=printed_before,
    )
    reason_out = shown_reason
    if shown is Status.STUCK and repeats >= LOOP_REPEATS:
        reason_out = f"{shown_reason} (repeated {repeats}x)"
    verdict = Verdict(shown, reason_out, shown_since, shown_evidence, previous is not None, previous, turns)
    return verdict, new_mem
