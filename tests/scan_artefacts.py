"""Real-scanner artefacts on procedural height maps (for the bead finder's robustness tests).

A laser line scanner measures one profile (a line across the bead) per step of its travel;
the rasterised map then shows, besides plain noise, the lines' pitch (a line every 2-4 point
spacings, the cells between them filled from the nearest line, each line with its own small
offset: striping), isolated spikes (specular reflections, multipath) and dropouts (no data:
single points, short runs and whole lost lines).

Height scale (an assumption, there is no calibration on the procedural samples): one 8-bit
grey level of the samples is 0.01 mm, so the map's [0, 1] range is 2.55 mm and a bead crown
is about 1-1.5 mm above its plate. Plate noise of sigma 0.01-0.15 mm is then 1-15 levels,
about 0.004-0.06 in map units (:func:`mm_to_units`). At the other end of the brief's range
(0.001 mm per level) 0.15 mm would be 150 levels, more than the bead is high, so the
robustness tests use 0.01 mm per level.

Every draw comes from the generator passed in; no data stays 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MM_PER_LEVEL = 0.01
"""Assumed height of one 8-bit grey level of the procedural samples, in mm."""


def mm_to_units(mm: float) -> float:
    """A height in mm as map units ([0, 1] spans 255 grey levels of MM_PER_LEVEL mm)."""
    return float(mm) / (255.0 * MM_PER_LEVEL)


@dataclass(frozen=True)
class Artefacts:
    """What to do to a map.

    Attributes:
        noise_mm: Gaussian noise sigma on every measured pixel, in mm.
        pitch: Laser line pitch in pixels (1 = every column measured).
        line_offset_mm: Sigma of each laser line's own height offset, in mm.
        axis: 1 when the laser lines are columns (the bead runs along x), 0 for rows.
        spikes: Fraction of pixels replaced by outliers (up or down, up to 0.3 units).
        dropouts: Fraction of pixels lost in short runs along the lines (no data).
        lost_lines: Fraction of laser lines lost entirely.
    """

    noise_mm: float = 0.0
    pitch: int = 1
    line_offset_mm: float = 0.0
    axis: int = 1
    spikes: float = 0.0
    dropouts: float = 0.0
    lost_lines: float = 0.0


def apply(height: np.ndarray, art: Artefacts, rng: np.random.Generator) -> np.ndarray:
    """The map ``height`` (float [0, 1], 0 = no data) as a scanner with ``art`` would give it.

    Order: per-line offset, noise, line pitch (striping), spikes, dropouts, lost lines.
    """
    h = np.asarray(height, dtype=np.float32)
    valid = h > 0
    a = np.moveaxis(h.copy(), art.axis, 0)  # laser lines along the first axis
    v = np.moveaxis(valid.copy(), art.axis, 0)
    n = a.shape[0]
    if art.line_offset_mm > 0:
        a += rng.normal(0.0, mm_to_units(art.line_offset_mm), n).astype(np.float32)[:, None]
    if art.noise_mm > 0:
        a += rng.normal(0.0, mm_to_units(art.noise_mm), a.shape).astype(np.float32)
    if art.pitch > 1:  # the cells between two lines repeat the line before (noise and all)
        measured = np.arange(n) - (np.arange(n) % art.pitch)
        a, v = a[measured], v[measured]
    if art.spikes > 0:
        hit = rng.random(a.shape) < art.spikes
        a[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(0.1, 0.3, hit.sum())
    if art.dropouts > 0:
        lost = rng.random(a.shape) < art.dropouts / 4.0
        for _ in range(3):  # runs of about 4 points along the line
            lost |= np.roll(lost, 1, axis=1)
        v &= ~lost
    if art.lost_lines > 0:
        v &= (rng.random(n) >= art.lost_lines)[:, None]
    a = np.where(v, np.clip(a, 0.002, 1.0), 0.0).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(a, 0, art.axis))


PRESETS: dict[str, Artefacts] = {
    "noise 0.01 mm": Artefacts(noise_mm=0.01),
    "noise 0.05 mm": Artefacts(noise_mm=0.05),
    "noise 0.15 mm": Artefacts(noise_mm=0.15),
    "pitch 2": Artefacts(noise_mm=0.02, pitch=2, line_offset_mm=0.02),
    "pitch 4": Artefacts(noise_mm=0.02, pitch=4, line_offset_mm=0.03),
    "spikes": Artefacts(noise_mm=0.02, spikes=0.01),
    "dropouts": Artefacts(noise_mm=0.02, dropouts=0.05, lost_lines=0.03),
    "everything": Artefacts(
        noise_mm=0.1, pitch=3, line_offset_mm=0.03, spikes=0.005, dropouts=0.03, lost_lines=0.02
    ),
}
"""Named artefact sets used by the tests and the benchmark."""
