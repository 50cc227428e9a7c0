"""One place for errors: every error a person reads derives from `MissionControlError` and carries
its exit code (2 for bad config/usage, 1 for a failed action); `cli.main` catches that base once."""

from __future__ import annotations

import ast

import pytest

from helpers import ROOT
from mission_control.core.errors import MissionControlError


def _classes():
    from mission_control.fleet.actions import ActionError
    from mission_control.adapters.git_repo import GitError
    from mission_control.adapters.store import StoreError
    from mission_control.adapters.tmux import TmuxError
    from mission_control.fleet.bringup import UpError
    from mission_control.cli import CliError, UsageError
    from mission_control.core.config import ConfigError
    from mission_control.fleet.locate import FleetNotFound

    return {ConfigError: 2, FleetNotFound: 2, UsageError: 2, CliError: 1, UpError: 1, TmuxError: 1, StoreError: 1,
            GitError: 1, ActionError: 1}


def test_every_error_a_person_reads_has_the_base_and_its_exit_code() -> None:
    for cls, code in _classes().items():
        assert issubclass(cls, MissionControlError), cls
        assert cls.exit_code == code, cls


@pytest.mark.parametrize("cls", list(_classes()), ids=lambda c: c.__name__)
def test_main_turns_each_into_one_line_and_its_exit_code(cls, monkeypatch, capsys) -> None:
    from mission_control import cli

    def boom(args):
        raise cls("what went wrong") if cls.__name__ != "StoreError" else cls("what went wrong", "other")

    monkeypatch.setattr(cli, "cmd_status", boom)
    assert cli.main(["status"]) == cls.exit_code
    assert capsys.readouterr().err == "mission-control: what went wrong\n"


def test_main_catches_the_base_once() -> None:
    tree = ast.parse((ROOT / "mission_control" / "cli.py").read_text())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    caught = [ast.unparse(h.type) for n in ast.walk(main) if isinstance(n, ast.Try) for h in n.handlers if h.type]
    assert caught.count("MissionControlError") == 1
    assert not any(name.endswith(("ConfigError", "StoreError", "TmuxError", "ActionError", "CliError")) for name in caught)
