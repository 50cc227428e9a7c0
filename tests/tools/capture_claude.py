"""Claude Code screens (registered into capture_screens.KINDS)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from capture_screens import Ctx, cli_version, kind

BASE_ENV = {"DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1"}
KEY = "sk-ant-fake"


def seed_home(ctx: Ctx, onboarding=True, approve_key=True, trust_repo: str | None = None) -> str:
    home = ctx.home()
    if onboarding:
        cfg = {"hasCompletedOnboarding": True, "numStartups": 3, "theme": "dark",
               "lastReleaseNotesSeen": ctx.version}
        if approve_key:
            cfg["customApiKeyResponses"] = {"approved": [KEY[-20:]], "rejected": []}
        if trust_repo:
            cfg["projects"] = {trust_repo: {"hasTrustDialogAccepted": True, "allowedTools": []}}
        Path(home, ".claude.json").write_text(json.dumps(cfg))
    return home


def want(ctx, name):
    return not ctx.args.only or name in ctx.args.only.split(",")


@kind("claude")
def capture_claude(ctx: Ctx) -> None:
    ctx.version = cli_version(ctx, ["claude", "--version"])
    v = ctx.version

    # 1. first run, no onboarding state, no network -> connectivity check fails and exits
    if want(ctx, "firstrun"):
        repo = ctx.repo()
        p = ctx.pane("firstrun", "claude", repo, ctx.home(), BASE_ENV)
        p.wait_for(r"Unable to connect|\$ $", 40)
        time.sleep(1)
        ctx.save(p, "firstrun-unable-to-connect", "EXITED",
                 "exited: unable to connect to Anthropic services (first-run onboarding check)",
                 "fresh HOME, no ~/.claude.json, no network: onboarding connectivity check to api.anthropic.com fails, claude exits to the shell")
        p.kill()

    # 2. trust dialog + custom-key dialog, key rejected -> not logged in
    if want(ctx, "dialogs"):
        repo = ctx.repo()
        home = seed_home(ctx, approve_key=False)
        ctx.set_scen("dialogs", "text")
        p = ctx.pane("dialogs", "claude", repo, home,
                     dict(BASE_ENV, ANTHROPIC_BASE_URL=ctx.url("@dialogs"), ANTHROPIC_API_KEY=KEY))
        p.wait_for(r"trust this folder", 40); time.sleep(1)
        ctx.save(p, "trust-folder", "WAITING", "trust folder dialog",
                 "claude in an untrusted repo (onboarding done via ~/.claude.json): 'Is this a project you created or one you trust?'",
                 expect=r"trust this folder")
        p.keys("Enter")
        p.wait_for(r"Detected a custom API key", 20); time.sleep(1)
        ctx.save(p, "custom-api-key-prompt", "WAITING", "asks whether to use ANTHROPIC_API_KEY from env",
                 "ANTHROPIC_API_KEY set but not yet approved in ~/.claude.json: 'Do you want to use this API key?' (default No)",
                 expect=r"Detected a custom API key")
        p.keys("Enter")  # default: No (recommended)
        p.wait_for(r"for shortcuts", 20); time.sleep(2)
        ctx.save(p, "idle-not-logged-in", "STUCK", "not logged in (API key rejected) - footer 'Not logged in · Run /login'",
                 "after answering No to the custom API key dialog: idle input box but footer says Not logged in; any prompt will fail")
        p.type("Please summarise the README"); p.keys("Enter")
        p.wait_for(r"Please run /login", 20); time.sleep(2)
        ctx.save(p, "error-not-logged-in", "STUCK", "not logged in: 'Not logged in · Please run /login'",
                 "prompt submitted without usable credentials: turn ends immediately with 'Not logged in · Please run /login'")
        p.type("/login"); time.sleep(1); p.keys("Enter")
        time.sleep(4)
        ctx.save(p, "login-method-select", "WAITING", "login dialog (choose login method)",
                 "/login typed in a session without credentials: login method selection dialog",
                 expect=r"Select login method")
        p.kill()

    # 3. no API key at all, onboarding done
    if want(ctx, "nokey"):
        repo = ctx.repo()
        home = seed_home(ctx, trust_repo=repo)
        p = ctx.pane("nokey", "claude", repo, home, BASE_ENV)
        p.wait_for(r"for shortcuts|login|Select", 40); time.sleep(3)
        ctx.save(p, "startup-no-api-key", "STUCK", "missing ANTHROPIC_API_KEY / not logged in",
                 "no ANTHROPIC_API_KEY, no OAuth credentials, onboarding marked done in ~/.claude.json")
        p.kill()

    # 4. main session: approved key, trusted repo, scenario switched at run time
    if want(ctx, "main"):
        repo = ctx.repo()
        home = seed_home(ctx, trust_repo=repo)
        ctx.set_scen("main", "text")
        p = ctx.pane("main", "claude", repo, home,
                     dict(BASE_ENV, ANTHROPIC_BASE_URL=ctx.url("@main"), ANTHROPIC_API_KEY=KEY))
        p.wait_for(r"for shortcuts", 40)
        ctx.save(p, "startup-early", "IDLE", "seconds after launch: banner, input box and footer already drawn (ready)",
                 "captured as soon as the footer appeared; labelled IDLE because the screen is indistinguishable from idle-welcome")
        time.sleep(4)
        ctx.save(p, "idle-welcome", "IDLE", "welcome banner + empty input box",
                 "claude with fake key approved, trusted repo, waiting for first prompt")
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, user has half-typed a prompt (not submitted)",
                 "text typed into the input box without Enter")
        p.keys("C-u"); time.sleep(0.5)
        for _ in range(3):
            p.keys("BSpace")

        # working: slow stream
        ctx.set_scen("main", "slow")
        p.type("Summarise the repository in detail"); p.keys("Enter")
        time.sleep(2.5)
        ctx.save(p, "working-spinner", "WORKING", "spinner before first token ('esc to interrupt')",
                 "fake server streams very slowly (message_start, ping, then 1 word / 1.5s)",
                 expect=r"esc to interrupt")
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "mid-stream: partial answer + spinner",
                 "fake server streaming 1 word / 1.5s; partial text visible",
                 expect=r"esc to interrupt")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "interrupted", "IDLE", "user pressed Esc: 'Interrupted · What should Claude do instead?'",
                 "Esc during the slow stream; claude back at its prompt",
                 expect=r"Interrupted")

        # permission prompt (Bash)
        ctx.set_scen("main", "bash")
        p.type("create notes.txt with a greeting"); p.keys("Enter")
        p.wait_for(r"Do you want to proceed", 30); time.sleep(1)
        ctx.save(p, "permission-bash", "WAITING", "permission prompt: Bash command",
                 "fake server returns tool_use Bash(echo ... > notes.txt): 'Do you want to proceed?'",
                 expect=r"Do you want to proceed")
        p.keys("Enter")
        p.wait_for(r"Done\. The repository", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished, empty input box",
                 "after approving the Bash tool, the fake server answers with text; claude back at prompt",
                 expect=r"Done\. The repository")

        # permission prompt (Write)
        ctx.set_scen("main", "edit")
        p.type("write hello.py"); p.keys("Enter")
        p.wait_for(r"Do you want to (create|make|proceed)", 30); time.sleep(1)
        ctx.save(p, "permission-write-file", "WAITING", "permission prompt: create file hello.py",
                 "fake server returns tool_use Write(hello.py): file-creation diff + 'Do you want to create hello.py?'",
                 expect=r"Do you want to create")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "permission-rejected", "IDLE", "user rejected the tool call, back at prompt",
                 "Esc on the Write permission prompt; claude shows the rejection and waits for instructions")

        # question in plain text
        ctx.set_scen("main", "ask")
        p.type("clean up the config files"); p.keys("Enter")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "turn ended with a yes/no question to the user (plain text)",
                 "fake server replies with a question; claude is technically at its idle prompt, but a human must answer",
                 expect=r"answer yes or no")

        # errors
        errors = [
            ("429", "error-rate-limit", "rate limit (429 rate_limit_error)"),
            ("529", "error-overloaded", "API overloaded (529 overloaded_error)"),
            ("401", "error-auth-invalid-key", "authentication failed (401 invalid x-api-key)"),
            ("404", "error-model-not-found", "model not found (404 not_found_error)"),
            ("500", "error-api-500", "API error 500"),
        ]
        for scen, slug, reason in errors:
            ctx.set_scen("main", scen)
            p.type(f"try again ({scen})"); p.keys("Enter")
            time.sleep(3)
            p.wait_stable(2, 60)
            ctx.save(p, slug, "STUCK", reason,
                     f"fake server answers HTTP {scen} with an Anthropic error body and x-should-retry: false",
                     expect=r"\(" + scen + r"\)[\s\S]*(Error|Invalid|issue)")
        # retrying
        ctx.set_scen("main", "529r")
        p.type("try again (retrying)"); p.keys("Enter")
        if p.wait_for(r"Retrying|attempt", 60):
            time.sleep(1)
            ctx.save(p, "retrying-overloaded", "STUCK", "overloaded: retrying (529, retry-after)",
                     "fake server answers 529 overloaded with retry-after: 20; claude shows its retry countdown")
        p.keys("Escape"); time.sleep(2)

        # hang: request accepted, nothing streamed
        ctx.set_scen("main", "hang")
        p.type("think hard about this"); p.keys("Enter")
        time.sleep(20)
        ctx.save(p, "working-no-output-20s", "WORKING", "spinner, no tokens for 20s (could become stuck)",
                 "fake server accepts the request and sends nothing; spinner keeps counting",
                 expect=r"esc to interrupt")
        p.keys("Escape"); time.sleep(2)
        ctx.set_scen("main", "text")
        p.keys("C-u")
        p.type("/exit"); time.sleep(1); p.keys("Enter")
        p.wait_for(r"dev@fixture", 20); time.sleep(1)
        ctx.save(p, "exited", "EXITED", "claude exited (/exit), shell prompt visible",
                 "/exit typed; claude prints its goodbye/resume hint and the shell prompt returns",
                 expect=r"dev@fixture")
        p.kill()
