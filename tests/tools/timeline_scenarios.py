"""The scenarios recorded by capture_timelines.py, one function per (kind, scenario).

Each drives the real CLI and marks the true phase (see capture_timelines.PHASES) from the
fake model's ledger (`tl.wait_end`: when it finished answering, and what) and from its own
keystrokes. The fake model's behaviour per request is switched with `ctx.set_scen("main", ...)`
(the CLI's base URL points at `/s/@main/`).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

from capture_timelines import CLAUDE_RECORDED_EVENTS, Timeline, recorder_argv, scenario
from capture_claude import BASE_ENV as CLAUDE_ENV, KEY as CLAUDE_KEY, seed_home as claude_home
from mission_control.core.hook_config import codex_notify_option

# ===================================================================== Claude Code
CLAUDE_PROMPT = r"─{20,}\n❯"
"""Its input box is drawn (the idle prompt, or the prompt under a running turn)."""
CLAUDE_DIALOG = r"Do you want to|needs your choice|can't check actions|❯ 1\.|Esc to cancel"


def claude_grant(tl: Timeline) -> float:
    """Answer yes to the permission dialog(s) on screen; returns when the last answer was typed.

    2.1.197 asks `Do you want to proceed?` with `❯ 1. Yes` first. 2.1.33x in its default auto
    mode, behind a gateway it cannot check actions through (our fake model), first asks `Auto
    mode can't check actions in this session` (Enter stays in auto mode), then `Do you want to
    proceed?` with `❯ No` first and `Yes` below it."""
    at = time.time()
    for _ in range(3):
        screen = tl.screen()
        if "Enter to stay in auto mode" in screen:
            at = tl.keys("Enter")
        elif "❯ No" in screen:
            tl.keys("Down")
            time.sleep(0.3)
            at = tl.keys("Enter")
        elif "Do you want to" in screen or "❯ 1." in screen:
            at = tl.keys("Enter")
        else:
            break
        time.sleep(3)
    return at


def recording_settings(argv: list[str]) -> dict:
    """Claude Code's `--settings` document for a recording: every event of
    CLAUDE_RECORDED_EVENTS runs the recorder, in the shape `hook_config.claude_settings` gives
    (one command hook per event, tool events with `matcher: "*"`). Built here rather than with
    that function: the recorder needs its own command and more events than mission-control
    registers, and that function's arguments follow how mission-control runs its hooks."""
    command = " ".join(shlex.quote(a) for a in argv)
    hooks: dict[str, list] = {}
    for event in CLAUDE_RECORDED_EVENTS:
        entry: dict = {"hooks": [{"type": "command", "command": command, "timeout": 10}]}
        if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied"):
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def claude_start(tl: Timeline, extra_env: dict | None = None) -> None:
    ctx = tl.ctx
    repo = ctx.repo()
    home = claude_home(ctx, trust_repo=repo)
    settings = recording_settings(recorder_argv(tl))
    path = Path(ctx.tmp, "claude-hooks.json")
    path.write_text(json.dumps(settings, indent=1))
    ctx.set_scen("main", "text")
    env = dict(CLAUDE_ENV, ANTHROPIC_BASE_URL=ctx.url("@main"), ANTHROPIC_API_KEY=CLAUDE_KEY, **(extra_env or {}))
    tl.launch(f"claude --settings {path}", repo, home, env)
    tl.ready(CLAUDE_PROMPT, 60, "input box drawn")
    time.sleep(3)


@scenario("claude", "granted", "Bash permission (curl a script and run it) asked, held 20 s, granted; the next model request is held 25 s "
          "(spinner), then the turn ends; then idle 20 s")
def claude_granted(tl: Timeline, args) -> None:
    claude_start(tl)
    e = tl.ask("riskybash", "set up the project", "tool:Bash", CLAUDE_DIALOG, then="hold25")
    time.sleep(20)
    tl.mark("working", claude_grant(tl), "human granted (Yes); next request held 25 s")
    e = tl.wait_end("text", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"], "model answered: turn done")
    tl.stay(20)


@scenario("claude", "denied", "Bash permission (curl a script and run it) asked, held 10 s, denied with Esc; then idle 75 s "
          "(does anything arrive after a denial?)")
def claude_denied(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.ask("riskybash", "set up the project", "tool:Bash", CLAUDE_DIALOG)
    time.sleep(10)
    tl.mark("idle", tl.keys("Escape"), "human denied (Esc): Claude waits for instructions")
    tl.stay(75)


@scenario("claude", "question", "AskUserQuestion dialog held 15 s, answered (option 1); turn ends; idle 20 s")
def claude_question(tl: Timeline, args) -> None:
    claude_start(tl)
    e = tl.ask("askq", "clean up the config files", "tool:AskUserQuestion", r"Should I delete the old config")
    time.sleep(15)
    tl.mark("working", tl.keys("Enter"), "human answered (Enter on option 1)")
    time.sleep(1.5)
    if "Submit" in tl.screen() or "Review your answers" in tl.screen():
        tl.keys("Enter")  # some versions ask to confirm the answers
    e = tl.wait_end("text", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(20)


@scenario("claude", "idle", "a short turn, then the finished agent left alone 150 s (idle_prompt arrives ~60 s after Stop)")
def claude_idle(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.turn("text", "summarise the README", note="model answered: turn done")
    tl.stay(150)


@scenario("claude", "stuck", "the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.` and stops; "
          "left alone 100 s")
def claude_stuck(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(100)


@scenario("claude", "interrupted", "a request that never answers, interrupted with Esc after 10 s (no hook fires); "
          "left alone 80 s")
def claude_interrupted(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.ctx.set_scen("main", "hang")
    tl.mark("working", tl.submit("think hard about this"), "prompt submitted (model holds the request)")
    time.sleep(10)
    tl.mark("idle", tl.keys("Escape"), "human pressed Esc: interrupted, back at its prompt")
    tl.ctx.set_scen("main", "text")
    tl.stay(80)


@scenario("claude", "failed", "every request answered HTTP 500 (retryable, retry-after 1 s; CLAUDE_CODE_MAX_RETRIES=3): "
          "Claude retries, then gives up with an API error; left alone 75 s (does idle_prompt follow StopFailure?)")
def claude_failed(tl: Timeline, args) -> None:
    claude_start(tl, {"CLAUDE_CODE_MAX_RETRIES": "3"})
    tl.ctx.set_scen("main", "500r1")
    t = tl.mark("working", tl.submit("summarise the README"), "prompt submitted (model answers 500)")
    e = tl.wait_end("error", after=t)
    tl.mark("retrying", e["t"], "first 500: Claude retries by itself")
    seen = tl.wait_screen(r"API Error", 120)
    last = tl.last_end(before=seen)
    tl.mark("stuck", last["t"] if last else seen, "last retry failed: turn ended with an API error")
    tl.ctx.set_scen("main", "text")
    tl.stay(75)


@scenario("claude", "compact", "three short turns, then `/compact` (each summarising request held 8 s), then idle 30 s")
def claude_compact(tl: Timeline, args) -> None:
    claude_start(tl)
    for prompt in ("summarise the README", "list the files", "explain app.py"):
        tl.turn("text", prompt)
        time.sleep(3)
    tl.ctx.set_scen("main", "hold8")
    t = tl.mark("working", tl.submit("/compact", settle=1.0), "/compact submitted")
    if tl.wait_end("", after=t, timeout=60) is None:
        raise RuntimeError("no compaction request:\n" + tl.screen())
    quiet = tl.wait_quiet(3, 90)
    last = tl.last_end()
    tl.mark("idle", last["t"] if last else quiet, "compaction done (its last request answered)")
    tl.ctx.set_scen("main", "text")
    tl.stay(30)


@scenario("claude", "exit", "a short turn, then `/exit`: the pane dies")
def claude_exit(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.turn("text", "summarise the README")
    time.sleep(8)
    tl.quit("/exit")
    tl.stay(5)


@scenario("claude", "session", "one long session, one thing after another: a turn then 70 s idle (idle_prompt), a permission "
          "granted after 15 s (next request held 10 s), an AskUserQuestion answered after 10 s, a stuck turn left 70 s, "
          "a turn after it, a permission denied, an interrupted request, /exit")
def claude_session(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.turn("text", "summarise the README")
    tl.stay(70)
    e = tl.ask("riskybash", "set up the project", "tool:Bash", CLAUDE_DIALOG, then="hold10")
    time.sleep(15)
    tl.mark("working", claude_grant(tl), "human granted (Yes); next request held 10 s")
    e = tl.wait_end("text", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"], "model answered: turn done")
    tl.stay(10)
    e = tl.ask("askq", "clean up the config files", "tool:AskUserQuestion", r"Should I delete the old config")
    time.sleep(10)
    tl.mark("working", tl.keys("Enter"), "human answered (Enter on option 1)")
    e = tl.wait_end("text", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"], "model answered: turn done")
    tl.stay(10)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(70)
    tl.turn("text", "PAYMENTS_TOKEN is exported now, retry", note="model answered: turn done")
    tl.stay(10)
    tl.ask("riskybash", "set up the project again", "tool:Bash", CLAUDE_DIALOG)
    time.sleep(8)
    tl.mark("idle", tl.keys("Escape"), "human denied (Esc)")
    tl.stay(20)
    tl.ctx.set_scen("main", "hang")
    tl.mark("working", tl.submit("think hard about this"), "prompt submitted (model holds the request)")
    time.sleep(8)
    tl.mark("idle", tl.keys("Escape"), "human pressed Esc: interrupted")
    tl.ctx.set_scen("main", "text")
    tl.stay(20)
    tl.keys("C-u")  # Claude puts the interrupted prompt back into its input box
    time.sleep(0.5)
    tl.quit("/exit")
    tl.stay(3)


# ===================================================================== OpenCode
OPENCODE_PROMPT = r"Ask anything|Build · "


def opencode_start(tl: Timeline) -> None:
    from capture_opencode import write_config

    ctx = tl.ctx
    repo = ctx.repo()
    ctx.set_scen("main", "text")
    write_config(repo, ctx.url("@main"))
    tl.launch("opencode", repo, ctx.home(), {})
    tl.ready(OPENCODE_PROMPT, 90, "prompt drawn")
    time.sleep(5)


@scenario("opencode", "turn", "boot (blank, then the welcome screen), one short turn, then 180 s idle at its prompt "
          "(its idle CPU is recorded)")
def opencode_turn_idle(tl: Timeline, args) -> None:
    opencode_start(tl)
    tl.turn("text", "summarise the README", settle=0.7, answer="^text$")
    tl.stay(180)


@scenario("opencode", "stuck", "boot, then the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.`; "
          "left alone 90 s")
def opencode_stuck(tl: Timeline, args) -> None:
    opencode_start(tl)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped", settle=0.7, answer="^text$")
    tl.stay(90)


@scenario("opencode", "permission", "bash permission (opencode.json bash=ask) held 20 s, allowed once; then idle 30 s")
def opencode_permission(tl: Timeline, args) -> None:
    opencode_start(tl)
    tl.ask("bash", "create notes.txt with a greeting", "tool:bash", r"Permission required", settle=0.7)
    time.sleep(20)
    t = tl.mark("working", tl.keys("Enter"), "human allowed once (Enter)")
    e = tl.wait_end("^text$", after=t)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(30)


@scenario("opencode", "question", "the model calls OpenCode's question tool; the dialog is held 15 s, answered (first "
          "option, Enter until it is gone); the turn ends; idle 30 s")
def opencode_question(tl: Timeline, args) -> None:
    opencode_start(tl)
    e = tl.ask("qtool", "clean up the config files", "tool:question", r"Delete old config|config\.old", settle=0.7)
    time.sleep(15)
    at = time.time()
    for _ in range(4):
        if "enter submit" not in tl.screen():  # the dialog's key hints; the answer stays in the transcript
            break
        at = tl.keys("Enter")
        time.sleep(2)
    tl.mark("working", at, "human answered (Enter on the first option)")
    e = tl.wait_end("^text$", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(30)


@scenario("opencode", "exit", "a short turn, then `/exit`: the pane dies")
def opencode_exit(tl: Timeline, args) -> None:
    opencode_start(tl)
    tl.turn("text", "summarise the README", settle=0.7, answer="^text$")
    time.sleep(8)
    tl.quit("/exit", ctrl_c=True)
    tl.stay(3)


# ===================================================================== Codex
CODEX_PROMPT = r"Ask Codex|›"


CODEX_RECORDED_EVENTS = ("SessionStart", "SessionEnd", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                         "PostToolUse", "Stop", "PreCompact", "PostCompact", "SubagentStart", "SubagentStop")
"""Codex's own hook events (0.169 and 0.171 have them), registered next to `notify` so the
recording shows what they would tell; the replay keeps only what mission-control registers."""


def codex_start(tl: Timeline) -> None:
    from capture_codex import codex_home

    ctx = tl.ctx
    repo = ctx.repo()
    ctx.set_scen("main", "text")
    home = codex_home(ctx, repo, ctx.url("@main"))
    command = json.dumps(" ".join(shlex.quote(a) for a in recorder_argv(tl)))
    with open(Path(home, ".codex", "config.toml"), "a", encoding="utf-8") as fh:
        for event in CODEX_RECORDED_EVENTS:
            fh.write(f'\n[[hooks.{event}]]\n[[hooks.{event}.hooks]]\ntype = "command"\ncommand = {command}\n')
    notify = codex_notify_option(recorder_argv(tl) + ["--event", "notify"])
    cmd = "codex " + " ".join(shlex.quote(a) for a in notify)
    tl.launch(cmd, repo, home, {"FAKE_OPENAI_KEY": "sk-fake-codex"})
    seen = tl.wait_screen(r"Ask Codex|Use existing|Hooks need review", 60)
    if seen is None:
        raise RuntimeError("codex never showed its prompt:\n" + tl.screen())
    time.sleep(3)  # dialogs come up a moment after the composer
    dialog = False
    for _ in range(4):
        screen = tl.screen()
        if "Hooks need review" in screen:
            # new hooks must be trusted once: a dialog at start, so waiting
            dialog = dialog or bool(tl.mark("waiting", seen, "hooks review dialog (new hooks must be trusted)"))
            time.sleep(3)
            tl.keys("2")  # Trust all and continue
            time.sleep(1.5)
            if "Hooks need review" in tl.screen():
                tl.keys("Enter")
            last = time.time()
        elif "Use existing" in screen:
            # "Meet GPT-6 Sol" at every start whatever config.toml says: a dialog, so waiting
            dialog = dialog or bool(tl.mark("waiting", seen, "model announcement dialog (Try new model / Use existing model)"))
            time.sleep(3)
            tl.keys("2")
            time.sleep(0.5)
            last = tl.keys("Enter")
        else:
            break
        time.sleep(3)
    if "Use existing" in tl.screen() or "Hooks need review" in tl.screen() or "Ask Codex" not in tl.screen():
        raise RuntimeError("start dialogs not dismissed:\n" + tl.screen())
    tl.mark("idle", last if dialog else seen, "dialogs answered: composer ready" if dialog else "composer drawn")
    time.sleep(4)


@scenario("codex", "approval", "command approval (escalated exec) held 20 s, approved with `y`; the next request is held "
          "20 s; then idle 30 s")
def codex_approval(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.ask("bash", "create notes.txt with a greeting", "tool:", r"Would you like to", then="hold20", settle=1.0)
    time.sleep(20)
    t = tl.mark("working", tl.keys("y"), "human approved (y); next request held 20 s")
    e = tl.wait_end("^text$", after=t, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(30)


@scenario("codex", "idle", "a short turn, then the finished agent left alone 150 s")
def codex_idle(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.turn("text", "summarise the README", settle=1.0, answer="^text$")
    tl.stay(150)


@scenario("codex", "stuck", "the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.`; left alone 90 s")
def codex_stuck(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped", settle=1.0, answer="^text$")
    tl.stay(90)


@scenario("codex", "exit", "a short turn, then `/exit`: the pane dies")
def codex_exit(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.turn("text", "summarise the README", settle=1.0, answer="^text$")
    time.sleep(8)
    tl.quit("/exit", ctrl_c=True)
    tl.stay(5)


@scenario("codex", "session", "one long session: a turn then 30 s idle, an approval granted after 15 s, a stuck turn "
          "left 40 s, a turn after it, an interrupted request, /exit")
def codex_session(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.turn("text", "summarise the README", settle=1.0, answer="^text$")
    tl.stay(30)
    e = tl.ask("bash", "create notes.txt with a greeting", "tool:", r"Would you like to", then="hold10", settle=1.0)
    time.sleep(15)
    t = tl.mark("working", tl.keys("y"), "human approved (y); next request held 10 s")
    e = tl.wait_end("^text$", after=t, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(10)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped",
            settle=1.0, answer="^text$")
    tl.stay(40)
    tl.turn("text", "PAYMENTS_TOKEN is exported now, retry", settle=1.0, answer="^text$")
    tl.stay(10)
    tl.ctx.set_scen("main", "hang")
    tl.mark("working", tl.submit("think hard about this", settle=1.0), "prompt submitted (model holds the request)")
    time.sleep(8)
    tl.mark("idle", tl.keys("Escape"), "human pressed Esc: interrupted")
    tl.ctx.set_scen("main", "text")
    tl.stay(20)
    tl.quit("/exit", ctrl_c=True)
    tl.stay(3)


# ===================================================================== aider
AIDER_PROMPT = r"^> *$"  # capture-pane -J keeps trailing spaces


def aider_start(tl: Timeline, args) -> None:
    from capture_aider import COMMON

    ctx = tl.ctx
    repo = ctx.repo()
    # answer the first-start `.gitignore` question before recording starts
    Path(repo, ".gitignore").write_text(".aider*\n")
    os.system(f"git -C {shlex.quote(repo)} add .gitignore && git -C {shlex.quote(repo)} -c user.name=fx "
              f"-c user.email=fx@example.invalid commit -qm gitignore")
    ctx.set_scen("main", "text")
    cmd = (f"{args.aider} {COMMON} --openai-api-base {ctx.url('@main')}/v1 --openai-api-key sk-fake-aider "
           f"--model openai/gpt-4o-mini")
    tl.launch(cmd, repo, ctx.home(), {"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    tl.ready(AIDER_PROMPT, 90, "prompt drawn")
    time.sleep(4)


@scenario("aider", "turn", "a short turn, then idle 120 s")
def aider_turn_idle(tl: Timeline, args) -> None:
    aider_start(tl, args)
    tl.turn("text", "summarise the README")
    tl.stay(120)


@scenario("aider", "question", "the model's reply writes a new file hello.py: aider asks `Create new file? (Y)es/(N)o`, "
          "held 20 s, answered n (any further question answered n after 5 s); then idle 30 s")
def aider_question(tl: Timeline, args) -> None:
    aider_start(tl, args)
    tl.ctx.set_scen("main", "edit")
    t = tl.mark("working", tl.submit("create hello.py"), "prompt submitted")
    e = tl.wait_end("text", after=t)
    seen = tl.wait_screen(r"\(Y\)es/\(N\)o", 30)
    if seen is None:
        raise RuntimeError("no (Y)es/(N)o question")
    tl.mark("waiting", min(max(e["t"], t), seen), "aider asks (Y)es/(N)o")
    time.sleep(20)
    tl.keys("n")
    tl.keys("Enter")
    at = time.time()
    # a second question may follow (e.g. add the file / run it): each is answered n after 5 s
    time.sleep(2)
    while re.search(r"\(Y\)es/\(N\)o[^\n]*\s*\Z", tl.screen()):
        time.sleep(5)
        tl.keys("n")
        tl.keys("Enter")
        at = time.time()
        time.sleep(2)
    tl.mark("idle", at, "human answered n: back at its prompt")
    tl.stay(30)


@scenario("aider", "stuck", "the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.`; left alone 90 s")
def aider_stuck(tl: Timeline, args) -> None:
    aider_start(tl, args)
    tl.turn("stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(90)


@scenario("aider", "exit", "a short turn, then `/exit`: the pane dies")
def aider_exit(tl: Timeline, args) -> None:
    aider_start(tl, args)
    tl.turn("text", "summarise the README")
    time.sleep(8)
    tl.quit("/exit", ctrl_c=True)
    tl.stay(3)
