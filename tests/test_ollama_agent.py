"""The built-in `ollama` agent, run for real: a subprocess (and a tmux pane) in a real git
repository, talking to a real loopback HTTP server that speaks Ollama's chat protocol."""

from __future__ import annotations

import codecs
import json
import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import ollama
import psutil
import pytest

from helpers import ROOT, git, make_repo, retry_until
from mission_control.adapters.meters import make_meter
from mission_control.core.model import TokenUsage
from mission_control.programs.ollama_agent import LEDGER_NAME, default_ledger_path, normalize_host
from tools.fake_ollama_server import FakeOllama, text, tool_call

MODEL = "fake-coder:1b"
AGENT = "ada"


# ---------------------------------------------------------------------------- helpers


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "work", {"README.md": "# demo\n"}, "initial")


@pytest.fixture
def fake() -> Any:
    server = FakeOllama().start()
    yield server
    server.stop()


def agent_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OLLAMA_HOST", None)
    env.pop("MISSION_CONTROL_MODEL", None)
    env.pop("MISSION_CONTROL_TASK", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    state = tmp_path / "state"
    env["MISSION_CONTROL_STATE_DIR"] = str(state)
    env["MISSION_CONTROL_AGENT"] = AGENT
    env["MISSION_CONTROL_KIND"] = "ollama"
    env["MISSION_CONTROL_STATUS_FILE"] = str(state / "agents" / AGENT / "status")
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = f"mc-agent-{AGENT}"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = f"{AGENT}@mission-control.local"
    return env


class AgentProcess:
    """`python -m mission_control.programs.ollama_agent` with a pipe for stdin and its output collected."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.env = env
        self.status_path = Path(env["MISSION_CONTROL_STATUS_FILE"])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission_control.programs.ollama_agent", *args],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 4096)
            if not data:
                break
            with self._lock:
                self._chunks.append(decoder.decode(data))

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    def status_lines(self) -> list[str]:
        try:
            return [ln for ln in self.status_path.read_text().splitlines() if ln.strip()]
        except OSError:
            return []

    def last_status(self) -> str:
        lines = self.status_lines()
        return lines[-1] if lines else ""

    def at_prompt(self) -> bool:
        return self.output.endswith("› ")

    def wait_status(self, prefix: str, timeout: float = 30.0) -> str:
        return retry_until(lambda: self.last_status().startswith(prefix) and self.at_prompt() and self.last_status(),
                           timeout=timeout, message=f"status {prefix!r} at the prompt; output:\n{self.output}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def close(self, timeout: float = 20.0) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def spawn(tmp_path: Path) -> Any:
    started: list[AgentProcess] = []

    def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> AgentProcess:
        p = AgentProcess(list(args), cwd, env or agent_env(tmp_path))
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def ledger_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def assert_waiting_quietly(agent: AgentProcess, fake: FakeOllama, window: float = 1.0) -> None:
    """Over `window` seconds: no new status line, no new request, blocked (sleeping), almost no CPU."""
    ps = psutil.Process(agent.proc.pid)
    lines, requests = len(agent.status_lines()), len(fake.requests)
    cpu0 = sum(ps.cpu_times()[:2])
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        assert agent.proc.poll() is None, agent.output
        assert ps.status() in (psutil.STATUS_SLEEPING, psutil.STATUS_IDLE), ps.status()
        assert len(agent.status_lines()) == lines
        assert len(fake.requests) == requests
        time.sleep(0.1)
    assert sum(ps.cpu_times()[:2]) - cpu0 < 0.2


# ---------------------------------------------------------------------------- the fake server itself


def test_fake_server_speaks_what_the_ollama_client_parses(fake: FakeOllama) -> None:
    fake.script(MODEL, tool_call("read_file", path="README.md"), text("Hello there, friend."), text("whole"))
    client = ollama.Client(host=fake.url)
    chunks = list(client.chat(MODEL, [{"role": "user", "content": "hi"}], tools=[], stream=True))
    calls = [tc for c in chunks for tc in (c.message.tool_calls or [])]
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [("read_file", {"path": "README.md"})]
    assert [c.done for c in chunks][-1] is True and not any(c.done for c in chunks[:-1])
    final = chunks[-1]
    assert final.done_reason == "stop" and final.prompt_eval_count and final.eval_count and final.total_duration
    streamed = list(client.chat(MODEL, [{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.message.content or "" for c in streamed) == "Hello there, friend."
    whole = client.chat(MODEL, [{"role": "user", "content": "hi"}])
    assert whole.message.content == "whole" and whole.done
    assert fake.totals() == (
        final.prompt_eval_count + streamed[-1].prompt_eval_count + whole.prompt_eval_count,
        final.eval_count + streamed[-1].eval_count + whole.eval_count,
    )
    assert [m.model for m in client.list().models] == [MODEL]
    assert "tools" in (client.show(MODEL).capabilities or [])
    with pytest.raises(ollama.ResponseError) as missing:
        list(client.chat("nope:7b", [{"role": "user", "content": "hi"}], stream=True))
    assert missing.value.status_code == 404 and "not found" in missing.value.error
    with pytest.raises(ollama.ResponseError):
        client.show("nope:7b")


def test_paths_and_hosts() -> None:
    assert default_ledger_path({"MISSION_CONTROL_STATE_DIR": "/s", "MISSION_CONTROL_AGENT": "a"}) == Path("/s/agents/a") / LEDGER_NAME
    assert default_ledger_path({"MISSION_CONTROL_AGENT": "a"}) is None
    assert normalize_host(None) == "http://127.0.0.1:11434"
    assert normalize_host("10.1.2.3") == "http://10.1.2.3:11434"
    assert normalize_host(":5000") == "http://127.0.0.1:5000"
    assert normalize_host("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"


# ---------------------------------------------------------------------------- a whole task


def test_agent_writes_a_file_commits_and_its_ledger_matches_the_server(repo: Path, fake: FakeOllama, spawn: Any, tmp_path: Path) -> None:
    fake.script(
        MODEL,
        tool_call("write_file", path="hello.txt", content="hello, world\n"),
        tool_call("run_command", command="cat hello.txt"),
        tool_call("git_commit", message="Add hello.txt"),
        text("Added hello.txt with a greeting and committed it."),
        text("You are welcome."),
    )
    started_at = time.time()
    agent = spawn("--model", MODEL, "--host", fake.url, "--task", "Create hello.txt and commit it", cwd=repo)
    last = agent.wait_status("IDLE")
    assert last == "IDLE done: Added hello.txt with a greeting and committed it."

    # the commit is real, with the file, by the agent's identity
    assert git(repo, "log", "-1", "--format=%s|%an").strip() == f"Add hello.txt|mc-agent-{AGENT}"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["hello.txt"]
    assert (repo / "hello.txt").read_text() == "hello, world\n"
    assert git(repo, "status", "--porcelain") == ""

    # what the pane shows
    out = agent.output
    for shown in ("● thinking…", "→ write_file hello.txt", "→ run: cat hello.txt (exit 0)", '→ git_commit "Add hello.txt"',
                  "Added hello.txt with a greeting", "✓ done: Added hello.txt with a greeting and committed it.  (4 model calls, "):
        assert shown in out, out
    assert out.endswith("› ")

    # status lines, one a change, the last one IDLE
    lines = agent.status_lines()
    assert lines[0].startswith("WORKING")
    assert "WORKING write_file hello.txt" in lines and "WORKING run: cat hello.txt" in lines
    assert all(ln.split()[0] in ("WORKING", "IDLE") for ln in lines)

    # the ledger (default path) totals exactly what the server sent, and the meter reads the same
    ledger = default_ledger_path(agent.env)
    assert ledger is not None and ledger == tmp_path / "state" / "agents" / AGENT / LEDGER_NAME
    entries = ledger_entries(ledger)
    assert len(entries) == len(fake.sent) == 4
    assert [(e["prompt_eval_count"], e["eval_count"]) for e in entries] == [(s.prompt_eval_count, s.eval_count) for s in fake.sent]
    prompt, out_tokens = fake.totals()
    assert (sum(e["prompt_eval_count"] for e in entries), sum(e["eval_count"] for e in entries)) == (prompt, out_tokens)
    meter = make_meter("ollama", cwd=repo, env=agent.env, started_at=started_at, ledger_path=ledger)
    reading = meter.poll()
    assert reading.usage == TokenUsage(input=prompt, output=out_tokens)
    assert reading.responses == 4 and reading.models == (MODEL,)

    # a follow-up at the prompt is a new turn with the conversation kept
    agent.send("thanks")
    assert agent.wait_status("IDLE done: You are welcome.")
    last_request = fake.chat_requests(MODEL)[-1].body
    roles = [m["role"] for m in last_request["messages"]]
    assert roles[0] == "system" and roles.count("tool") == 3 and roles[-1] == "user"
    assert last_request["messages"][-1]["content"] == "thanks"
    assert {t["function"]["name"] for t in last_request["tools"]} >= {"read_file", "write_file", "run_command", "git_commit"}
    assert meter.poll().usage == TokenUsage(*fake.totals())

    assert agent.close() == 0


# ---------------------------------------------------------------------------- failures


def test_server_gone_means_stuck_and_waiting_then_continue_retries_the_turn(repo: Path, fake: FakeOllama, spawn: Any) -> None:
    fake.script(MODEL, tool_call("write_file", path="a.txt", content="a\n"), text("Wrote a.txt."))
    agent = spawn("--model", MODEL, "--host", fake.url, "--task", "write a.txt", cwd=repo)
    agent.wait_status("IDLE done: Wrote a.txt.")
    port = fake.port

    fake.stop()
    agent.send("now write b.txt and commit")
    stuck = agent.wait_status("STUCK")
    assert stuck.startswith(f"STUCK cannot reach Ollama at {fake.url}: ")
    assert "ollama serve" in stuck and "OLLAMA_HOST" in stuck
    assert f"STUCK: cannot reach Ollama at {fake.url}" in agent.output
    assert_waiting_quietly(agent, fake)
    lines_before = len(agent.status_lines())

    fake.script(MODEL, tool_call("write_file", path="b.txt", content="b\n"), tool_call("git_commit", message="Add a and b"), text("Wrote b.txt and committed."))
    fake.start()
    assert fake.port == port
    agent.send("continue")
    agent.wait_status("IDLE done: Wrote b.txt and committed.")
    after = agent.status_lines()[lines_before:]
    assert after[0].startswith("WORKING") and after[-1].startswith("IDLE done:")
    assert not any(ln.startswith("STUCK") for ln in after)
    assert set(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == {"a.txt", "b.txt"}

    # the retried turn is the same turn: the instruction once, `continue` not added
    contents = [m.get("content") for m in fake.chat_requests(MODEL)[-1].body["messages"] if m["role"] == "user"]
    assert contents == ["write a.txt", "now write b.txt and commit"]
    ledger = default_ledger_path(agent.env)
    assert ledger is not None
    entries = ledger_entries(ledger)
    assert (sum(e["prompt_eval_count"] for e in entries), sum(e["eval_count"] for e in entries)) == fake.totals()
    assert agent.close() == 0


def test_missing_model_is_stuck_with_ollama_pull_and_never_retried_alone(repo: Path, fake: FakeOllama, spawn: Any) -> None:
    agent = spawn("--model", "nope:1b", "--host", fake.url, "--task", "say hi", cwd=repo)
    stuck = agent.wait_status("STUCK")
    assert stuck == f"STUCK model nope:1b not found on {fake.url}: run `ollama pull nope:1b`"
    assert len(fake.chat_requests("nope:1b")) == 1
    assert_waiting_quietly(agent, fake)
    assert len(fake.chat_requests("nope:1b")) == 1

    fake.script("nope:1b", text("Hi!"))  # the person pulled the model
    agent.send("continue")
    assert agent.wait_status("IDLE") == "IDLE done: Hi!"
    assert len(fake.chat_requests("nope:1b")) == 2
    assert agent.close() == 0


def test_server_error_and_model_stuck_report(repo: Path, fake: FakeOllama, spawn: Any) -> None:
    from tools.fake_ollama_server import Reply, http_error

    fake.script(
        MODEL,
        http_error(500, "llama runner process has terminated: exit status 2"),
        Reply(tool_calls=(("report_status", {"status": "STUCK", "message": "I need DATABASE_URL to run the migrations"}),)),
    )
    agent = spawn("--model", MODEL, "--host", fake.url, "--task", "migrate", cwd=repo)
    stuck = agent.wait_status("STUCK")
    assert "answered with an error (HTTP 500): llama runner process has terminated" in stuck
    agent.send("continue")
    assert agent.wait_status("STUCK I need") == "STUCK I need DATABASE_URL to run the migrations"
    assert agent.close() == 0


def test_step_limit_stops_the_turn(repo: Path, fake: FakeOllama, spawn: Any) -> None:
    fake.script(MODEL, *[tool_call("list_files") for _ in range(3)], text("Listed."))
    agent = spawn("--model", MODEL, "--host", fake.url, "--task", "look around", "--max-steps", "2", cwd=repo)
    assert "step limit" in agent.wait_status("STUCK")
    assert len(fake.chat_requests(MODEL)) == 2
    agent.send("continue")
    assert agent.wait_status("IDLE") == "IDLE done: Listed."
    assert agent.close() == 0


def test_run_command_times_out_and_output_is_cut(repo: Path, fake: FakeOllama, spawn: Any) -> None:
    fake.script(
        MODEL,
        tool_call("run_command", command="sleep 30"),
        tool_call("run_command", command="head -c 50000 /dev/zero | tr '\\0' x"),
        text("Ran both."),
    )
    t0 = time.monotonic()
    agent = spawn("--model", MODEL, "--host", fake.url, "--task", "run things", "--command-timeout", "1", cwd=repo)
    agent.wait_status("IDLE done: Ran both.")
    assert time.monotonic() - t0 < 20
    assert "→ run: sleep 30 (timed out after 1s)" in agent.output
    tool_msgs = [m["content"] for m in fake.chat_requests(MODEL)[-1].body["messages"] if m["role"] == "tool"]
    assert "did not finish within 1s" in tool_msgs[0]
    assert "characters left out" in tool_msgs[1] and len(tool_msgs[1]) < 10_000
    assert agent.close() == 0


def test_no_model_is_an_error_and_a_stuck_line(repo: Path, tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    r = subprocess.run([sys.executable, "-m", "mission_control.programs.ollama_agent", "--task", "x"], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "no model given" in r.stderr
    assert Path(env["MISSION_CONTROL_STATUS_FILE"]).read_text().startswith("STUCK no model given")


def test_model_and_task_from_the_environment_and_eof_exits(repo: Path, fake: FakeOllama, spawn: Any, tmp_path: Path) -> None:
    fake.script(MODEL, text("Done from env."))
    env = agent_env(tmp_path)
    env["MISSION_CONTROL_MODEL"] = MODEL
    env["MISSION_CONTROL_TASK"] = "from the environment"
    env["OLLAMA_HOST"] = fake.url.removeprefix("http://")
    ledger = tmp_path / "elsewhere" / "ledger.jsonl"
    agent = spawn("--ledger", str(ledger), cwd=repo, env=env)
    agent.wait_status("IDLE done: Done from env.")
    assert fake.chat_requests(MODEL)[0].body["messages"][-1]["content"] == "from the environment"
    assert len(ledger_entries(ledger)) == 1
    assert agent.close() == 0
    assert agent.output.rstrip().endswith("bye")


# ---------------------------------------------------------------------------- in a real tmux pane


@pytest.mark.tmux
def test_in_a_tmux_pane_prompt_resume_and_ctrl_c(repo: Path, fake: FakeOllama, tmp_path: Path) -> None:
    slow = " ".join(f"word{i}" for i in range(200))
    fake.script(MODEL, tool_call("write_file", path="t.txt", content="t\n"), text("Wrote t.txt."), text(slow, chunk_delay=0.05))
    sock = f"mc-test-{uuid.uuid4().hex[:10]}"
    env = agent_env(tmp_path)
    env.pop("TMUX", None)
    command = shlex.join([sys.executable, "-m", "mission_control.programs.ollama_agent", "--model", MODEL, "--host", fake.url, "--task", "write t.txt"])

    def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, env=env, check=check)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "t").stdout

    def last_line() -> str:
        lines = [ln for ln in screen().splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    status = Path(env["MISSION_CONTROL_STATUS_FILE"])

    def last_status() -> str:
        try:
            return status.read_text().splitlines()[-1]
        except (OSError, IndexError):
            return ""

    try:
        tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "-c", str(repo), command)
        retry_until(lambda: "✓ done: Wrote t.txt." in screen() and last_line().strip() == "›", timeout=45, message="first turn done")
        assert "→ write_file t.txt" in screen()
        assert last_status() == "IDLE done: Wrote t.txt."

        # a long answer, interrupted with Ctrl-C: back at the prompt, conversation kept
        tmux("send-keys", "-t", "t", "-l", "tell me a long story")
        tmux("send-keys", "-t", "t", "Enter")
        retry_until(lambda: "word5 " in screen(), timeout=45, message="streaming")
        tmux("send-keys", "-t", "t", "C-c")
        retry_until(lambda: "⏹ interrupted" in screen() and last_line().strip() == "›", timeout=45, message="interrupted")
        assert last_status().startswith("IDLE interrupted")
        assert "word199" not in screen()

        # Ctrl-C at the prompt only explains; Ctrl-D quits
        tmux("send-keys", "-t", "t", "C-c")
        retry_until(lambda: "Ctrl-D to quit" in screen(), timeout=45, message="hint")
        tmux("send-keys", "-t", "t", "C-d")
        retry_until(lambda: tmux("has-session", "-t", "t", check=False).returncode != 0, timeout=45, message="pane exits")
    finally:
        tmux("kill-server", check=False)


# ---------------------------------------------------------------------------- the tools, in process


def test_tools_refuse_and_explain_instead_of_raising(repo: Path) -> None:
    from mission_control.programs.ollama_agent.tools import Toolbox

    box = Toolbox(repo, command_timeout=5)
    assert box.call("write_file", {"path": "../escape.txt", "content": "x"}).content.startswith("error: ../escape.txt is outside")
    assert not (repo.parent / "escape.txt").exists()
    assert box.call("write_file", {"path": ".git/config", "content": "x"}).ok is False
    assert "cannot read" in box.call("read_file", {"path": "nope.txt"}).content
    assert "missing argument 'path'" in box.call("read_file", {}).content
    assert "no tool 'fly'" in box.call("fly", {}).content
    assert box.call("read_file", "README.md").ok is False
    made = box.call("write_file", {"path": "src/deep/x.py", "content": "print(1)\n"})
    assert made.ok and (repo / "src/deep/x.py").read_text() == "print(1)\n"
    assert box.call("read_file", {"path": "src/deep/x.py"}).content == "print(1)\n"
    assert box.call("list_files", {}).content.split() == ["README.md", "src/deep/x.py"]
    failed = box.call("run_command", {"command": "echo oops >&2; exit 3"})
    assert not failed.ok and failed.content.startswith("exit status 3") and "oops" in failed.content
    assert "→ run: echo oops >&2; exit 3 (exit 3)" == failed.display
    assert box.call("run_command", {"command": "cat"}).content.startswith("exit status 0")  # stdin is empty, never ours
    committed = box.call("git_commit", {"message": "Add x.py"})
    assert committed.ok and git(repo, "log", "-1", "--format=%s").strip() == "Add x.py"
    assert "nothing to commit" in box.call("git_commit", {"message": "again"}).content
    done = box.call("report_status", {"status": "done", "message": "all good"})
    assert (done.end_turn, done.end_message) == ("DONE", "all good")
    assert box.call("report_status", {"status": "maybe"}).ok is False
