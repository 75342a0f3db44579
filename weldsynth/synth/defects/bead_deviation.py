"""``bead_deviation``: the robot drifted, the bead bends sideways (seed 001, 6.3).

"Giros al principio, final y en el centro": the bead leaves its line at its **start**
(starts off the line and bends back), at its **end** (bends away and ends off the line) or
in the **middle** (bends away, runs off the line, bends back). Closed (square) beads have
no start or end: they deviate in the middle of one straight side, away from the corners.

The sideways offset ``δ(s)`` along the bead is ``amplitude`` on the deviated part with
raised-cosine bends of length ``ramp``. The bead keeps its cross-section: pixels of the new
footprint ``|e - δ(s)| <= R`` take the old surface at ``e - δ(s)`` (ripples and texture
move with it), with ``R = half width × (1 + margin)``. Pixels of the old footprint that the
bead left take the surroundings on that side, mirrored across the old footprint's edge
(plate texture, shadow, or 0 where the surroundings are 0). Everything else is untouched.

Norm: a lateral deviation (a plant rule, ISO 5817 states none), measured by the sideways
offset ``|amplitude|``; verdict drawn first, then the amplitude. Under a norm the default
amplitude is ``JUDGED_AMPLITUDE`` (0.1-0.6 widths, straddling the plant limit of a quarter
width); recipes without a norm keep 0.3-0.7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects._path_functional import TextureSampler, edit_pixels, unit_floor
from weldsynth.synth.defects._path_sampling import draw_side, local_piece, place_section
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.sampling import uniform

KINDS = ("start", "middle", "end")
MIN_RAMP_PER_AMPLITUDE = 2.0
"""A bend is at least this many times longer than the offset (at most ~38° off the line)."""
BEAD_TOLERANCE = 0.01
"""Beyond the nominal bead edge, a moved pixel is bead material when it stands this much
(full scale) above the bare surface at its source; else the destination keeps its own."""
MIN_SHIFT = 1e-3
"""Offsets (px) below this leave a pixel alone (the far tails of the bends)."""
PIXEL_SLACK = 4.0
"""Margin (px) round the moved band where path coordinates are found (normals, bends)."""
TEXTURE_SLACK = 8.0
CORE_DEPTH = 6.0
"""Core pixels this far (px) inside the moved edge skip the material test (despeckle: 4)."""
"""Margin (px) of the texture box beyond the farthest mirrored sample (blur kernel: 4 px)."""
END_MARGIN = 0.08
"""A middle deviation stays this fraction of the bead length away from the ends."""
JUDGED_AMPLITUDE = (0.1, 0.6)
"""Default amplitude (× width) under a norm judging the offset: straddles 0.25 × b."""


@dataclass(frozen=True)
class BeadDeviationConfig(DefectConfig):
    """What a recipe may set for ``bead_deviation``."""

    amplitude: tuple[float, float] = param(
        (0.3, 0.7), bounds=(0.05, 1.5), unit="× width", help="sideways offset of the deviated part"
    )
    length: tuple[float, float] = param(
        (0.2, 0.45),
        bounds=(0.05, 1.0),
        unit="× length",
        help="length of the deviated part (bends included)",
    )
    ramp: tuple[float, float] = param(
        (0.35, 0.5),
        bounds=(0.1, 1.0),
        unit="× deviated part",
        help="length of each bend (raised cosine)",
    )
    position: str = param(
        "any",
        choices=("any", *KINDS),
        help="where the bead bends: start, middle, end (closed: middle)",
    )
    side: str = param(
        "any",
        choices=("any", "left", "right"),
        help="direction: left of travel (north / outside) or right",
    )
    margin: float = param(
        0.3,
        bounds=(0.0, 1.5),
        unit="× half width",
        help="surroundings moved with the bead beyond its edge",
    )


@dataclass(frozen=True)
class BeadDeviationParams(DefectParams):
    """One drawn deviation.

    Attributes:
        points: Local centreline ((x, y), ...) around the deviated part, open.
        widths: Bead width at each local point.
        kind: "start", "middle" or "end".
        s0: Arc length along ``points`` where the deviated part begins ("start": unused,
            the part runs from the beginning).
        s1: Arc length along ``points`` where it ends ("end": unused, runs to the end).
        ramp: Length of each bend, px.
        amplitude: Signed offset, px (+ left of travel).
        margin: Footprint beyond the bead edge, fraction of the half width.
        s: Arc length on the whole bead of the first local point (for the record).
    """

    points: tuple[tuple[float, float], ...]
    widths: tuple[float, ...]
    kind: str
    s0: float
    s1: float
    ramp: float
    amplitude: float
    margin: float
    s: float = 0.0


def offset_profile(s: np.ndarray, kind: str, s0: float, s1: float, ramp: float) -> np.ndarray:
    """Fraction of the amplitude the bead is moved by at arc length ``s`` (0..1)."""
    up = np.clip((s - s0) / ramp, 0.0, 1.0) if kind != "start" else np.ones_like(s)
    down = np.clip((s1 - s) / ramp, 0.0, 1.0) if kind != "end" else np.ones_like(s)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def apply_bead_deviation(
    height: np.ndarray, p: BeadDeviationParams
) -> tuple[np.ndarray, np.ndarray]:
    """Move the bead sideways by ``amplitude × offset_profile(s)``; see the module docstring."""
    pts = np.asarray(p.points, dtype=np.float64)
    wid = np.asarray(p.widths, dtype=np.float64)
    amp = float(p.amplitude)
    big_r = float(wid.max()) / 2 * (1 + p.margin)
    reach = big_r + abs(amp) + 1.0
    box = F.clip_box(F.bounds_of(pts, 2 * big_r + abs(amp) + 2.0), height.shape)
    floor = unit_floor(height.dtype)
    local = BeadPath(pts, wid)

    def band(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dl = amp * offset_profile(s, p.kind, p.s0, p.s1, p.ramp)
        on = np.abs(dl) > MIN_SHIFT
        lo = np.where(on, np.minimum(-big_r, dl - big_r), np.inf)
        return lo, np.where(on, np.maximum(big_r, dl + big_r), -np.inf)

    # path coordinates where the bead moves (the band over the deviated part), the texture
    # up to a bead width beyond (mirrored surroundings): fewer pixels, the same result
    near = _moved_box(local, p, band, reach, box)
    if near is not None and box is not None:
        g = int(np.ceil(big_r + TEXTURE_SLACK))
        lo, hi = (
            np.maximum(box[:2], np.subtract(near[:2], g)),
            np.minimum(box[2:], np.add(near[2:], g)),
        )
        box = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))

    def edit(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = local.pixels(near, reach, band)  # type: ignore[arg-type]
        delta = amp * offset_profile(f.s, p.kind, p.s0, p.s1, p.ramp)
        half = local.width_at(f.s) / 2
        r = half * (1 + p.margin)
        moved = (np.abs(delta) > MIN_SHIFT) & (f.beyond <= r)
        new_foot = moved & (np.abs(f.e - delta) <= r)
        old_foot = moved & (np.abs(f.e) <= r)
        sel = new_foot | old_foot
        if not sel.any():
            return f.iy[sel], f.ix[sel], np.zeros(0)  # nothing set: the box does not matter
        sample = _FlatSampler(unit, floor)
        x, y = f.x[sel] - box[0], f.y[sel] - box[1]  # type: ignore[index]
        nx, ny, e, dl, beyond = f.nx[sel], f.ny[sel], f.e[sel], delta[sel], f.beyond[sel]
        rr = r[sel]
        past = beyond > 0
        # outward direction past an open end (zero elsewhere)
        out_len = np.maximum(beyond, 1e-9)
        ox = np.where(past, (x + box[0] - f.fx[sel] - e * nx) / out_len, 0.0)  # type: ignore[index]
        oy = np.where(past, (y + box[1] - f.fy[sel] - e * ny) / out_len, 0.0)  # type: ignore[index]

        def bare_at(offset: np.ndarray, shift: np.ndarray | float, i: Any) -> np.ndarray:
            """The surroundings mirrored into the old footprint at ``p + shift·n`` (whose
            offset is ``offset``) for the pixels ``i``: across the nearer footprint edge,
            side or end."""
            b = beyond[i]
            via_end = b > np.abs(offset)
            side = np.where(offset >= 0, 1.0, -1.0)
            step_n = shift + np.where(via_end, 0.0, side * 2 * (rr[i] - np.abs(offset)))
            step_t = np.where(via_end, 2 * (rr[i] - b), 0.0)
            return sample(
                x[i] + step_n * nx[i] + step_t * ox[i], y[i] + step_n * ny[i] + step_t * oy[i]
            )

        iy, ix = f.iy[sel] + (near[1] - box[1]), f.ix[sel] + (near[0] - box[0])  # type: ignore[index]
        inside = np.flatnonzero(old_foot[sel])
        bare = unit[iy, ix]
        bare[inside] = bare_at(e[inside], 0.0, inside)
        # the moved surface, and whether it is bead material (above the bare surface there;
        # tested outside the core and within the despeckle's reach of it)
        moved_val = sample(x - dl * nx, y - dl * ny)
        core = (np.abs(e - dl) <= half[sel]) & (beyond <= 0)
        test = np.flatnonzero(~((np.abs(e - dl) <= half[sel] - CORE_DEPTH) & (beyond <= 0)))
        above = np.ones(e.size, dtype=bool)
        above[test] = moved_val[test] > bare_at((e - dl)[test], -dl[test], test) + BEAD_TOLERANCE
        material = _despeckle(iy, ix, above, unit.shape) | core
        onto = np.where(moved_val > 0, np.maximum(moved_val, bare), 0.0)
        return iy, ix, np.where(new_foot[sel] & material, onto, bare)

    return edit_pixels(height, box, edit)


def _moved_box(
    local: BeadPath, p: BeadDeviationParams, band: Any, reach: float, box: F.Box | None
) -> F.Box | None:
    """The part of ``box`` holding every pixel the deviation moves or bares: the band of
    offsets over the deviated part (and round an open end it reaches), with a margin of
    ``PIXEL_SLACK`` for the pixels :meth:`BeadPath.pixels` adds."""
    if box is None:
        return None
    g = local.dense  # vertices every <= 2 px with their normals (built for pixels anyway)
    lo, hi = band(g.arc)
    on = np.isfinite(lo)
    if not on.any():
        return box
    vx, vy, nx, ny = g.vx[on], g.vy[on], g.nx[on], g.ny[on]
    lo, hi = lo[on], hi[on]
    outline = [np.stack([vx + nx * v, vy + ny * v], axis=1) for v in (lo, hi)]
    if p.kind != "middle":  # round the end the deviated part runs to
        end = local.point_at(0.0 if p.kind == "start" else local.length)
        outline.append(end[None, :] + np.array([[-reach, -reach], [reach, reach]]))
    x0, y0, x1, y1 = F.bounds_of(np.concatenate(outline), PIXEL_SLACK)
    x0, y0 = max(box[0], int(np.floor(x0))), max(box[1], int(np.floor(y0)))
    x1, y1 = min(box[2], int(np.ceil(x1)) + 1), min(box[3], int(np.ceil(y1)) + 1)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else box


class _FlatSampler(TextureSampler):
    """:class:`TextureSampler` with its look-ups on the flattened box (``np.take``): the
    same values, in about half the time."""

    def __init__(self, unit: np.ndarray, floor: float) -> None:
        super().__init__(unit, floor)
        self._low = self.low.ravel()
        self._high = self.high.ravel()
        self._valid = self.valid.ravel()

    def __call__(self, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
        """Values at box coordinates (column ``bx``, row ``by``), clamped to the box."""
        h, w = self.unit.shape
        bx = np.clip(bx, 0.0, w - 1.0)
        by = np.clip(by, 0.0, h - 1.0)
        near = np.rint(by).astype(np.intp) * w + np.rint(bx).astype(np.intp)
        # the cell's corner (truncation is floor: coordinates >= 0), the far one a pixel on
        x0 = np.minimum(bx.astype(np.intp), w - 2) if w > 1 else np.zeros_like(near)
        y0 = np.minimum(by.astype(np.intp), h - 2) if h > 1 else np.zeros_like(near)
        fx, fy = bx - x0, by - y0  # in [0, 1]
        i00 = y0 * w + x0
        i10 = i00 + (w if h > 1 else 0)
        dx = 1 if w > 1 else 0
        low = self._low
        gx = 1 - fx
        top = gx * low.take(i00) + fx * low.take(i00 + dx)
        smooth = (1 - fy) * top + fy * (gx * low.take(i10) + fx * low.take(i10 + dx))
        value = np.clip(smooth + self._high.take(near), self.floor, 1.0)
        return np.where(self._valid.take(near), value, 0.0)


def _despeckle(
    iy: np.ndarray, ix: np.ndarray, flags: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Flags of scattered pixels with lone pixels and one-pixel gaps removed (3x3 open+close);
    near the bead foot the material test is at noise level and would leave speckles."""
    grid = np.zeros(shape, np.uint8)
    grid[iy, ix] = flags
    kernel = np.ones((3, 3), np.uint8)
    grid = cv2.morphologyEx(cv2.morphologyEx(grid, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    return grid[iy, ix].astype(bool)


def _room(path: BeadPath, shape: tuple[int, int], a: float, b: float, sign: float) -> float:
    """Largest offset towards ``sign`` (+1 left) that keeps the bead's edge in the image over
    the arc lengths [a, b]."""
    s = np.linspace(a, b, 32)
    pts = path.point_at(s)
    n = path.normal_at(s) * sign
    limit = np.full(len(s), np.inf)
    for axis, size in ((0, shape[1]), (1, shape[0])):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(
                n[:, axis] > 1e-9,
                (size - 1 - pts[:, axis]) / n[:, axis],
                np.where(n[:, axis] < -1e-9, -pts[:, axis] / n[:, axis], np.inf),
            )
        limit = np.minimum(limit, t)
    return float(np.min(limit - path.width_at(s) / 2))


@register_defect
class BeadDeviation(Defect):
    """The bead bends sideways at its start, middle or end."""

    name = "bead_deviation"
    description = (
        "robot drift: the bead bends sideways at its start, middle or end, "
        "keeping its profile; the vacated area takes the surroundings"
    )
    Config = BeadDeviationConfig
    Params = BeadDeviationParams
    config: BeadDeviationConfig
    # the bead lands up to ``amplitude`` (0.3-0.7 widths) beside its old place, so a fifth or
    # more of the changed pixels lie farther than the property tests' 3 px from the old bead;
    # test_realism_bead_deviation bounds the mask by the drawn offset instead
    bead_defect = False
    imperfections = ("lateral_deviation",)
    norm_relative = ("amplitude", "bead_width")  # the offset is amplitude × bead width

    @classmethod
    def judged_config(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Under a norm judging the offset in mm, an amplitude left out is ``JUDGED_AMPLITUDE``,
        straddling the plant limit (a quarter width, ±15 % guard); 0.3-0.7 never accepts."""
        return values if "amplitude" in values else {**values, "amplitude": JUDGED_AMPLITUDE}

    def measure(
        self, params: BeadDeviationParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """The sideways offset: ``offset_mm`` (``offset_px`` uncalibrated)."""
        off = abs(params.amplitude)
        return (
            {"offset_px": off} if calibration is None else {"offset_mm": calibration.px_to_mm(off)}
        )

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> BeadDeviationParams:
        """Kind, amplitude, deviated part and its local centreline."""
        c = self.config
        path = geometry.path
        assert path is not None
        kind = KINDS[int(rng.integers(0, 3))] if c.position == "any" else c.position
        if path.closed:
            kind = "middle"
        width = path.mean_width
        if self.judged("lateral_deviation"):
            per = width * self.judge.px_per_unit()
            amp = self.draw_size(rng, c.amplitude, geometry, per, "lateral_deviation") * width
        else:
            amp = uniform(rng, c.amplitude) * width
        sign = draw_side(rng, c.side)
        length = uniform(rng, c.length) * path.length
        ramp = uniform(rng, c.ramp) * length
        ramp = max(ramp, MIN_RAMP_PER_AMPLITUDE * amp)
        # a middle deviation is two bends (and what lies between); at an end the bead runs
        # off the line for at least half a bend before it ends
        length = max(length, (2.0 if kind == "middle" else 1.5) * ramp)
        half = float(np.max(path.widths)) / 2 * (1 + c.margin)
        pad = half + 2.0
        amp_min = c.amplitude[0] * width
        if kind == "middle":  # on line for at least a bead width at both ends
            a, b = place_section(
                rng,
                path,
                length,
                max(END_MARGIN * path.length, width),
                guard=half + amp + 2.0,
                straight=True,
            )
            if b - a < length:  # shortened to fit: gentler offset, steeper bends if need be
                ramp = min(ramp, (b - a) / 2)
                amp = max(min(amp, ramp / MIN_RAMP_PER_AMPLITUDE), amp_min)
        elif kind == "start":
            length = min(length, path.length)
            a, b = 0.0, length
        else:
            length = min(length, path.length)
            a, b = path.length - length, path.length
        # stay in the picture: turn to the side with room, or shorten the offset (never
        # below the configured minimum)
        room = _room(path, geometry.shape, a, b, sign)
        if room < amp and c.side == "any" and _room(path, geometry.shape, a, b, -sign) > room:
            sign = -sign
            room = _room(path, geometry.shape, a, b, sign)
        amp = max(min(room, amp), amp_min)
        points, widths, origin = local_piece(path, a - pad, b + pad)
        return BeadDeviationParams(
            points=points,
            widths=widths,
            kind=kind,
            s0=a - origin,
            s1=b - origin,
            ramp=ramp,
            amplitude=sign * amp,
            margin=c.margin,
            s=origin,
        )

    def apply(
        self,
        height: np.ndarray,
        params: BeadDeviationParams,  # type: ignore[override]
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`apply_bead_deviation`."""
        return apply_bead_deviation(height, params)
