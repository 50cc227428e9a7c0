"""`mission-control web`: the dashboard in a browser, behind a token.

textual-serve (an aiohttp server) starts one process per browser tab from a shell command; here
that command is `mission-control dashboard -c CONFIG` on the fleet's socket, the same store-reading
viewer a terminal runs, with the same keys: N tabs are N store readers and no extra polling of
tmux. textual-serve has no authentication of its own, so every request (the page, its static
files, the websocket that drives a tab's dashboard, downloads) passes `TokenGate` first:

- the URL `web` prints carries a random token (`secrets.token_urlsafe`) as `?token=`; a right one
  is swapped for an HttpOnly, SameSite=Strict cookie (named after the port: browsers share
  cookies across the ports of one host) and the browser is sent on to the same path without it;
- no token: 401; a wrong one: 403; compared in constant time (`hmac.compare_digest`);
- a websocket from another origin (a page elsewhere that the browser would hand the cookie): 403.

The page is ours (`PAGE_TEMPLATES`): textual-serve's own loads a font from Google, and a
dashboard of private code must ask nothing of a third party; ours loads everything from this server.

The token is on no command line (a tab's argv, visible in `ps`, holds only the config path and
the socket name) and in no log (the access log is off). Binding beyond loopback needs `public`
and says what that means. Ctrl-C (or SIGTERM) closes the tabs and stops their processes:
each tab starts with SIGINT ignored, so a terminal's Ctrl-C reaches the server alone and the
server ends them; any left after `TAB_EXIT_GRACE` seconds are terminated.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import logging
import re
import secrets
import shlex
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aiohttp import web
from textual_serve.server import Server

from mission_control.adapters.processes import own_children, terminate_all
from mission_control.core.config import SOCKET_ENV, FleetConfig
from mission_control.core.errors import MissionControlError, UsageError
from mission_control.core.terminal_text import inert, short_repr

__all__ = ["WebError", "WebServer", "TokenGate", "is_loopback", "serve", "tab_command", "page_url"]

DEFAULT_HOST = "127.0.0.1"
"""Where `web` listens unless told otherwise: this machine only."""
DEFAULT_PORT = 8765
"""The port `web` listens on unless told otherwise (0: any free port, printed)."""
TAB_EXIT_GRACE = 5.0
"""Seconds the tabs' dashboards get to quit on their own at shutdown before they are terminated."""
TAB_DRIVER = "mission_control.ui.web_tab:TabDriver"
"""Each tab's Textual driver (`TEXTUAL_DRIVER`), named as a string: the server runs the UI, never imports it."""
PUBLIC_WARNING = (
    "listening beyond this machine (--public): anyone who can reach this port and has the URL controls "
    "the fleet (pause, kill, restart, send text to agents, merge their branches); the token travels in "
    "clear over plain HTTP, so use it only on a network you trust or behind a TLS proxy"
)
"""What `--public` means, said when it is used."""
SERVER_LOGGERS = ("textual-serve", "aiohttp")
"""The loggers of the libraries `web` runs on: each record one line on stderr (`OneLineLog`)."""
_HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
"""A Host header fit to be written back into the page (a name or an address, maybe a port)."""


class WebError(MissionControlError):
    """The server could not start (a taken port, an address this machine does not have): exit 1."""


def is_loopback(host: str) -> bool:
    """Every address `host` names is a loopback address (127.0.0.0/8, ::1): only this machine can
    connect. A name that does not resolve is not loopback (binding it fails with its own line)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def page_url(host: str, port: int, token: str | None = None) -> str:
    """The address a browser opens: `host` as given (a wildcard becomes this machine's name; an
    IPv6 address in brackets), with `?token=` when given."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")


def tab_command(config: FleetConfig, python: str = sys.executable) -> str:
    """The shell command each browser tab runs: the fleet's dashboard on its config and socket.
    SIGINT is ignored (inherited through exec) so a terminal's Ctrl-C reaches the server alone,
    which then ends its tabs in order (told to quit, then terminated). No token and no secret:
    this line is visible to every user in `ps`. The driver (in place of textual-serve's) quits the
    dashboard when the server is gone without a word (killed): no orphan redrawing for nobody."""
    dashboard = shlex.join([python, "-m", "mission_control", "dashboard", "-c", str(config.path)])
    return f"trap '' INT; {SOCKET_ENV}={shlex.quote(config.socket)} TEXTUAL_DRIVER={TAB_DRIVER} exec {dashboard}"


@dataclass
class TokenGate:
    """Lets through requests that carry the token (as `?token=` or as its cookie); the rest get 401
    (none) or 403 (a wrong one, or a websocket opened from another origin)."""

    token: str
    """The secret the printed URL carries."""
    cookie: str
    """The cookie's name (one per port: browsers share a host's cookies across its ports); set again
    once the port is bound when the system picked it."""

    def _matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        given = request.query.get("token")
        if given is not None:
            if not self._matches(given):
                raise _refused(web.HTTPForbidden, "wrong token")
            if request.method in ("GET", "HEAD") and request.path == "/":
                rest = request.rel_url.query.copy()
                del rest["token"]
                response = web.HTTPSeeOther(str(request.rel_url.with_query(rest)))
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
                _private(response)
                raise response
        else:
            cookie = request.cookies.get(self.cookie)
            if cookie is None:
                raise _refused(web.HTTPUnauthorized, "this server needs the token: open the URL that `mission-control web` printed")
            if not self._matches(cookie):
                raise _refused(web.HTTPForbidden, "wrong token")
        if request.path == "/ws" and not _same_origin(request):
            raise _refused(web.HTTPForbidden, "websocket from another origin")
        response = await handler(request)
        _private(response)
        return response


def _refused(kind: type[web.HTTPException], why: str) -> web.HTTPException:
    response = kind(text=f"{why}\n")
    _private(response)
    return response


def _private(response: web.StreamResponse) -> None:
    """Nothing kept by caches, no address (with a token) handed on as a referrer."""
    if not response.prepared:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"


def _same_origin(request: web.Request) -> bool:
    """A websocket's Origin (sent by every browser) names the host it connects to; a client that
    sends none is no browser, and has shown the token already."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/") == request.host


class OneLineLog(logging.Handler):
    """A library's warning or error as one inert line on stderr, its exception named, never its
    traceback (textual-serve logs one for every message a tab sends that it cannot read)."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text} ({type(exc).__name__}: {exc})" if str(exc) and str(exc) != text else f"{text} ({type(exc).__name__})"
        print(f"mission-control: web: {inert(text)}", file=sys.stderr)


def quiet_libraries() -> None:
    """Route `SERVER_LOGGERS` (warnings and worse) through `OneLineLog` only."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [OneLineLog()]
        logger.setLevel(logging.WARNING)
        logger.propagate = False


PAGE_TEMPLATES = Path(__file__).parent / "web_page"
"""The page's template (ours, in place of textual-serve's, which loads a font from Google): every
address in it is this server's own, so opening a dashboard tells no third party."""


class WebServer(Server):
    """textual-serve's server with the token gate in front, page addresses taken from the request
    (right behind a wildcard bind or a port picked by the system), our page (`PAGE_TEMPLATES`), and
    its banner left out."""

    def __init__(self, command: str, gate: TokenGate, *, host: str, port: int, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title, templates_path=PAGE_TEMPLATES)
        self.gate = gate
        """The token check every request passes first."""
        self.bound_url = self.public_url
        """The address it listens on (set again once bound), for a request whose Host is unfit."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.insert(0, self.gate.middleware)
        return app

    async def handle_index(self, request: web.Request) -> Any:
        """The page, its static and websocket addresses pointing where the browser came: the Host it
        asked for, over https (wss) when a TLS proxy in front says so (`X-Forwarded-Proto`)."""
        scheme = "https" if request.headers.get("X-Forwarded-Proto") == "https" else "http"
        # read synchronously by the page handler just below; a Host unfit for a page: the bound address
        self.public_url = f"{scheme}://{request.host}" if _HOST_HEADER.fullmatch(request.host) else self.bound_url
        return await super().handle_index(request)

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: Any) -> None:
        """A message from a tab that is not textual-serve's (not JSON, not a list, a field missing or
        of another type): that tab is closed, with one line; the others and the fleet carry on."""
        try:
            await super()._process_messages(websocket, app_service)
        except (ValueError, AssertionError, LookupError, TypeError, AttributeError) as exc:
            print(f"mission-control: web: closed a tab that sent a message it cannot read ({type(exc).__name__})",
                  file=sys.stderr)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner and its command here; `serve` prints the URL itself."""


def bind_error(host: str, port: int, exc: OSError | UnicodeError) -> WebError:
    """The one line for a listen that failed."""
    where = f"{host}:{port}"
    if isinstance(exc, UnicodeError):
        return WebError(f"cannot listen on {short_repr(host)}: not an address or a name this machine can resolve ({exc})")
    if exc.errno == errno.EADDRINUSE:  # (an OSError from here on)
        return WebError(f"cannot listen on {where}: the port is taken by another program (pick another with --port, or --port 0 for any free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return WebError(f"cannot listen on {where}: this machine has no such address (see `ip addr`; 127.0.0.1 is this machine only)")
    if exc.errno == errno.EACCES:
        return WebError(f"cannot listen on {where}: permission denied (ports below 1024 need privileges; pick another with --port)")
    if isinstance(exc, socket.gaierror):
        return WebError(f"cannot listen on {short_repr(host)}: not an address or a name this machine can resolve ({exc.strerror})")
    return WebError(f"cannot listen on {where}: {exc.strerror or exc}")


def listen_host(host: str) -> str:
    """`--host` as the socket takes it: an IPv6 address written as in a URL (`[::1]`) unbracketed."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def check_bind(host: str, port: int, public: bool) -> str | None:
    """Refuse, before anything starts, what `serve` would not do: a port out of range, a host
    beyond loopback without `public`. Returns what listening there means when it is beyond
    loopback (said once it listens), else None."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a port (0 to 65535; 0 picks a free one)")
    if is_loopback(host):
        return None
    if not public:
        raise UsageError(f"--host {short_repr(host)} is not a loopback address: anyone who can reach it and has the URL would "
                         "control the fleet; add --public to mean that")
    return PUBLIC_WARNING


def _end_tabs() -> list[int]:
    """Wait up to `TAB_EXIT_GRACE` for the tabs' dashboards to quit, then terminate what is left
    (the server's only children are its tabs). Returns survivors (should be none)."""
    deadline = time.monotonic() + TAB_EXIT_GRACE
    while (children := own_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return terminate_all(children, grace=2.0)


def serve(config: FleetConfig, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, public: bool = False,
          say: Callable[[str], None] = print) -> int:
    """Serve the fleet's dashboard until SIGINT or SIGTERM; then close the tabs and stop their
    processes. Raises `UsageError` / `WebError` (one line) when it cannot start."""
    host = listen_host(host)
    warning = check_bind(host, port, public)
    token = secrets.token_urlsafe(32)
    return asyncio.run(_serve(config, host, port, warning, token, say))


async def _serve(config: FleetConfig, host: str, port: int, warning: str | None, token: str,
                 say: Callable[[str], None]) -> int:
    quiet_libraries()
    gate = TokenGate(token, cookie=f"mission_control_web_{port}")
    server = WebServer(tab_command(config), gate, host=host, port=port, title=f"mission-control: {config.session}")
    runner = web.AppRunner(await server._make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name no resolver takes (a label over 63 bytes)
            raise bind_error(host, port, exc) from None
        bound = runner.addresses[0][1]
        if port == 0:  # the cookie is named after the port the browser sees
            gate.cookie = f"mission_control_web_{bound}"
        server.bound_url = page_url(host, bound).rstrip("/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if warning:
            print(f"mission-control: {warning}", file=sys.stderr)
        say(f"mission-control: fleet {config.session!r} in a browser (one dashboard per tab; Ctrl-C stops): "
            f"{page_url(host, bound, token)}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await runner.cleanup()  # closes the websockets: each tab's dashboard is told to quit
        left = await asyncio.to_thread(_end_tabs)
    if left:
        raise WebError(f"tab processes survived SIGKILL: {left}")
    return 0
