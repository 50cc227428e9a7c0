"""Told, wherever the person is (issue 21 point 4): the webhook against a real loopback HTTP
server (retries on 500, a timeout on a hang, the payload), the per-agent rate limit, the scrub,
OSC notifications written to a real terminal (a pty), `notify-send`, and a real fleet whose
agent gets STUCK and is reported to the webhook — with its secret masked."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpers import retry_until, shell_agent, up
from mission_control.adapters.notify import Delivery, Notifier, client_ttys, post_json
from mission_control.core.notify import Notice, RateLimit, for_client, osc_notifications, payload, scrub, tmux_passthrough


class Receiver:
    """A webhook receiver on 127.0.0.1: answers each request with the next of `answers`
    (an HTTP status, or "hang" to say nothing for `hang` seconds), then 200."""

    def __init__(self, answers: list[Any] | None = None, hang: float = 5.0) -> None:
        self.answers = list(answers or [])
        self.hang = hang
        self.bodies: list[dict[str, Any]] = []
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits += 1
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "hang":
                    time.sleep(receiver.hang)
                    return
                receiver.bodies.append(json.loads(data))
                self.send_response(answer)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(*args: Any, **kw: Any) -> Receiver:
        made.append(Receiver(*args, **kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


NOTICE = Notice("coder", "STUCK", "rate limit or quota · resets 04:50 Europe/Rome", 1_764_000_000.0, "T-7")


def test_the_webhook_is_retried_on_500_and_carries_every_field(receiver) -> None:
    r = receiver([500, 503])
    body = payload(NOTICE, "fleet-a", "mission-control dashboard -c /x/agents.toml")
    result = post_json(r.url, body, timeout=5, retries=3, retry_base=0.05)
    assert (result.ok, result.tries) == (True, 3) and r.hits == 3
    got = r.bodies[-1]
    assert {k: got[k] for k in ("agent", "status", "reason", "task", "event", "fleet", "dashboard")} == {
        "agent": "coder", "status": "STUCK", "reason": "rate limit or quota · resets 04:50 Europe/Rome", "task": "T-7",
        "event": "needs-you", "fleet": "fleet-a", "dashboard": "mission-control dashboard -c /x/agents.toml"}
    assert got["since"] == "2025-11-24T16:00:00+00:00" and "coder" in got["text"] and "STUCK" in got["title"]


def test_a_4xx_is_not_retried_and_a_dead_port_gives_up(receiver) -> None:
    r = receiver([404])
    result = post_json(r.url, {"a": 1}, timeout=5, retries=3, retry_base=0.05)
    assert (result.ok, result.tries, result.detail) == (False, 1, "HTTP 404")
    port = r.server.server_address[1]
    r.close()
    result = post_json(f"http://127.0.0.1:{port}/", {"a": 1}, timeout=2, retries=2, retry_base=0.01)
    assert not result.ok and result.tries == 3 and result.detail.startswith("no answer")


def test_a_hanging_webhook_times_out_and_never_holds_the_caller(receiver) -> None:
    r = receiver(["hang", "hang"], hang=3.0)
    notifier = Notifier(session="f", dashboard_hint="", url=r.url, timeout=0.5, retries=1, desktop=False, retry_base=0.01,
                        say=lambda line: None)
    began = time.monotonic()
    for _ in range(50):  # the tick's side: queued, never waited on
        notifier.send(Delivery(NOTICE))
    assert time.monotonic() - began < 0.5
    retry_until(lambda: notifier.results, timeout=20)
    first = notifier.results[0]
    assert (first.ok, first.tries) == (False, 2) and "timed out" in first.detail
    retry_until(lambda: len(r.bodies) >= 1, timeout=20)  # the next ones get through once it answers again
    notifier.close(wait=5)


def test_the_rate_limit_is_per_agent_and_counts_what_it_held_back() -> None:
    rate = RateLimit(60)
    ok, held, rate = rate.allow("a", 0)
    assert (ok, held) == (True, 0)
    ok, held, rate = rate.allow("a", 10)
    assert not ok
    ok, held, rate = rate.allow("b", 10)  # another agent is not held back by a's
    assert ok
    ok, held, rate = rate.allow("a", 30)
    assert not ok
    ok, held, rate = rate.allow("a", 61)
    assert (ok, held) == (True, 2)
    ok, held, rate = rate.allow("a", 200)
    assert (ok, held) == (True, 0)


def test_secrets_never_reach_a_notification() -> None:
    secret = "hunter2-" + os.urandom(6).hex()
    notice = Notice("coder", "STUCK", f"reported: cannot log in with {secret}\x1b]0;evil\x07\nsk-ant-api03-{'x' * 30}",
                    1.0, f"use {secret}")
    clean = scrub(notice, [secret, "ab"])
    text = json.dumps(payload(clean, "f", "")) + clean.title + clean.body
    assert secret not in text and "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" not in text
    assert "\x1b" not in text and "\n" not in clean.reason and "(masked)" in clean.reason
    assert clean.reason.startswith("reported: cannot log in with hunt")


def test_osc_sequences_and_the_tmux_passthrough() -> None:
    data = osc_notifications("mission-control: a;b is STUCK", "a: no\x07 bell\x1b here")
    assert data == b"\x1b]777;notify;mission-control: a,b is STUCK;a: no bell here\x07\x1b]9;mission-control: a,b is STUCK: a: no bell here\x07"
    wrapped = tmux_passthrough(data)
    assert wrapped.startswith(b"\x1bPtmux;\x1b\x1b]777;") and wrapped.endswith(b"\x07\x1b\\")
    assert for_client(data, "xterm-256color") == data and for_client(data, "tmux-256color") == wrapped
    assert for_client(data, "screen.xterm") == wrapped
    assert client_ttys(["/dev/pts/3\txterm-256color\t0", "/dev/pts/4\ttmux-256color\t0", "\t\t1", "/dev/pts/9\tx\t1"]) == (
        ("/dev/pts/3", "xterm-256color"), ("/dev/pts/4", "tmux-256color"))


def test_desktop_notifications_reach_a_terminal_and_notify_send(tmp_path: Path) -> None:
    master, slave = os.openpty()
    tty = os.ttyname(slave)
    got = tmp_path / "notify-send.args"
    fake = tmp_path / "notify-send"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {got}\n')
    fake.chmod(0o755)
    notifier = Notifier(session="f", dashboard_hint="", desktop=True, notify_send=str(fake), say=lambda line: None)
    try:
        notifier.send(Delivery(NOTICE, ((tty, "xterm-256color"),), held=2))
        retry_until(lambda: got.exists() and got.read_text().count("\n") >= 4)
        os.set_blocking(master, False)
        seen = retry_until(lambda: _read(master))
        assert seen.startswith(b"\x1b]777;notify;mission-control: coder is STUCK;coder: rate limit or quota")
        assert b"(+2 more)" in seen and b"\x1b]9;" in seen
        assert got.read_text().splitlines()[-2:] == ["mission-control: coder is STUCK",
                                                     "coder: rate limit or quota · resets 04:50 Europe/Rome (+2 more)"]
    finally:
        notifier.close(wait=5)
        os.close(master)
        os.close(slave)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def test_a_stuck_agent_is_told_to_the_webhook_with_its_secret_masked(cli, tmp_path: Path, receiver) -> None:
    r = receiver()
    secret = "s3cret-" + os.urandom(6).hex()
    agent = shell_agent("coder", 'echo "STUCK: the API refused key $API_TOKEN"; sleep 1000', f'env = {{ API_TOKEN = "{secret}" }}\n')
    other = shell_agent("quiet", "echo working; sleep 1000")
    up(cli, tmp_path, agent + other, f'[notify]\nurl = "{r.url}"\ndesktop = false\n')
    body = retry_until(lambda: next((b for b in r.bodies if b["agent"] == "coder"), None), timeout=60)
    assert body["status"] == "STUCK" and body["event"] == "needs-you"
    assert body["reason"].startswith("reported: the API refused key s3cr") and "(masked)" in body["reason"]
    assert secret not in json.dumps(r.bodies)
    assert body["since"] and body["dashboard"].startswith("mission-control dashboard -c ")
    assert all(b["agent"] != "quiet" for b in r.bodies)


def test_a_finished_task_is_told_to_the_webhook(cli, tmp_path: Path, receiver) -> None:
    r = receiver()
    cfg = up(cli, tmp_path, shell_agent("coder", "sleep 1000"), f'[notify]\nurl = "{r.url}"\ndesktop = false\n')
    for args in (("task", "add", "say hi", "--id", "t1"), ("task", "assign", "t1", "coder"), ("task", "done", "t1")):
        done = cli(*args, "-c", str(cfg))
        assert done.returncode == 0, done.stderr
    body = retry_until(lambda: next((b for b in r.bodies if b["event"] == "task-done"), None), timeout=60)
    assert (body["agent"], body["task"], body["status"]) == ("coder", "t1", "DONE")
    assert body["title"] == "mission-control: task t1 done" and body["text"].startswith("coder: task t1 done")


def test_an_attached_terminal_gets_the_desktop_notification(cli, tmp_path: Path) -> None:
    """A person attached to the fleet (a real tmux client on a pty) is told by OSC 777 and OSC 9
    written to their terminal, naming the agent and why."""
    import pty

    agent = shell_agent("coder", 'sleep 4; echo "STUCK: needs the staging password"; sleep 1000')
    up(cli, tmp_path, agent, '[notify]\nmin_interval = 0\n')
    pid, fd = pty.fork()
    if pid == 0:  # the person's terminal
        os.execvpe("tmux", ["tmux", "-L", cli.socket, "attach", "-t", "t"], {**cli.env(), "TERM": "xterm-256color"})
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    threading.Thread(target=read, daemon=True).start()
    try:
        retry_until(lambda: b"\x1b]777;notify;mission-control: coder is STUCK;coder: reported: needs the staging password\x07" in seen,
                    timeout=60, message="OSC 777 on the attached terminal")
        assert b"\x1b]9;mission-control: coder is STUCK: coder: reported: needs the staging password\x07" in seen
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


BUDGET_AGENT = r"""
[[agent]]
name = "spender"
kind = "shell"
budget_usd = 0.5
tokens = { cost = 'Cost: \$([0-9.]+) message' }
command = '''sleep 2; while true; do echo 'Cost: $0.30 message'; sleep 0.4; done'''
"""


def test_a_budget_reached_is_told_to_the_webhook(cli, tmp_path: Path, receiver) -> None:
    r = receiver()
    up(cli, tmp_path, BUDGET_AGENT, f'[notify]\nurl = "{r.url}"\ndesktop = false\n')
    body = retry_until(lambda: next((b for b in r.bodies if b["status"] == "PAUSED"), None), timeout=60)
    assert body["agent"] == "spender" and body["reason"].startswith("budget reached: $") and body["event"] == "needs-you"


def test_an_injected_value_printed_in_a_stuck_line_stays_out_of_the_store_and_the_webhook(cli, tmp_path: Path, receiver) -> None:
    """On main the reason of a printed `STUCK: ...` line went into the store (snapshot, status
    history) as printed, an injected secret in it included."""
    from helpers import run_cli

    r = receiver()
    secret = "inj3cted-" + os.urandom(8).hex()
    go = tmp_path / "go"
    cmd = f'while [ ! -e {go} ]; do sleep 0.2; done; echo "STUCK: the server refused $SECRET"; sleep 1000'
    cfg = up(cli, tmp_path, shell_agent("a1", cmd), f'[notify]\nurl = "{r.url}"\ndesktop = false\n')
    assert run_cli(cli, cfg, "inject", "a1", stdin=f"SECRET={secret}\n").returncode == 0
    go.write_text("")
    body = retry_until(lambda: next((b for b in r.bodies if b["status"] == "STUCK"), None), timeout=60)
    assert body["reason"].startswith("reported: the server refused inj3") and secret not in json.dumps(r.bodies)
    state = tmp_path / ".mission-control"
    assert secret.encode() not in b"".join(p.read_bytes() for p in sorted(state.glob("state.db*")))
