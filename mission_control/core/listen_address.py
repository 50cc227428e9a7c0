"""Where the supervisor's `/metrics` listens, and whether that may be served without a token (pure).

`[mission] metrics = "HOST:PORT"` (or `up --metrics HOST:PORT`) is parsed here once, for `check`,
`up` and the supervisor alike: an IPv4 address, `[IPv6]`, or a host name, then a port 1-65535.
Only a loopback address (127.0.0.0/8, ::1, `localhost`) is served as it is; any other address
is reachable from elsewhere, so it needs `metrics_token` (a bearer token scrapers must send) or
an explicit `metrics_public = true`. A host name other than `localhost` counts as not loopback:
what it resolves to can change, and resolving it is I/O this module does not do.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from mission_control.core.terminal_text import short_repr

MIN_TOKEN_LENGTH = 16
"""Shortest `metrics_token` accepted: a bearer token is the only lock on the endpoint."""
MAX_TOKEN_LENGTH = 4096
"""Longest `metrics_token` accepted: HTTP servers refuse a longer header line (the metrics
server's limit is 64 KiB: HTTP 431, so no scrape could ever send it)."""

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_FORM = "use HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"


@dataclass(frozen=True)
class ListenAddress:
    """A parsed `HOST:PORT`."""

    host: str
    """An IP address as written (IPv6 without brackets), or a host name."""
    port: int
    """1-65535."""

    @property
    def ipv6(self) -> bool:
        return ":" in self.host

    @property
    def loopback(self) -> bool:
        """Reachable only from this machine."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if self.ipv6 else f"{self.host}:{self.port}"


def parse_listen_address(text: str) -> ListenAddress:
    """`HOST:PORT` as a `ListenAddress`; ValueError with one line saying what is wrong (the value
    is quoted escaped, so control characters in it never reach a terminal)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{text!r} is not an address: {_FORM}")
    if "/" in text:
        raise ValueError(f"{short_repr(text)} is not an address (no scheme, no path: /metrics is served there): {_FORM}")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{short_repr(text)} is not an address: {_FORM}")
        port_text = rest[1:]
        try:
            if not isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
                raise ValueError
        except ValueError:
            raise ValueError(f"{short_repr(text)}: {short_repr(host)} in brackets is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{short_repr(text)} is not an address: {_FORM}")
        if ":" in host:
            raise ValueError(f"{short_repr(text)}: write an IPv6 address in brackets, e.g. [::1]:9464")
        if not _is_ipv4(host) and not _HOST_NAME.match(host):
            raise ValueError(f"{short_repr(text)}: {short_repr(host)} is neither an IP address nor a host name")
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{short_repr(text)}: the port must be a number from 1 to 65535")
    return ListenAddress(host, int(port_text))


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def exposure_problem(address: ListenAddress, token: str | None, public: bool) -> str | None:
    """Why serving at `address` is refused (None: it may be served): beyond loopback, only with a
    token or with `public` said out loud."""
    if address.loopback or token or public:
        return None
    return (f"{address} is reachable from other machines: set metrics_token (a bearer token scrapers "
            "must send) or metrics_public = true to serve it to anyone")


def token_problem(token: str) -> str | None:
    """Why `token` cannot be a bearer token (None: it can). Never quotes the token."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"the token is too short: use at least {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 24`)"
    if len(token) > MAX_TOKEN_LENGTH:
        return f"the token is {len(token)} characters: at most {MAX_TOKEN_LENGTH} (a longer header no HTTP server takes)"
    if not all("!" <= ch <= "~" for ch in token):
        return "the token may hold only printable ASCII without spaces (it travels in an HTTP header)"
    return None
