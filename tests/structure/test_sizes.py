"""Short modules with one job: at most 400 lines per module, 80 per function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "weldsynth"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

FILES = sorted(PACKAGE.rglob("*.py"))


def _id(file: Path) -> str:
    return file.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("file", FILES, ids=_id)
def test_module_and_function_sizes(file: Path) -> None:
    text = file.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_id(file)}: {lines} lines (split it by job)"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{_id(file)}: functions over {MAX_FUNCTION_LINES} lines: {long}"
