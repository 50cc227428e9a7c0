"""mission-control: a terminal dashboard supervising a fleet of AI coding agents in tmux panes."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("mission-control")
    """The installed version (`mission-control --version`; hosts must share its major version)."""
except _metadata.PackageNotFoundError:  # run from a checkout that is not installed
    __version__ = "0+unknown"
