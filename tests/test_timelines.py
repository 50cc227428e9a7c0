"""Real agent timelines replayed through the real classifier, scored against the truth (issue 15).

Each file in tests/data/timelines/<kind>/<version>/<scenario>.json is a recording of a real
CLI (tests/tools/capture_timelines.py): once a second its pane's screen, the CPU seconds of
its process tree and whether the pane is dead; every hook event with its payload; and the
TRUE phase of the agent, known from the scripted fake model and from the keys the recorder
pressed. Every sample is replayed as one supervisor tick: the hook calls made by then are
written as our appender writes them, read back as the supervisor reads its events file and
folded with `note_hook` (`stored_hooks`, `replay`); `observation()` builds the `Observation`
the supervisor would build from the sample and that evidence, and `classify()` with the
kind's rules (as the supervisor loads them) gives the status.

Scored per timeline, after a 3 s grace following each true change (the supervisor needs two
ticks to show a new state):
  * agreement: the shown status is one the true phase allows (`ALLOWED`) — at least 95 %;
  * WAITING missed: seconds a human was needed and the agent was not shown WAITING — 0;
  * false WAITING: seconds shown WAITING while no human was needed — at most 5;
  * a finished agent (true phase idle) is never shown WAITING.
`pytest -s tests/test_timelines.py` prints the score table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from mission_control.programs import hook_appender
from mission_control.core import hook_config
from mission_control.core.model import Status
from mission_control.core.rules import RuleSet, rules_with_user
from mission_control.core.status import HookEvidence, Memory, Observation, Settings, Verdict, classify, note_hook

TIMELINES = Path(__file__).resolve().parent / "data" / "timelines"
FILES = sorted(TIMELINES.glob("*/*/*.json"))
T0 = 1_800_000_000.0
"""Where a replay puts the launch (the recorded times are relative to it)."""
GRACE = 3.0
MIN_AGREEMENT = 0.95
MAX_FALSE_WAITING = 5.0
ALLOWED = {
    "starting": {Status.STARTING},
    "working": {Status.WORKING},
    "waiting": {Status.WAITING},
    "idle": {Status.IDLE},
    "stuck": {Status.STUCK},
    "exited": {Status.EXITED},
    "retrying": {Status.STUCK, Status.WORKING},
}
"""The statuses that are right for each true phase (`retrying`: an API error the CLI retries by itself)."""


# --------------------------------------------------------------------- reading a timeline
def decode_screens(encoded: list[Any]) -> list[str]:
    """The recorder's screen table: the first screen whole, each next one as the lines that changed."""
    out: list[str] = []
    prev: list[str] = []
    for item in encoded:
        if isinstance(item, str):
            lines = item.split("\n")
        else:
            lines = (prev + [""] * item["n"])[: item["n"]]
            for i, line in item["set"]:
                lines[i] = line
        out.append("\n".join(lines))
        prev = lines
    return out


@lru_cache(maxsize=None)
def load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["screen_texts"] = decode_screens(doc["screens"])
    return doc


def registered_events(kind: str) -> set[str]:
    """The hook events mission-control registers for a kind — only these would reach the store."""
    if kind == "claude":
        return set(hook_config.CLAUDE_EVENTS)
    if kind == "codex":
        return {"notify", *getattr(hook_config, "CODEX_EVENTS", ())}
    return set()


def stored_hooks(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], float]]:
    """The hook events the supervisor would read, oldest first, as (event, kept fields, time):
    each recorded call written as our appender writes it (`hook_appender.line`) and read back as
    the supervisor reads its events file (`hook_config.read_event_line`: Codex's title turn and
    torn lines dropped). Only the events mission-control registers would reach it."""
    wanted = registered_events(doc["kind"])
    rows = []
    for h in doc["hooks"]:
        payload = h["payload"] if isinstance(h["payload"], dict) else {}
        given = "notify" if h["event"] == "notify" else h["event"]
        read = hook_config.read_event_line(hook_appender.line(given, payload, T0 + h["t"]).decode())
        if read is not None and read[0] in wanted:
            rows.append(read)
    return rows


def observation(sample: dict[str, Any], screen: str, evidence: HookEvidence) -> Observation:
    """One recorded sample as the supervisor's `Observation` for that tick (see `Supervisor._observe`).

    `evidence` is every hook event up to this tick folded with `note_hook`, as the supervisor
    folds them; its fields go in as the supervisor passes them. The only place to adapt when
    `Observation` changes."""
    return Observation(
        now=T0 + sample["t"],
        started_at=T0,
        screen=screen,
        pane_dead=sample["dead"],
        exit_status=sample.get("exit_status"),
        paused=False,
        cpu_seconds=sample["cpu"],
        **evidence.fields(since=T0 - 1),
    )


def rules(kind: str) -> RuleSet:
    """The kind's rules as the supervisor loads them (no user rules)."""
    return rules_with_user(kind, [])


# --------------------------------------------------------------------- replay and score
@dataclass
class Tick:
    t: float
    truth: str
    since_change: float
    verdict: Verdict


@dataclass
class Score:
    name: str
    ticks: list[Tick] = field(default_factory=list)
    scored: int = 0
    agree: int = 0
    waiting_missed: float = 0.0
    false_waiting: float = 0.0
    finished_waiting: float = 0.0

    @property
    def agreement(self) -> float:
        return self.agree / self.scored if self.scored else 1.0

    def wrong_spans(self) -> list[str]:
        """Runs of scored ticks where the shown status was wrong, for the failure message."""
        spans: list[list[Any]] = []
        for tk in self.ticks:
            if tk.since_change < GRACE or tk.verdict.status in ALLOWED[tk.truth]:
                continue
            key = (tk.truth, tk.verdict.status.value, tk.verdict.reason)
            if spans and spans[-1][2] == key and tk.t - spans[-1][1] <= 1.5:
                spans[-1][1] = tk.t
            else:
                spans.append([tk.t, tk.t, key])
        return [f"{a:6.1f}-{b:6.1f}s truth {k[0]:<8} shown {k[1]:<8} ({k[2]})" for a, b, k in spans]


def truth_at(truth: list[dict[str, Any]], t: float) -> tuple[str, float]:
    phase, changed = truth[0]["phase"], truth[0]["t"]
    for mark in truth:
        if mark["t"] <= t:
            if mark["phase"] != phase:
                changed = mark["t"]
            phase = mark["phase"]
    return phase, t - changed


def replay(path: Path) -> Score:
    doc = load(path)
    ruleset, settings = rules(doc["kind"]), Settings()
    hooks = stored_hooks(doc)
    mem, evidence, folded = Memory(), HookEvidence(), 0
    score = Score(name=str(path.relative_to(TIMELINES).with_suffix("")))
    for sample in doc["samples"]:
        while folded < len(hooks) and hooks[folded][2] <= T0 + sample["t"]:
            event, data, at = hooks[folded]
            evidence, folded = note_hook(evidence, event, data, at), folded + 1
        verdict, mem = classify(observation(sample, doc["screen_texts"][sample["screen"]], evidence), mem, ruleset, settings)
        phase, since = truth_at(doc["truth"], sample["t"])
        score.ticks.append(Tick(sample["t"], phase, since, verdict))
        if since < GRACE:
            continue
        shown = verdict.status
        score.scored += 1
        score.agree += shown in ALLOWED[phase]
        if phase == "waiting" and shown is not Status.WAITING:
            score.waiting_missed += 1
        if phase != "waiting" and shown is Status.WAITING:
            score.false_waiting += 1
        if phase == "idle" and shown is Status.WAITING:
            score.finished_waiting += 1
    return score


# --------------------------------------------------------------------- tests
def test_timelines_are_recorded() -> None:
    """The fixtures exist and are whole: truth from the start, samples about a second apart."""
    assert FILES, f"no timelines under {TIMELINES}"
    for path in FILES:
        doc = load(path)
        assert doc["truth"] and doc["truth"][0]["t"] <= doc["samples"][0]["t"] + 1, path
        assert all(m["phase"] in ALLOWED for m in doc["truth"]), path
        assert [m["t"] for m in doc["truth"]] == sorted(m["t"] for m in doc["truth"]), path
        times = [s["t"] for s in doc["samples"]]
        assert len(times) >= 10 and max(b - a for a, b in zip(times, times[1:])) < 3.0, path
        assert all(0 <= s["screen"] < len(doc["screen_texts"]) for s in doc["samples"]), path
        assert not any(n.startswith("scenario failed") for n in doc["notes"]), path


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TIMELINES).with_suffix("")) for p in FILES])
def test_replayed_timeline_scores(path: Path) -> None:
    s = replay(path)
    problems = []
    if s.agreement < MIN_AGREEMENT:
        problems.append(f"agreement {s.agreement:.0%} < {MIN_AGREEMENT:.0%}")
    if s.waiting_missed:
        problems.append(f"WAITING missed for {s.waiting_missed:.0f}s")
    if s.false_waiting > MAX_FALSE_WAITING:
        problems.append(f"false WAITING for {s.false_waiting:.0f}s")
    if s.finished_waiting:
        problems.append(f"a finished agent shown WAITING for {s.finished_waiting:.0f}s")
    assert not problems, f"{s.name}: " + "; ".join(problems) + "\n" + "\n".join(s.wrong_spans())


def test_score_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the table (`pytest -s`); every timeline has something left to score after the grace periods."""
    scores = [replay(p) for p in FILES]
    lines = [f"{'timeline':<34} {'scored':>6} {'agree':>6} {'W missed':>8} {'false W':>7} {'done W':>6}"]
    for s in scores:
        lines.append(f"{s.name:<34} {s.scored:>5}s {s.agreement:>6.0%} {s.waiting_missed:>7.0f}s "
                     f"{s.false_waiting:>6.0f}s {s.finished_waiting:>5.0f}s")
    groups: dict[str, list[Score]] = {}
    for s in scores:
        groups.setdefault(s.name.rsplit("/", 1)[0], []).append(s)
    groups["all"] = scores
    for name, group in groups.items():  # per kind and version, then all
        total, agree = sum(s.scored for s in group), sum(s.agree for s in group)
        lines.append(f"{name:<34} {total:>5}s {agree / total if total else 1:>6.1%} {sum(s.waiting_missed for s in group):>7.0f}s "
                     f"{sum(s.false_waiting for s in group):>6.0f}s {sum(s.finished_waiting for s in group):>5.0f}s")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    for s in scores:
        assert s.scored >= 5, f"{s.name}: only {s.scored}s left to score after the grace periods"
