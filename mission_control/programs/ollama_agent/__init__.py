"""The built-in `ollama` agent kind: a small coding agent on a local Ollama server.

Run it as `python -m mission_control.programs.ollama_agent --model M --task "..."` (or,
once wired, `mission-control agent ...`). It loops on Ollama's chat API with
tools (read_file, write_file, list_files, run_command, git_commit,
report_status), prints what it does in its pane, reports its status to
`$MISSION_CONTROL_STATUS_FILE`, records every model call's token counts in its
ledger (read by `OllamaMeter`), and waits at a `› ` prompt between turns.

This module stays light (no `ollama` import) so that `default_ledger_path` and
`normalize_host` can be used by the supervisor and the CLI cheaply.
"""

from __future__ import annotations

from mission_control.programs.ollama_agent.paths import DEFAULT_HOST, LEDGER_NAME, default_ledger_path, normalize_host


def main(argv: list[str] | None = None) -> int:
    """Run the agent with `argv` (without the program name); returns the exit status."""
    from mission_control.programs.ollama_agent.cli import main as _main

    return _main(argv)


__all__ = ["DEFAULT_HOST", "LEDGER_NAME", "default_ledger_path", "main", "normalize_host"]
