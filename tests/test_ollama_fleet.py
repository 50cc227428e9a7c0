"""An `ollama` agent in a real fleet against a loopback server speaking Ollama's API:
its commit, exact spend on the dashboard, STUCK when the server goes, WORKING again on resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers import ROOT, git, make_repo, retry_until, run_cli, status_of, up

sys.path.insert(0, str(ROOT / "tests"))
from tools.fake_ollama_server import FakeOllama, text, tool_call  # noqa: E402

pytestmark = pytest.mark.tmux
MODEL = "coder:1b"


def test_ollama_agent_in_the_fleet(cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    script = [
        tool_call("write_file", path="hello.py", content="print('hello')\n"),
        tool_call("git_commit", message="Add hello.py"),
        text("Added hello.py and committed it."),
    ]
    with FakeOllama({MODEL: script}) as server:
        cfg = up(cli, tmp_path,
                 f'[[agent]]\nname = "local"\nkind = "ollama"\nmodel = "{MODEL}"\nollama_host = "{server.url}"\n'
                 'worktree = true\ntask = "Write hello.py and commit it"\n', f'repo = "{repo}"\n')

        def row() -> dict:
            return status_of(cli, cfg, "local")

        done = retry_until(lambda: (x := row()).get("commits") == 1 and x.get("status") == "IDLE" and x, timeout=45,
                           message="the agent committed and waits at its prompt")
        assert "hello.py" in git(repo, "show", "--stat", "agent/local")
        prompt_in, out = server.totals(MODEL)
        spent = retry_until(lambda: (x := row()).get("tokens_in") == prompt_in and x, message="exact tokens on the dashboard")
        assert spent["tokens_out"] == out and spent["cost_usd"] == 0.0  # a local model is free unless priced
        assert done["last_commit"]["subject"] == "Add hello.py"

        # the server goes away: the next instruction ends STUCK with the host in the reason
        server.stop()
        assert run_cli(cli, cfg, "send", "local", "now add a test").returncode == 0
        stuck = retry_until(lambda: (x := row()).get("status") == "STUCK" and x, timeout=45)
        assert "cannot reach Ollama" in stuck["reason"] and str(server.port) in stuck["reason"]

        # it comes back; resume retries the turn
        server.script(MODEL, text("Added the test."))
        server.start()
        r = run_cli(cli, cfg, "resume", "local")
        assert r.returncode == 0, r.stderr
        retry_until(lambda: row().get("status") in ("WORKING", "IDLE") and "continue" in
                    run_cli(cli, cfg, "log").stdout, timeout=30)
        retry_until(lambda: (x := row()).get("status") == "IDLE" and x.get("tokens_in") == server.totals(MODEL)[0], timeout=45)
