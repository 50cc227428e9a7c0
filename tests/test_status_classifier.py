"""The pure classifier, as a table of cases: observations in, status out."""

from __future__ import annotations

import pytest

from mission_control.core.kinds import KIND_NAMES
from mission_control.core.model import Status
from mission_control.core.rules import RuleError, RuleSet, parse_file, parse_rules, rules_for
from mission_control.core.status import Memory, Observation, Settings, classify, printing, tail_lines

SHELL = rules_for("shell")
T0 = 1000.0


def run(ticks: list[dict], kind: str = "shell", settings: Settings = Settings(stuck_after=30, start_timeout=20)):
    """Feed observations one per second; return the verdicts."""
    mem = Memory()
    out = []
    for i, tick in enumerate(ticks):
        obs = Observation(now=T0 + tick.pop("at", i), started_at=T0, **tick)
        verdict, mem = classify(obs, mem, rules_for(kind), settings)
        out.append(verdict)
    return out


CASES = [
    # name, ticks, expected final status, reason contains
    ("exit 0 shows at once", [{"screen": "done", "pane_dead": True, "exit_status": 0}], Status.EXITED, "exited"),
    ("non-zero exit is a failure", [{"screen": "x", "pane_dead": True, "exit_status": 2}], Status.EXITED, "failed: exit 2"),
    ("paused at once", [{"screen": "x", "paused": True}], Status.PAUSED, "paused"),
    ("own word STUCK", [{"screen": "x", "own_word": "STUCK missing NOTIFICATION_KEY"}] * 2, Status.STUCK, "reported: missing NOTIFICATION_KEY"),
    ("own word WAITING", [{"screen": "x", "own_word": "WAITING need a decision"}] * 2, Status.WAITING, "need a decision"),
    ("own word DONE", [{"screen": "x", "own_word": "DONE"}] * 2, Status.IDLE, "done"),
    ("printed STUCK line", [{"screen": "working\nSTUCK: cannot reach db\n"}] * 2, Status.STUCK, "reported: cannot reach db"),
    ("yes/no question", [{"screen": "Deploy now? (y/n)\n"}] * 2, Status.WAITING, "yes/no question"),
    ("missing env var", [{"screen": "Error: NOTIFICATION_KEY is not set\n"}] * 2, Status.STUCK, "missing NOTIFICATION_KEY"),
    ("KeyError env var", [{"screen": "Traceback...\nKeyError: 'OPENAI_API_KEY'\n"}] * 2, Status.STUCK, "missing OPENAI_API_KEY"),
    ("rate limit", [{"screen": "API error 429: Too Many Requests\n"}] * 2, Status.STUCK, "rate limit"),
    ("auth failure", [{"screen": "Invalid API key · Please run /login\n"}] * 2, Status.STUCK, "authentication failed"),
    ("spinner is work", [{"screen": "⠋ editing src/a.py"}, {"screen": "⠙ editing src/a.py"}], Status.WORKING, "spinner"),
    ("quiet prompt is idle", [{"screen": "done\n$ "}] * 3, Status.IDLE, "at its prompt"),
]


@pytest.mark.parametrize("name,ticks,status,reason", CASES, ids=[c[0] for c in CASES])
def test_cases(name: str, ticks: list[dict], status: Status, reason: str) -> None:
    verdict = run([dict(t) for t in ticks])[-1]
    assert verdict.status is status, (verdict.status, verdict.reason)
    assert reason in verdict.reason


def test_new_state_holds_two_ticks_before_shown() -> None:
    v = run([{"screen": "a"}, {"screen": "b"}, {"screen": "c"}])
    assert [x.status for x in v] == [Status.STARTING, Status.STARTING, Status.WORKING]
    assert v[2].changed and v[2].previous is Status.STARTING


def test_prompt_drawn_while_output_changes_is_not_idle() -> None:
    ticks = [{"screen": f"line {i}\n$ "} for i in range(4)]
    assert run(ticks)[-1].status is Status.WORKING


def test_cpu_busy_behind_a_quiet_prompt_is_working() -> None:
    ticks = [{"screen": "$ ", "cpu_seconds": 0.9 * i} for i in range(4)]
    assert run(ticks)[-1].status is Status.WORKING


def test_one_quiet_tick_mid_turn_is_not_idle() -> None:
    ticks = [{"screen": f"out {i}"} for i in range(4)] + [{"screen": "out 3"}]
    assert run(ticks)[-1].status is Status.WORKING


def test_no_progress_becomes_stuck_after_stuck_after() -> None:
    ticks = [{"screen": "out 1", "at": 0}, {"screen": "out 2", "at": 1}, {"screen": "out 3", "at": 2}]
    ticks += [{"screen": "out 3", "at": t} for t in (10, 20, 33, 34)]
    v = run(ticks)
    assert v[-1].status is Status.STUCK
    assert v[-1].reason.startswith("no progress for")


def test_never_got_going() -> None:
    ticks = [{"screen": "", "at": t} for t in (0, 5, 21, 22)]
    v = run(ticks)
    assert v[-1].status is Status.STUCK and v[-1].reason == "never got going"


def test_repeated_error_is_a_loop() -> None:
    screen = "\n".join(["try", "Error: rate limit exceeded"] * 4)
    v = run([{"screen": screen}] * 2)
    assert v[-1].status is Status.STUCK and "repeated 4x" in v[-1].reason


def test_turns_counted_working_to_idle() -> None:
    ticks = [{"screen": f"work {i}"} for i in range(3)] + [{"screen": "work 2\n$ "}] * 3
    ticks += [{"screen": f"more {i}"} for i in range(3)] + [{"screen": "more 2\n$ "}] * 3
    v = run(ticks)
    assert v[-1].status is Status.IDLE
    assert v[-1].turns == 2


def test_hook_stop_believed_over_a_drawn_prompt() -> None:
    ticks = [{"screen": "│ > │", "hook_event": "Stop", "hook_at": T0}] * 2
    assert run(ticks, kind="claude")[-1].status is Status.IDLE


def test_rules_are_data_and_bad_rules_say_where() -> None:
    rules = parse_rules("mine.toml", '[[rule]]\nstate = "WAITING"\npattern = "Approve\\\\?"\nreason = "approval"\n')
    assert rules[0].match(["please Approve?"]) == "approval"
    with pytest.raises(RuleError, match=r"mine.toml: rule\[0\].state = 'BUSY'"):
        parse_rules("mine.toml", '[[rule]]\nstate = "BUSY"\npattern = "x"\n')
    with pytest.raises(RuleError, match="mine.toml: rule\\[0\\].pattern"):
        parse_rules("mine.toml", '[[rule]]\nstate = "IDLE"\npattern = "("\n')


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_has_rules(kind: str) -> None:
    assert rules_for(kind).rules


def test_lines_counts_non_blank_lines() -> None:
    rules = parse_rules("mine.toml", '[[rule]]\nstate = "WAITING"\npattern = "Approve\\\\?"\nlines = 2\n')
    assert rules[0].match(["Approve?", "", "", "", "footer"]) is not None
    assert rules[0].match(["Approve?", "one", "two"]) is None


def test_only_the_current_turn_is_read() -> None:
    """With a `turn` pattern, an error above the user's last prompt is history."""
    text = 'turn = \'^> \\S\'\n[[rule]]\nstate = "STUCK"\npattern = "rate limit"\nreason = "rate limit"\n'
    text += '[[rule]]\nstate = "IDLE"\npattern = "^>$"\nreason = "at its prompt"\n'
    parsed = parse_file("mine.toml", text)
    rules = RuleSet("mine", parsed.rules, parsed.turn)
    old_error = "> go\nError: rate limit\n> try the rate limit fix again\nDone.\n>"
    assert rules.current(tail_lines(old_error)) == ["Done.", ">"]
    assert rules.first("STUCK", tail_lines(old_error)) is None
    assert rules.first("STUCK", tail_lines("> go\nError: rate limit\n>")) is not None
    verdict, _ = classify(Observation(now=T0, started_at=T0, screen=old_error), Memory(), rules, Settings(hold_ticks=1))
    assert verdict.status is Status.IDLE


def test_a_printed_stuck_line_of_an_earlier_turn_is_history() -> None:
    screen = "STUCK: cannot reach the server\n› continue\n● thinking…\n"
    v = run([{"screen": screen}, {"screen": screen + "partial answer\n"}], kind="ollama")
    assert v[-1].status is Status.WORKING
    v = run([{"screen": "● thinking…\nSTUCK: cannot reach the server\n› "}] * 2, kind="ollama")
    assert v[-1].status is Status.STUCK and "cannot reach the server" in v[-1].reason


def test_an_error_beats_a_working_marker() -> None:
    screen = "❯ go\n\n✻ API error · Retrying in 19s · attempt 1/10\n\n" + "─" * 40 + "\n❯\n" + "─" * 40 + "\n  esc to interrupt · ← for agents\n"
    v = run([{"screen": screen}] * 2, kind="claude")
    assert v[-1].status is Status.STUCK and "retrying" in v[-1].reason


def test_no_break_spaces_read_as_spaces() -> None:
    assert tail_lines("❯\xa0hello\n❯\xa0\n") == ["❯ hello", "❯"]


def test_agent_kinds_leave_out_the_common_rules() -> None:
    assert not any(r.source.startswith("rules/common.toml") for r in rules_for("claude").rules)
    assert any(r.source.startswith("rules/common.toml") for r in rules_for("shell").rules)
    assert any(r.source.startswith("rules/common.toml") for r in rules_for("no-such-kind").rules)


def test_bad_turn_and_common_keys_say_where() -> None:
    with pytest.raises(RuleError, match="mine.toml: turn"):
        parse_file("mine.toml", 'turn = "("\n')
    with pytest.raises(RuleError, match="mine.toml: common must be true or false"):
        parse_file("mine.toml", 'common = "no"\n')


def test_crash_loop_is_stuck_not_just_exited() -> None:
    once = run([{"screen": "boom", "pane_dead": True, "exit_status": 1, "recent_failures": 1}])[-1]
    assert once.status is Status.EXITED
    looping = run([{"screen": "boom", "pane_dead": True, "exit_status": 1, "recent_failures": 3}] * 2)[-1]
    assert looping.status is Status.STUCK and looping.reason.startswith("crash loop: failed 3 times in 10 min")
    clean = run([{"screen": "bye", "pane_dead": True, "exit_status": 0, "recent_failures": 3}])[-1]
    assert clean.status is Status.EXITED


@pytest.mark.parametrize("before, after, status", [
    ("done\n$ ", "done\n$ ", Status.IDLE),  # continued at its prompt, screen unchanged
    ("compiling unit 3/200", "compiling unit 3/200", Status.WORKING),  # continued mid-task, no output yet
    ("compiling unit 3/200", "compiling unit 4/200", Status.WORKING),  # continued and printing
])
def test_continue_leaves_paused_at_once(before: str, after: str, status: Status) -> None:
    """A process that runs again is not PAUSED: the state leaves at the first tick, with no hold,
    and never falls back to PAUSED for want of other evidence."""
    ticks = [{"screen": before}] * 3 + [{"screen": before, "paused": True}] * 3 + [{"screen": after}] * 3
    verdicts = run(ticks)
    assert verdicts[5].status is Status.PAUSED
    assert [v.status for v in verdicts[6:]] == [status] * 3, [(v.status, v.reason) for v in verdicts[6:]]


# ------------------------------------------------------------------ hooks are events, not states
# Each case is a timeline of ticks one second apart; a tick may carry hook fields. The screens are
# real captures (tests/data/screens) where the case is about a real CLI.

from pathlib import Path  # noqa: E402

from mission_control.core.diagnosis import rule_diagnosis  # noqa: E402
from mission_control.core.status import HookEvidence, hook_meaning, note_hook  # noqa: E402

SCREENS = Path(__file__).resolve().parent / "data" / "screens"


def screen(name: str) -> str:
    return (SCREENS / name).read_text(encoding="utf-8")


def spinning(i: int) -> str:
    """Claude Code's real working screen, its spinner one frame further each second."""
    return screen("claude/working-spinner.txt").replace("✽ Hashing…", f"{'·✢✳✶✻✽'[i % 6]} Hashing… ({i}s · ↓ {i * 3} tokens)")


PROMPT = "─" * 40 + "\n❯ \n" + "─" * 40 + "\n  ? for shortcuts\n"
"""A Claude-like input box alone (its IDLE rule)."""


def statuses(ticks: list[dict], kind: str = "claude", **settings) -> list[tuple[Status, str]]:
    verdicts = run([dict(t) for t in ticks], kind=kind, settings=Settings(**{"stuck_after": 120, "start_timeout": 60, **settings}))
    return [(v.status, v.reason) for v in verdicts]


def test_idle_prompt_notification_is_idle_never_waiting() -> None:
    """About 60 s after `Stop`, Claude Code sends Notification(idle_prompt): done, not a question."""
    idle = screen("claude/idle-after-turn.txt")
    ticks = [{"screen": idle, "hook_event": "Stop", "hook_at": T0}] * 3
    ticks += [{"screen": idle, "hook_event": "Notification", "hook_at": T0 + 3, "hook_type": "idle_prompt",
               "hook_detail": "Claude is waiting for your input", "resumed_at": T0}] * 5
    out = statuses(ticks)
    assert all(s is not Status.WAITING for s, _ in out), out
    assert out[-1][0] is Status.IDLE


def test_notification_without_a_type_is_read_by_its_message() -> None:
    """Versions before `notification_type`: "waiting for your input" is the idle reminder."""
    assert hook_meaning("Notification", "", "Claude is waiting for your input") == (Status.IDLE, "at its prompt, done")
    assert hook_meaning("Notification", "", "Claude needs your permission to use Bash")[0] is Status.WAITING
    assert hook_meaning("Notification", "auth_success", "Signed in") is None
    assert hook_meaning("Notification", "", "Signed in successfully") is None  # no type, not a known message
    assert hook_meaning("Notification", "some_future_type", "x") is None
    assert hook_meaning("Notification", "elicitation_dialog", "")[0] is Status.WAITING
    assert hook_meaning("SessionEnd", "clear") is None  # /clear: a new session follows
    assert hook_meaning("SessionStart", "compact")[0] is Status.WORKING


def test_auto_mode_asking_is_waiting() -> None:
    """Claude Code 2.1.332's auto mode, when its safety check cannot run, asks with
    Notification(agent_needs_input) and no PermissionRequest (tests/data/timelines/claude/2.1.332)."""
    msg = "Auto mode can't check actions in this session and needs your choice"
    assert hook_meaning("Notification", "agent_needs_input", msg) == (Status.WAITING, msg)
    ev = note_hook(note_hook(HookEvidence(), "PreToolUse", {"tool_name": "Bash"}, T0),
                   "Notification", {"notification_type": "agent_needs_input", "message": msg}, T0 + 6)
    assert (ev.event, ev.type, ev.detail) == ("Notification", "agent_needs_input", msg)


@pytest.mark.parametrize("hooked", [True, False], ids=["agent_needs_input", "no hook"])
def test_a_blinking_bullet_under_auto_mode_dialogs_is_not_work(hooked: bool) -> None:
    """While either auto-mode dialog is up, the pending tool's `●` blinks every 2-3 s and Claude
    uses a little CPU: the screen keeps changing while the agent waits. The dialog wins.
    `no hook`: the follow-up `Do you want to proceed?` (`❯ No` first) fires no hook at all."""
    on, off = screen("claude/auto-mode-cannot-check.txt"), screen("claude/auto-mode-cannot-check-blink.txt")
    proceed = screen("claude/auto-mode-proceed-no-first.txt")
    blinking_proceed = proceed.replace("● Downloading and running", "  Downloading and running")
    assert blinking_proceed != proceed
    work = {"hook_event": "PreToolUse", "hook_at": T0 + 1, "resumed_at": T0 + 1}
    asked = {"hook_event": "Notification", "hook_at": T0 + 4, "hook_type": "agent_needs_input",
             "hook_detail": "Auto mode can't check actions in this session and needs your choice", "resumed_at": T0 + 1}
    ticks = [{"screen": spinning(i), "cpu_seconds": 0.5 * i, **work} for i in range(3)]
    dialogs = [on, on, off, off, off, on, on, off, off] * 2 + [proceed, blinking_proceed] * 5
    ticks += [{"screen": d, "cpu_seconds": 1.5 + 0.1 * i, **(asked if hooked else work)} for i, d in enumerate(dialogs)]
    out = statuses(ticks)
    assert [s for s, _ in out[5:]] == [Status.WAITING] * (len(out) - 5), out
    assert "auto mode can't check actions" in out[10][1] and out[-1][1] == "permission: proceed (auto mode can't check it)"


def test_auth_success_changes_nothing() -> None:
    ev = note_hook(HookEvidence(), "Stop", {}, T0)
    assert note_hook(ev, "Notification", {"notification_type": "auth_success"}, T0 + 1) == ev


def test_a_late_event_only_moves_resumed_at() -> None:
    ev = note_hook(HookEvidence(), "PermissionRequest", {"tool_name": "Bash"}, T0 + 5)
    late = note_hook(ev, "PostToolUse", {"tool_name": "Read"}, T0 + 4)
    assert (late.event, late.at, late.resumed_at) == ("PermissionRequest", T0 + 5, T0 + 4)
    answered = note_hook(ev, "PostToolUse", {"tool_name": "Bash"}, T0 + 9)
    assert (answered.event, answered.resumed_at) == ("PostToolUse", T0 + 9)
    assert note_hook(ev, "Notification", {"notification_type": "permission_prompt", "message": "m"}, T0 + 6).resumed_at is None


def test_a_permission_hook_ends_when_a_later_hook_says_work_resumed() -> None:
    busy = {"hook_event": "PermissionRequest", "hook_at": T0, "hook_detail": "permission: Bash"}
    ticks = [{"screen": PROMPT, **busy}] * 3
    ticks += [{"screen": PROMPT, **busy, "resumed_at": T0 + 3}] * 3  # a PostToolUse folded in later
    out = statuses(ticks)
    assert out[2][0] is Status.WAITING
    assert out[-1][0] is not Status.WAITING


@pytest.mark.parametrize("dialog", ["claude/permission-write-file.txt", "unknown dialog"])
def test_granted_permission_gives_way_to_the_spinner(dialog: str) -> None:
    """The bug users saw: after the person answers, Claude works through a slow model request
    with its spinner up, and no hook fires until the next tool call; it must not show WAITING.
    `unknown dialog`: a dialog no rule knows (a newer version's), so only the hook says WAITING."""
    prompt_screen = screen(dialog) if dialog.endswith(".txt") else (
        screen("claude/working-spinner.txt").replace("✽ Hashing…", "Auto mode can't check actions in this session and needs your choice\n  allow  deny"))
    hook = {"hook_event": "Notification", "hook_at": T0 + 5, "hook_type": "permission_prompt",
            "hook_detail": "Claude needs your permission to use Write", "resumed_at": T0}
    ticks = [{"screen": spinning(i), "hook_event": "UserPromptSubmit", "hook_at": T0, "resumed_at": T0} for i in range(5)]
    ticks += [{"screen": prompt_screen, **hook} for _ in range(20)]  # the person thinks for 20 s
    ticks += [{"screen": spinning(i), **hook} for i in range(30)]  # answered: a 30 s model request
    out = statuses(ticks)
    assert [s for s, _ in out[7:25]] == [Status.WAITING] * 18, out[5:25]
    after = [s for s, _ in out[28:]]
    assert after == [Status.WORKING] * len(after), out[25:]


def test_a_hook_announcing_a_dialog_outlives_a_capture_taken_before_it_is_drawn() -> None:
    """The hook fires just before the dialog is drawn: a capture in between still shows the spinner."""
    hook = {"hook_event": "PermissionRequest", "hook_at": T0 + 2}
    ticks = [{"screen": spinning(i), "hook_event": "UserPromptSubmit", "hook_at": T0, "resumed_at": T0} for i in range(2)]
    ticks += [{"screen": spinning(2), **hook, "at": 2.2}, {"screen": spinning(3), **hook, "at": 3.1}]
    ticks += [{"screen": screen("claude/permission-bash.txt"), **hook, "at": 4}] * 2
    out = statuses(ticks)
    assert out[3][0] is Status.WAITING and out[-1][0] is Status.WAITING


def test_denied_permission_ends_when_the_prompt_is_gone() -> None:
    """Denied: no hook fires, the dialog goes and the input box is back."""
    hook = {"hook_event": "PermissionRequest", "hook_at": T0, "hook_detail": "permission: Bash"}
    ticks = [{"screen": screen("claude/permission-bash.txt"), **hook}] * 4
    ticks += [{"screen": screen("claude/permission-rejected.txt"), **hook}] * 4
    out = statuses(ticks)
    assert out[3][0] is Status.WAITING
    assert out[-1][0] is Status.IDLE, out


def test_cpu_on_a_changing_screen_ends_a_permission_hook() -> None:
    hook = {"hook_event": "PermissionRequest", "hook_at": T0}
    ticks = [{"screen": "dialog", "cpu_seconds": 0.0, **hook}] * 4
    ticks += [{"screen": f"output {i}", "cpu_seconds": 0.5 * (i + 1), **hook} for i in range(4)]
    out = statuses(ticks, kind="shell")
    assert out[3][0] is Status.WAITING
    assert out[-1][0] is Status.WORKING


def test_stop_failure_is_stuck_with_the_api_error_until_work_resumes() -> None:
    fail = {"hook_event": "StopFailure", "hook_at": T0, "hook_type": "rate_limit", "resumed_at": T0,
            "hook_detail": "API Error: Request rejected (429) · rate limit"}
    ticks = [{"screen": PROMPT, **fail}] * 3
    ticks += [{"screen": PROMPT, "hook_event": "UserPromptSubmit", "hook_at": T0 + 3, "resumed_at": T0 + 3}]
    ticks += [{"screen": spinning(i), "hook_event": "UserPromptSubmit", "hook_at": T0 + 3, "resumed_at": T0 + 3} for i in range(3)]
    out = statuses(ticks)
    assert out[2] == (Status.STUCK, "API Error: Request rejected (429) · rate limit")
    assert out[-1][0] is Status.WORKING
    assert rule_diagnosis("STUCK", out[2][1], "hook StopFailure (rate_limit)", "claude").suggested_action == "wait"


def test_session_end_ends_the_session() -> None:
    ticks = [{"screen": PROMPT, "hook_event": "SessionEnd", "hook_at": T0, "hook_type": "logout", "resumed_at": T0}] * 2
    out = statuses(ticks)
    assert out[-1] == (Status.EXITED, "session ended (logout)")


def test_an_interrupted_turn_is_idle_though_the_last_hook_said_work() -> None:
    """Esc: no hook fires. The last hook (a prompt submitted) must not outweigh the idle screen."""
    ticks = [{"screen": spinning(i), "hook_event": "UserPromptSubmit", "hook_at": T0, "resumed_at": T0} for i in range(3)]
    ticks += [{"screen": screen("claude/interrupted.txt"), "hook_event": "UserPromptSubmit", "hook_at": T0, "resumed_at": T0}] * 3
    assert statuses(ticks)[-1][0] is Status.IDLE


def test_a_work_hook_keeps_a_still_unknown_screen_working_but_not_forever() -> None:
    work = {"hook_event": "PreToolUse", "hook_at": T0, "resumed_at": T0, "screen": "running tests"}
    out = statuses([dict(work, at=t) for t in (0, 1, 2, 50, 100, 130, 131)], kind="shell")
    assert out[3][0] is Status.WORKING
    assert out[-1][0] is Status.STUCK and out[-1][1].startswith("no progress")


def test_replay_permission_then_a_finished_turn_with_real_screens() -> None:
    """PermissionRequest + Notification(permission_prompt) -> the person answers after 30 s ->
    the spinner through a slow request -> PostToolUse -> Stop -> 60 s -> Notification(idle_prompt),
    folded by `note_hook` as the supervisor does and classified tick by tick: WAITING only while
    the person is needed, IDLE at the end."""
    events = {0: ("UserPromptSubmit", {}), 3: ("PreToolUse", {"tool_name": "Write"}),
              4: ("PermissionRequest", {"tool_name": "Write"}),
              5: ("Notification", {"notification_type": "permission_prompt", "message": "Claude needs your permission to use Write"}),
              70: ("PostToolUse", {"tool_name": "Write"}), 80: ("Stop", {}),
              140: ("Notification", {"notification_type": "idle_prompt", "message": "Claude is waiting for your input"})}
    truth = {}
    evidence, mem, out = HookEvidence(), Memory(), []
    for t in range(0, 200):
        if t in events:
            evidence = note_hook(evidence, *events[t], T0 + t)
        if t < 4:
            shown, truth[t] = spinning(t), Status.WORKING
        elif t < 34:  # the dialog, until the person answers at t = 34
            shown, truth[t] = screen("claude/permission-write-file.txt"), Status.WAITING
        elif t < 80:  # the tool ran, then a slow model request
            shown, truth[t] = spinning(t), Status.WORKING
        else:
            shown, truth[t] = screen("claude/idle-after-turn.txt"), Status.IDLE
        obs = Observation(now=T0 + t, started_at=T0 - 30, screen=shown, **evidence.fields())
        verdict, mem = classify(obs, mem, rules_for("claude"), Settings())
        out.append(verdict.status)
    grace = 3  # ticks after each true change (the two-tick hold)
    changes = [t for t in range(1, 200) if truth[t] != truth[t - 1]]
    wrong = [t for t in range(5, 200) if out[t] is not truth[t] and not any(0 <= t - c < grace for c in changes)]
    assert not wrong, [(t, out[t], truth[t]) for t in wrong]
    assert Status.WAITING not in out[34 + grace:], "a finished or working agent shown WAITING"
    assert out[-1] is Status.IDLE


# ------------------------------------------------------------------ full-screen agents, CPU noise, boot

def test_a_printed_stuck_line_is_found_on_a_full_screen_tui() -> None:
    """OpenCode draws its prompt box at the bottom of a mostly blank screen: the STUCK line is
    far more than 15 raw lines from the bottom."""
    text = screen("opencode/idle-after-turn.txt").replace(
        "Done. The repository contains a README and a small Python package.",
        "STUCK: please export PAYMENTS_TOKEN and tell me to retry.")
    raw_below = text.splitlines()[::-1].index(next(ln for ln in text.splitlines() if "STUCK:" in ln))
    assert raw_below > 15
    out = statuses([{"screen": text}] * 2, kind="opencode")
    assert out[-1] == (Status.STUCK, "reported: please export PAYMENTS_TOKEN and tell me to retry.")


@pytest.mark.parametrize("kind, before, bullet", [
    ("claude", "● Done. The repository contains a README and a small Python package.", "● "),
    ("gemini", "✦ Done. The repository contains a README and a small Python package.", "✦ "),
])
def test_a_printed_stuck_line_after_the_agents_bullet(kind: str, before: str, bullet: str) -> None:
    text = screen(f"{kind}/idle-after-turn.txt")
    assert before in text
    text = text.replace(before, f"{bullet}STUCK: cannot continue without credentials")
    out = statuses([{"screen": text, "hook_event": "Stop", "hook_at": T0, "resumed_at": T0}] * 2, kind=kind)
    assert out[-1] == (Status.STUCK, "reported: cannot continue without credentials")


def test_a_printed_stuck_line_gives_way_to_a_busy_marker() -> None:
    text = screen("opencode/working-spinner.txt")
    lines = text.splitlines()
    idx = max(i for i, ln in enumerate(lines) if ln.startswith("     ") and ln.strip())
    lines.insert(idx, "     STUCK: an old complaint")
    assert statuses([{"screen": "\n".join(lines)}] * 2, kind="opencode")[-1][0] is Status.WORKING


def test_stuck_reason_keeps_the_missing_variable() -> None:
    text = "$ ./deploy\nError: environment variable PAYMENTS_TOKEN is not set\nSTUCK: cannot continue without credentials\n$ "
    out = statuses([{"screen": text}] * 2, kind="shell")
    assert out[-1] == (Status.STUCK, "reported: cannot continue without credentials (missing PAYMENTS_TOKEN)")
    assert rule_diagnosis("STUCK", out[-1][1], "printed", "shell").env_var == "PAYMENTS_TOKEN"
    own = statuses([{"screen": text.replace("STUCK: ", "said: "), "own_word": "STUCK no credentials"}] * 2, kind="shell")
    assert own[-1] == (Status.STUCK, "reported: no credentials (missing PAYMENTS_TOKEN)")
    named = statuses([{"screen": text.replace("without credentials", "without PAYMENTS_TOKEN")}] * 2, kind="shell")
    assert named[-1] == (Status.STUCK, "reported: cannot continue without PAYMENTS_TOKEN")  # not named twice


def test_noisy_idle_cpu_at_a_still_screen_is_not_work() -> None:
    """An idle OpenCode uses 2-12 % of a core: that alone is not WORKING (its rules' idle_cpu)."""
    idle = screen("opencode/idle-after-turn.txt")
    cpu = [0.0, 0.12, 0.14, 0.17, 0.19, 0.31, 0.33, 0.45, 0.47, 0.59]
    out = statuses([{"screen": idle, "cpu_seconds": c} for c in cpu], kind="opencode")
    assert [s for s, _ in out[2:]] == [Status.IDLE] * 8, out
    assert rules_for("opencode").idle_cpu and not rules_for("shell").idle_cpu
    steady = [{"screen": "$ ", "cpu_seconds": 0.1 * i} for i in range(5)]  # 10 % of a core
    assert statuses(steady, kind="shell")[-1][0] is Status.WORKING  # a kind not known to be noisy
    assert statuses([{**t, "screen": idle} for t in steady], kind="opencode")[-1][0] is Status.IDLE
    # a screen no rule knows, still, with a CPU burst of 50 % of a core: not WORKING for OpenCode
    unknown = screen("opencode/permission-bash.txt").replace("Permission required", "Something new").replace("Allow once", "Do once")
    burst = [{"screen": idle, "cpu_seconds": 0.0}] * 3 + [{"screen": unknown, "cpu_seconds": 0.5 * i} for i in range(6)]
    out = statuses(burst, kind="opencode")
    assert out[2][0] is Status.IDLE and all(s is not Status.WORKING for s, _ in out), out
    assert statuses([{**t, "screen": t["screen"].replace("ctrl+p", "ctrl+q")} for t in burst], kind="shell")[-1][0] is Status.WORKING


def test_codex_loading_behind_its_composer_after_the_start_dialogs_is_idle() -> None:
    """Codex uses ~6 % of a core for a few seconds after its start dialogs are answered, its
    composer drawn and still (tests/data/timelines/codex/0.169.0/exit.json, 15-19 s): not work."""
    dialog, idle = screen("codex/new-model-gpt-6-sol.txt"), screen("codex/idle-welcome.txt")
    cpu = [0.41, 0.41, 0.59, 0.65, 0.71, 0.73, 0.73]
    out = statuses([{"screen": dialog if i < 2 else idle, "cpu_seconds": c} for i, c in enumerate(cpu)], kind="codex")
    assert [s for s, _ in out[4:]] == [Status.IDLE] * 3, out


def test_a_booting_agent_is_starting_until_its_prompt() -> None:
    """OpenCode's 18 s boot: a blank screen, changing boot frames, then its welcome prompt."""
    frames = [{"screen": ""}] * 3 + [{"screen": f"loading {'.' * i}"} for i in range(12)]
    frames += [{"screen": screen("opencode/idle-welcome.txt")}] * 4
    out = statuses(frames, kind="opencode")
    assert all(s is Status.STARTING for s, _ in out[:16]), out
    assert out[-1][0] is Status.IDLE
    late = [{"screen": f"loading {i}", "at": t} for i, t in enumerate((0, 30, 61, 62, 63))]
    assert statuses(late, kind="opencode")[-1][0] is Status.WORKING  # past start_timeout, activity is work again


def test_a_spinner_frame_drawn_just_after_stop_does_not_end_it() -> None:
    """Stop fires just before Claude clears its spinner: a capture in between is not new work."""
    stop = {"hook_event": "Stop", "hook_at": T0 + 3, "resumed_at": T0 + 3}
    ticks = [{"screen": spinning(i), "hook_event": "PostToolUse", "hook_at": T0, "resumed_at": T0} for i in range(3)]
    ticks += [{"screen": spinning(3), **stop, "at": 3.2}, {"screen": spinning(4), **stop, "at": 4.0}]
    ticks += [{"screen": screen("claude/idle-after-turn.txt"), **stop, "at": t} for t in (5, 6, 7)]
    out = statuses(ticks)
    assert [s for s, _ in out[4:]] == [Status.IDLE] * 4, out


def test_a_permission_notification_after_the_request_was_answered_is_its_echo() -> None:
    """Claude sends Notification(permission_prompt) ~6 s after PermissionRequest: when the person
    answered within those seconds, it comes after PostToolUse and must not bring WAITING back."""
    ev = note_hook(HookEvidence(), "PermissionRequest", {"tool_name": "Bash"}, T0)
    ev = note_hook(ev, "PostToolUse", {"tool_name": "Bash"}, T0 + 3)
    echo = note_hook(ev, "Notification", {"notification_type": "permission_prompt", "message": "Claude needs your permission"}, T0 + 6)
    assert echo == ev
    again = note_hook(ev, "PermissionRequest", {"tool_name": "Write"}, T0 + 10)  # a new request
    asked = note_hook(again, "Notification", {"notification_type": "permission_prompt", "message": "m"}, T0 + 16)
    assert asked.event == "Notification" and hook_meaning(asked.event, asked.type, asked.detail)[0] is Status.WAITING


# ------------------------------------------------------------------ printing the same line again and again
# A command that prints a line every 2 s (ticks every second) changes its screen on every other
# tick only, and once its screen is full of that line its tail reads the same every tick: only
# its history grows. Output printed twice within PRINT_WINDOW seconds is activity until that
# window after the last time; one change alone is not (see test_noisy_idle_cpu_at_a_still_screen_is_not_work).


def _every_other_tick(n: int) -> list[dict]:
    """`step` printed on even ticks: the screen grows by a line, then stands still for a tick."""
    return [{"screen": "step\n" * (1 + i // 2)} for i in range(n)]


def test_a_line_printed_every_other_tick_is_work() -> None:
    out = statuses(_every_other_tick(12), kind="shell")
    assert out[5][0] is Status.WORKING and {s for s, _ in out[5:]} == {Status.WORKING}, out


def test_the_same_line_scrolling_a_full_screen_is_work_from_its_history_alone() -> None:
    """The tail never changes; the history size moves on some ticks, once backwards (tmux drops the
    oldest tenth of the history at its limit): printing. Without the history size it cannot be seen."""
    full = "step\n" * 70
    sizes = [100, 100, 101, 101, 101, 102, 102, 103, 103, 103, 3, 3, 4, 4, 4, 5]
    out = statuses([{"screen": full, "history_size": h} for h in sizes], kind="shell")
    assert {s for s, _ in out[6:]} == {Status.WORKING}, out
    assert {s for s, _ in statuses([{"screen": full}] * len(sizes), kind="shell")} == {Status.STARTING}


def test_a_printer_that_stops_is_idle_at_its_prompt_exited_or_stuck_when_silent() -> None:
    ticks = _every_other_tick(8)  # the last print at tick 6
    last = ticks[-1]["screen"]
    at_prompt = statuses(ticks + [{"screen": last + "$ "}] * 3, kind="shell")
    assert at_prompt[7][0] is Status.WORKING and at_prompt[-1] == (Status.IDLE, "at its prompt"), at_prompt
    exited = statuses(ticks + [{"screen": last, "pane_dead": True, "exit_status": 0}], kind="shell")
    assert exited[-1] == (Status.EXITED, "exited")
    silent = [(v.status, v.reason) for v in run(ticks + [{"screen": last}] * 32, settings=Settings(stuck_after=30))]
    assert {s for s, _ in silent[6:37]} == {Status.WORKING}, silent  # silent, but for less than stuck_after
    assert silent[37][0] is Status.STUCK and silent[37][1].startswith("no progress for"), silent


def test_a_status_line_redrawn_above_a_prompt_stays_idle() -> None:
    """The other direction: a clock redrawn every other tick over a still prompt is not work."""
    ticks = [{"screen": f"12:00:{i // 2:02d} up\n$ "} for i in range(12)]
    out = statuses(ticks, kind="shell")
    assert {s for s, _ in out[2:]} == {Status.IDLE}, out


def test_printing_needs_two_prints_within_the_window() -> None:
    assert not printing(T0 + 1, T0, None, T0)  # printed once
    assert printing(T0 + 5, T0 + 2, T0, T0 + 4)  # twice, 2 s apart, the last 3 s ago
    assert not printing(T0 + 8, T0 + 2, T0, T0 + 7)  # the last 6 s ago
    assert not printing(T0 + 9, T0 + 8, T0, T0 + 8.5)  # 8 s apart: two separate events
    assert printing(T0 + 40, T0 + 20, T0, T0 + 20)  # ticks 20 s apart: two tick intervals
