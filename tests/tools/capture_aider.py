"""Aider screens (registered into capture_screens.KINDS)."""
from __future__ import annotations

import time

from capture_screens import Ctx, cli_version, kind

COMMON = "--no-check-update --no-show-release-notes --analytics-disable --no-auto-lint --no-auto-test"


def want(ctx, name):
    return not ctx.args.only or name in ctx.args.only.split(",")


@kind("aider")
def capture_aider(ctx: Ctx) -> None:
    aider = ctx.args.aider
    ctx.version = cli_version(ctx, [aider, "--version"])
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}

    def cmd(scen_url, extra=""):
        return (f"{aider} {COMMON} --openai-api-base {scen_url}/v1 --openai-api-key sk-fake-aider "
                f"--model openai/gpt-4o-mini {extra}").strip()

    # 1. no API key
    if want(ctx, "nokey"):
        repo = ctx.repo()
        p = ctx.pane("nokey", f"{aider} {COMMON} --no-gitignore --model gpt-4o-mini", repo, ctx.home(), env)
        p.wait_for(r"OPENAI_API_KEY|\? \(Y\)es|^>", 60); time.sleep(3)
        ctx.save(p, "startup-missing-api-key", "STUCK", "missing OPENAI_API_KEY (aider warns, asks to open docs)",
                 "aider --model gpt-4o-mini without OPENAI_API_KEY", expect="OPENAI_API_KEY")
        p.kill()

    # 2. first start in a fresh repo: gitignore question, then idle
    if want(ctx, "first"):
        repo = ctx.repo()
        ctx.set_scen("first", "text")
        p = ctx.pane("first", cmd(ctx.url("@first")), repo, ctx.home(), env)
        time.sleep(1.5)
        if "(Y)es/(N)o" in p.capture():
            ctx.save(p, "startup-early", "WAITING", "1.5s after launch the gitignore yes/no question is already up",
                     "captured 1.5s after launch; aider asks before printing its banner")
        else:
            ctx.save(p, "startup-early", "STARTING", "aider launched 1.5s ago, banner not printed yet",
                     "captured 1.5s after launch (python imports still loading)")
        p.wait_for(r"\(Y\)es/\(N\)o", 60); time.sleep(1)
        ctx.save(p, "question-add-gitignore", "WAITING", "yes/no question: add .aider* to .gitignore",
                 "first aider start in a repo without .aider* in .gitignore", expect=r"\.gitignore.*\(Y\)es/\(N\)o")
        p.keys("y", "Enter")
        p.wait_for(r"^> ?$", 60); time.sleep(2)
        ctx.save(p, "idle-startup", "IDLE", "startup banner done, empty '>' prompt",
                 "after answering the gitignore question (offline model-price fetch warning may be visible)",
                 expect=r"^> ?$")
        p.type("/exit"); p.keys("Enter")
        p.wait_for(r"dev@fixture", 20); time.sleep(1)
        ctx.save(p, "exited", "EXITED", "aider exited (/exit), shell prompt visible", "/exit at the prompt",
                 expect="dev@fixture")
        p.kill()

    # 3. main session (diff edit format so that shell suggestions are offered)
    if want(ctx, "main"):
        repo = ctx.repo()
        ctx.set_scen("main", "text")
        p = ctx.pane("main", cmd(ctx.url("@main"), "--no-gitignore --edit-format diff"), repo, ctx.home(), env)
        p.wait_for(r"^diff> ?$", 60); time.sleep(2)
        p.keys("C-l"); time.sleep(1)
        ctx.save(p, "idle-prompt-cleared", "IDLE", "empty 'diff>' prompt after Ctrl-L",
                 "aider --edit-format diff (prompt shows the edit format), screen cleared with Ctrl-L", expect=r"^diff> ?$")
        p.type("Please summarise the README and list the fi"); time.sleep(1.5)
        ctx.save(p, "idle-half-typed", "IDLE", "idle, half-typed prompt", "text typed at the prompt, no Enter")
        p.keys("C-u"); time.sleep(0.5)

        ctx.set_scen("main", "slow")
        p.type("Summarise the repository in detail"); p.keys("Enter")
        time.sleep(2.5)
        ctx.save(p, "working-waiting-for-model", "WORKING", "'Waiting for openai/gpt-4o-mini' spinner",
                 "fake server delays the first token", expect="Waiting for")
        time.sleep(9)
        ctx.save(p, "working-streaming", "WORKING", "answer streaming in (no prompt yet)",
                 "fake server streaming 1 word / 1.5s")
        p.keys("C-c"); time.sleep(2)
        ctx.save(p, "interrupted", "IDLE", "Ctrl-C during streaming: back at prompt",
                 "Ctrl-C while the answer streams; aider prints ^C KeyboardInterrupt and returns to the prompt")

        ctx.set_scen("main", "edit")
        p.type("create hello.py with a hello function"); p.keys("Enter")
        p.wait_for(r"Create new file\?", 30); time.sleep(1)
        ctx.save(p, "question-create-file", "WAITING", "yes/no: 'Create new file?'",
                 "fake server answers with a SEARCH/REPLACE block for a new hello.py + a bash block",
                 expect=r"Create new file\?")
        p.keys("y", "Enter")
        p.wait_for(r"Run shell command\?", 30); time.sleep(1)
        ctx.save(p, "question-run-shell-command", "WAITING", "yes/no: 'Run shell command?'",
                 "after the edit is applied aider offers to run the suggested shell command", expect=r"Run shell command\?")
        p.keys("y", "Enter")
        if p.wait_for(r"Add command output to the chat\?", 30):
            time.sleep(1)
            ctx.save(p, "question-add-command-output", "WAITING", "yes/no: 'Add command output to the chat?'",
                     "after running the suggested command")
            p.keys("n", "Enter")
        p.wait_for(r"^diff> ?$", 30); time.sleep(2)
        ctx.save(p, "idle-after-turn", "IDLE", "turn finished (edit applied + committed), empty prompt",
                 "after the edit turn; aider shows the /undo hint and the file in chat", expect=r"^diff> ?$")

        ctx.set_scen("main", "ask")
        p.type("clean up the config files"); p.keys("Enter")
        p.wait_for(r"answer yes or no", 30); time.sleep(2)
        ctx.save(p, "idle-question", "WAITING", "model asked a yes/no question in plain text; prompt idle",
                 "fake server replies with a question (not an aider Y/N prompt)", expect="answer yes or no")

        ctx.set_scen("main", "401")
        p.type("try again (401)"); p.keys("Enter")
        p.wait_for(r"authenticate|AuthenticationError", 30); time.sleep(2)
        ctx.save(p, "error-auth-invalid-key", "STUCK", "authentication failed (401, 'not able to authenticate you')",
                 "fake server answers 401 with an OpenAI error body; aider then asks 'Open URL for more info?'",
                 expect="AuthenticationError")
        p.keys("n", "Enter"); time.sleep(2)

        ctx.set_scen("main", "404")
        p.type("try again (404)"); p.keys("Enter")
        time.sleep(6); p.wait_stable(2, 30)
        ctx.save(p, "error-model-not-found", "STUCK", "model not found (404 NotFoundError)",
                 "fake server answers 404 model_not_found", expect=r"NotFound|not found|does not exist")
        lines = [ln for ln in p.capture().splitlines() if ln.strip()]
        if lines and "(Y)es" in lines[-1]:
            p.keys("n", "Enter"); time.sleep(2)

        ctx.set_scen("main", "429")
        p.type("try again (429)"); p.keys("Enter")
        p.wait_for(r"Retrying in", 30); time.sleep(4)
        ctx.save(p, "error-rate-limit-retrying", "STUCK", "rate limit (429), aider retrying with backoff",
                 "fake server answers 429; litellm RateLimitError, aider 'Retrying in N seconds...'", expect="RateLimitError")
        p.keys("C-c"); time.sleep(3)
        ctx.set_scen("main", "529")
        p.keys("C-u")
        p.type("try again (503)"); p.keys("Enter")
        p.wait_for(r"Retrying in", 30); time.sleep(4)
        ctx.save(p, "error-overloaded-retrying", "STUCK", "server overloaded (503), aider retrying",
                 "fake server answers 503 'The server is overloaded'", expect=r"Retrying in")
        p.keys("C-c"); time.sleep(3)

        ctx.set_scen("main", "hang")
        p.keys("C-u")
        p.type("think hard about this"); p.keys("Enter")
        time.sleep(20)
        ctx.save(p, "working-no-output-20s", "WORKING", "'Waiting for ...' spinner for 20s, no output",
                 "fake server accepts the request and sends nothing", expect="Waiting for")
        p.keys("C-c"); time.sleep(2)
        p.keys("C-c"); time.sleep(0.5); p.keys("C-c")
        p.wait_for(r"dev@fixture", 20); time.sleep(1)
        ctx.save(p, "exited-ctrl-c", "EXITED", "aider exited after Ctrl-C twice, shell prompt visible",
                 "Ctrl-C at the idle prompt twice", expect="dev@fixture")
        p.kill()
