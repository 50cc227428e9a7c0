"""Qwen Code screens (registered into capture_screens.KINDS).

Qwen Code talks to an OpenAI-compatible endpoint: OPENAI_BASE_URL points it at the
loopback fake (tests/tools/fake_llm_server.py, chat completions), OPENAI_API_KEY and
OPENAI_MODEL pick the key and model. Its chat records (`~/.qwen/projects/<cwd>/chats/`)
are kept with --keep-tmp for the token fixtures in tests/data/transcripts/qwen/.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from capture_gemini import submit, want  # its fork: the same typing and Enter
from capture_screens import Ctx, cli_version, kind

KEY = "fake-qwen-key"
MODEL = "qwen3-coder-plus"
IDLE = r"Type your message"
BUSY = r"esc to cancel"


def qwen_home(ctx: Ctx, auth: bool = True) -> str:
    home = ctx.home()
    d = Path(home, ".qwen")
    d.mkdir()
    settings: dict = {"memory": {"enableManagedAutoMemory": False}}
    if auth:
        settings["security"] = {"auth": {"selectedType": "openai"}}
    (d / "settings.json").write_text(json.dumps(settings))
    return home


def env(ctx: Ctx, scen: str) -> dict:
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": ctx.url(scen) + "/v1", "OPENAI_MODEL": MODEL}


@kind("qwen")
def capture_qwen(ctx: Ctx) -> None:
    ctx.version = cli_version(ctx, ["qwen", "--version"])

    # 1. no key, no auth type: its first-run auth dialog
    if want(ctx, "login"):
        repo = ctx.repo()
        p = ctx.pane("login", "qwen", repo, qwen_home(ctx, auth=False), {})
        time.sleep(12)
        ctx.save(p, "login-first-run", "WAITING", "first run without credentials: auth dialog",
                 "fresh HOME, no OPENAI_API_KEY, no auth type in settings.json")
        p.kill()

    # 2. main session against the fake
    if want(ctx, "main"):
        repo = ctx.repo()
        ctx.set_scen("main", "text")
        p = ctx.pane("main", "qwen", repo, qwen_home(ctx), env(ctx, "@main"))
        p.wait_for(IDLE, 60); time.sleep(3)
        ctx.save(p, "idle-welcome", "IDLE", "banner + empty input box ('Type your message or @path/to/file')",
                 "OPENAI_API_KEY + OPENAI_BASE_URL=loopback fake, auth type openai", expect=IDLE)
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, half-typed prompt", "text typed, no Enter")
        for _ in range(50):
            p.keys("BSpace")
        time.sleep(0.5)

        ctx.set_scen("main", "slow")
        submit(p, "Summarise the repository in detail")
        time.sleep(2.5)
        ctx.save(p, "working-spinner", "WORKING", "spinner with 'esc to cancel' before first token",
                 "fake server delays, then streams 1 word / 1.5s", expect=BUSY)
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "mid-stream answer + spinner",
                 "fake server streaming 1 word / 1.5s")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "interrupted", "IDLE", "user cancelled the request (Esc)", "Esc during the slow stream",
                 expect=IDLE)

        ctx.set_scen("main", "bash")
        submit(p, "create notes.txt with a greeting")
        p.wait_for(r"Allow|Yes, allow once|Do you want", 30); time.sleep(1.5)
        ctx.save(p, "permission-shell", "WAITING", "permission prompt for run_shell_command",
                 "fake server returns tool call run_shell_command", expect=r"Allow|allow once")
        p.keys("Enter")
        p.wait_for(r"Done\. The repository", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished, empty input box",
                 "after allowing once the fake server answers with text", expect=r"Done\. The repository")

        ctx.set_scen("main", "edit")
        submit(p, "write hello.py")
        p.wait_for(r"Apply this change|Allow|allow once", 30); time.sleep(1.5)
        ctx.save(p, "permission-write-file", "WAITING", "permission prompt: write file hello.py",
                 "fake server returns tool call write_file(hello.py)", expect=r"Apply this change|Allow|allow once")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "permission-cancelled", "IDLE", "user cancelled the tool call (Esc)",
                 "Esc on the write_file confirmation", expect=IDLE)

        ctx.set_scen("main", "ask")
        submit(p, "clean up the config files")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "model asked a yes/no question in plain text; input idle",
                 "fake server replies with a question", expect="answer yes or no")

        ctx.set_scen("main", "stuck")
        submit(p, "deploy the payments service")
        p.wait_for(r"STUCK: please export", 30); time.sleep(2)
        ctx.save(p, "stuck-answer", "STUCK", "the agent printed 'STUCK: please export PAYMENTS_TOKEN ...'",
                 "fake server answers with the STUCK text", expect="STUCK: please export")

        for scen, slug, reason in [
            ("401", "error-auth-invalid-key", "authentication failed (401 invalid_api_key)"),
            ("404", "error-model-not-found", "model not found (404 model_not_found)"),
        ]:
            ctx.set_scen("main", scen)
            submit(p, f"try again ({scen})")
            p.wait_for(r"API Error", 30); time.sleep(2)
            ctx.save(p, slug, "STUCK", reason, "fake server answers with an OpenAI error body (not retried by qwen)",
                     expect="API Error")

        ctx.set_scen("main", "text")
        submit(p, "/quit")
        p.wait_for(r"dev@fixture", 20); time.sleep(1.5)
        ctx.save(p, "exited", "EXITED", "qwen exited (/quit): session summary + shell prompt",
                 "/quit typed at the prompt", expect="dev@fixture")
        p.kill()

    # 3. errors qwen retries (429, 5xx): one fresh pane each, side by side; the screen while it
    #    retries, then the screen once it gives up (7 attempts, backoff up to 30 s)
    if want(ctx, "errors"):
        cases = [
            ("429", "error-rate-limit", "rate limit (429 rate_limit_exceeded)"),
            ("500", "error-api-500", "API error 500 (server_error)"),
            ("529", "error-overloaded", "overloaded (529)"),
        ]
        panes = {}
        for scen, slug, _reason in cases:
            repo = ctx.repo()
            p = ctx.pane(f"err{scen}", "qwen", repo, qwen_home(ctx), env(ctx, scen))
            panes[scen] = p
        for scen, _slug, _reason in cases:
            panes[scen].wait_for(IDLE, 60)
        time.sleep(2)
        for scen, _slug, _reason in cases:
            submit(panes[scen], f"try again ({scen})")
        time.sleep(20)
        for scen, slug, reason in cases:
            ctx.save(panes[scen], slug + "-retrying", "WORKING",
                     f"spinner 20s after HTTP {scen}: qwen retries under its spinner",
                     f"fake server answers every request with an OpenAI error body ({reason})", expect=BUSY)
        end = time.time() + 240
        left = {scen for scen, _s, _r in cases}
        while left and time.time() < end:
            for scen, slug, reason in cases:
                if scen in left and BUSY not in panes[scen].capture():
                    time.sleep(2)
                    ctx.save(panes[scen], slug, "STUCK", reason,
                             "fake server answers every request with an OpenAI error body; screen after qwen's "
                             "own retries ended")
                    left.discard(scen)
            time.sleep(2)
        for scen in left:
            print(f"  WARNING: qwen still retrying HTTP {scen} after 260s", flush=True)
        for p in panes.values():
            p.kill()
