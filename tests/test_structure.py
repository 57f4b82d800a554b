"""The code's shape, checked on its syntax tree: short functions, no reaching into another module's private
names, data in data files rather than long Python literals."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SOURCES = sorted((ROOT / "bot").rglob("*.py"))
MAX_FUNCTION_LINES = 80
MAX_LITERAL_LINES = 40


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _span(node: ast.AST) -> int:
    return (getattr(node, "end_lineno", None) or node.lineno) - node.lineno + 1  # type: ignore[attr-defined]


def test_sources_are_found():
    assert len(SOURCES) > 30


def test_no_function_is_longer_than_80_lines():
    long = [(str(p.relative_to(ROOT)), n.name, _span(n)) for p in SOURCES for n in ast.walk(_tree(p))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and _span(n) > MAX_FUNCTION_LINES]
    assert not long, long


def test_no_module_imports_another_modules_private_names():
    bad = []
    for p in SOURCES:
        for n in ast.walk(_tree(p)):
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("bot"):
                bad += [(str(p.relative_to(ROOT)), n.module, a.name) for a in n.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, bad


def test_no_literal_is_longer_than_40_lines():
    kinds = ast.List | ast.Dict | ast.Set | ast.Tuple | ast.Constant | ast.JoinedStr
    long = [(str(p.relative_to(ROOT)), n.lineno, _span(n)) for p in SOURCES for n in ast.walk(_tree(p))
            if isinstance(n, kinds) and _span(n) > MAX_LITERAL_LINES]
    assert not long, long
