"""`mission-control web`: the dashboard in a real headless Chromium, behind its token.

One demo fleet (the shipped agents.toml) on a throwaway tmux socket serves every test here; each
test starts its own `web` on a free port as a user would (`--port 0`, the URL read from its
output). The browser is Debian's /usr/bin/chromium driven by Playwright for Python (never a
browser of Playwright's own); .ci/run installs it, and the browser tests skip with the reason
where it is missing. The token checks use plain HTTP (urllib), no browser.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from helpers import ROOT, Cli, gone, retry_until, role_pid

pytestmark = pytest.mark.tmux

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "screenshots" / "web-test.png"
"""Where the browser test leaves its screenshot (the README's `screenshots/web.png` is one of these)."""
DEMO_AGENTS = ("coder", "tester", "docs", "notifier", "asker")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian's `chromium` package; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, Path]]:
    """The demo fleet, up detached, until its agents are listed; torn down with its tmux server."""
    folder = tmp_path_factory.mktemp("web-fleet")
    shutil.copy(ROOT / "agents.toml", folder / "agents.toml")
    cli = Cli(f"mct-{uuid.uuid4().hex[:10]}", folder)
    try:
        r = cli("up", "--no-attach")
        assert r.returncode == 0, r.stderr
        retry_until(lambda: {r["name"] for r in cli.status()} >= set(DEMO_AGENTS), timeout=60, interval=0.5,
                    message="the demo agents are listed")
        yield cli, folder / "agents.toml"
    finally:
        cli("down")
        subprocess.run(["tmux", "-L", cli.socket, "kill-server"], capture_output=True)


class Web:
    """A running `mission-control web --port 0` in its own process group (as a terminal runs it)."""

    def __init__(self, cli: Cli, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission_control", "web", "-c", str(config), "--port", "0", *args],
            cwd=cli.cwd, env=cli.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        line = self.proc.stdout.readline()
        found = re.search(r"(http://\S+?)/\?token=(\S+)", line)
        if not found:  # no URL: stop it here (no test will), then fail
            raise AssertionError(f"web printed no URL: {line!r}; stderr: {self.stop()!r}")
        self.base, self.token = found.group(1), found.group(2)
        """The server's address, and the token its URL carries."""
        self.url = f"{self.base}/?token={self.token}"
        """The URL `web` printed."""

    def tabs(self) -> list[int]:
        """The pids of the tabs' dashboard processes (the server's children)."""
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            return []

    def ctrl_c(self) -> tuple[int, str, str]:
        """SIGINT to its process group, as a terminal's Ctrl-C sends it; its exit code and output."""
        os.killpg(self.proc.pid, signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err

    def stop(self) -> str:
        """SIGTERM (SIGKILL to its group after 30 s); what it wrote on stderr meanwhile."""
        if self.proc.poll() is not None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.communicate()[1]


@pytest.fixture
def web(demo: tuple[Cli, Path]) -> Iterator[Web]:
    server = Web(*demo)
    yield server
    server.stop()


def http(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """Debian's Chromium, headless, a fresh profile: a browser context, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


def open_dashboard(context: Any, url: str) -> tuple[Any, list[bytes]]:
    """A tab on `url` once it shows the demo agents, and the terminal bytes its dashboard sends it
    (what the page's terminal draws)."""
    page = context.new_page()
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f if isinstance(f, bytes) else f.encode())))
    page.goto(url)
    retry_until(lambda: shows(page, frames, *DEMO_AGENTS), timeout=60, message=f"the page at {url} shows the demo agents")
    page.locator(".xterm-helper-textarea").focus()  # keys go to the terminal
    return page, frames


def coder(cli: Cli) -> str:
    """The demo's coder's status in `status --json`."""
    return next(r for r in cli.status() if r["name"] == "coder")["status"]


def shows(page: Any, frames: list[bytes], *texts: str) -> bool:
    page.wait_for_timeout(100)  # lets Playwright deliver the frames that arrived meanwhile
    seen = b"".join(frames)
    return all(t.encode() in seen for t in texts)


# ---------------------------------------------------------------------------- in the browser


@needs_browser
def test_browser_shows_the_fleet_and_a_key_pauses_the_selected_agent(demo, web, chromium) -> None:
    cli, config = demo
    supervisor = role_pid(cli, "supervisor")
    page, frames = open_dashboard(chromium, web.url)
    assert page.url == f"{web.base}/", "the token is swapped for a cookie and leaves the address bar"
    retry_until(lambda: shows(page, frames, "STUCK"), timeout=60, message="the page shows the notifier STUCK")

    # the tab is a dashboard process of its own; neither its argv nor its environment holds the token
    (tab,) = retry_until(web.tabs, message="the tab's dashboard process")
    for pid in (tab, web.proc.pid):
        assert web.token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert web.token.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    assert str(config).encode() in Path(f"/proc/{tab}/cmdline").read_bytes()

    # the first row (coder) is selected: `p` pauses it, as in a terminal
    assert coder(cli) != "PAUSED"
    page.keyboard.press("p")
    retry_until(lambda: coder(cli) == "PAUSED", timeout=30, interval=0.3,
                message="coder is PAUSED in status --json after `p` in the browser")
    retry_until(lambda: shows(page, frames, "PAUSED"), timeout=30, message="the page shows it PAUSED")
    page.wait_for_timeout(1500)  # the notice and the row drawn
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and SCREENSHOT.stat().st_size > 20_000
    page.keyboard.press("p")  # continue it again
    retry_until(lambda: coder(cli) != "PAUSED", timeout=30, interval=0.3, message="coder continues after `p` again")
    # zoom hands the terminal to tmux; a tab has none: it says so, and the tab lives on
    page.keyboard.press("z")
    retry_until(lambda: shows(page, frames, "needs a terminal"), timeout=30, message="zoom says it needs a terminal")
    assert web.tabs() == [tab]
    page.close()
    retry_until(lambda: not web.tabs(), timeout=30, message="the closed tab's dashboard process ends")
    assert role_pid(cli, "supervisor") == supervisor and not gone(supervisor)


@needs_browser
def test_a_tab_closed_mid_action_leaves_the_fleet_and_the_server_serving(demo, web, chromium) -> None:
    cli, _ = demo
    supervisor = role_pid(cli, "supervisor")
    page, _ = open_dashboard(chromium, web.url)
    page.keyboard.press("d")  # diagnose runs in a worker when the tab goes
    page.keyboard.press("K")  # kill: it asks first; the tab goes while the question is open
    page.close()
    retry_until(lambda: not web.tabs(), timeout=30, message="the closed tab's dashboard process ends")
    assert web.proc.poll() is None
    open_dashboard(chromium, f"{web.base}/")  # the cookie is still good: a new tab, a new dashboard
    assert {r["name"] for r in cli.status()} >= set(DEMO_AGENTS)
    assert not any(r["status"] == "EXITED" for r in cli.status()), "nothing was killed"
    assert role_pid(cli, "supervisor") == supervisor and not gone(supervisor)


@needs_browser
def test_ctrl_c_stops_the_server_and_its_tabs(demo, chromium) -> None:
    cli, config = demo
    server = Web(*demo)
    try:
        for _ in range(2):
            open_dashboard(chromium, server.url)
        tabs = retry_until(lambda: len(t := server.tabs()) == 2 and t, message="two tabs, two dashboard processes")
        code, out, err = server.ctrl_c()
        assert code == 0, err
        assert "Traceback" not in out + err and server.token not in err
        assert all(gone(pid) for pid in tabs), "no tab process outlives the server"
    finally:
        server.stop()
    assert cli.status(), "the fleet keeps running"


@needs_browser
def test_a_killed_server_leaves_no_tab_behind(demo, chromium) -> None:
    """SIGKILL gives the server no chance to end its tabs: each tab's dashboard sees its input end
    and quits (before ui/web_tab.py it ran on, an orphan)."""
    cli, _ = demo
    server = Web(*demo)
    try:
        open_dashboard(chromium, server.url)
        (tab,) = retry_until(server.tabs, message="the tab's dashboard process")
        server.proc.kill()
        server.proc.communicate(timeout=30)
        retry_until(lambda: gone(tab), timeout=30, message="the tab's dashboard quits once its server is gone")
    finally:
        server.stop()
    assert cli.status(), "the fleet keeps running"


# ---------------------------------------------------------------------------- plain HTTP: the token


def test_without_the_token_every_path_is_refused(web) -> None:
    for path in ("/", "/ws", "/static/js/textual.js", "/static/css/xterm.css", "/download/x"):
        code, _, body = http(web.base + path)
        assert code == 401, (path, code)
        assert b"token" in body
    assert http(f"{web.base}/?token=wrong")[0] == 403
    assert http(f"{web.base}/?token={web.token[:-1]}")[0] == 403
    assert http(f"{web.base}/static/js/textual.js?token=%00{web.token}")[0] == 403
    cookie = f"mission_control_web_{web.base.rsplit(':', 1)[1]}"
    assert http(f"{web.base}/", {"Cookie": f"{cookie}=wrong"})[0] == 403
    assert http(f"{web.base}/", {"Cookie": f"mission_control_web_1={web.token}"})[0] == 401, "another port's cookie is not this one"


def test_the_token_becomes_a_cookie_that_opens_the_page(web) -> None:
    code, headers, _ = http(web.url)
    assert code == 303 and headers["Location"] == "/"
    set_cookie = headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = set_cookie.split(";", 1)[0]
    code, headers, body = http(f"{web.base}/", {"Cookie": cookie})
    assert code == 200 and b"textual.js" in body and headers["Cache-Control"] == "no-store"
    assert http(f"{web.base}/static/js/textual.js", {"Cookie": cookie})[0] == 200
    # the page's addresses follow the Host asked for, and a TLS proxy's word (X-Forwarded-Proto)
    body = http(f"{web.base}/", {"Cookie": cookie, "Host": "fleet.example:443", "X-Forwarded-Proto": "https"})[2]
    assert b'"wss://fleet.example:443/ws"' in body and b'"https://fleet.example:443/static/js/textual.js"' in body
    body = http(f"{web.base}/", {"Cookie": cookie, "Host": 'x"><script>alert(1)</script>'})[2]
    assert b"<script>alert" not in body and f'"ws://{web.base[7:]}/ws"'.encode() in body
    # the websocket from a page of another origin (which the browser would hand the cookie): refused
    ws = {"Cookie": cookie, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert http(f"{web.base}/ws", {**ws, "Origin": "http://evil.example"})[0] == 403


PAGE_ADDRESS = re.compile(r"""(?:src|href|data-[a-z-]+-url)\s*=\s*["']([^"']*)|url\(\s*["']?([^"')]+)""")
"""Where a page or a stylesheet sends the browser: its src/href attributes, the addresses textual.js
reads from the page (data-*-url), CSS url()s."""
HOSTS = re.compile(r"""(?:\b(?:https?|wss?):|(?<![:\w]))//([^/"'\s)]+)""", re.I)
"""The host of each absolute (or scheme-relative) address anywhere in a text."""


def test_the_page_names_no_host_but_its_own(web) -> None:
    """The page a tab loads (and the stylesheets and fonts it loads) points at this server only:
    no web font from Google as textual-serve's own page has, nothing from any other host."""
    from urllib.parse import urljoin, urlsplit

    cookie = http(web.url)[1]["Set-Cookie"].split(";", 1)[0]
    code, _, body = http(f"{web.base}/", {"Cookie": cookie})
    page = body.decode()
    assert code == 200 and "textual-terminal" in page
    own = urlsplit(web.base).netloc
    assert set(HOSTS.findall(page)) == {own}, HOSTS.findall(page)
    addresses = [urljoin(web.base + "/", a or b) for a, b in PAGE_ADDRESS.findall(page)]
    assert len(addresses) >= 6, addresses  # textual.js, xterm.css, the fonts, the websocket, the reload links
    assert {urlsplit(a).netloc for a in addresses} == {own}, addresses
    for address in addresses:  # each is served here; a stylesheet names no other host either
        if address.startswith("ws:"):
            continue
        code, _, content = http(address, {"Cookie": cookie})
        assert code == 200, address
        if address.endswith(".css"):
            assert all(not HOSTS.search(a or b) for a, b in PAGE_ADDRESS.findall(content.decode())), address


@needs_browser
def test_the_browser_asks_no_other_host(demo, web, chromium) -> None:
    """Every request the page makes, in a real browser, goes to the server, and the terminal's font
    ('Roboto Mono') is there, loaded from it."""
    asked: list[str] = []
    chromium.on("request", lambda request: asked.append(request.url))
    page, _ = open_dashboard(chromium, web.url)
    own = web.base.split("://", 1)[1]
    assert asked and all(url.split("://", 1)[1].startswith(own + "/") for url in asked), asked
    retry_until(lambda: page.evaluate("document.fonts.check('16px \"Roboto Mono\"')")
                and any(url.endswith(".ttf") for url in asked), timeout=30, message="the font is loaded from the server")
    page.close()


def test_a_tab_that_sends_garbage_is_closed_with_one_line(demo, web) -> None:
    """The websocket of an authenticated tab fed what no browser sends: each such tab is closed,
    one line each on the server's stderr, no traceback; the server and the fleet carry on."""
    import asyncio

    import aiohttp

    garbage = ["not json", '{"a": 1}', '["stdin"]', '["stdin", 5]', '["resize", {}]', "\x1b[2J\x07", "\x00" * 70_000]
    port = web.base.rsplit(":", 1)[1]

    async def feed() -> list[str]:
        closed = []
        async with aiohttp.ClientSession(cookies={f"mission_control_web_{port}": web.token}) as session:
            for text in garbage:
                async with session.ws_connect(f"{web.base}/ws?width=80&height=24") as ws:
                    await ws.send_str(text)
                    async for message in ws:  # read until the server closes it
                        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                    closed.append(text)
        return closed

    assert asyncio.run(asyncio.wait_for(feed(), 120)) == garbage
    retry_until(lambda: not web.tabs(), timeout=30, message="every garbage tab's dashboard process ends")
    assert http(f"{web.base}/?token={web.token}")[0] == 303
    err = web.stop()
    lines = err.strip().splitlines()
    assert len(lines) == len(garbage) and all(line.startswith("mission-control: web: closed a tab") for line in lines), err
    assert "Traceback" not in err
    assert demo[0].status()


# ---------------------------------------------------------------------------- bad input: one line


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mission-control: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


def test_beyond_loopback_needs_public(demo) -> None:
    cli, config = demo
    for host in ("0.0.0.0", "::", "192.0.2.7"):
        r = cli("web", "-c", str(config), "--host", host, "--port", "0", timeout=30)
        assert r.returncode == 2
        assert "--public" in one_line(r) and r.stdout == ""
    # with --public: said what it means (here the address is not this machine's, so nothing listens)
    r = cli("web", "-c", str(config), "--host", "192.0.2.7", "--port", "0", "--public", timeout=30)
    assert r.returncode == 1 and "no such address" in one_line(r)


def test_public_says_what_it_means(demo) -> None:
    from mission_control.web import PUBLIC_WARNING, check_bind

    assert "anyone who can reach this port and has the URL controls the fleet" in PUBLIC_WARNING
    assert check_bind("0.0.0.0", 8765, public=True) == PUBLIC_WARNING
    assert check_bind("::", 0, public=True) == PUBLIC_WARNING
    for host in ("127.0.0.1", "127.9.9.9", "::1", "localhost"):
        assert check_bind(host, 0, public=True) is None, host
    server = Web(*demo, "--host", "localhost", "--public")  # loopback: --public changes nothing, no warning
    try:
        code, _, err = server.ctrl_c()
    finally:
        server.stop()
    assert code == 0 and err == ""


def test_hostile_hosts_are_one_line(demo, tmp_path: Path) -> None:
    cli, config = demo
    for host in (f"$(touch {tmp_path}/pwned)", "127.0.0.1;x", "a" * 300, "ü.invalid", "-1"):
        r = cli("web", "-c", str(config), "--host", host, "--port", "0", "--public", timeout=30)
        assert r.returncode == 1 and "cannot listen on" in one_line(r), host
    assert not (tmp_path / "pwned").exists()


def test_a_taken_port_is_one_line(demo) -> None:
    cli, config = demo
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("web", "-c", str(config), "--port", str(port), timeout=30)
    assert r.returncode == 1
    assert f"127.0.0.1:{port}" in one_line(r) and "taken" in r.stderr
    r = cli("web", "-c", str(config), "--port", "70000", timeout=30)
    assert r.returncode == 2 and "not a port" in one_line(r)


def test_no_fleet_running_is_one_line(cli, tmp_path: Path) -> None:
    shutil.copy(ROOT / "agents.toml", tmp_path / "agents.toml")
    r = cli("web", "--port", "0", timeout=30)
    assert r.returncode == 1 and "no fleet running" in one_line(r) and r.stdout == ""


def test_the_tab_command_holds_no_secret_and_quotes_the_path(tmp_path: Path) -> None:
    from mission_control.core.config import SOCKET_ENV
    from mission_control.web import tab_command

    class Config:
        path = tmp_path / "it's; $(rm -rf x) agents.toml"
        socket = "mc-sock"

    command = tab_command(Config(), python="/usr/bin/python3")  # type: ignore[arg-type]
    out = subprocess.run(["sh", "-c", command.replace("exec ", "exec printf '%s\\n' ", 1)],
                         capture_output=True, text=True, env={**os.environ, SOCKET_ENV: "other"})
    assert out.stdout.splitlines() == ["/usr/bin/python3", "-m", "mission_control", "dashboard", "-c", str(Config.path)]
    assert "token" not in command.lower()
