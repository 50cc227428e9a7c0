"""opencode screens (registered into capture_screens.KINDS)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from capture_screens import Ctx, cli_version, kind

IDLE = r"Ask anything|Build · "


def write_config(repo: str, base_url: str, ask: bool = True) -> None:
    cfg = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"fake": {
            "npm": "@ai-sdk/openai-compatible", "name": "Fake",
            "options": {"baseURL": base_url + "/v1", "apiKey": "sk-fake-opencode"},
            "models": {"fake-model": {"name": "Fake Model", "tool_call": True}},
        }},
        "model": "fake/fake-model",
        "autoupdate": False,
        "share": "disabled",
    }
    if ask:
        cfg["permission"] = {"edit": "ask", "bash": "ask"}
    Path(repo, "opencode.json").write_text(json.dumps(cfg, indent=2))


def submit(p, text):
    p.type(text)
    time.sleep(0.7)
    p.keys("Enter")


def want(ctx, name):
    return not ctx.args.only or name in ctx.args.only.split(",")


@kind("opencode")
def capture_opencode(ctx: Ctx) -> None:
    ctx.version = cli_version(ctx, ["opencode", "--version"])

    # 1. default provider (OpenCode Zen), no network
    if want(ctx, "default"):
        repo = ctx.repo()
        p = ctx.pane("default", "opencode", repo, ctx.home(), {})
        p.wait_for(r"Ask anything", 60); time.sleep(3)
        ctx.save(p, "idle-welcome-default-provider", "IDLE", "welcome screen, default free provider, tip 'Run /connect'",
                 "fresh HOME, no provider configured: default model 'Big Pickle OpenCode Zen' (unreachable offline)",
                 expect="Ask anything")
        submit(p, "summarise the README")
        p.wait_for(r"retrying in|Cannot connect|Error", 60); time.sleep(1)
        ctx.save(p, "retrying-cannot-connect", "STUCK", "cannot connect to API, retrying ('[retrying in Ns attempt #N]')",
                 "prompt sent to the default hosted provider with no network", expect=r"Cannot connect|retrying")
        p.keys("Escape"); time.sleep(0.5); p.keys("Escape"); time.sleep(2)
        submit(p, "/connect")
        time.sleep(3)
        ctx.save(p, "login-connect-provider", "WAITING", "login dialog: /connect provider picker",
                 "/connect typed: provider selection dialog", expect=r"(?i)connect|provider")
        p.kill()

    # 2. main session against the loopback fake (openai-compatible provider in opencode.json)
    if want(ctx, "main"):
        repo = ctx.repo()
        ctx.set_scen("main", "text")
        write_config(repo, ctx.url("@main"))
        p = ctx.pane("main", "opencode", repo, ctx.home(), {})
        time.sleep(1.5)
        ctx.save(p, "startup-early", "STARTING", "opencode launched 1.5s ago", "captured 1.5s after launch")
        p.wait_for(r"Ask anything", 60); time.sleep(3)
        ctx.save(p, "idle-welcome", "IDLE", "welcome logo + empty prompt ('Ask anything…')",
                 "custom openai-compatible provider pointing at the loopback fake", expect="Ask anything")
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, half-typed prompt", "text typed, no Enter")
        p.keys("C-u"); time.sleep(0.3)
        for _ in range(50):
            p.keys("BSpace")
        time.sleep(0.5)

        ctx.set_scen("main", "slow")
        submit(p, "Summarise the repository in detail")
        time.sleep(2.5)
        ctx.save(p, "working-spinner", "WORKING", "progress bar + 'esc interrupt' before first token",
                 "fake server delays, then streams 1 word / 1.5s", expect="esc")
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "answer streaming + 'esc interrupt'",
                 "fake server streaming 1 word / 1.5s", expect="esc")
        p.keys("Escape"); time.sleep(0.4); p.keys("Escape"); time.sleep(3)
        ctx.save(p, "interrupted", "IDLE", "user interrupted (Esc twice)", "Esc Esc during the slow stream")

        ctx.set_scen("main", "bash")
        submit(p, "create notes.txt with a greeting")
        p.wait_for(r"Permission required", 30); time.sleep(1)
        ctx.save(p, "permission-bash", "WAITING", "permission prompt: shell command ('△ Permission required')",
                 "opencode.json permission bash=ask; fake server calls the bash tool", expect="Permission required")
        p.keys("Enter")
        p.wait_for(r"Done\. The repository", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished, empty prompt",
                 "after 'Allow once' the fake server answers with text", expect=r"Done\. The repository")

        ctx.set_scen("main", "edit")
        submit(p, "write hello.py")
        p.wait_for(r"Permission required", 30); time.sleep(1)
        ctx.save(p, "permission-write-file", "WAITING", "permission prompt: write hello.py",
                 "opencode.json permission edit=ask; fake server calls the write tool", expect="Permission required")
        p.keys("Right"); time.sleep(0.3); p.keys("Right"); time.sleep(0.3); p.keys("Enter"); time.sleep(3)
        ctx.save(p, "permission-rejected", "IDLE", "user rejected the write", "selected Reject on the permission prompt")

        ctx.set_scen("main", "qtool")
        submit(p, "clean up the config files")
        time.sleep(6)
        ctx.save(p, "question-tool", "WAITING", "interactive question dialog (model's `question` tool)",
                 "fake server calls opencode's question tool with two options", expect=r"Delete old config|config\.old")
        p.keys("Escape"); time.sleep(2)

        ctx.set_scen("main", "ask")
        submit(p, "clean up the config files")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "model asked a yes/no question in plain text; prompt idle",
                 "fake server replies with a question", expect="answer yes or no")

        for scen, slug, reason in [
            ("401", "error-auth-invalid-key", "authentication failed (401 Incorrect API key)"),
            ("404", "error-model-not-found", "model not found (404)"),
            ("500", "error-api-500", "API error 500"),
            ("429", "error-rate-limit", "rate limit (429)"),
            ("529", "error-overloaded", "server overloaded (503)"),
        ]:
            ctx.set_scen("main", scen)
            submit(p, f"try again ({scen})")
            time.sleep(6)
            p.wait_stable(2, 30)
            ctx.save(p, slug, "STUCK", reason,
                     "fake server answers with an OpenAI error body (429/503 may show opencode's retry countdown)")
            if "retrying" in p.capture():
                p.keys("Escape"); time.sleep(0.4); p.keys("Escape"); time.sleep(2)

        ctx.set_scen("main", "hang")
        submit(p, "think hard about this")
        time.sleep(20)
        ctx.save(p, "working-no-output-20s", "WORKING", "progress indicator for 20s with no output",
                 "fake server accepts the request and sends nothing", expect="esc")
        p.keys("Escape"); time.sleep(0.4); p.keys("Escape"); time.sleep(2)
        ctx.set_scen("main", "text")
        submit(p, "/exit")
        if not p.wait_for(r"dev@fixture", 15):
            p.keys("C-c"); p.wait_for(r"dev@fixture", 15)
        time.sleep(1.5)
        ctx.save(p, "exited", "EXITED", "opencode exited, shell prompt visible", "/exit (or Ctrl-C)",
                 expect="dev@fixture")
        p.kill()
