"""The `/metrics` HTTP endpoint: a small threaded server around prometheus_client's exposition.

What it adds to `prometheus_client.make_wsgi_app`: one path (`/metrics`; anything else 404,
other methods 405), a bearer token compared in constant time (401 with
`WWW-Authenticate` without it or with a wrong one), the address family the host needs (IPv6
too), a socket timeout so a scraper that connects and sends nothing holds a thread for at most
`REQUEST_TIMEOUT` s, and silence: no request log line (a token would never be in one anyway,
since headers are not logged) and no traceback when a scraper disconnects mid-answer or sends
garbage — the supervisor's window shows what the supervisor says, not what scrapers did.

`check_bindable` is what `up` runs before it starts anything: the same bind the server does
(with SO_REUSEADDR, as the server), released at once, so a taken port or an address this
machine does not have is one line before any tmux session exists.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import socket
import threading
from socketserver import TCPServer, ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from mission_control.core.errors import MissionControlError
from mission_control.core.listen_address import ListenAddress

METRICS_ADDRESS_KEY = "metrics_address"
"""Store meta key: the address `up --metrics ADDR` gave this fleet ("" for the config's own), read
by the supervisor when it starts (also when `up` restarts it later)."""
REQUEST_TIMEOUT = 10.0
"""Seconds a connection may take to send its request: then it is closed."""
PATH = "/metrics"

StartResponse = Callable[..., Any]


class MetricsBindError(MissionControlError):
    """The address cannot be served (taken port, not this machine's address, no permission)."""


def _bind_problem(address: ListenAddress, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"metrics address {address}: port {address.port} is taken (another process listens on it): choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"metrics address {address}: this machine has no such address, so it cannot be bound"
    if exc.errno == errno.EACCES:
        return f"metrics address {address}: no permission to bind port {address.port} (ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror):
        return f"metrics address {address}: host {address.host!r} cannot be resolved: {exc.strerror}"
    return f"metrics address {address}: cannot be bound: {exc.strerror or exc}"


def _family(address: ListenAddress) -> socket.AddressFamily:
    if address.ipv6:
        return socket.AF_INET6
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return socket.AF_INET
    return infos[0][0] if infos else socket.AF_INET


def check_bindable(address: ListenAddress) -> None:
    """Bind `address` as the server will, and let go: MetricsBindError (one line) if it cannot be."""
    try:
        family = _family(address)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address.host, address.port))
            sock.listen(1)
    except OSError as exc:
        raise MetricsBindError(_bind_problem(address, exc)) from None


def token_matches(header: str, token: str) -> bool:
    """An `Authorization` header carries `Bearer <token>`: compared in constant time (both sides
    hashed first, so not even the token's length shows in the timing)."""
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.strip().encode("utf-8", "surrogateescape")).digest(), digest(token.encode()).digest())


def guarded_app(registry: Any, token: str | None) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: `/metrics` of `registry`, behind the token when there is one."""
    from prometheus_client import make_wsgi_app

    metrics = make_wsgi_app(registry)

    def plain(start_response: StartResponse, status: str, text: str, extra: tuple[tuple[str, str], ...] = ()) -> list[bytes]:
        body = text.encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra])
        return [body]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return plain(start_response, "404 Not Found", f"not found: metrics are at {PATH}\n")
        if environ.get("REQUEST_METHOD") != "GET":
            return plain(start_response, "405 Method Not Allowed", "only GET\n", (("Allow", "GET"),))
        if token is not None and not token_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            return plain(start_response, "401 Unauthorized", "a bearer token is required\n",
                         (("WWW-Authenticate", 'Bearer realm="mission-control"'),))
        try:
            return metrics(environ, start_response)
        except Exception as exc:  # a bug in a collector: this scrape fails, the supervisor does not
            return plain(start_response, "500 Internal Server Error", f"metrics failed: {type(exc).__name__}\n")

    return app


class _QuietHandler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """No access log: the supervisor's window is for the supervisor."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        """Bind without `socket.getfqdn` (HTTPServer's reverse lookup, which can wait on DNS)."""
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hung up or sent garbage: nothing to say (socketserver would print a traceback)."""


class MetricsServer:
    """`/metrics` served on its own threads until `close()`."""

    def __init__(self, address: ListenAddress, registry: Any, token: str | None) -> None:
        self.address = address
        self._app = guarded_app(registry, token)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; MetricsBindError (one line) when the address cannot be bound."""
        server_class = type("_BoundServer", (_Server,), {"address_family": _family(self.address)})
        try:
            self._server = make_server(self.address.host, self.address.port, self._app,
                                       server_class=server_class, handler_class=_QuietHandler)
        except OSError as exc:
            raise MetricsBindError(_bind_problem(self.address, exc)) from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="metrics-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_address[1] if self._server else self.address.port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
