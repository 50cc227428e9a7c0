"""Diagnosis: the rules' table, secret masking, parsing a model's answer, and asking a
model for real over HTTP (a loopback fake Ollama) without ever sending a secret."""

from __future__ import annotations

import json

import pytest

from mission_control.fleet.ollama_diagnose import ask_model, build_messages
from mission_control.core.diagnosis import (
    ACTIONS,
    NUDGE_LOOP,
    NUDGE_NO_PROGRESS,
    Diagnosis,
    mask_secrets,
    mask_value,
    parse_model_diagnosis,
    rule_diagnosis,
)
from tools.fake_ollama_server import FakeOllama, http_error, text

# ---------------------------------------------------------------------------- rules

RULE_CASES = [
    # status, reason, evidence, kind -> action, env_var, words in the summary
    ("STUCK", "missing NOTIFICATION_KEY", "", "claude", "inject_env", "NOTIFICATION_KEY", "NOTIFICATION_KEY"),
    ("STUCK", "missing NOTIFICATION_KEY (repeated 3x)", "", "shell", "inject_env", "NOTIFICATION_KEY", "inject"),
    ("STUCK", "reported: Missing env var FOO_BAR", "", "ollama", "inject_env", "FOO_BAR", "FOO_BAR"),
    ("STUCK", "no progress for 90s", "Error: environment variable DATABASE_URL is not set", "shell", "inject_env", "DATABASE_URL", "DATABASE_URL"),
    ("STUCK", "Traceback", "KeyError: 'STRIPE_SECRET'", "aider", "inject_env", "STRIPE_SECRET", "STRIPE_SECRET"),
    ("STUCK", "rate limit or quota", "429 Too Many Requests", "claude", "wait", None, "rate limit"),
    ("STUCK", "rate limit or quota (repeated 4x)", "", "codex", "wait", None, "wait"),
    ("STUCK", "authentication failed", "Invalid API key · Please run /login", "claude", "attach", None, "log in"),
    ("STUCK", "authentication failed", "401 Unauthorized", "claude", "inject_env", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    ("STUCK", "authentication failed", "401 Unauthorized", "codex", "inject_env", "OPENAI_API_KEY", "OPENAI_API_KEY"),
    ("STUCK", "authentication failed", "API key not valid. Please pass a valid API key.", "gemini", "inject_env", "GEMINI_API_KEY", "GEMINI_API_KEY"),
    ("STUCK", "authentication failed", "litellm.AuthenticationError: OpenAIException - Incorrect API key", "aider", "inject_env", "OPENAI_API_KEY", "OPENAI_API_KEY"),
    ("STUCK", "authentication failed", "Error: DEEPSEEK_API_KEY rejected: 401", "aider", "inject_env", "DEEPSEEK_API_KEY", "DEEPSEEK_API_KEY"),
    ("STUCK", "authentication failed", "401", "opencode", "attach", None, "Attach"),
    ("STUCK", "reported: model qwen2.5-coder:7b not found on http://127.0.0.1:11434: run `ollama pull qwen2.5-coder:7b`", "", "ollama",
     "none", None, "ollama pull qwen2.5-coder:7b"),
    ("STUCK", "cannot reach a service", 'Error: model "llama3.1:8b" not found, try pulling it first', "opencode", "none", None, "ollama pull llama3.1:8b"),
    ("STUCK", "reported: cannot reach Ollama at http://127.0.0.1:11434: [Errno 111] Connection refused (start it with `ollama serve` or set OLLAMA_HOST)",
     "", "ollama", "none", None, "http://127.0.0.1:11434"),
    ("WAITING", "yes/no question", "Allow this command? (y/n)", "claude", "attach", None, "answer"),
    ("WAITING", "permission prompt", "Do you want to run `rm -rf build`?", "codex", "attach", None, "Attach"),
    ("STUCK", "no progress for 300s", "", "codex", "send", None, "nudge"),
    ("STUCK", "Traceback (most recent call last) (repeated 3x)", "", "shell", "send", None, "same problem"),
    ("STUCK", "cannot reach a service", "ECONNREFUSED 127.0.0.1:5432", "claude", "attach", None, "cannot reach"),
    ("STUCK", "never got going", "", "gemini", "attach", None, "never got going"),
    ("STUCK", "reported: step limit reached (40 model calls in this turn): type `continue` to let it go on", "", "ollama", "resume", None, "step limit"),
    ("STUCK", "reported: I need the design doc", "", "ollama", "attach", None, "I need the design doc"),
    ("EXITED", "failed: exit 2", "exit status 2", "claude", "restart", None, "status 2"),
    ("EXITED", "exited", "exit status 0", "codex", "none", None, "normally"),
    ("PAUSED", "paused", "process group stopped", "claude", "resume", None, "paused"),
    ("IDLE", "done: added the tests", "", "ollama", "none", None, "finished"),
    ("IDLE", "interrupted: waiting for an instruction", "", "ollama", "resume", None, "interrupted"),
    ("WORKING", "spinner", "", "claude", "none", None, "nothing to fix"),
]


@pytest.mark.parametrize("status,reason,evidence,kind,action,env_var,words", RULE_CASES)
def test_rule_diagnosis(status: str, reason: str, evidence: str, kind: str, action: str, env_var: str | None, words: str) -> None:
    d = rule_diagnosis(status, reason, evidence, kind)
    assert d.suggested_action == action, d
    assert d.env_var == env_var, d
    assert words.lower() in d.summary.lower(), d
    assert d.source == "rules"
    if action == "send":
        assert d.message in (NUDGE_LOOP, NUDGE_NO_PROGRESS)
    else:
        assert d.message is None


def test_rule_diagnosis_commands_and_status_enums() -> None:
    from mission_control.core.model import Status

    d = rule_diagnosis(Status.STUCK, "reported: model nope:1b not found on http://h:1: run `ollama pull nope:1b`", "", "ollama")
    assert d.command == "ollama pull nope:1b" and d.message is None
    assert rule_diagnosis("STUCK", "reported: cannot reach Ollama at http://h:1: refused", "", "ollama").command == "ollama serve"


def test_diagnosis_rejects_unknown_actions() -> None:
    assert set(ACTIONS) == {"inject_env", "wait", "attach", "resume", "send", "restart", "none"}
    with pytest.raises(ValueError):
        Diagnosis("x", "explode")


# ---------------------------------------------------------------------------- masking

MASK_CASES = [
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx", "OPENAI_API_KEY=sk-p…(masked)"),
    ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv used", "key sk-a…(masked) used"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123 here", "token ghp_…(masked) here"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "gith…(masked)"),
    ("aws AKIAABCDEFGHIJKLMNOP done", "aws AKIA…(masked) done"),
    ("export MY_TOKEN=0123456789abcdef0123", "export MY_TOKEN=0123…(masked)"),
    ('{"api_key": "ZmFrZS1rZXktdmFsdWUtMTIz"}', '{"api_key": "ZmFr…(masked)"}'),
    ("DB_PASSWORD=correcthorsebattery", "DB_PASSWORD=corr…(masked)"),
    ("client_secret: 9f86d081884c7d659a2feaa0c55ad015", "client_secret: 9f86…(masked)"),
    ("Authorization: Bearer abcdefghijklmnopqrstu", "Authorization: Bearer abcd…(masked)"),
    ("slack xoxb-1234567890-abcdefghij", "slack xoxb…(masked)"),
    # left alone: no secret there
    ("missing NOTIFICATION_KEY", "missing NOTIFICATION_KEY"),
    ("NOTIFICATION_KEY is not set", "NOTIFICATION_KEY is not set"),
    ("Tokens: 2.5k sent, 1.1k received. Cost: $0.02 message", "Tokens: 2.5k sent, 1.1k received. Cost: $0.02 message"),
    ("API_KEY=short", "API_KEY=short"),
    ("", ""),
]


@pytest.mark.parametrize("given,expected", MASK_CASES)
def test_mask_token_shapes(given: str, expected: str) -> None:
    assert mask_secrets(given, []) == expected


def test_mask_given_values_shows_at_most_four_characters() -> None:
    secret = "my-very-own-secret-value"
    masked = mask_secrets(f"value is {secret}, again: {secret}.", [secret, "hunter22", ""])
    assert secret not in masked
    assert masked == "value is my-v…(masked), again: my-v…(masked)."
    assert mask_secrets("pw hunter22 here", ["hunter22"]) == "pw …(masked) here"  # short: nothing shown
    assert mask_value("abcdefghij") == "abcd…(masked)"
    # a longer secret that contains a shorter one is masked whole
    assert mask_secrets("x abcdefghijklmnop y", ["abcdefgh", "abcdefghijklmnop"]) == "x abcd…(masked) y"
    # masking is stable: masking masked text changes nothing
    once = mask_secrets("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx " + secret, [secret])
    assert mask_secrets(once, [secret]) == once


# ---------------------------------------------------------------------------- parsing a model's answer

PARSE_CASES = [
    ('{"diagnosis": "NOTIFICATION_KEY is missing.", "fix": {"type": "inject_env", "name": "NOTIFICATION_KEY"}}',
     "inject_env", "NOTIFICATION_KEY", None, "NOTIFICATION_KEY is missing."),
    ('Sure! Here is my answer:\n```json\n{"diagnosis": "It is looping on a failing test.",\n "fix": {"type": "send", "message": "Run only the failing test and read its output."}}\n```\nHope that helps.',
     "send", None, "Run only the failing test and read its output.", "It is looping on a failing test."),
    ('The agent is fine. {"diagnosis": "Nothing is wrong.", "fix": {"type": "none"}} trailing',
     "none", None, None, "Nothing is wrong."),
    ('{"diagnosis": "Rate limited.", "fix": {"type": "wait"}}', "wait", None, None, "Rate limited."),
    ('{"diagnosis": "Bad var.", "fix": {"type": "inject_env", "name": "not a name!"}}', "none", None, None, "Bad var."),
    ('{"diagnosis": "Nudge it.", "fix": {"type": "send", "message": "  "}}', "none", None, None, "Nudge it."),
    ('{"diagnosis": "Weird fix.", "fix": {"type": "reboot-the-planet"}}', "none", None, None, "Weird fix."),
    ('{"diagnosis": "String fix.", "fix": "none"}', "none", None, None, "String fix."),
    ('{"other": 1} {"diagnosis": "Second object wins.", "fix": {"type": "send", "message": "go"}}', "send", None, "go", "Second object wins."),
    ("I think the agent is waiting for a password.", "none", None, None, "I think the agent is waiting for a password."),
    ('{"diagnosis": "broken json", "fix": {', "none", None, None, '{"diagnosis": "broken json", "fix": {'),
    ("", "none", None, None, "the model gave no answer"),
]


@pytest.mark.parametrize("answer,action,env_var,message,summary", PARSE_CASES)
def test_parse_model_diagnosis(answer: str, action: str, env_var: str | None, message: str | None, summary: str) -> None:
    d = parse_model_diagnosis(answer)
    assert (d.suggested_action, d.env_var, d.message, d.summary, d.source) == (action, env_var, message, summary, "model")


# ---------------------------------------------------------------------------- asking a model for real

SECRET = "s3cr3t-N0TIFY-value-0987654321"
OTHER = "hunter2hunter2"
MODEL = "diag:1b"


@pytest.fixture
def fake() -> FakeOllama:
    server = FakeOllama().start()
    yield server
    server.stop()


def _rule() -> Diagnosis:
    return rule_diagnosis("STUCK", "missing NOTIFICATION_KEY", "", "claude")


def test_ask_model_masks_secrets_before_sending(fake: FakeOllama) -> None:
    answer = {"diagnosis": "NOTIFICATION_KEY is not set; the notifier cannot start.",
              "fix": {"type": "inject_env", "name": "NOTIFICATION_KEY"}}
    fake.script(MODEL, text("```json\n" + json.dumps(answer) + "\n```"))
    tail = (
        f"$ NOTIFICATION_KEY={SECRET} ./notify\n"
        "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx\n"
        f"password: {OTHER}\n"
        "Error: NOTIFICATION_KEY is not set\n"
    )
    d = ask_model(fake.url, MODEL, f"Wire the notifier (key {SECRET})", tail, _rule(), [SECRET, OTHER], 10.0,
                  kind="claude", status="STUCK", reason="missing NOTIFICATION_KEY")
    assert d == Diagnosis(answer["diagnosis"], "inject_env", env_var="NOTIFICATION_KEY", source="model")

    (request,) = fake.chat_requests(MODEL)
    sent = json.dumps(request.body, ensure_ascii=False)
    for secret in (SECRET, OTHER, "sk-proj-abcdefghijklmnopqrstuvwx"):
        assert secret not in sent
    assert "s3cr…(masked)" in sent and "Error: NOTIFICATION_KEY is not set" in sent
    assert request.body["stream"] is False and request.body["format"] == "json"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    user = request.body["messages"][1]["content"]
    assert "Agent kind: claude" in user and "missing NOTIFICATION_KEY" in user


def test_ask_model_masks_a_secret_the_model_repeats(fake: FakeOllama) -> None:
    fake.script(MODEL, text(json.dumps({"diagnosis": f"Set it to {SECRET}.", "fix": {"type": "send", "message": f"use {SECRET}"}})))
    d = ask_model(fake.url, MODEL, "task", "tail", _rule(), [SECRET], 10.0)
    assert SECRET not in d.summary and SECRET not in (d.message or "")
    assert d.suggested_action == "send" and d.source == "model"


def test_ask_model_prose_answer_is_the_summary(fake: FakeOllama) -> None:
    fake.script(MODEL, text("It seems to wait for you to confirm a deletion."))
    d = ask_model(fake.url, MODEL, None, "Delete 3 files? (y/n)", _rule(), [], 10.0)
    assert d == Diagnosis("It seems to wait for you to confirm a deletion.", "none", source="model")


def test_ask_model_unreachable_is_a_diagnosis_not_an_exception() -> None:
    gone = FakeOllama().start()
    url = gone.url
    gone.stop()
    rule = _rule()
    d = ask_model(url, MODEL, "task", "tail", rule, [SECRET], 5.0)
    assert d.source == "rules" and d.suggested_action == rule.suggested_action and d.env_var == "NOTIFICATION_KEY"
    assert d.error is not None and d.error.startswith(f"cannot reach Ollama at {url}")
    assert rule.summary in d.summary and "cannot reach Ollama" in d.summary


def test_ask_model_missing_model_says_ollama_pull(fake: FakeOllama) -> None:
    d = ask_model(fake.url, "nope:3b", "task", "tail", _rule(), [], 5.0)
    assert d.error == f"model nope:3b not found on {fake.url}: run `ollama pull nope:3b`"
    assert "ollama pull nope:3b" in d.summary and d.source == "rules"


def test_ask_model_server_error(fake: FakeOllama) -> None:
    fake.script(MODEL, http_error(500, "out of memory"))
    d = ask_model(fake.url, MODEL, "task", "tail", _rule(), [], 5.0)
    assert d.error is not None and "HTTP 500" in d.error and "out of memory" in d.error


def test_build_messages_keeps_the_tail_short() -> None:
    tail = "\n".join(f"line {i}" for i in range(1000))
    msgs = build_messages("t", tail, _rule(), [])
    assert "line 999" in msgs[1]["content"] and "line 100\n" not in msgs[1]["content"]


def test_an_unreachable_model_is_said_once_without_repeating_the_rules() -> None:
    from mission_control.fleet.diagnose import describe

    gone = FakeOllama().start()
    url = gone.url
    gone.stop()
    rule = _rule()
    d = ask_model(url, MODEL, "task", "tail", rule, [SECRET], 5.0)
    shown = describe(rule) + "\n" + describe(d)
    assert shown.count(rule.summary) == 1 and shown.count("cannot reach Ollama") == 1


def test_an_empty_value_is_shown_as_empty() -> None:
    from mission_control.core.env_overlay import parse_env_text

    assert parse_env_text("FOO=\n").masked() == "FOO=(empty)"
