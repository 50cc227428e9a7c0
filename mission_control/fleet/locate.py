"""Finding the fleet a command is about, from any directory.

`-c PATH` wins. Otherwise the running fleet's tmux session says where its
config lives (the session option `@mission_control_config`), so `status`,
`attach`, `dashboard` and the actions work over SSH from anywhere. Inside a fleet's own
processes (an agent running `mission-control task add`), `MISSION_CONTROL_FLEET` names the
fleet's socket and session: that fleet, whatever the socket default. Last, `./agents.toml`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mission_control.adapters.tmux import Tmux
from mission_control.core.config import (
    CONFIG_MAX_BYTES, DEFAULT_CONFIG_NAME, DEFAULT_SOCKET, NAME_RE, NAME_RULE, SOCKET_ENV, ConfigError, FleetConfig,
    load_text,
)
from mission_control.core.errors import UsageError
from mission_control.core.launch_plan import FLEET_ENV
from mission_control.core.layouts import LayoutPreset, parse_layout
from mission_control.core.terminal_text import short_repr

CONFIG_OPTION = "@mission_control_config"
STATE_OPTION = "@mission_control_state"
DEFAULT_CONFIG = DEFAULT_CONFIG_NAME
BUILTIN_LAYOUTS = Path(__file__).resolve().parent.parent / "layouts"
"""The layout presets shipped inside the package (in a checkout, `mission_control/layouts` is a
link to the top-level `layouts/` folder, the source people read and copy)."""


class FleetNotFound(UsageError):
    """No config was named and no fleet or ./agents.toml was found (exit 2)."""


def read_config_text(path: Path, what: str = "config file") -> str:
    """A TOML file's text: only a regular file (a FIFO would hang the read, a device never end)
    and at most CONFIG_MAX_BYTES of it; anything else is one ConfigError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{path}: is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: is not a regular file (a pipe, a device or a socket), not a {what}")
        if info.st_size > CONFIG_MAX_BYTES:
            raise ConfigError(f"{path}: {info.st_size} bytes: a {what} may have at most {CONFIG_MAX_BYTES} bytes")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(CONFIG_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > CONFIG_MAX_BYTES:  # it grew while we looked
        raise ConfigError(f"{path}: a {what} may have at most {CONFIG_MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}): not a {what}") from None


def load_config(path: Path) -> FleetConfig:
    return load_text(path, read_config_text(path))


def layout_dirs(config: FleetConfig | None) -> list[Path]:
    """Where presets are looked up, strongest first: a `layouts/` folder beside the config, then
    the shipped ones."""
    dirs = ([config.path.parent / "layouts"] if config is not None else []) + [BUILTIN_LAYOUTS]
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def available_layouts(config: FleetConfig | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in reversed(layout_dirs(config)):  # the config's own folder wins
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                found[f.stem] = f
    return found


def load_layout(config: FleetConfig) -> LayoutPreset:
    layouts = available_layouts(config)
    path = layouts.get(config.layout)
    if path is None:
        import difflib

        hint = difflib.get_close_matches(config.layout, list(layouts), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(
            f"{config.path}: mission.layout = {config.layout!r} is not a known layout{extra}; "
            f"available: {', '.join(sorted(layouts)) or 'none'}"
        )
    try:
        text = read_config_text(path, "layout file")
    except ConfigError as exc:
        raise ConfigError(f"{config.path}: mission.layout = {config.layout!r}: {exc}") from None
    return parse_layout(path, text)


def running_fleets(socket: str) -> list[tuple[str, Path]]:
    """(session, config path) of every fleet on this tmux socket."""
    tmux = Tmux(socket)
    out = []
    for session in tmux.sessions():
        cfg = tmux.session_option(session, CONFIG_OPTION)
        if cfg:
            out.append((session, Path(cfg)))
    return out


def parse_mark(mark: str) -> tuple[str, str]:
    """(socket, session) of a FLEET_ENV value, or UsageError in one line naming the variable: a
    value that does not parse was ignored and the command went on with the default socket's
    fleet, another fleet than the one meant (the audit)."""
    socket, _, session = mark.partition("/")
    if not (NAME_RE.fullmatch(socket) and NAME_RE.fullmatch(session)):
        raise UsageError(f"{FLEET_ENV}={short_repr(mark)} is not SOCKET/SESSION ({NAME_RULE} each): "
                         f"unset it or name the fleet with -c PATH")
    return socket, session


def find_config(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
    mark = os.environ.get(FLEET_ENV, "")
    if mark:
        own_socket, own_session = parse_mark(mark)
        if Tmux.available():  # run by an agent (or anything) of a fleet: that fleet
            for session, path in running_fleets(own_socket):
                if session == own_session:
                    # read with the socket the fleet runs on (given to `up` by the variable, maybe)
                    os.environ[SOCKET_ENV] = own_socket
                    return path
    socket = os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET
    here = Path(DEFAULT_CONFIG).absolute()
    fleets = running_fleets(socket) if Tmux.available() else []
    if len(fleets) == 1:
        return fleets[0][1]
    if len(fleets) > 1:
        for _session, path in fleets:
            if path == here:
                return path
        names = ", ".join(f"{s} ({p})" for s, p in fleets)
        raise FleetNotFound(f"several fleets run on tmux socket {socket!r}: {names}; pick one with -c PATH")
    if here.exists():
        return here
    raise FleetNotFound(
        f"no running fleet on tmux socket {socket!r} and no {DEFAULT_CONFIG} in {Path.cwd()}: use -c PATH"
    )
