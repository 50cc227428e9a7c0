"""The layers hold (import-linter's contracts in pyproject.toml: viewers over the fleet services over
the programs over the adapters over a pure core) and the launcher stays light: checked on every run."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_launcher_stays_light() -> None:
    assert imports(ROOT / "mission_control" / "programs" / "launcher.py") <= {"os", "signal", "sys", "time"}


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" not in r.stdout.lower() or "0 broken" in r.stdout.lower()


def _kind_name_comparisons(path: Path, names: frozenset[str]) -> list[str]:
    """`x == "claude"`, `kind in ("codex", "gemini")`, `case "aider":` in one module."""

    def named(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value} & names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names}
        return set()

    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                found += [f"{where}:{node.lineno}: {n!r}" for n in sorted(named(side))]
        elif isinstance(node, ast.MatchValue):
            found += [f"{where}:{node.lineno}: {n!r}" for n in sorted(named(node.value))]
    return found


def test_no_module_compares_kind_names() -> None:
    """Everything about a kind is asked of the registry (mission_control/core/kinds): outside a kind's
    own modules (its kind module, its meter), no code compares a value with a kind's name."""
    from mission_control.core.kinds import KIND_NAMES

    names = frozenset(KIND_NAMES)
    own = {ROOT / "mission_control" / where / f"{k}.py" for k in names for where in ("core/kinds", "adapters/meters")}
    found = [hit for path in sorted((ROOT / "mission_control").rglob("*.py")) if path not in own
             for hit in _kind_name_comparisons(path, names)]
    assert not found, "kind names compared outside the kind's modules (ask mission_control.core.kinds):\n" + "\n".join(found)


def test_kind_name_scan_sees_comparisons(tmp_path: Path) -> None:
    """The scan above finds each form of comparison it is meant to forbid."""
    path = tmp_path / "probe.py"
    path.write_text('if k == "claude" or k in ("codex", "x") or "aider" != k:\n    pass\n'
                    'match k:\n    case "gemini":\n        pass\nkind = "claude"\n')
    hits = _kind_name_comparisons(path, frozenset({"claude", "codex", "aider", "gemini"}))
    assert [h.split(": ")[1] for h in hits] == ["'claude'", "'codex'", "'aider'", "'gemini'"]
