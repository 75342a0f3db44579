"""Tables that fit the terminal: no cut number, no ambiguous path.

:func:`fit_table` lays a ``rich`` table out for a width itself instead of letting rich
squeeze it (rich cuts any column, numbers too: ``66.…``). Each column is one of three
kinds, told from its cells:

* numbers (``12``, ``0.125``, ``3.50%``, ``-``, ``12/36``): never narrower than their widest
  cell, never wrapped;
* paths (header ``path``/``file``, or cells with ``/``): shortened from the left with ``…``,
  keeping the end, never below the length that tells every path of the column apart
  (``…0001__cut_04.png``);
* text: wrapped at spaces, never narrower than its longest word.

Headers wrap at spaces. When the minimum widths still do not fit, the columns named in
``drop`` go first, lowest value first; a table that cannot fit even then is printed wider
than the terminal rather than cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.errors import MarkupError
from rich.table import Column, Table
from rich.text import Text

ELLIPSIS = "…"
_NUMBER = re.compile(
    r"^(?:[-+±]?(?:\d[\d,_]*)?(?:\.\d+)?(?:[eE][-+]?\d+)?%?"
    r"(?:\s*[/:±]\s*[-+]?\d[\d.,_]*%?)*|-|—|nan|inf|n/a|)$"
)
_PATH_HEADERS = {"path", "file", "image", "source"}


def plain(cell: Any) -> str:
    """The text of a cell (markup removed)."""
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        try:
            return Text.from_markup(cell).plain
        except MarkupError:  # not markup: the text as it is
            return cell
    return str(cell)


def is_number(text: str) -> bool:
    """Whether a cell reads as a number (or a placeholder such as ``-``)."""
    return bool(_NUMBER.match(text.strip()))


def unique_suffix(paths: Sequence[str]) -> int:
    """The shortest end length that tells the distinct ``paths`` apart."""
    distinct = sorted(set(paths))
    longest = max((len(p) for p in distinct), default=0)
    for n in range(1, longest + 1):
        if len({p[-n:] for p in distinct}) == len(distinct):
            return n
    return longest


def shorten_path(path: str, width: int) -> str:
    """``path`` in ``width`` characters: cut from the left, ``…`` in front."""
    if len(path) <= width:
        return path
    return ELLIPSIS + path[len(path) - max(width - 1, 1) :]


@dataclass
class _Col:
    """One column's cells and its layout limits."""

    column: Column
    header: str
    cells: list[Any]
    texts: list[str]
    kind: str
    natural: int
    minimum: int


def _words(text: str) -> int:
    return max((len(w) for line in text.splitlines() for w in line.split()), default=0)


def _lines(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _classify(column: Column) -> _Col:
    header = plain(column.header)
    cells = list(column.cells)
    texts = [plain(c) for c in cells]
    head_min = _words(header)
    if texts and all(is_number(t) for t in texts):
        kind, minimum = "number", max(head_min, max(_lines(t) for t in texts))
    elif texts and (
        header.strip().lower() in _PATH_HEADERS
        or any("/" in t and " " not in t.strip() for t in texts)
    ):
        paths = [t for t in texts if t]
        kind, minimum = "path", max(head_min, min(unique_suffix(paths) + 1, _lines_max(texts)))
    else:
        kind, minimum = "text", max(head_min, max((_words(t) for t in texts), default=0))
    natural = max(_lines(header), max((_lines(t) for t in texts), default=0), minimum)
    return _Col(column, header, cells, texts, kind, natural, minimum)


def _lines_max(texts: list[str]) -> int:
    return max((_lines(t) for t in texts), default=0)


def _overhead(table: Table, n: int) -> int:
    """Border and padding characters of ``table`` with ``n`` columns."""
    probe = _copy(table, [Column(header="x", width=1) for _ in range(n)])
    probe.title = probe.caption = None
    if n:
        probe.add_row(*(["x"] * n))
    console = Console(width=10_000, file=_Null(), color_system=None)
    with console.capture() as capture:
        console.print(probe, crop=False)
    body = [line for line in capture.get().splitlines() if "x" in line]
    return max((len(line) for line in body), default=n) - n


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


def _copy(table: Table, columns: list[Column]) -> Table:
    """An empty table with ``table``'s look and ``columns``."""
    return Table(
        *columns,
        title=table.title,
        caption=table.caption,
        box=table.box,
        show_header=table.show_header,
        show_edge=table.show_edge,
        show_lines=table.show_lines,
        header_style=table.header_style,
        title_style=table.title_style,
        padding=table.padding,
        pad_edge=table.pad_edge,
        leading=table.leading,
    )


def _layout(cols: list[_Col], room: int) -> list[int]:
    """Widths from the natural ones, shrinking number columns (their headers wrap; a
    number column is never narrower than its widest cell), then text columns (wrapped at
    spaces), then path columns (shortened from the left) down to their minimum, widest
    slack first, until they fit ``room``."""
    widths = [c.natural for c in cols]
    excess = sum(widths) - room
    for kinds in (("number",), ("text",), ("path",)):  # what wraps loses nothing: first
        while excess > 0:
            slack = [
                (widths[i] - c.minimum, i)
                for i, c in enumerate(cols)
                if c.kind in kinds and widths[i] > c.minimum
            ]
            if not slack:
                break
            _gap, i = max(slack)
            widths[i] -= 1
            excess -= 1
    return widths


def fit_tables(table: Table, width: int, drop: Sequence[str] = (), keys: int = 1) -> list[Table]:
    """``table`` laid out to fit ``width`` columns (see the module docstring).

    Args:
        table: A rich table (its columns' cells are read; it is not changed).
        width: The terminal width.
        drop: Headers of columns that may go when the table does not fit, lowest value
            first.
        keys: Leading columns that name a row; when the table still does not fit, the
            other columns wrap into further tables that repeat these.

    Returns:
        One table with fixed column widths, or several when the columns had to wrap.
    """
    cols = [_classify(c) for c in table.columns]
    order = [h for h in drop if h in {c.header for c in cols}]
    while order and not _fits(table, cols, width):
        gone = order.pop(0)
        cols = [c for c in cols if c.header != gone]
    if _fits(table, cols, width) or len(cols) <= keys + 1:
        return [_build(table, cols, width)]
    head, chunks, current = cols[:keys], [], []
    for col in cols[keys:]:
        if current and not _fits(table, [*head, *current, col], width):
            chunks.append(current)
            current = []
        current.append(col)
    chunks.append(current)
    out = [_build(table, [*head, *chunk], width) for chunk in chunks]
    for n, part in enumerate(out[1:], start=2):
        part.title = f"{plain(table.title or '')} (continued, {n}/{len(out)})".strip()
    return out


def fit_table(table: Table, width: int, drop: Sequence[str] = ()) -> Table:
    """The first table of :func:`fit_tables` with no wrapping (one table, maybe too wide)."""
    return fit_tables(table, width, drop, keys=len(table.columns))[0]


def _fits(table: Table, cols: list[_Col], width: int) -> bool:
    return sum(c.minimum for c in cols) + _overhead(table, len(cols)) <= width


def _build(table: Table, cols: list[_Col], width: int) -> Table:
    widths = _layout(cols, width - _overhead(table, len(cols)))
    out = _copy(table, [_column(c, w) for c, w in zip(cols, widths, strict=True)])
    for r, row in enumerate(table.rows):
        cells = (_cell(c, r, w) for c, w in zip(cols, widths, strict=True))
        out.add_row(*cells, style=row.style, end_section=row.end_section)
    return out


def _column(col: _Col, width: int) -> Column:
    c = col.column
    return Column(
        header=c.header,
        justify=c.justify,
        style=c.style,
        header_style=c.header_style,
        width=width,
        no_wrap=False,  # headers wrap; cells fit: numbers never narrower, paths shortened
        overflow="fold",
    )


def _cell(col: _Col, row: int, width: int) -> Any:
    if col.kind == "path":
        return Text(shorten_path(col.texts[row], width))
    return col.cells[row]


def print_table(console: Console, table: Table, drop: Sequence[str] = (), keys: int = 1) -> None:
    """Print ``table`` fitted to ``console``'s width (see :func:`fit_tables`)."""
    for part in fit_tables(table, console.width, drop, keys):
        console.print(part)
