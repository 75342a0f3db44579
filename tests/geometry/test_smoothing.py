"""Robust centreline fits: outliers dropped, bends followed, gaps bridged."""

from __future__ import annotations

import numpy as np

from weldsynth.geometry.smoothing import (
    STIFFNESS,
    Centre,
    robust_poly,
    robust_slope,
    robust_smooth,
    whittaker,
)


def test_robust_smooth_ignores_a_lone_wrong_section_that_whittaker_follows() -> None:
    y = 0.1 * np.arange(60.0)
    y[30] += 12.0  # one section found on a spatter, not on the bead
    w = np.ones(60)
    plain = whittaker(y, w, STIFFNESS)
    robust = robust_smooth(y, w, STIFFNESS)
    line = 0.1 * np.arange(60.0)
    assert abs(plain[30] - line[30]) > 1.0
    assert np.max(np.abs(robust - line)) < 0.05


def test_robust_smooth_follows_a_bend_and_bridges_unweighted_values() -> None:
    u = np.arange(80.0)
    bend = 6.0 / (1.0 + np.exp(-(u - 40.0) / 4.0))  # the bead steps 6 px sideways
    w = np.ones(80)
    w[10:14] = 0.0
    y = bend.copy()
    y[10:14] = 50.0  # no weight: never pulls the curve
    fit = robust_smooth(y, w, STIFFNESS)
    assert np.max(np.abs(fit - bend)) < 0.4
    centre = Centre.fit(u, y, w)
    assert centre(np.array([100.0]))[0] == fit[-1]  # constant beyond the knots
    assert abs(centre.slope(np.array([40.0]))[0] - 6.0 / 16.0) < 0.1


def test_robust_line_fits_drop_outliers() -> None:
    u = np.arange(40.0)
    v = 0.25 * u + 3.0
    v[[5, 20, 33]] += [9.0, -7.0, 11.0]
    assert abs(robust_slope(u, v) - 0.25) < 1e-9
    poly = robust_poly(u, v, np.ones(40))
    clean = np.delete(np.arange(40), [5, 20, 33])
    np.testing.assert_allclose(poly(u[clean]), 0.25 * u[clean] + 3.0, atol=1e-6)
    np.testing.assert_allclose(poly.slope(u), 0.25, atol=1e-6)
