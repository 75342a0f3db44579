"""Gallery pictures of defects: before / after / mask, for one plugin or all of them.

Used by ``weldsynth defects show``. Draw ``i`` of plugin ``name`` uses
``SeedSequence([seed, crc32(name), i])``, so a gallery is reproducible and one plugin's
draws do not depend on which others are shown.
"""

from __future__ import annotations

import io
import textwrap
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.synth.defects.base import Defect, DefectResult
from weldsynth.synth.defects.functional import to_unit

CAPTION_CHARS = 52
"""Characters of a caption line that fit a 3.2-inch panel at 7 pt."""
_UNCAPTIONED = ("s", "d", "s0", "angle", "half_width")
"""Params left out of captions (positions and bookkeeping, not what the defect looks like)."""


@dataclass(frozen=True)
class Shot:
    """One draw of one plugin on the input map."""

    defect: str
    index: int
    result: DefectResult


def draw_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The random source of draw ``index`` of plugin ``name``."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode()), index]))


def shoot(
    plugin: Defect, height: np.ndarray, geometry: WeldGeometry, n: int, seed: int
) -> list[Shot]:
    """``n`` independent draws of a plugin on the same map."""
    return [
        Shot(plugin.name, i, plugin(height, draw_rng(seed, plugin.name, i), geometry))
        for i in range(n)
    ]


def caption(shot: Shot, limit: int = 4) -> str:
    """ "#i label: a=1.2 b=3" (scalar params only) or "#i rejected: reason"."""
    r = shot.result
    if r.rejected:
        return f"#{shot.index} rejected: {r.reason}"[:70]
    items = [
        (k, v)
        for k, v in r.params.to_dict().items()  # type: ignore[union-attr]
        if isinstance(v, float) and k not in _UNCAPTIONED
    ]
    text = " ".join(f"{k}={v:.3g}" for k, v in items[:limit])
    return f"#{shot.index} {r.label}: {text}"


def fit_caption(text: str, chars: int = CAPTION_CHARS) -> str:
    """``text`` wrapped at spaces to two lines of at most ``chars`` characters (the rest
    cut with "..."), so a caption stays above its own panel."""
    lines = textwrap.wrap(text, chars) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), chars, placeholder="...")]
    return "\n".join(lines)


def render(
    height: np.ndarray, shots: dict[str, list[Shot]], *, title: str = "", dpi: int = 110
) -> bytes:
    """PNG bytes of the gallery.

    One plugin: a row per draw with before / after / mask. Several: a row per plugin with
    before and one "after" per draw, the changed pixels outlined in red (2 px outside).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = to_unit(height)
    valid = before[before > 0]
    vmin = float(np.percentile(valid, 1)) * 0.8 if valid.size else 0.0
    vmax = 1.0
    h, w = height.shape
    panel_w = 3.2
    panel_h = panel_w * h / w + 0.45  # room for a two-line caption
    single = len(shots) == 1
    rows = next(iter(shots.values())) if single else list(shots)
    n_rows = len(rows)
    n_cols = 3 if single else 1 + max(len(v) for v in shots.values())
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(panel_w * n_cols, panel_h * n_rows), squeeze=False
    )

    def show(ax, image: np.ndarray, text: str, mask: np.ndarray | None = None) -> None:
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        if mask is not None and mask.any():  # outline 2 px outside, not over the defect
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
            ax.contour(ring.astype(float), levels=[0.5], colors="red", linewidths=0.6, alpha=0.8)
        ax.set_title(fit_caption(text), fontsize=7, loc="left")
        ax.set_axis_off()

    if single:
        for row, shot in enumerate(rows):  # type: ignore[assignment]
            show(axes[row, 0], before, "before")
            r = shot.result
            after = before if r.rejected else to_unit(r.height)
            show(axes[row, 1], after, caption(shot))
            mask = np.zeros(height.shape, bool) if r.rejected else r.mask
            axes[row, 2].imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[row, 2].set_title(f"mask: {int(mask.sum())} px changed", fontsize=7, loc="left")
            axes[row, 2].set_axis_off()
    else:
        for row, name in enumerate(rows):
            show(axes[row, 0], before, f"{name}: before")
            for col, shot in enumerate(shots[name], start=1):  # type: ignore[index]
                r = shot.result
                after = before if r.rejected else to_unit(r.height)
                show(axes[row, col], after, caption(shot, limit=3), None if r.rejected else r.mask)
            for col in range(1 + len(shots[name]), n_cols):  # type: ignore[index]
                axes[row, col].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
