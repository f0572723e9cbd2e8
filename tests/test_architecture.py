"""The package's shape: layering without cycles, no private names across subpackages, small modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "coexplore"
MAX_LINES = 400
DRIVER_MODULES = ("search/driver.py", "search/loop.py", "search/study.py", "search/observers.py")
MAX_DRIVER_LINES = 250


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _subpackage(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _private_imports(path: Path) -> list[str]:
    """``from coexplore.<other>... import _name`` or ``coexplore.<other>._module`` in ``path``."""
    own = _subpackage(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("coexplore."):
            parts = node.module.split(".")
            if parts[1] == own:
                continue
            names = [a.name for a in node.names]
            if any(p.startswith("_") for p in parts[1:]) or any(n.startswith("_") for n in names):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: from {node.module} import {', '.join(names)}")
    return found


def test_import_layering_holds():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed; `pip install -e .[dev]`")
    proc = subprocess.run([exe, "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_a_new_cycle_breaks_the_layering(tmp_path):
    """The contracts are not vacuous: a search module importing tracking is caught."""
    shutil.copytree(PACKAGE, tmp_path / "coexplore", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(PACKAGE.parent / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "coexplore" / "search" / "cycle.py").write_text("import coexplore.tracking.runs\n")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run([exe, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)})
    assert proc.returncode != 0 and "BROKEN" in proc.stdout


def test_no_module_imports_a_private_name_from_another_subpackage():
    found = [line for path in _modules() for line in _private_imports(path)]
    assert not found, "\n".join(found)


def test_modules_stay_small():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    assert not {k: v for k, v in sizes.items() if v > MAX_LINES}, f"modules over {MAX_LINES} lines"
    assert not {k: sizes[k] for k in DRIVER_MODULES if sizes[k] > MAX_DRIVER_LINES}, \
        f"driver modules over {MAX_DRIVER_LINES} lines"
