"""Data flows one way: no module imports from a layer above its own, and no import cycles.

The layers, lowest first, are written in docs/ARCHITECTURE.md. ``engines`` sits beside the
stack: it imports only ``core``; callers hand it work units. Every import counts, also the
ones inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "weldsynth"

LAYERS = {
    "core": 0,
    "data": 0,
    "io": 1,
    "geometry": 2,
    "synth": 3,
    "dataset": 4,
    "train": 5,
    "audit": 6,
    "pipelines": 7,
    "cli": 8,
}
ENGINES_MAY_IMPORT = {"core", "engines"}
ENGINES_USED_FROM = 4  # dataset and above hand work to engines


def _module_name(file: Path) -> str:
    parts = list(file.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _walk(tree: ast.AST, *, runtime_only: bool) -> list[ast.AST]:
    """Every node; with ``runtime_only``, none under ``if TYPE_CHECKING:``."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        if runtime_only and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _imports(file: Path, *, runtime_only: bool = False) -> set[str]:
    """Absolute names of the weldsynth modules ``file`` imports (type-only ones too, unless
    ``runtime_only``: a type from a layer above is still a dependency on it)."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    name = _module_name(file)
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk(tree, runtime_only=runtime_only):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from weldsynth.x import y` may import the submodule y
            found.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in found if m == "weldsynth" or m.startswith("weldsynth.")}


def _area(module: str) -> str | None:
    """The subpackage a module belongs to; None for the top (``weldsynth``, ``__main__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else None


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _known(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages - {"engines"} == set(LAYERS), "add the new subpackage to LAYERS and docs"


@pytest.mark.parametrize("file", _modules(), ids=lambda p: _module_name(p))
def test_no_import_reaches_upstream(file: Path) -> None:
    me = _area(_module_name(file))
    wrong = []
    for module in sorted(_imports(file)):
        other = _area(module)
        if other is None or other == me or not _known(module):
            continue
        if me == "engines":
            ok = other in ENGINES_MAY_IMPORT
        elif other == "engines":
            ok = me is None or LAYERS.get(me, 99) >= ENGINES_USED_FROM
        elif me is None:  # weldsynth/__init__.py, __main__.py: the top
            ok = True
        else:
            ok = LAYERS[other] <= LAYERS[me]
        if not ok:
            wrong.append(module)
    assert not wrong, f"{_module_name(file)} ({me}) imports from a layer above it: {wrong}"


def test_no_import_cycles() -> None:
    """Also through imports inside functions: a lazy import hides a cycle, it does not end it
    (imports only for type checking do not run, so they cannot form one)."""
    graph = {}
    for file in _modules():
        name = _module_name(file)
        imported = _imports(file, runtime_only=True)
        graph[name] = {m for m in imported if _known(m) and m != name}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
