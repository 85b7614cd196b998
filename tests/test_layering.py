"""The pipeline runs one way: no stage imports a later one, and imports are explicit.

Read from the source with ``ast`` (nothing is imported), so a forbidden import hidden inside a
function, or only reached on some code path, is caught as well as one at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rlsens"

# suite -> plan -> execute -> store -> analysis -> report; cli and sweep on top. The trainer is
# the library both the planner (which runs can share a population group) and the executor call.
STAGES = ("suite", "plan", "trainer", "execute", "store", "analysis", "report")
TOP = {"cli", "sweep", "reproduce"}  # glue over several stages
# What a stage may never import: every later stage, plus the torch/Ray layers where a stage must
# stay free of them (suite checks read the torch-free vocabulary, analysis is pure, the report
# presents analysis output).
FORBIDDEN = {
    "suite": {"plan", "trainer", "execute", "store", "analysis", "report"} | TOP,
    "plan": {"execute", "store", "analysis", "report"} | TOP,
    "trainer": {"plan", "execute", "store", "analysis", "report"} | TOP,
    "execute": {"store", "analysis", "report"} | TOP,
    "store": {"analysis", "report"} | TOP,
    "analysis": {"report", "store", "execute", "trainer"} | TOP,
    "report": {"execute", "trainer"} | TOP,
}
# Modules every stage shares: plain types and one-concept helpers with no stage behind them.
SHARED = {"errors", "spec", "record", "vocabulary", "timestamp", "provenance", "tables"}


def rlsens_imports(source: str) -> set[str]:
    """Top-level rlsens modules (``rlsens.X``) that ``source`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "rlsens":
                names = [f"rlsens.{alias.name}" for alias in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("rlsens.")}
    return found


def violations(stage: str, files: list[tuple[str, str]]) -> list[str]:
    """``file imports rlsens.X`` for every forbidden import of ``stage`` in ``files``."""
    return [
        f"{name} imports rlsens.{target}"
        for name, source in files
        for target in sorted(rlsens_imports(source) & FORBIDDEN[stage])
    ]


def stage_files(stage: str) -> list[tuple[str, str]]:
    root = PACKAGE / stage
    return [(str(p.relative_to(PACKAGE)), p.read_text(encoding="utf-8"))
            for p in sorted(root.rglob("*.py"))]


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_imports_a_later_one(stage: str) -> None:
    assert stage_files(stage), f"rlsens/{stage}/ has no modules: is the stage list stale?"
    assert violations(stage, stage_files(stage)) == []


def test_shared_modules_import_no_stage() -> None:
    for name in sorted(SHARED):
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        assert rlsens_imports(source) <= SHARED, name


def test_every_top_level_module_is_classified() -> None:
    """A new top-level module must be placed in the order (or marked shared) to be checked."""
    top = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()
                                                    if (p / "__init__.py").exists()}
    assert top - {"__init__", "__main__"} - TOP == set(STAGES) | SHARED


@pytest.mark.parametrize(
    "source",
    [
        "from rlsens.report.html import render_index\n",
        "import rlsens.report.figures as f\n",
        "from rlsens import report\n",
        "def late():\n    from rlsens.report import build\n",
    ],
)
def test_checker_sees_every_import_form(source: str) -> None:
    assert violations("analysis", [("x.py", source)]) == ["x.py imports rlsens.report"]


def test_no_package_hides_imports_behind_getattr() -> None:
    """Names load where they are imported: no lazy module ``__getattr__`` in any package."""
    for init in sorted(PACKAGE.rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "__getattr__" not in names, init.relative_to(PACKAGE)
