"""Gemini CLI screens (registered into capture_screens.KINDS)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from capture_screens import Ctx, cli_version, kind

KEY = "fake-gemini-key"


def gemini_home(ctx: Ctx, repo: str | None, auth: bool = True) -> str:
    home = ctx.home()
    d = Path(home, ".gemini")
    d.mkdir()
    if auth:
        (d / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    if repo:
        (d / "trustedFolders.json").write_text(json.dumps({repo: "TRUST_FOLDER"}))
    return home


def want(ctx, name):
    return not ctx.args.only or name in ctx.args.only.split(",")


def submit(p, text):
    p.type(text)
    time.sleep(0.7)
    p.keys("Enter")


IDLE = r"Type your message"


@kind("gemini")
def capture_gemini(ctx: Ctx) -> None:
    ctx.version = cli_version(ctx, ["gemini", "--version"])

    # 1. no auth at all: trust dialog, auth chooser, API key entry
    if want(ctx, "login"):
        repo = ctx.repo()
        p = ctx.pane("login", "gemini", repo, gemini_home(ctx, None, auth=False), {})
        p.wait_for(r"Do you trust", 60); time.sleep(1.5)
        ctx.save(p, "trust-folder", "WAITING", "trust folder dialog ('Do you trust the files in this folder?')",
                 "fresh HOME, untrusted repo", expect="Do you trust the files in this folder")
        p.keys("Enter")
        p.wait_for(r"How would you like to authenticate", 30); time.sleep(1.5)
        ctx.save(p, "login-auth-method-select", "WAITING", "login dialog: choose auth method (no credentials)",
                 "after trusting the folder, no GEMINI_API_KEY, no Google login", expect="How would you like to authenticate")
        p.keys("Down"); time.sleep(0.3); p.keys("Enter")
        p.wait_for(r"Enter Gemini API Key", 30); time.sleep(1.5)
        ctx.save(p, "login-api-key-entry", "WAITING", "login dialog: paste Gemini API key",
                 "chose 'Use Gemini API Key' without GEMINI_API_KEY in env", expect="Enter Gemini API Key")
        p.kill()

    # 2. key in env but no auth type selected yet
    if want(ctx, "keydetected"):
        repo = ctx.repo()
        p = ctx.pane("keydet", "gemini", repo, gemini_home(ctx, repo, auth=False),
                     {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": ctx.url("text")})
        p.wait_for(r"How would you like to authenticate", 60); time.sleep(1.5)
        ctx.save(p, "login-auth-key-detected", "WAITING", "auth chooser: 'Existing API key detected (GEMINI_API_KEY)'",
                 "GEMINI_API_KEY set but no auth type in settings.json", expect="Existing API key detected")
        p.kill()

    # 3. main session
    if want(ctx, "main"):
        repo = ctx.repo()
        ctx.set_scen("main", "text")
        p = ctx.pane("main", "gemini", repo, gemini_home(ctx, repo),
                     {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": ctx.url("@main")})
        time.sleep(4)
        if "Type your message" in p.capture():
            ctx.save(p, "startup-early", "IDLE", "4s after launch: compact banner ('Authenticated with gemini-api-key /auth') + empty input box",
                     "captured 4s after launch; already ready for input, so IDLE (the compact banner differs from idle-welcome)")
        else:
            ctx.save(p, "startup-early", "STARTING", "gemini launched 4s ago, UI still loading",
                     "captured 4s after launch (screen blank or banner only)")
        p.wait_for(IDLE, 60); time.sleep(3)
        ctx.save(p, "idle-welcome", "IDLE", "banner + empty input box ('Type your message or @path/to/file')",
                 "GEMINI_API_KEY + GOOGLE_GEMINI_BASE_URL=loopback fake, auth type preselected, trusted folder",
                 expect=IDLE)
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, half-typed prompt", "text typed, no Enter")
        p.keys("C-u"); time.sleep(0.3)
        # Ctrl-U may not clear in every version: fall back to backspaces
        for _ in range(50):
            p.keys("BSpace")
        time.sleep(0.5)

        ctx.set_scen("main", "slow")
        submit(p, "Summarise the repository in detail")
        time.sleep(2.5)
        ctx.save(p, "working-spinner", "WORKING", "spinner with 'esc to cancel' before first token",
                 "fake server delays and streams 1 word / 1.5s", expect=r"esc to cancel|esc")
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "mid-stream answer + spinner",
                 "fake server streaming 1 word / 1.5s")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "interrupted", "IDLE", "user cancelled the request (Esc)", "Esc during the slow stream",
                 expect=IDLE)

        ctx.set_scen("main", "bash")
        submit(p, "create notes.txt with a greeting")
        p.wait_for(r"Allow execution", 30); time.sleep(1)
        ctx.save(p, "permission-shell", "WAITING", "permission prompt: 'Allow execution of [Shell]?'",
                 "fake server returns functionCall run_shell_command", expect="Allow execution")
        p.keys("Enter")
        p.wait_for(r"Done\. The repository", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished, empty input box",
                 "after 'Allow once' the fake server answers with text", expect=r"Done\. The repository")

        ctx.set_scen("main", "edit")
        submit(p, "write hello.py")
        p.wait_for(r"Apply this change|Allow", 30); time.sleep(1.5)
        ctx.save(p, "permission-write-file", "WAITING", "permission prompt: write file hello.py",
                 "fake server returns functionCall write_file(hello.py)", expect=r"Apply this change|Allow")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "permission-cancelled", "IDLE", "user cancelled the tool call (Esc)",
                 "Esc on the write_file confirmation", expect=r"cancel|Cancel")

        ctx.set_scen("main", "ask")
        submit(p, "clean up the config files")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "model asked a yes/no question in plain text; input idle",
                 "fake server replies with a question", expect="answer yes or no")

        for scen, slug, reason in [
            ("401", "error-auth-invalid-key", "authentication failed (400 API key not valid)"),
            ("404", "error-model-not-found", "model not found (404 NOT_FOUND)"),
            ("500", "error-api-500", "API error 500 INTERNAL"),
            ("429", "error-rate-limit", "rate limit / quota (429 RESOURCE_EXHAUSTED)"),
            ("529", "error-overloaded", "model overloaded (503 UNAVAILABLE)"),
        ]:
            ctx.set_scen("main", scen)
            submit(p, f"try again ({scen})")
            time.sleep(4)
            end = time.time() + 45
            while time.time() < end and "esc to cancel" in p.capture():
                time.sleep(1)
            scr = p.capture()
            if "esc to cancel" in scr:
                # gemini is still retrying behind its spinner
                ctx.save(p, slug + "-retrying", "WORKING",
                         f"spinner still running ~45s after HTTP {scen}: gemini retries silently",
                         f"fake server answers every request with a Google API error ({reason}); AMBIGUOUS: "
                         "screen only shows 'Thinking... (esc to cancel, Ns)' - the elapsed counter is the only hint")
                p.keys("Escape"); time.sleep(3)
            else:
                ctx.save(p, slug, "STUCK", reason,
                         "fake server answers with a Google API error body; screen after gemini's own retries ended")
            lines = [ln for ln in p.capture().splitlines() if ln.strip()]
            if not any("Type your message" in ln for ln in lines[-8:]):
                # a dialog (e.g. quota / fallback) is open: capture it, then leave it
                ctx.save(p, slug + "-dialog", "WAITING", f"dialog opened after {reason}",
                         "gemini opened a dialog after the API error")
                p.keys("Escape"); time.sleep(2)

        ctx.set_scen("main", "hang")
        submit(p, "think hard about this")
        time.sleep(20)
        ctx.save(p, "working-no-output-20s", "WORKING", "spinner for 20s with no output",
                 "fake server accepts the request and sends nothing")
        p.keys("Escape"); time.sleep(2)
        ctx.set_scen("main", "text")
        submit(p, "/quit")
        p.wait_for(r"dev@fixture", 20); time.sleep(1.5)
        ctx.save(p, "exited", "EXITED", "gemini exited (/quit): session summary + shell prompt",
                 "/quit typed at the prompt", expect="dev@fixture")
        p.kill()
