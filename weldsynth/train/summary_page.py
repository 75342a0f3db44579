"""``summary.html``: one self-contained page a person opens (and prints) after a run.

The page is built from :class:`Section` blocks (a heading and its HTML); every picture is
inlined as a base64 ``data:`` URI, so the file can be mailed or opened from anywhere, and
links point at the run's other files by relative paths. The print style sheet starts
every section but the first on a new page, keeps table rows and pictures whole and
repeats table headers. :mod:`weldsynth.train.summary` (``train``), :mod:`weldsynth.audit.summary`
(``audit``) and :mod:`weldsynth.pipelines.loop_summary` (``loop``) fill it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.paths import safe_join
from weldsynth.train.plant import GOOD, rates_from_confusion

SUMMARY_HTML = "summary.html"
THUMB_WIDTH = 240
"""Widest thumbnail of a misclassified sample, in pixels."""

CSS = """
:root { font-family: system-ui, sans-serif; color: #1b1b1b; }
body { margin: 1.2rem auto; max-width: 68rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; }
.sub { color: #555; margin-top: 0; }
nav ul { columns: 2; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .2rem .45rem; }
th { background: #eef2f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td { overflow-wrap: break-word; }
.pictures { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .8rem; color: #333; overflow-wrap: anywhere; max-width: 32rem; }
.gallery figure { width: 15.5rem; }
.note { color: #555; font-size: .85rem; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav { display: none; }
  section + section { break-before: page; }
  table { width: 100%; font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr, figure, img { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: 8pt; color: #555; }
}
"""


@dataclass(frozen=True)
class Section:
    """One part of the page.

    Attributes:
        id: The anchor (``#id``) of the part.
        title: Its heading.
        body: Its HTML (already escaped).
    """

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], numeric: int = 1) -> str:
    """An HTML table; the cells after the first ``numeric`` columns are right-aligned."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{esc(v)}</td>' if k >= numeric else f"<td>{esc(v)}</td>"
            for k, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def links(items: Iterable[tuple[str, str]]) -> str:
    """A list of links: (text, href relative to the page)."""
    lis = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for text, href in items)
    return f"<ul>{lis}</ul>" if lis else '<p class="note">none</p>'


def png_uri(data: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(src: str, caption: str, alt: str = "") -> str:
    """A picture (a data URI) with its caption."""
    return (
        f'<figure><img src="{src}" alt="{esc(alt or caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def file_figure(file: Path, caption: str) -> str:
    """A PNG file inlined with its caption, or a note when it cannot be read."""
    try:
        data = file.read_bytes()
    except OSError:
        return f'<p class="note">{esc(caption)}: {esc(file.name)} missing</p>'
    return figure(png_uri(data), caption)


def thumbnail(root: Path, rel: str, width: int = THUMB_WIDTH) -> str | None:
    """A data URI of the height map ``rel`` under ``root``: relief stretched over the grey
    levels (no data black), at most ``width`` pixels wide; None when it cannot be read."""
    try:
        file = safe_join(root, rel)
    except ValueError:
        return None
    img = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 2:
        return None
    height = img.astype(np.float64)
    valid = height > 0
    out = np.zeros(height.shape, np.uint8)
    if valid.any():
        lo, hi = np.percentile(height[valid], [1.0, 99.0])
        scaled = np.clip((height - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
        out[valid] = np.rint(40.0 + 215.0 * scaled[valid]).astype(np.uint8)
    if out.shape[1] > width:
        rows = max(1, round(out.shape[0] * width / out.shape[1]))
        out = cv2.resize(out, (width, rows), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    return png_uri(buf.tobytes()) if ok else None


def gallery(root: Path, samples: Sequence[tuple[str, str]], limit: int, more: str = "") -> str:
    """Thumbnails of samples: (path under ``root``, caption), the first ``limit`` of them."""
    cards = []
    for rel, caption in samples[:limit]:
        src = thumbnail(root, rel)
        if src is None:
            cards.append(f'<figure><p class="note">{esc(rel)}: cannot be read</p></figure>')
        else:
            cards.append(figure(src, caption, alt=rel))
    left = len(samples) - len(cards)
    tail = f'<p class="note">{left} more {esc(more)}</p>' if left > 0 else ""
    if not cards:
        return '<p class="note">none: every sample is classified as labelled</p>'
    return f'<div class="pictures gallery">{"".join(cards)}</div>{tail}'


def errors(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> tuple[int, int, int, int]:
    """(false alarms, good images, misses, bad images) of a confusion matrix (rows true,
    columns predicted), as :func:`weldsynth.train.plant.rates_from_confusion` counts them:
    a false alarm is a good weld called bad, a miss a bad weld (any class but ``good``)
    called good. Without a ``good`` class there are no false alarms, misses nor good
    images."""
    matrix = np.asarray(confusion, np.int64).reshape(len(classes), len(classes))
    if GOOD not in classes:
        return 0, 0, 0, int(matrix.sum())
    rates = rates_from_confusion(matrix, classes)
    return rates["false_alarms"], rates["good"], rates["misses"], rates["bad"]


def count_share(n: int, of: int) -> str:
    """``n (x.x %)`` of ``of``."""
    return f"{n} ({100.0 * n / of:.1f} %)" if of else str(n)


def write_page(path: Path, title: str, subtitle: str, sections: Sequence[Section]) -> Path:
    """Write the page (atomically): title, subtitle, a contents list, the sections.

    Returns:
        ``path``.
    """
    nav = "".join(f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p></header>",
        f"<nav><ul>{nav}</ul></nav>",
    ]
    parts += [
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    ]
    parts.append("</body></html>\n")
    return atomic_write_bytes(path, "\n".join(parts).encode("utf-8"))
