"""Finding the fleet a command is about, from any directory.

`-c PATH` wins. Otherwise the running fleet's tmux session says where its
config lives (the session option `@mission_control_config`), so `status`,
`attach`, `dashboard` and the actions work over SSH from anywhere. Last,
`./agents.toml`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mission_control.adapters.tmux import Tmux
from mission_control.core.config import DEFAULT_CONFIG_NAME, DEFAULT_SOCKET, SOCKET_ENV, ConfigError, FleetConfig, load_text
from mission_control.core.layouts import LayoutPreset, parse_layout

CONFIG_OPTION = "@mission_control_config"
STATE_OPTION = "@mission_control_state"
DEFAULT_CONFIG = DEFAULT_CONFIG_NAME
BUILTIN_LAYOUTS = Path(__file__).resolve().parent / "layouts"
"""The layout presets shipped inside the package (in a checkout, `mission_control/layouts` is a
link to the top-level `layouts/` folder, the source people read and copy)."""


class FleetNotFound(Exception):
    pass


def load_config(path: Path) -> FleetConfig:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return load_text(path, text)


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
    return parse_layout(path, path.read_text())


def running_fleets(socket: str) -> list[tuple[str, Path]]:
    """(session, config path) of every fleet on this tmux socket."""
    tmux = Tmux(socket)
    out = []
    for session in tmux.sessions():
        cfg = tmux.session_option(session, CONFIG_OPTION)
        if cfg:
            out.append((session, Path(cfg)))
    return out


def find_config(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
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
