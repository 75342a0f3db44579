"""``cut``: a gap across the bead, a zero band of a given length along it (seed 001, 6.3).

Labelled by the topology's norm: the plugin measures a cut's ``length`` and a
:class:`~weldsynth.synth.defects.rule.Thresholds` rule decides (the thresholds come from the
recipe's ``norm.cut_accept_max`` and ``norm.cut_reject_min``, see :attr:`Cut.norm_keys`):

* length >= ``reject_min`` → **bad** (rejectable cut);
* length <= ``accept_max`` → **good** (acceptable cut, goes to the good class);
* nothing is ever drawn in between: the guard band keeps the two classes apart (the seed
  lost accuracy where acceptable and rejectable cuts had the same size).

Defaults: ``accept_max = 4 px``, ``reject_min = 10 px``, lengths drawn from
``length = (2, 30) px``, a quarter of the draws acceptable (``p_acceptable = 0.25``; set it
to 0 for bad cuts only; dataset generation asks for acceptable and rejectable cuts
separately, the recipe's ``acceptable`` count giving the mix). The band follows the
centreline (it bends round the corners of a square weld) and spans the bead width plus
``margin`` pixels on each side.

Under a norm preset the cut is an *interruption* (a plant rule: ISO 5817 states no
length): its length in mm against the norm's limit, verdict drawn first. The plant norm
without a calibration keeps the pixel thresholds above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.rule import ACCEPT, DRAWN_VERDICTS, Thresholds
from weldsynth.synth.defects.sampling import draw_s, uniform

END_MARGIN = 0.05
"""On open beads a cut starts and ends at least this fraction of the length from the ends
(a gap at the very end would just be a shorter bead)."""


@dataclass(frozen=True)
class CutConfig(DefectConfig):
    """What a recipe may set for ``cut``."""

    length: tuple[float, float] = param(
        (2.0, 30.0),
        bounds=(1.0, 200.0),
        unit="px",
        help="cut lengths along the bead (guard band excluded)",
    )
    accept_max: float = param(
        4.0,
        bounds=(0.5, 100.0),
        unit="px",
        help="cuts up to this length are acceptable (label good)",
    )
    reject_min: float = param(
        10.0,
        bounds=(1.0, 200.0),
        unit="px",
        help="cuts from this length are rejectable (label bad)",
    )
    p_acceptable: float = param(
        0.25, bounds=(0.0, 1.0), unit="", help="share of draws that are acceptable (good) cuts"
    )
    margin: float = param(
        1.5, bounds=(0.0, 20.0), unit="px", help="band extends this far beyond the bead edges"
    )

    def check(self) -> None:
        """Guard band and reachability of both labels."""
        if self.accept_max >= self.reject_min:
            self.fail(
                "accept_max",
                f"must be smaller than reject_min={self.reject_min:g} "
                "(guard band between acceptable and rejectable cuts)",
            )
        if self.p_acceptable > 0 and self.length[0] > self.accept_max:
            self.fail(
                "length",
                f"draws no acceptable cut (min > accept_max="
                f"{self.accept_max:g}); lower it or set p_acceptable=0",
            )
        if self.p_acceptable < 1 and self.length[1] < self.reject_min:
            self.fail(
                "length",
                f"draws no rejectable cut (max < reject_min="
                f"{self.reject_min:g}); raise it or set p_acceptable=1",
            )


@dataclass(frozen=True)
class CutParams(DefectParams):
    """One drawn cut.

    Attributes:
        points: Local piece of the centreline around the cut ((x, y), ...), open.
        s0: Start of the band, arc length along ``points``.
        length: Length of the band along the centreline, px.
        half_width: Half extent of the band across the centreline, px.
        s: Arc length of the start on the whole bead (for the record).
    """

    points: tuple[tuple[float, float], ...]
    s0: float
    length: float
    half_width: float
    s: float = 0.0


def apply_cut(height: np.ndarray, p: CutParams) -> tuple[np.ndarray, np.ndarray]:
    """Pure band maths on any supported dtype: the band becomes 0 (no data)."""
    pts = np.asarray(p.points, dtype=np.float64)
    local = BeadPath(points=pts, widths=np.ones(len(pts)))
    s = np.linspace(p.s0, p.s0 + p.length, max(2, int(np.ceil(p.length)) + 1))
    outline = np.concatenate(
        [local.to_image(s, np.full_like(s, side * p.half_width)) for side in (-1.0, 1.0)]
    )
    box = F.clip_box(F.bounds_of(outline, 1.0), height.shape)

    def edit(unit: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        band = F.band_mask(xs, ys, pts, p.s0, p.s0 + p.length, p.half_width)
        return np.where(band, 0.0, unit)

    return F.edit_box(height, box, edit)


@register_defect
class Cut(Defect):
    """A zero band across the bead; bad or acceptable (good) by its length."""

    name = "cut"
    description = (
        "gap across the bead (zero band); bad from reject_min, good (acceptable) "
        "up to accept_max, nothing in between"
    )
    Config = CutConfig
    Params = CutParams
    config: CutConfig
    acceptable_variant = True
    norm_keys: ClassVar[dict[str, str]] = {
        "cut_accept_max": "accept_max",
        "cut_reject_min": "reject_min",
    }
    imperfections = ("interruption",)
    norm_size = ("length", 1.0)

    def measure(
        self, params: CutParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """The cut's length along the bead: ``length_px``, or ``length_mm`` calibrated."""
        if calibration is None:
            return {"length_px": params.length}
        return {"length_mm": calibration.px_to_mm(params.length)}

    def rule(self) -> Thresholds:
        """Good up to ``accept_max``, bad from ``reject_min``; the guard band between."""
        return Thresholds("length_px", self.config.accept_max, self.config.reject_min)

    def for_verdict(self, verdict: str) -> Cut:
        """Only acceptable (``p_acceptable=1``) or only rejectable (``0``) cuts."""
        if verdict not in DRAWN_VERDICTS:
            raise ValueError(f"cut: verdict {verdict!r}; allowed: {', '.join(DRAWN_VERDICTS)}")
        only = self.replace(p_acceptable=1.0 if verdict == ACCEPT else 0.0)
        only.wanted = verdict if self.judged("interruption") else None
        return only  # type: ignore[return-value]

    @classmethod
    def judged_config(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Under a norm preset judging in mm the pixel thresholds do not apply: set them to
        the ends of the length range so they constrain nothing."""
        lo, hi = values.get("length", CutConfig.length)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo < hi:
            return {**values, "accept_max": min(lo, 100.0), "reject_min": hi}
        return values

    @classmethod
    def check_norm(cls, norm: Mapping[str, float]) -> None:
        """The guard band: acceptable cuts strictly shorter than rejectable ones."""
        accept, reject = norm["cut_accept_max"], norm["cut_reject_min"]
        if accept >= reject:
            raise ValueError(
                f"cut_accept_max={accept:g} must be < cut_reject_min={reject:g} (guard band "
                "between acceptable and rejectable cuts)"
            )

    def draw_length(self, rng: np.random.Generator, geometry: WeldGeometry) -> float:
        """A length outside the guard band: acceptable with probability ``p_acceptable``."""
        c = self.config
        if self.judged("interruption"):
            return self.draw_size(rng, c.length, geometry, self.judge.px_per_unit(), "interruption")
        lo, hi = c.length
        if rng.random() < c.p_acceptable:
            return uniform(rng, (lo, min(hi, c.accept_max)))
        return uniform(rng, (max(lo, c.reject_min), hi))

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> CutParams:
        """A start along the bead, a length, and the local centreline around the band."""
        path = geometry.path
        assert path is not None
        length = self.draw_length(rng, geometry)
        start = draw_s(rng, path, margin=END_MARGIN * path.length, span=length)
        width = float(np.max(path.width_at(np.linspace(start, start + length, 8))))
        half = width / 2 + self.config.margin
        pad = half + 2.0
        points, _ = F.local_path(path, start - pad, start + length + pad)
        local_from = start - pad if path.closed else max(0.0, start - pad)
        return CutParams(
            points=np.round(points, 6),
            s0=start - local_from,
            length=length,
            half_width=half,
            s=start,
        )

    def apply(self, height: np.ndarray, params: CutParams) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """See :func:`apply_cut`."""
        return apply_cut(height, params)
