#!/usr/bin/env python3
"""A loopback-only fake Ollama server that speaks Ollama's real HTTP API, scripted.

Endpoints (the shapes of Ollama's `docs/api.md`, as the `ollama` Python client parses them):

* `POST /api/chat`   — `{"model", "messages", "tools"?, "stream"? (default true), ...}`.
  Streaming: NDJSON (`application/x-ndjson`, chunked), one object per chunk
  `{"model", "created_at", "message": {"role": "assistant", "content": "<piece>"}, "done": false}`;
  tool calls come in a chunk of their own (`message.tool_calls: [{"id", "function": {"index",
  "name", "arguments": {...}}}]`, content ""); the final chunk has `done: true`, `done_reason`,
  `total_duration`, `load_duration`, `prompt_eval_count`, `prompt_eval_duration`, `eval_count`,
  `eval_duration` (nanoseconds). With `"stream": false`, one object with the whole message.
  A model the server does not have: HTTP 404 `{"error":"model \\"x\\" not found, try pulling it first"}`.
* `GET /api/tags`    — `{"models": [{"name", "model", "modified_at", "size", "digest", "details"}]}`.
* `POST /api/show`   — `{"model": "x"}` -> model details and `capabilities`; 404 `{"error":"model 'x' not found"}`.
* `GET /api/version` — `{"version": ...}`; `GET /` — `Ollama is running`.

Each model has a script: a list of `Reply`s (`text(...)`, `tool_call(...)`, `http_error(...)`),
consumed one per chat call, in order. When a script runs out the server answers `fallback`
(a short text). Every request is recorded (`requests`), and so are the token counts the
server actually sent in final chunks (`sent`), so tests compare what a client recorded
with what it was told. Counts are deterministic: a reply's own, else computed from the
request's message count and the reply's size.

Use in tests:

    with FakeOllama({"coder:1b": [tool_call("write_file", path="a", content="x"), text("done")]}) as srv:
        ... srv.url ...
        srv.stop(); srv.start()   # same port: a server that went away and came back

Or by hand: `python tests/tools/fake_ollama_server.py --script script.json` (prints its URL;
script: `{"model": [{"content": "..."} | {"tool_calls": [{"name": ..., "arguments": {...}}]}]}`).
It binds 127.0.0.1 only and, run by hand, exits by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Mapping, Sequence

OLLAMA_VERSION = "0.12.6"


# ---------------------------------------------------------------------------- script


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one chat call."""

    content: str = ""
    tool_calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    done_reason: str = "stop"
    status: int = 200
    """An HTTP error status (with `error` as its body) instead of an answer."""
    error: str | None = None
    """With status 200: an `{"error": ...}` line in the middle of the stream (as Ollama sends
    when a model fails while generating)."""
    chunk_delay: float = 0.0
    """Seconds between streamed chunks (a slow model)."""


def text(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def tool_call(name: str, /, **arguments: Any) -> Reply:
    return Reply(tool_calls=((name, dict(arguments)),))


def tool_calls(*calls: tuple[str, Mapping[str, Any]], content: str = "", **kw: Any) -> Reply:
    return Reply(content=content, tool_calls=tuple((n, dict(a)) for n, a in calls), **kw)


def http_error(status: int, message: str) -> Reply:
    return Reply(status=status, error=message)


FALLBACK = Reply(content="I have nothing more to do.")


@dataclass(frozen=True)
class Sent:
    """The counts one final chunk carried to the client."""

    model: str
    prompt_eval_count: int
    eval_count: int
    stream: bool


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float
    status: int = 0
    completed: bool = False
    """For chats: the final chunk (or the whole answer) was written."""


def default_counts(body: Mapping[str, Any], reply: Reply) -> tuple[int, int]:
    """Deterministic counts: prompt from the number of messages, output from the reply's size."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    prompt = reply.prompt_eval_count if reply.prompt_eval_count is not None else 40 + 23 * len(messages)
    if reply.eval_count is not None:
        out = reply.eval_count
    else:
        out = 3 + len(reply.content.split()) + sum(6 + len(json.dumps(a)) // 8 for _, a in reply.tool_calls)
    return prompt, out


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pieces(content: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", content) if content else []


# ---------------------------------------------------------------------------- server


class FakeOllama:
    """A threaded HTTP server on 127.0.0.1 (port 0 = any free one, kept across `stop`/`start`)."""

    def __init__(
        self,
        scripts: Mapping[str, Sequence[Reply]] | None = None,
        *,
        models: Iterable[str] = (),
        port: int = 0,
        fallback: Reply = FALLBACK,
    ) -> None:
        self._lock = threading.Lock()
        self.scripts: dict[str, list[Reply]] = {m: list(r) for m, r in (scripts or {}).items()}
        self.models: set[str] = set(models) | set(self.scripts)
        self.fallback = fallback
        self.port = port
        self.requests: list[Recorded] = []
        self.sent: list[Sent] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    # -- life

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> FakeOllama:
        if self._httpd is not None:
            return self
        owner = self

        class Handler(_Handler):
            server_owner = owner

        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (a server that went away)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- script

    def script(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self.scripts.setdefault(model, []).extend(replies)
            self.models.add(model)

    def has_model(self, model: str) -> bool:
        return model in self.models or (":" not in model and f"{model}:latest" in self.models)

    def _next_reply(self, model: str) -> Reply:
        with self._lock:
            queue = self.scripts.get(model) or self.scripts.get(f"{model}:latest") or []
            return queue.pop(0) if queue else self.fallback

    def remaining(self, model: str) -> int:
        with self._lock:
            return len(self.scripts.get(model, []))

    # -- records

    def chat_requests(self, model: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests
                if r.path == "/api/chat" and (model is None or (isinstance(r.body, dict) and r.body.get("model") == model))
            ]

    def totals(self, model: str | None = None) -> tuple[int, int]:
        """(prompt_eval_count, eval_count) summed over every final chunk sent."""
        with self._lock:
            sent = [s for s in self.sent if model is None or s.model == model]
        return sum(s.prompt_eval_count for s in sent), sum(s.eval_count for s in sent)

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _record_sent(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: FakeOllama

    def setup(self) -> None:
        super().setup()
        self.server_owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server_owner._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_text(self, status: int, text_: str) -> None:
        data = text_.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _chunk(self, obj: Any) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # -- routes

    def do_HEAD(self) -> None:
        self._send_text(200, "Ollama is running")

    def do_GET(self) -> None:
        owner = self.server_owner
        owner._record(Recorded("GET", self.path, None, time.time(), 200, True))
        if self.path in ("/", ""):
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": OLLAMA_VERSION})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [_model_entry(m) for m in sorted(owner.models)]})
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:
        owner = self.server_owner
        body = self._body()
        rec = Recorded("POST", self.path, body, time.time())
        owner._record(rec)
        if not isinstance(body, dict):
            rec.status = 400
            self._send_json(400, {"error": "invalid JSON in request body"})
            return
        if self.path == "/api/show":
            name = str(body.get("model") or body.get("name") or "")
            if not owner.has_model(name):
                rec.status = 404
                self._send_json(404, {"error": f"model '{name}' not found"})
                return
            rec.status = 200
            self._send_json(200, _show(name))
            return
        if self.path != "/api/chat":
            rec.status = 404
            self._send_text(404, "404 page not found")
            return
        model = str(body.get("model") or "")
        if not model:
            rec.status = 400
            self._send_json(400, {"error": "model is required"})
            return
        if not owner.has_model(model):
            rec.status = 404
            self._send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        reply = owner._next_reply(model)
        if reply.status != 200:
            rec.status = reply.status
            self._send_json(reply.status, {"error": reply.error or "error"})
            return
        rec.status = 200
        stream = body.get("stream", True) is not False
        try:
            self._chat(owner, rec, model, body, reply, stream)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client went away mid-answer

    def _chat(self, owner: FakeOllama, rec: Recorded, model: str, body: dict[str, Any], reply: Reply, stream: bool) -> None:
        prompt, out = default_counts(body, reply)
        calls = [
            {"id": f"call_{hashlib.sha1(f'{len(owner.requests)}-{i}-{n}'.encode()).hexdigest()[:8]}",
             "function": {"index": i, "name": n, "arguments": dict(a)}}
            for i, (n, a) in enumerate(reply.tool_calls)
        ]
        stats = {
            "done_reason": reply.done_reason,
            "total_duration": 1_234_567_890 + 1_000_000 * out,
            "load_duration": 12_345_678,
            "prompt_eval_count": prompt,
            "prompt_eval_duration": 100_000 * prompt,
            "eval_count": out,
            "eval_duration": 20_000_000 * out,
        }
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": reply.content}
            if calls:
                message["tool_calls"] = calls
            self._send_json(200, {"model": model, "created_at": _now_iso(), "message": message, "done": True, **stats})
            rec.completed = True
            owner._record_sent(Sent(model, prompt, out, False))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = _pieces(reply.content)
        for i, piece in enumerate(pieces):
            if reply.chunk_delay and i:
                time.sleep(reply.chunk_delay)
            self._chunk({"model": model, "created_at": _now_iso(), "message": {"role": "assistant", "content": piece}, "done": False})
            if reply.error and i == len(pieces) // 2:
                break
        if reply.error:
            self._chunk({"error": reply.error})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if calls:
            self._chunk({"model": model, "created_at": _now_iso(),
                         "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": False})
        self._chunk({"model": model, "created_at": _now_iso(), "message": {"role": "assistant", "content": ""}, "done": True, **stats})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        rec.completed = True
        owner._record_sent(Sent(model, prompt, out, True))


def _digest(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()


def _details() -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": "qwen2", "families": ["qwen2"],
            "parameter_size": "1.5B", "quantization_level": "Q4_K_M"}


def _model_entry(model: str) -> dict[str, Any]:
    name = model if ":" in model else f"{model}:latest"
    return {"name": name, "model": name, "modified_at": "2025-01-01T00:00:00.000000000Z",
            "size": 986_061_892, "digest": _digest(name), "details": _details()}


def _show(model: str) -> dict[str, Any]:
    return {
        "license": "Apache License 2.0",
        "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {model}\n",
        "parameters": "stop \"<|im_end|>\"",
        "template": "{{ .Prompt }}",
        "details": _details(),
        "model_info": {"general.architecture": "qwen2", "general.parameter_count": 1_543_714_304, "qwen2.context_length": 32768},
        "capabilities": ["completion", "tools"],
        "modified_at": "2025-01-01T00:00:00.000000000Z",
    }


# ---------------------------------------------------------------------------- by hand


def _load_script(path: str) -> dict[str, list[Reply]]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    scripts: dict[str, list[Reply]] = {}
    for model, replies in raw.items():
        out: list[Reply] = []
        for r in replies:
            calls = tuple((c["name"], c.get("arguments", {})) for c in r.get("tool_calls", []))
            out.append(Reply(content=r.get("content", ""), tool_calls=calls,
                             prompt_eval_count=r.get("prompt_eval_count"), eval_count=r.get("eval_count"),
                             chunk_delay=float(r.get("chunk_delay", 0.0))))
        scripts[model] = out
    return scripts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--script", help="JSON file: {model: [replies]}")
    p.add_argument("--model", action="append", default=[], help="a model the server has (repeatable)")
    p.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")
    args = p.parse_args(argv)
    srv = FakeOllama(_load_script(args.script) if args.script else {}, models=args.model, port=args.port).start()
    print(srv.url, flush=True)
    try:
        time.sleep(args.lifetime)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
