"""The pixel search works on plain arrays: no path type, one-way imports inside geometry."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import weldsynth.geometry as geometry_pkg
from weldsynth.geometry.dense import DENSE_STEP, Dense
from weldsynth.geometry.path import BeadPath
from weldsynth.geometry.path_pixels import path_pixels

GEOMETRY = Path(geometry_pkg.__file__).parent


def _ring() -> BeadPath:
    t = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
    pts = np.stack([60 + 30 * np.cos(t), 45 - 20 * np.sin(t)], axis=1)
    return BeadPath(points=pts, widths=np.full(40, 8.0), closed=True)


@pytest.mark.parametrize("closed", [False, True])
def test_dense_from_arrays_gives_the_paths_pixels(closed: bool) -> None:
    path = _ring() if closed else BeadPath([[10, 20], [70, 60], [120, 30]], [8, 10, 8])
    vertices = np.array(path.vertices)  # plain arrays, no BeadPath behind them
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(vertices, axis=0).T))])
    dense = Dense(vertices, arc, closed)
    assert dense.n >= len(vertices) - 1 and np.all(dense.length <= DENSE_STEP + 1e-9)
    assert dense.arc[-1] == pytest.approx(path.length)
    box = (0, 0, 130, 90)
    got = path_pixels(dense, box, 15.0, None)
    want = path.pixels(box, 15.0)
    for name in ("iy", "ix", "s", "d", "e", "fx", "fy", "beyond"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert len(got.s) > 500 and np.all(np.abs(got.d) <= 1.02 * 15.0 + 2.5)


def _imports(module: str) -> set[str]:
    tree = ast.parse((GEOMETRY / f"{module}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_pixel_search_does_not_import_the_path_type() -> None:
    """path.py imports path_pixels and dense, never the other way round."""
    assert "weldsynth.geometry.path" not in _imports("path_pixels")
    assert "weldsynth.geometry.path" not in _imports("dense")
    assert not any(m.startswith("weldsynth.geometry.path_pixels") for m in _imports("dense"))
    assert "weldsynth.geometry.path_pixels" in _imports("path")
