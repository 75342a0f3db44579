"""``report.html``: one self-contained review page for the audit's top suspects.

The page works offline (a ``file://`` open, no server): CSS and JavaScript are inline,
every picture is a base64 PNG ``data:`` URI, and a Content-Security-Policy forbids loading
anything else. Per suspect it shows a contrast-stretched thumbnail of the height map
(no-data black), the defect mask as a magenta outline and tint, the Grad-CAM heatmap
(jet colours, transparent where the CAM is low), the given and predicted labels, the
probability of the given label, loss, margin, defect, params, source weld and the audit's
reason; the overlays can be switched off. Cards sort by rank, loss, p_given, margin or
CAM-in-mask and filter by defect, given label and path. Each card has a decision control
(keep / move to a class / drop) preselected from the audit's suggestion; "Export decisions
CSV" downloads the decisions of the cards shown as exactly the CSV ``weldsynth relabel
apply`` reads (``path,decision,to,sha256``).

Size: pictures are thumbnails (``thumb_width`` px wide at most; the CAM, smooth anyway, at a
quarter of that), so 200 suspects of seed-sized maps (352x128) stay within about 6 MB.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from weldsynth import __version__
from weldsynth.audit.report_assets import CSP, CSS, JS
from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.io.heightmap import read_heightmap
from weldsynth.io.manifest import safe_join, sha256_file

MASK_RGB = (255, 0, 255)
_WIDE = ' class="wide"'
SORTS = (
    ("rank:asc", "rank"),
    ("loss:desc", "loss, highest first"),
    ("loss:asc", "loss, lowest first"),
    ("p_given:asc", "p(given), lowest first"),
    ("p_given:desc", "p(given), highest first"),
    ("margin:asc", "margin, lowest first"),
    ("cam_in_mask:asc", "CAM in mask, lowest first"),
)


class ReportError(WeldsynthError):
    """The report cannot be rendered (bad rows or output path)."""


def render_report(
    rows: Iterable[Mapping[str, Any]],
    out_html: str | Path,
    *,
    images_root: str | Path,
    title: str = "weldsynth audit: top suspects",
    subtitle: str = "",
    classes: Sequence[str] | None = None,
    thumb_width: int = 320,
) -> Path:
    """Write the review page for some audit suspects.

    Args:
        rows: One mapping per suspect with ``path`` (manifest path under ``images_root``)
            and any of ``rank, topology, given, predicted, p_given, loss, margin, defect,
            params`` (JSON text), ``source, mask`` (path or ""), ``suggestion`` (``keep``,
            ``relabel:<class>`` or ``drop``), ``why``, ``cam`` (2-D float array in [0, 1]),
            ``cam_in_mask`` (float) and ``sha256`` (of the audited file; read from the
            file when missing).
        out_html: The HTML file to write (atomically).
        images_root: The data-set root the paths are relative to.
        title: Page title.
        subtitle: One line under the title (e.g. how the audit was run).
        classes: Class folders offered as move targets; default: ``good`` plus every given,
            predicted and suggested class in the rows.
        thumb_width: Widest thumbnail in pixels.

    Returns:
        The path written.

    Raises:
        ReportError: a row has no path, or a path escapes ``images_root``.
    """
    root = Path(images_root)
    rows = [dict(r) for r in rows]
    for i, row in enumerate(rows, start=1):
        if not row.get("path"):
            raise ReportError(f"suspect row {i}: no path")
        row.setdefault("rank", i)
    targets = list(classes) if classes is not None else _classes(rows)
    cards = [_card(row, root, targets, thumb_width) for row in rows]
    page = _page(rows, cards, title, subtitle)
    return atomic_write_bytes(out_html, page.encode("utf-8"))


# --------------------------------------------------------------------------- pictures
def stretch(height: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """uint8 picture of a height map: the 1st-99th percentile of measured heights spread
    over 40..255, no-data 0, so relief shows even on a flat-looking map."""
    out = np.zeros(height.shape, np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(height[valid], [1.0, 99.0])
    scaled = np.clip((height - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    out[valid] = np.rint(40.0 + 215.0 * scaled[valid]).astype(np.uint8)
    return out


def mask_overlay(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGBA (as OpenCV BGRA) outline of a defect mask, drawn 1-2 px outside it so small
    holes stay visible, with a light tint inside; transparent elsewhere."""
    w, h = size
    inside = cv2.resize((mask > 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA) > 0
    if mask.any() and not inside.any():  # a defect smaller than one thumbnail pixel
        small = cv2.resize((mask > 0).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        inside = small >= small.max()
    ring = cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out = np.zeros((h, w, 4), np.uint8)
    bgr = MASK_RGB[::-1]
    out[ring & ~inside] = (*bgr, 255)
    out[inside] = (*bgr, 60)
    return out


def cam_overlay(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGBA (as OpenCV BGRA) Grad-CAM heatmap, jet colours, opacity growing with the CAM."""
    w, h = size
    cam = np.clip(np.nan_to_num(np.asarray(cam, np.float32)), 0.0, 1.0)
    cam = cv2.resize(cam, (max(w, 1), max(h, 1)), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.rint(cam * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = np.rint(np.clip(cam * 1.4, 0.0, 1.0) * 170).astype(np.uint8)
    return np.dstack([heat, alpha])


def png_data_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of a gray, BGR or BGRA uint8 array."""
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise ReportError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _pictures(
    row: Mapping[str, Any], root: Path, thumb_width: int
) -> tuple[str, tuple[int, int], str]:
    """The stacked images of one card (HTML), the display size, and a problem ("")."""
    try:
        hm = read_heightmap(safe_join(root, str(row["path"])))
    except WeldsynthError as exc:
        return "", (thumb_width, thumb_width // 3), f"image unreadable: {exc}"
    h, w = hm.shape
    scale = min(1.0, thumb_width / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    gray = cv2.resize(stretch(hm.height, hm.valid), size, interpolation=cv2.INTER_AREA)
    parts = [f'<img class="base" alt="height map" src="{png_data_uri(gray)}">']
    problem = ""
    if row.get("mask"):
        mask = _read_mask(root, str(row["mask"]))
        if mask is None:
            problem = f"mask {row['mask']} unreadable"
        else:
            parts.append(
                f'<img class="ov-mask" alt="defect mask" '
                f'src="{png_data_uri(mask_overlay(mask, size))}">'
            )
    cam = row.get("cam")
    if cam is not None and np.asarray(cam).ndim == 2 and np.asarray(cam).size:
        quarter = (max(8, size[0] // 4), max(8, size[1] // 4))  # smooth: the browser scales
        parts.append(
            f'<img class="ov-cam" alt="Grad-CAM" '
            f'src="{png_data_uri(cam_overlay(np.asarray(cam), quarter))}">'
        )
    display = (thumb_width, round(thumb_width * h / w)) if w < thumb_width else size
    return "".join(parts), display, problem


def _read_mask(root: Path, rel: str) -> np.ndarray | None:
    try:
        file = safe_join(root, rel)
    except WeldsynthError:
        return None
    mask = cv2.imread(str(file), cv2.IMREAD_UNCHANGED) if file.is_file() else None
    if mask is None:
        return None
    return mask if mask.ndim == 2 else mask.max(axis=2)


# --------------------------------------------------------------------------- HTML
def _classes(rows: list[dict[str, Any]]) -> list[str]:
    found = {"good"}
    for row in rows:
        for key in ("given", "predicted"):
            if row.get(key):
                found.add(str(row[key]))
        suggestion = str(row.get("suggestion") or "")
        if suggestion.startswith("relabel:"):
            found.add(suggestion.split(":", 1)[1])
    return sorted(found, key=lambda c: (c != "good", c != "bad", c))


def _card(row: dict[str, Any], root: Path, classes: list[str], thumb_width: int) -> str:
    path = str(row["path"])
    sha = str(row.get("sha256") or "")
    if not sha:
        file = safe_join(root, path)
        sha = sha256_file(file) if file.is_file() else ""
    pictures, (w, h), problem = _pictures(row, root, thumb_width)
    stack = (
        f'<div class="stack" style="width:{w}px;height:{h}px">{pictures}</div>' if pictures else ""
    )
    if problem:
        stack += f'<div class="noimg">{_e(problem)}</div>'
    given, predicted = str(row.get("given") or ""), str(row.get("predicted") or "")
    data = {
        "path": path,
        "sha256": sha,
        "rank": row.get("rank"),
        "loss": row.get("loss"),
        "p_given": row.get("p_given"),
        "margin": row.get("margin"),
        "cam_in_mask": row.get("cam_in_mask"),
        "defect": str(row.get("defect") or ""),
        "given": given,
    }
    attrs = " ".join(f'data-{k.replace("_", "-")}="{_e(_text(v))}"' for k, v in data.items())
    disagree = " disagree" if given and predicted and given != predicted else ""
    params = _params(row.get("params"))
    fields = [
        ("rank", f'<span class="rank">{_e(_text(row.get("rank")))}</span>'),
        ("topology", _e(_text(row.get("topology")) or "-")),
        ("defect", _e(_text(row.get("defect")) or "-")),
        ("path", _e(path)),
        ("given", _label(given) or "-"),
        ("predicted", _label(predicted) or "-"),
        ("p(given)", _e(_num(row.get("p_given")) or "-")),
        ("loss", _e(_num(row.get("loss")) or "-")),
        ("margin", _e(_num(row.get("margin")) or "-")),
        ("CAM in mask", _e(_num(row.get("cam_in_mask")) or "-")),
        ("source", _e(_text(row.get("source")))),
        ("params", f"<code>{_e(params)}</code>" if params else ""),
    ]
    dl = "".join(
        f"<dt>{k}</dt><dd{_WIDE if k in ('path', 'source', 'params') else ''}>{v}</dd>"
        for k, v in fields
        if v
    )
    select = _decision_select(path, str(row.get("suggestion") or "keep"), classes)
    why = _e(_text(row.get("why")))
    return (
        f'<section class="suspect{disagree}" {attrs}>{stack}<dl class="fields">{dl}</dl>'
        f'<div class="decide"><label>decision {select}</label>'
        f'<div class="why">suggested: {_e(_text(row.get("suggestion")) or "keep")}'
        f"{'<br>' + why if why else ''}</div></div></section>"
    )


def _decision_select(path: str, suggestion: str, classes: list[str]) -> str:
    current = PurePosixPath(path).parent.name
    wanted = "keep"
    if suggestion == "drop":
        wanted = "drop"
    elif suggestion.startswith("relabel:"):
        wanted = "move:" + suggestion.split(":", 1)[1]
    options = [("keep", "keep")]
    targets = [c for c in classes if c != current]
    if wanted.startswith("move:") and wanted[5:] not in targets and wanted[5:] != current:
        targets.append(wanted[5:])
    options += [(f"move:{c}", f"move to {c}") for c in targets]
    options.append(("drop", "drop (quarantine)"))
    if wanted not in {v for v, _ in options}:
        wanted = "keep"  # a relabel to the class it is already in
    opts = "".join(
        f'<option value="{_e(v)}"{" selected" if v == wanted else ""}>{_e(t)}</option>'
        for v, t in options
    )
    return f'<select class="decision" aria-label="decision for {_e(path)}">{opts}</select>'


def _page(rows: list[dict[str, Any]], cards: list[str], title: str, subtitle: str) -> str:
    defects = sorted({str(r.get("defect") or "") for r in rows})
    given = sorted({str(r.get("given") or "") for r in rows})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sub = subtitle or f"{len(rows)} suspect(s)"
    sub += f" · weldsynth {__version__} · {stamp}"
    sort = _select("sort", SORTS)
    f_defect = _select("filter-defect", [("*", "all"), *((d, d or "(none)") for d in defects)])
    f_given = _select("filter-given", [("*", "all"), *((g, g or "(none)") for g in given)])
    legend = (
        f'<span class="legend"><span class="swatch" style="background:rgb{MASK_RGB}">'
        '</span>defect mask<span class="swatch" style="background:linear-gradient('
        '90deg,#00f,#0ff,#ff0,#f00)"></span>Grad-CAM (low → high)</span>'
    )
    controls = (
        f'<div class="controls"><label>sort {sort}</label>'
        f"<label>defect {f_defect}</label><label>given {f_given}</label>"
        '<label>path <input type="search" id="filter-text" placeholder="contains">'
        '</label><label><input type="checkbox" id="show-mask" checked> mask</label>'
        '<label><input type="checkbox" id="show-cam" checked> Grad-CAM</label>'
        f'{legend}<button id="export" type="button" title="Download the decisions '
        "of every suspect, also those the filters hide, for: weldsynth relabel apply "
        'DATA decisions.csv">Export all decisions CSV</button><span id="summary"></span></div>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="sub">{_e(sub)}</p>{controls}</header>'
        f'<main id="suspects">{"".join(cards)}</main><script>{JS}</script>'
        "</body></html>\n"
    )


def _select(ident: str, options: Iterable[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in options)
    return f'<select id="{ident}">{opts}</select>'


def _label(label: str) -> str:
    if not label:
        return ""
    css = "lab-good" if label == "good" else "lab-bad"
    return f'<span class="{css}">{_e(label)}</span>'


def _params(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    if value == {}:
        return ""
    return json.dumps(_rounded(value), sort_keys=True, separators=(", ", ": "), default=str)


def _rounded(value: Any) -> Any:
    """Floats to 4 significant digits, for reading (the manifest keeps them exact)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _num(value: Any) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(x) else f"{x:.3f}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
