"""The scenarios recorded by capture_timelines.py, one function per (kind, scenario).

Each drives the real CLI and marks the true phase (see capture_timelines.PHASES) from the
fake model's ledger (`tl.wait_end`: when it finished answering, and what) and from its own
keystrokes. The fake model's behaviour per request is switched with `ctx.set_scen("main", ...)`
(the CLI's base URL points at `/s/@main/`).
"""
from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

from capture_timelines import CLAUDE_RECORDED_EVENTS, Timeline, recorder_argv, scenario
from capture_claude import BASE_ENV as CLAUDE_ENV, KEY as CLAUDE_KEY, seed_home as claude_home
from mission_control.core.hook_config import claude_settings, codex_notify_option

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


def claude_start(tl: Timeline, extra_env: dict | None = None) -> None:
    ctx = tl.ctx
    repo = ctx.repo()
    home = claude_home(ctx, trust_repo=repo)
    settings = claude_settings(recorder_argv(tl))
    hooks = settings["hooks"]
    for event in CLAUDE_RECORDED_EVENTS:
        hooks.setdefault(event, hooks["Stop"])
    path = Path(ctx.tmp, "claude-hooks.json")
    path.write_text(json.dumps(settings, indent=1))
    ctx.set_scen("main", "text")
    env = dict(CLAUDE_ENV, ANTHROPIC_BASE_URL=ctx.url("@main"), ANTHROPIC_API_KEY=CLAUDE_KEY, **(extra_env or {}))
    tl.launch(f"claude --settings {path}", repo, home, env)
    seen = tl.wait_screen(CLAUDE_PROMPT, 60)
    if seen is None:
        raise RuntimeError("claude never showed its prompt:\n" + tl.screen())
    tl.mark("idle", seen, "input box drawn")
    time.sleep(3)


def claude_turn(tl: Timeline, scen: str, prompt: str, final: str = "idle", note: str = "answered") -> None:
    """A plain turn: working from Enter until the model's answer, then `final`."""
    tl.ctx.set_scen("main", scen)
    t = tl.mark("working", tl.submit(prompt), f"prompt submitted ({scen})")
    e = tl.wait_end("text", after=t)
    tl.mark(final, e["t"] if e else None, note)


@scenario("claude", "granted", "Bash permission (curl a script and run it) asked, held 20 s, granted; the next model request is held 25 s "
          "(spinner), then the turn ends; then idle 20 s")
def claude_granted(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.ctx.set_scen("main", "riskybash")
    t = tl.mark("working", tl.submit("set up the project"), "prompt submitted")
    e = tl.wait_end("tool:Bash", after=t)
    tl.mark("waiting", e["t"], "model asked for Bash: permission dialog")
    tl.ctx.set_scen("main", "hold25")
    if tl.wait_screen(CLAUDE_DIALOG, 15) is None:
        raise RuntimeError("no permission dialog")
    time.sleep(20)
    tl.mark("working", claude_grant(tl), "human granted (Yes); next request held 25 s")
    e = tl.wait_end("text", after=e["t"] + 1, timeout=60)
    tl.mark("idle", e["t"], "model answered: turn done")
    tl.stay(20)


@scenario("claude", "denied", "Bash permission (curl a script and run it) asked, held 10 s, denied with Esc; then idle 30 s")
def claude_denied(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.ctx.set_scen("main", "riskybash")
    t = tl.mark("working", tl.submit("set up the project"), "prompt submitted")
    e = tl.wait_end("tool:Bash", after=t)
    tl.mark("waiting", e["t"], "model asked for Bash: permission dialog")
    tl.ctx.set_scen("main", "text")
    if tl.wait_screen(CLAUDE_DIALOG, 15) is None:
        raise RuntimeError("no permission dialog")
    time.sleep(10)
    tl.mark("idle", tl.keys("Escape"), "human denied (Esc): Claude waits for instructions")
    tl.stay(30)


@scenario("claude", "question", "AskUserQuestion dialog held 15 s, answered (option 1); turn ends; idle 20 s")
def claude_question(tl: Timeline, args) -> None:
    claude_start(tl)
    tl.ctx.set_scen("main", "askq")
    t = tl.mark("working", tl.submit("clean up the config files"), "prompt submitted")
    e = tl.wait_end("tool:AskUserQuestion", after=t)
    tl.mark("waiting", e["t"], "model asked a question (AskUserQuestion)")
    tl.ctx.set_scen("main", "text")
    if tl.wait_screen(r"Should I delete the old config", 15) is None:
        raise RuntimeError("no question dialog")
    time.sleep(15)
    tl.mark("working", tl.keys("Enter"), "human answered (Enter on option 1)")
    time.sleep(1.5)
    if "Submit" in tl.screen() or "Review your answers" in tl.screen():
        tl.keys("Enter")  # some versions ask to confirm the answers
    e = tl.wait_end("text", after=t + 1, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(20)


@scenario("claude", "idle", "a short turn, then the finished agent left alone 150 s (idle_prompt arrives ~60 s after Stop)")
def claude_idle(tl: Timeline, args) -> None:
    claude_start(tl)
    claude_turn(tl, "text", "summarise the README", note="model answered: turn done")
    tl.stay(150)


@scenario("claude", "stuck", "the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.` and stops; "
          "left alone 100 s")
def claude_stuck(tl: Timeline, args) -> None:
    claude_start(tl)
    claude_turn(tl, "stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
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
          "Claude retries, then gives up with an API error; left alone 40 s")
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
    tl.stay(40)


@scenario("claude", "compact", "three short turns, then `/compact` (each summarising request held 8 s), then idle 30 s")
def claude_compact(tl: Timeline, args) -> None:
    claude_start(tl)
    for prompt in ("summarise the README", "list the files", "explain app.py"):
        claude_turn(tl, "text", prompt)
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
    claude_turn(tl, "text", "summarise the README")
    time.sleep(8)
    tl.submit("/exit", settle=1.0)
    dead = tl.wait_dead(30)
    tl.mark("exited", dead, "pane dead")
    tl.stay(5)


# ===================================================================== OpenCode
OPENCODE_PROMPT = r"Ask anything|Build · "


def opencode_start(tl: Timeline) -> None:
    from capture_opencode import write_config

    ctx = tl.ctx
    repo = ctx.repo()
    ctx.set_scen("main", "text")
    write_config(repo, ctx.url("@main"))
    tl.launch("opencode", repo, ctx.home(), {})
    seen = tl.wait_screen(OPENCODE_PROMPT, 90)
    if seen is None:
        raise RuntimeError("opencode never showed its prompt:\n" + tl.screen())
    tl.mark("idle", seen, "prompt drawn")
    time.sleep(5)


def opencode_turn(tl: Timeline, scen: str, prompt: str, final: str = "idle", note: str = "answered") -> None:
    tl.ctx.set_scen("main", scen)
    t = tl.mark("working", tl.submit(prompt, settle=0.7), f"prompt submitted ({scen})")
    e = tl.wait_end("^text$", after=t)  # not the tool-less title request
    tl.mark(final, e["t"] if e else None, note)


@scenario("opencode", "turn", "boot (blank, then the welcome screen), one short turn, then 180 s idle at its prompt "
          "(its idle CPU is recorded)")
def opencode_turn_idle(tl: Timeline, args) -> None:
    opencode_start(tl)
    opencode_turn(tl, "text", "summarise the README")
    tl.stay(180)


@scenario("opencode", "stuck", "boot, then the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.`; "
          "left alone 90 s")
def opencode_stuck(tl: Timeline, args) -> None:
    opencode_start(tl)
    opencode_turn(tl, "stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(90)


@scenario("opencode", "permission", "bash permission (opencode.json bash=ask) held 20 s, allowed once; then idle 30 s")
def opencode_permission(tl: Timeline, args) -> None:
    opencode_start(tl)
    tl.ctx.set_scen("main", "bash")
    t = tl.mark("working", tl.submit("create notes.txt with a greeting", settle=0.7), "prompt submitted")
    e = tl.wait_end("tool:bash", after=t)
    tl.mark("waiting", e["t"], "model asked for bash: permission prompt")
    tl.ctx.set_scen("main", "text")
    if tl.wait_screen(r"Permission required", 15) is None:
        raise RuntimeError("no permission prompt")
    time.sleep(20)
    t = tl.mark("working", tl.keys("Enter"), "human allowed once (Enter)")
    e = tl.wait_end("^text$", after=t)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(30)


# ===================================================================== Codex
CODEX_PROMPT = r"Ask Codex|›"


def codex_start(tl: Timeline) -> None:
    from capture_codex import codex_home

    ctx = tl.ctx
    repo = ctx.repo()
    ctx.set_scen("main", "text")
    home = codex_home(ctx, repo, ctx.url("@main"))
    notify = codex_notify_option(recorder_argv(tl) + ["--event", "notify"])
    cmd = "codex " + " ".join(shlex.quote(a) for a in notify)
    tl.launch(cmd, repo, home, {"FAKE_OPENAI_KEY": "sk-fake-codex"})
    seen = tl.wait_screen(r"Ask Codex|Use existing", 60)
    if seen is None:
        raise RuntimeError("codex never showed its prompt:\n" + tl.screen())
    time.sleep(3)  # the model announcement comes up a moment after the composer
    if "Use existing" in tl.screen():
        # 0.169 shows "Meet GPT-6 Sol" at every start whatever config.toml says: a dialog, so waiting
        tl.mark("waiting", seen, "model announcement dialog (Try new model / Use existing model)")
        time.sleep(5)
        tl.keys("2")
        time.sleep(0.5)
        tl.mark("idle", tl.keys("Enter"), "human chose 2. Use existing model")
        if tl.wait_screen(r"Ask Codex", 20) is None or "Use existing" in tl.screen():
            raise RuntimeError("announcement not dismissed:\n" + tl.screen())
    else:
        tl.mark("idle", seen, "composer drawn")
    time.sleep(4)


def codex_turn(tl: Timeline, scen: str, prompt: str, final: str = "idle", note: str = "answered") -> None:
    tl.ctx.set_scen("main", scen)
    t = tl.mark("working", tl.submit(prompt, settle=1.0), f"prompt submitted ({scen})")
    e = tl.wait_end("^text$", after=t)
    tl.mark(final, e["t"] if e else None, note)


@scenario("codex", "approval", "command approval (escalated exec) held 20 s, approved with `y`; the next request is held "
          "20 s; then idle 30 s")
def codex_approval(tl: Timeline, args) -> None:
    codex_start(tl)
    tl.ctx.set_scen("main", "bash")
    t = tl.mark("working", tl.submit("create notes.txt with a greeting", settle=1.0), "prompt submitted")
    e = tl.wait_end("tool:", after=t)
    tl.mark("waiting", e["t"], f"model asked for {e['outcome']}: approval prompt")
    tl.ctx.set_scen("main", "hold20")
    if tl.wait_screen(r"Would you like to", 15) is None:
        raise RuntimeError("no approval prompt")
    time.sleep(20)
    t = tl.mark("working", tl.keys("y"), "human approved (y); next request held 20 s")
    e = tl.wait_end("^text$", after=t, timeout=60)
    tl.mark("idle", e["t"] if e else None, "model answered: turn done")
    tl.stay(30)


@scenario("codex", "idle", "a short turn, then the finished agent left alone 150 s")
def codex_idle(tl: Timeline, args) -> None:
    codex_start(tl)
    codex_turn(tl, "text", "summarise the README")
    tl.stay(150)


@scenario("codex", "stuck", "the model answers `STUCK: please export PAYMENTS_TOKEN and tell me to retry.`; left alone 90 s")
def codex_stuck(tl: Timeline, args) -> None:
    codex_start(tl)
    codex_turn(tl, "stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(90)


@scenario("codex", "exit", "a short turn, then `/exit`: the pane dies")
def codex_exit(tl: Timeline, args) -> None:
    codex_start(tl)
    codex_turn(tl, "text", "summarise the README")
    time.sleep(8)
    tl.submit("/exit", settle=1.0)
    dead = tl.wait_dead(30)
    if dead is None:
        tl.keys("C-c")
        time.sleep(1)
        tl.keys("C-c")
        dead = tl.wait_dead(20)
    tl.mark("exited", dead, "pane dead")
    tl.stay(5)


# ===================================================================== aider
AIDER_PROMPT = r"^> ?$"


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
    seen = tl.wait_screen(AIDER_PROMPT, 90)
    if seen is None:
        raise RuntimeError("aider never showed its prompt:\n" + tl.screen())
    tl.mark("idle", seen, "prompt drawn")
    time.sleep(4)


def aider_turn(tl: Timeline, scen: str, prompt: str, final: str = "idle", note: str = "answered") -> float:
    tl.ctx.set_scen("main", scen)
    t = tl.mark("working", tl.submit(prompt), f"prompt submitted ({scen})")
    e = tl.wait_end("text", after=t)
    return tl.mark(final, e["t"] if e else None, note)


@scenario("aider", "turn", "a short turn, then idle 120 s")
def aider_turn_idle(tl: Timeline, args) -> None:
    aider_start(tl, args)
    aider_turn(tl, "text", "summarise the README")
    tl.stay(120)


@scenario("aider", "question", "the model's reply creates hello.py and offers a shell command: aider asks "
          "`Run shell command? (Y)es/(N)o`, held 20 s, answered n; then idle 30 s")
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
    while tl.wait_screen(r"\(Y\)es/\(N\)o[^\n]*$\s*\Z", 1) is not None:
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
    aider_turn(tl, "stuck", "deploy the payments service", final="stuck", note="model printed STUCK: … and stopped")
    tl.stay(90)
