"""locate under real-scanner artefacts (noise, line pitch striping, spikes, dropouts) on
procedural welds with known truth: the centreline moves by at most 2 px, the width by at
most 15 % (height scale and artefacts: tests/scan_artefacts.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scan_artefacts import PRESETS, Artefacts, apply, mm_to_units

from weldsynth.core.topology import topology_ids
from weldsynth.geometry import locate
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.samples import generate_weld, sample_seed

SEED = 23


def _distance_to_polyline(pts: np.ndarray, path: BeadPath) -> np.ndarray:
    verts = path.vertices
    a, seg = verts[:-1], np.diff(verts, axis=0)
    len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
    rel = pts[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("pij,ij->pi", rel, seg) / len2, 0.0, 1.0)
    diff = rel - t[..., None] * seg[None, :, :]
    return np.sqrt(np.min(np.einsum("pij,pij->pi", diff, diff), axis=1))


def _scanned(topology: int, index: int, art: Artefacts):
    weld = generate_weld(topology, sample_seed(SEED, topology, index))
    angle = weld.truth["axis_angle"]
    # laser lines run across the bead: columns for a bead along x, rows for one along y
    art = replace(art, axis=0 if angle is not None and abs(angle) > 45 else 1)
    rng = np.random.default_rng(np.random.SeedSequence([SEED, topology, index, 31]))
    return weld, apply(weld.height, art, rng)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("topology", topology_ids())
def test_centreline_and_width_hold_under_scanner_artefacts(topology, preset):
    for index in range(2):
        weld, height = _scanned(topology, index, PRESETS[preset])
        geo = locate(height)
        truth = weld.path
        label = f"topology {topology} #{index} {preset}"
        assert geo.found, f"{label}: {geo.reason}"
        assert geo.path.closed == truth.closed, label
        centre = float(np.median(_distance_to_polyline(truth.resample(1.0), geo.path)))
        width = abs(geo.path.mean_width - truth.mean_width) / truth.mean_width
        assert centre <= 2.0, f"{label}: centreline off by {centre:.2f} px"
        assert width <= 0.15, f"{label}: width off by {100 * width:.1f}%"


def test_artefacts_do_what_they_say():
    weld = generate_weld(3, sample_seed(SEED, 3, 0), noise=0.0)
    clean = weld.height
    rng = np.random.default_rng(0)
    noisy = apply(clean, Artefacts(noise_mm=0.1), rng)
    both = (clean > 0) & (noisy > 0)
    assert abs(np.std((noisy - clean)[both]) - mm_to_units(0.1)) < 0.1 * mm_to_units(0.1)
    striped = apply(clean, Artefacts(pitch=3, axis=1), rng)
    # every cell repeats the laser line measured before it
    assert np.array_equal(striped[:, 1], striped[:, 0]) and np.array_equal(
        striped[:, 2], striped[:, 0]
    )
    lost = apply(clean, Artefacts(dropouts=0.05, lost_lines=0.05), rng)
    assert np.mean(lost[clean > 0] == 0) > 0.05
    assert np.any(np.all(lost == 0, axis=0))  # whole laser lines lost
