"""The one base of every error a person reads: `MissionControlError`, with the exit code it means.

Each layer raises its own subclass (ConfigError, StoreError, TmuxError, ActionError, ...), phrased
as the one line a person should read; `cli.main` catches this base once, prints that line and
exits with `exit_code`: 2 for a bad config or bad usage (fix the input and run again), 1 for an
action that failed (the input was fine; the world said no). It lives in the core, the lowest
layer, so that every layer may derive from it.
"""

from __future__ import annotations

EXIT_FAILED = 1
"""Exit code of a failed action."""
EXIT_USAGE = 2
"""Exit code of a bad config or bad usage."""


class MissionControlError(Exception):
    """A failure already phrased as one line for a person; `exit_code` is what the CLI exits with."""

    exit_code: int = EXIT_FAILED


class UsageError(MissionControlError):
    """Bad input from the person (wrong or missing arguments, a config that cannot be used): exit 2."""

    exit_code = EXIT_USAGE
