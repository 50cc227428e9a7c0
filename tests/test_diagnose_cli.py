"""`mission-control diagnose`: rules first, then the Ollama model — which never sees a secret."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers import ROOT, retry_until, run_cli, up

sys.path.insert(0, str(ROOT / "tests"))
from tools.fake_ollama_server import FakeOllama, text  # noqa: E402

pytestmark = pytest.mark.tmux

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123"




def test_diagnose_rules_then_model_with_secrets_masked(cli, tmp_path: Path) -> None:
    answer = json.dumps({"diagnosis": "The notifier lacks its service key.",
                         "fix": {"type": "inject_env", "name": "NOTIFICATION_KEY"}})
    with FakeOllama({"diag:1b": [text(answer)]}) as server:
        cfg = up(cli, tmp_path,
                 '[[agent]]\nname = "n"\nkind = "shell"\n'
                 f'env = {{ OTHER_TOKEN = "{SECRET}" }}\n'
                 "command = 'echo using $OTHER_TOKEN; echo \"Error: NOTIFICATION_KEY is not set\"; sleep 1000'\n",
                 f'diagnose_model = "diag:1b"\nollama_host = "{server.url}"\n')
        retry_until(lambda: any(r["status"] == "STUCK" for r in cli.status("-c", str(cfg))))
        r = run_cli(cli, cfg, "diagnose", "n")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("[rules]") and "NOTIFICATION_KEY" in lines[0]
        assert "fix: inject NOTIFICATION_KEY" in r.stdout
        assert "[model] The notifier lacks its service key." in r.stdout
        sent = json.dumps([req.body for req in server.requests])
        assert "sk-live-abcd" not in sent and "NOTIFICATION_KEY" in sent  # the tail went, the secret did not

        r = run_cli(cli, cfg, "diagnose", "n", "--rules-only")
        assert "[model]" not in r.stdout
        r = run_cli(cli, cfg, "diagnose", "nobody")
        assert r.returncode == 1 and "no agent named 'nobody'" in r.stderr
