"""The core stays pure, adapters never touch the UI, the UI never polls: checked on every run."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

FORBIDDEN_IN_CORE = {"textual", "libtmux", "psutil", "git", "subprocess", "ollama", "sqlite3", "socket"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_core_imports_nothing_impure() -> None:
    for path in [*(ROOT / "mission_control" / "core").glob("*.py"), *(ROOT / "mission_control" / "kinds").glob("*.py")]:
        bad = imports(path) & FORBIDDEN_IN_CORE
        assert not bad, f"{path.name} imports {bad}"


def test_launcher_stays_light() -> None:
    assert imports(ROOT / "mission_control" / "launcher.py") <= {"os", "signal", "sys", "time"}


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" not in r.stdout.lower() or "0 broken" in r.stdout.lower()
