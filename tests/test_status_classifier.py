"""The pure classifier, as a table of cases: observations in, status out."""

from __future__ import annotations

import pytest

from mission_control.core.model import Status
from mission_control.core.rules import RuleError, RuleSet, parse_file, parse_rules, rules_for
from mission_control.core.status import Memory, Observation, Settings, classify, tail_lines

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


@pytest.mark.parametrize("kind", ["claude", "codex", "aider", "gemini", "opencode", "ollama", "shell"])
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
