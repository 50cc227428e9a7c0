"""OpenAI Codex CLI screens (registered into capture_screens.KINDS)."""
from __future__ import annotations

import time
from pathlib import Path

from capture_screens import Ctx, cli_version, kind

MODEL = "gpt-5.5"   # a model slug the bundled catalogue knows (so tools are offered)


def codex_home(ctx: Ctx, repo: str | None, scen_url: str | None, extra: str = "",
               trusted: bool = True, nux_done: bool = True) -> str:
    home = ctx.home()
    d = Path(home, ".codex")
    d.mkdir()
    lines = []
    if scen_url:
        lines += [f'model = "{MODEL}"', 'model_provider = "fake"', extra, "",
                  "[model_providers.fake]", 'name = "Fake"', f'base_url = "{scen_url}/v1"',
                  'env_key = "FAKE_OPENAI_KEY"', 'wire_api = "responses"',
                  "request_max_retries = 1", "stream_max_retries = 1", ""]
    if nux_done:
        # the "Meet GPT-6 Sol" announcement counts how often it was shown
        lines += ["[tui.model_availability_nux]", '"gpt-6.1-sol" = 99', '"gpt-6-sol" = 99', ""]
    if repo and trusted:
        lines += [f'[projects."{repo}"]', 'trust_level = "trusted"', ""]
    (d / "config.toml").write_text("\n".join(lines))
    return home


def submit(p, text: str) -> None:
    # codex treats a fast burst of keys as a paste: give it a moment before Enter
    p.type(text)
    time.sleep(1.0)
    p.keys("Enter")


def dismiss_nux(p) -> None:
    scr = p.capture()
    if "Use existing model" in scr:
        p.keys("2"); time.sleep(0.5); p.keys("Enter"); time.sleep(2)


def want(ctx, name):
    return not ctx.args.only or name in ctx.args.only.split(",")


@kind("codex")
def capture_codex(ctx: Ctx) -> None:
    ctx.version = cli_version(ctx, ["codex", "--version"])
    env = {"FAKE_OPENAI_KEY": "sk-fake-codex", "NO_COLOR": ""}
    env.pop("NO_COLOR")

    # 1. no credentials at all: login screens
    if want(ctx, "login"):
        repo = ctx.repo()
        p = ctx.pane("login", "codex", repo, ctx.home(), {})
        p.wait_for(r"Sign in|Welcome to Codex", 40); time.sleep(2)
        ctx.save(p, "login-method-select", "WAITING", "login dialog: choose sign-in method (no credentials)",
                 "fresh HOME, no auth.json, no OPENAI_API_KEY: first-run sign-in chooser", expect="Sign in with ChatGPT")
        p.keys("3"); time.sleep(0.5); p.keys("Enter"); time.sleep(3)
        ctx.save(p, "login-api-key-entry", "WAITING", "login dialog: paste API key",
                 "chose 'Sign in another way' on the first-run chooser: API-key entry box", expect="API key")
        p.kill()

    # 2. trust dialog + model-upgrade NUX
    if want(ctx, "trust"):
        repo = ctx.repo()
        home = codex_home(ctx, repo, ctx.url("text"), trusted=False, nux_done=False)
        p = ctx.pane("trust", "codex", repo, home, env)
        p.wait_for(r"Trust this folder|trust", 40); time.sleep(2)
        ctx.save(p, "trust-folder", "WAITING", "trust folder dialog",
                 "custom provider configured, repo not yet trusted in ~/.codex/config.toml", expect="Trust this folder")
        p.keys("Enter")
        time.sleep(5)
        ctx.save(p, "model-upgrade-prompt", "WAITING", "new-model announcement dialog (Try new model / Use existing)",
                 "after trusting: 'Meet GPT-6 Sol' NUX because config pins an older model", expect="Use existing model")
        p.kill()

    # 3. env_key variable missing
    if want(ctx, "nokey"):
        repo = ctx.repo()
        home = codex_home(ctx, repo, ctx.url("text"))
        p = ctx.pane("nokey", "codex", repo, home, {})
        p.wait_for(r"Ask Codex|Missing|environment", 40); time.sleep(3)
        dismiss_nux(p); time.sleep(2); dismiss_nux(p)
        ctx.save(p, "startup-missing-env-key", "IDLE", "idle prompt; provider key env var is missing (not yet visible)",
                 "config's env_key FAKE_OPENAI_KEY not set; codex starts normally - the problem only shows on first prompt")
        submit(p, "summarise the README")
        time.sleep(5)
        ctx.save(p, "error-missing-env-key", "STUCK", "missing API key env var (FAKE_OPENAI_KEY)",
                 "first prompt with env_key unset", expect=r"FAKE_OPENAI_KEY|environment variable|API key")
        p.kill()

    # 4. main session
    if want(ctx, "main"):
        repo = ctx.repo()
        ctx.set_scen("main", "text")
        home = codex_home(ctx, repo, ctx.url("@main"))
        p = ctx.pane("main", "codex", repo, home, env)
        time.sleep(2.5)
        ctx.save(p, "startup-early", "STARTING", "launched 2.5s ago, TUI still starting",
                 "captured 2.5s after launching codex (may be blank or partially drawn)")
        p.wait_for(r"Ask Codex|Use existing", 40); time.sleep(3)
        dismiss_nux(p); time.sleep(1); dismiss_nux(p)
        ctx.save(p, "idle-welcome", "IDLE", "welcome banner + empty composer",
                 "codex with a loopback fake Responses provider, trusted repo", expect=r"Ask Codex to do anything")
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, half-typed prompt in composer",
                 "text typed into the composer, no Enter")
        p.keys("C-u"); time.sleep(0.5)
        ctx.set_scen("main", "slow")
        submit(p, "Summarise the repository in detail")
        time.sleep(2.5)
        ctx.save(p, "working-spinner", "WORKING", "working indicator before first token",
                 "fake server streams very slowly (1 word / 1.5s)", expect="esc to interrupt|Working")
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "mid-stream answer; NO working indicator while text streams",
                 "fake server streaming 1 word / 1.5s. AMBIGUOUS: codex hides 'Working (… esc to interrupt)' while "
                 "tokens stream, composer shows the idle placeholder; only the growing partial message and the missing "
                 "'Worked for' line tell it apart from idle", expect="I am looking")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "interrupted", "IDLE", "user interrupted the turn (Esc)",
                 "Esc during the slow stream", expect=r"interrupt|Conversation interrupted")

        ctx.set_scen("main", "bash")
        submit(p, "create notes.txt with a greeting")
        p.wait_for(r"Would you like to run", 30); time.sleep(1)
        ctx.save(p, "permission-exec-command", "WAITING", "approval prompt: run command",
                 "fake server returns exec_command with sandbox_permissions=require_escalated + justification",
                 expect="Would you like to run the following command")
        p.keys("y")
        p.wait_for(r"Done\. The repository", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished ('Worked for ...'), empty composer",
                 "after approving the command the fake server answers with text", expect=r"Done\. The repository")

        ctx.set_scen("main", "ask")
        submit(p, "clean up the config files")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "turn ended with a yes/no question to the user (plain text)",
                 "fake server replies with a question; composer is idle but a human must answer", expect="answer yes or no")

        for scen, slug, reason in [
            ("429", "error-rate-limit", "rate limit (429 Too Many Requests)"),
            ("401", "error-auth-invalid-key", "authentication failed (401 Unauthorized)"),
            ("404", "error-model-not-found", "model not found (404)"),
            ("529", "error-overloaded", "server overloaded (503 Service Unavailable)"),
            ("500", "error-api-500", "API error 500"),
        ]:
            ctx.set_scen("main", scen)
            submit(p, f"try again ({scen})")
            time.sleep(3)
            p.wait_stable(2, 60)
            ctx.save(p, slug, "STUCK", reason,
                     f"fake Responses server answers HTTP {scen if scen != '529' else '503'} with an OpenAI error body (provider retries limited to 1)",
                     expect=r"\(" + scen + r"\)[\s\S]*(■|error|status|Error)")

        ctx.set_scen("main", "hang")
        submit(p, "think hard about this")
        time.sleep(20)
        ctx.save(p, "working-no-output-20s", "WORKING", "working indicator, no output for 20s",
                 "fake server accepts the request and sends nothing", expect="esc to interrupt|Working")
        p.keys("Escape"); time.sleep(2)
        ctx.set_scen("main", "text")
        p.keys("C-c"); time.sleep(1); p.keys("C-c")
        p.wait_for(r"dev@fixture", 20); time.sleep(1)
        ctx.save(p, "exited", "EXITED", "codex exited (Ctrl-C twice), shell prompt visible",
                 "Ctrl-C twice at the idle composer; codex prints token usage + resume hint", expect="dev@fixture")
        p.kill()

    # 5. read-only sandbox: patch approval + retry screen
    if want(ctx, "readonly"):
        repo = ctx.repo()
        ctx.set_scen("ro", "edit")
        home = codex_home(ctx, repo, ctx.url("@ro"))
        p = ctx.pane("ro", "codex --sandbox read-only", repo, home, env)
        p.wait_for(r"Ask Codex|Use existing", 40); time.sleep(3)
        dismiss_nux(p); time.sleep(1); dismiss_nux(p)
        submit(p, "write hello.py")
        p.wait_for(r"Would you like to make|edits|proceed", 30); time.sleep(1.5)
        ctx.save(p, "permission-apply-patch", "WAITING", "approval prompt: apply file edits",
                 "codex --sandbox read-only; fake server returns apply_patch adding hello.py",
                 expect=r"Would you like to make the following edits|Would you like")
        p.keys("Escape"); time.sleep(3)
        ctx.save(p, "permission-denied", "IDLE", "user declined the edit; codex waits for instructions",
                 "Esc on the patch approval prompt", expect=r"Ask Codex to do anything")
        p.kill()

    if want(ctx, "retry"):
        repo = ctx.repo()
        ctx.set_scen("retry", "529r")
        home = codex_home(ctx, repo, ctx.url("@retry"))
        # default retry settings for this one
        cfg = Path(home, ".codex", "config.toml")
        cfg.write_text(cfg.read_text().replace("request_max_retries = 1", "request_max_retries = 4")
                       .replace("stream_max_retries = 1", "stream_max_retries = 5"))
        p = ctx.pane("retry", "codex", repo, home, env)
        p.wait_for(r"Ask Codex|Use existing", 40); time.sleep(3)
        dismiss_nux(p); time.sleep(1); dismiss_nux(p)
        submit(p, "summarise the README")
        if p.wait_for(r"Reconnecting|Retrying|retry", 40):
            time.sleep(1)
            ctx.save(p, "retrying-overloaded", "STUCK", "server overloaded, codex retrying/reconnecting",
                     "fake server answers 503 with retry-after: 20; codex shows its retry status line")
        else:
            time.sleep(5)
            ctx.save(p, "retrying-overloaded", "WORKING", "request in flight while server returns 503 (retries hidden)",
                     "fake server answers 503 with retry-after: 20; codex shows only its working indicator")
        p.kill()
