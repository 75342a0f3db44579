"""One defect drawn twice on the same weld under a norm: an acceptable variant (label good)
and a rejectable one (bad), with their measures in mm, the rule and the verdicts; and the
figure that shows the two side by side (``weldsynth demo``).

Both draws use the same random source, so they differ where the verdict makes them differ
(the size drawn inside the interval that gives it) and sit on the same weld. Which defect is
shown is not named here: the first of the recipe's defects, in name order, that draws
both variants on the weld.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from weldsynth.core.seeding import rng_for
from weldsynth.geometry import WeldGeometry
from weldsynth.io.calibration import Calibration
from weldsynth.synth.defects.base import DefectResult

VERDICT_LABEL = {"accept": "good", "reject": "bad"}


@dataclass(frozen=True)
class NormPair:
    """An acceptable and a rejectable variant of one defect on one weld.

    Attributes:
        defect: The plugin's name.
        imperfection: What the norm calls it (``surface pore``).
        reference: The rule's reference (``ISO 5817:2014 1.3 / ISO 6520-1 2017 ...``).
        limit: The limit on this weld, said in words (``diameter <= 0.51 mm good, ...``).
        norm: The norm and level (``ISO 5817 level C``).
        pixel_mm: The map's pixel pitch, mm.
        accept: The acceptable variant (its ``measures``, ``verdict`` and ``label``).
        reject: The rejectable variant.
        key: The measure the rule reads (``diameter_mm``).
        bounds: (good up to, bad from) in that measure: the guard band between.
    """

    defect: str
    imperfection: str
    reference: str
    limit: str
    norm: str
    pixel_mm: float
    accept: DefectResult
    reject: DefectResult
    key: str = ""
    bounds: tuple[float, float] = (0.0, 0.0)

    def line(self) -> str:
        """One line: each variant's measures, verdict and label, the limit and the rule."""
        sides = [f"{_measures(r)} -> {r.verdict} ({r.label})" for r in (self.accept, self.reject)]
        return (
            f"{self.defect} ({self.imperfection}) at {self.pixel_mm:g} mm/px: {sides[0]} vs "
            f"{sides[1]}; {self.norm}: {self.limit}; rule: {self.reference}"
        )


def draw_pair(
    height: np.ndarray,
    geometry: WeldGeometry,
    recipe: object,
    calibration: Calibration,
    seed: int,
) -> NormPair | None:
    """The first defect of ``recipe`` (name order) that draws both variants on this weld.

    Args:
        height: The good weld's map (uint8/uint16).
        geometry: Its located bead.
        recipe: A recipe with ``norm.preset`` (:class:`weldsynth.synth.recipe.Recipe`).
        calibration: The map's calibration (square pixels).
        seed: Seed of the draws.

    Returns:
        The pair, or None when no defect of the recipe draws both here.
    """
    from weldsynth.synth.recipe import acceptable_defects, variant_defect

    for name in acceptable_defects(recipe, calibration):  # type: ignore[arg-type]
        drawn = {
            verdict: variant_defect(recipe, name, verdict, calibration)(  # type: ignore[arg-type]
                height, rng_for(seed, "norm-pair", name), geometry
            )
            for verdict in VERDICT_LABEL
        }
        if not all(r.ok and r.verdict == v for v, r in drawn.items()):
            continue
        plugin = variant_defect(recipe, name, "accept", calibration)  # type: ignore[arg-type]
        rule_id = plugin.imperfection_of(drawn["accept"].params)
        limit = plugin.judge.limit(rule_id, geometry)
        return NormPair(
            defect=name,
            imperfection=limit.rule.imperfection,
            reference=limit.rule.reference,
            limit=limit.describe(),
            norm=plugin.judge.title,
            pixel_mm=calibration.pixel_mm,
            accept=drawn["accept"],
            reject=drawn["reject"],
            key=limit.key,
            bounds=(limit.accept_max, limit.reject_min),
        )
    return None


def _measures(result: DefectResult) -> str:
    """``diameter 0.776 mm`` (a measure key ends in its unit)."""
    out = []
    for key, value in (result.measures or {}).items():
        name, _, unit = key.rpartition("_")
        out.append(f"{name} {value:.3g} {unit}" if name else f"{key} {value:.3g}")
    return ", ".join(out)


def render_pair(pair: NormPair, margin: int = 24, dpi: int = 120) -> bytes:
    """PNG bytes: the two variants side by side, cropped around both defects (same crop),
    the changed pixels outlined, each captioned with its measures, verdict and label; the
    norm, the limit and the rule's reference as the title."""
    import textwrap

    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from weldsynth.core.units import to_unit

    union = pair.accept.mask | pair.reject.mask
    rows, cols = np.nonzero(union)
    h, w = union.shape
    r0, r1 = max(0, rows.min() - margin), min(h, rows.max() + margin + 1)
    c0, c1 = max(0, cols.min() - margin), min(w, cols.max() + margin + 1)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.9), squeeze=False, layout="constrained")
    for ax, result in zip(axes[0], (pair.accept, pair.reject), strict=True):
        image = to_unit(result.height)[r0:r1, c0:c1]
        valid = image[image > 0]
        vmin = float(np.percentile(valid, 1)) * 0.8 if valid.size else 0.0
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=1.0, interpolation="nearest")
        ring = cv2.dilate(result.mask[r0:r1, c0:c1].astype(np.uint8), np.ones((5, 5), np.uint8))
        if ring.any():
            ax.contour(ring.astype(float), levels=[0.5], colors="red", linewidths=0.7)
        colour = "tab:green" if result.label == "good" else "tab:red"
        ax.set_title(
            f"{result.verdict} -> label {result.label}\n{_measures(result)}",
            fontsize=9,
            color=colour,
        )
        ax.set_xlabel(f"{(c1 - c0) * pair.pixel_mm:.1f} mm across", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    head = f"{pair.defect}: {pair.imperfection} - {pair.norm}: {pair.limit}"
    fig.suptitle(
        "\n".join([*textwrap.wrap(head, 90), *textwrap.wrap(f"rule: {pair.reference}", 90)]),
        fontsize=8,
    )  # constrained layout keeps the panel titles below this multi-line title
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
