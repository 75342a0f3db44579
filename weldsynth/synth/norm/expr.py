"""Limit expressions of a norm: arithmetic of ``t``, ``s``, ``a``, ``b``, parsed safely.

A norm states limits such as ``1 + 0.15 * b`` or ``min(0.2 * s, 2)``. The text is parsed
with :mod:`ast` and only these nodes are accepted: numbers, the symbols of
:data:`SYMBOLS`, ``+ - * /`` (and a leading minus), parentheses and calls of ``min`` and
``max``. Anything else (names, attributes, subscripts, ``**``, strings, keywords, lambdas)
is refused with a message naming the expression and what is allowed. Nothing is ever
passed to :func:`eval`.

Symbols (all in millimetres):

* ``t``: plate thickness; ``s``: weld (butt) thickness; ``a``: fillet throat;
* ``b``: weld reinforcement width, the located bead width.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from weldsynth.core.errors import WeldsynthError

SYMBOLS = ("t", "s", "a", "b")
"""Symbols a limit expression may use."""
FUNCTIONS = ("min", "max")
MAX_LENGTH = 200
"""Longest expression text accepted."""
_OPS = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
    ast.Div: lambda x, y: x / y,
}


class ExpressionError(WeldsynthError, ValueError):
    """A limit expression is not plain arithmetic of the allowed symbols, or cannot be
    evaluated (a symbol without a value, division by zero)."""


@dataclass(frozen=True)
class Expression:
    """A parsed limit expression.

    Attributes:
        text: The expression as written.
        symbols: The symbols it uses.
    """

    text: str
    symbols: frozenset[str]
    _tree: ast.expr = field(repr=False, compare=False)

    def __call__(self, values: Mapping[str, float | None], where: str = "") -> float:
        """The value for the given symbol values (mm).

        Raises:
            ExpressionError: A symbol it uses has no value, or it divides by zero.
        """
        missing = sorted(s for s in self.symbols if values.get(s) is None)
        if missing:
            raise ExpressionError(
                f"{where or 'limit'}: {self.text!r} needs {', '.join(missing)} (mm); "
                f"give {', '.join(_HOW[s] for s in missing)}"
            )
        try:
            value = _evaluate(self._tree, values)
        except ZeroDivisionError:
            raise ExpressionError(f"{where or 'limit'}: {self.text!r} divides by zero") from None
        return float(value)


_HOW = {
    "t": "norm.t_mm in the recipe or t_mm in the calibration",
    "s": "norm.s_mm (or t_mm) in the recipe or s_mm in the calibration",
    "a": "norm.a_mm in the recipe or a_mm in the calibration",
    "b": "a located bead",
}


def parse_expression(text: object, where: str) -> Expression:
    """Parse a limit expression (a number or a string).

    Args:
        text: The expression: a number, or text such as ``"min(0.2 * s, 2)"``.
        where: File and field named in errors.

    Raises:
        ExpressionError: Not arithmetic of :data:`SYMBOLS` with ``min``/``max``.
    """
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise ExpressionError(f"{where}: {text!r} must be a number or an expression text")
    source = str(text).strip()
    if not source or len(source) > MAX_LENGTH:
        raise ExpressionError(f"{where}: expression must have 1 to {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        raise ExpressionError(f"{where}: {source!r} is not an arithmetic expression") from None
    used: set[str] = set()
    _check(tree, source, where, used)
    return Expression(source, frozenset(used), tree)


def _refuse(source: str, where: str, what: str) -> ExpressionError:
    return ExpressionError(
        f"{where}: {source!r}: {what} is not allowed; allowed: numbers, the symbols "
        f"{', '.join(SYMBOLS)}, + - * /, parentheses, {' and '.join(FUNCTIONS)}"
    )


def _check(node: ast.AST, source: str, where: str, used: set[str]) -> None:
    """Walk the tree, refusing every node that is not plain arithmetic."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _refuse(source, where, f"the constant {value!r}")
        if not math.isfinite(value):
            raise _refuse(source, where, "a non-finite number")
    elif isinstance(node, ast.Name):
        if node.id not in SYMBOLS:
            raise _refuse(source, where, f"the symbol {node.id!r}")
        used.add(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _OPS:
            raise _refuse(source, where, f"the operator {type(node.op).__name__}")
        _check(node.left, source, where, used)
        _check(node.right, source, where, used)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(source, where, f"the operator {type(node.op).__name__}")
        _check(node.operand, source, where, used)
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS or node.keywords or not node.args:
            raise _refuse(source, where, "this call")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse(source, where, "a starred argument")
            _check(arg, source, where, used)
    else:
        raise _refuse(source, where, f"a {type(node).__name__} node")


def _evaluate(node: ast.AST, values: Mapping[str, float | None]) -> float:
    """Value of a checked tree (only the node types :func:`_check` lets through)."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(values[node.id])  # type: ignore[arg-type]
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, values)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = [_evaluate(a, values) for a in node.args]
    return min(args) if node.func.id == "min" else max(args)
