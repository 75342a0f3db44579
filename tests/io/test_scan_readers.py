"""Scan readers: every format round-trips through its writer; broken files are one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from weldsynth.io.scan import ScanError
from weldsynth.io.scan.readers import read_scan
from weldsynth.io.scan.writers import write_pcd, write_ply, write_points, write_tiff, write_xyz


def _cloud(n: int = 500) -> np.ndarray:
    """Laser lines of 25 points (compressible, as scans are), in an offset robot frame."""
    rng = np.random.default_rng(3)
    i = np.arange(n)
    x, y = 0.125 * (i % 25) - 40.0, 0.5 * (i // 25) + 12.0
    z = np.round(0.01 * x + rng.normal(0, 0.05, n), 3) + 300.0
    return np.column_stack([x, y, z])


@pytest.mark.parametrize(
    ("name", "options", "marker"),
    [
        ("c.pcd", {"encoding": "ascii"}, b"DATA ascii"),
        ("c.pcd", {"encoding": "binary"}, b"DATA binary\n"),
        ("c.pcd", {"encoding": "binary_compressed"}, b"DATA binary_compressed"),
        ("c.ply", {"binary": True}, b"format binary_little_endian 1.0"),
        ("c.ply", {"binary": False}, b"format ascii 1.0"),
        ("c.xyz", {}, None),
        ("c.txt", {"delimiter": "\t"}, None),
        ("c.csv", {}, b"x,y,z\n"),
    ],
)
def test_point_formats_round_trip(tmp_path: Path, name: str, options: dict, marker) -> None:
    pts = _cloud()
    path = write_points(tmp_path / name, pts, **options)
    if marker is not None:
        assert marker in path.read_bytes()[:400]
    data = read_scan(path)
    tol = 1e-4 if name.endswith(".pcd") else 1e-5  # PCD stores float32
    assert data.points.shape == pts.shape and data.dropped == 0
    np.testing.assert_allclose(data.points, pts, atol=tol)


def test_csv_header_names_pick_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("# scanner export\nz;x;y;intensity\n3;1;2;9\n6;4;5;9\n9;7;8;9\n")
    np.testing.assert_array_equal(read_scan(path).points, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_numpy_points_and_npz_names(tmp_path: Path) -> None:
    pts = _cloud(50)
    np.save(tmp_path / "p.npy", pts)
    np.savez(tmp_path / "p.npz", meta=np.zeros(2), points=pts)
    np.testing.assert_array_equal(read_scan(tmp_path / "p.npy").points, pts)
    np.testing.assert_array_equal(read_scan(tmp_path / "p.npz").points, pts)
    np.savez(tmp_path / "q.npz", a=pts, b=pts)
    with pytest.raises(ScanError, match="name the array"):
        read_scan(tmp_path / "q.npz")


def test_nan_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    pts = _cloud(100)
    pts[[3, 50], 1] = np.nan
    pts[7, 2] = np.inf
    data = read_scan(write_ply(tmp_path / "n.ply", pts))
    assert data.dropped == 3 and len(data.points) == 97 and np.isfinite(data.points).all()


def test_height_grids_need_a_pitch_and_become_one_point_per_cell(tmp_path: Path) -> None:
    grid = np.arange(12.0).reshape(3, 4)
    grid[1, 2] = np.nan
    np.save(tmp_path / "g.npy", grid)
    with pytest.raises(ScanError, match="needs --pixel-mm"):
        read_scan(tmp_path / "g.npy")
    data = read_scan(tmp_path / "g.npy", pixel_mm=0.5)
    assert data.grid_pitch_mm == (0.5, 0.5) and len(data.points) == 11
    # row 0 at the top: y = -row * pitch; x = col * pitch
    assert [0.5 * 3, -0.5 * 2, 11.0] in data.points.tolist()


def test_float_tiff_with_anisotropic_sidecar(tmp_path: Path) -> None:
    grid = np.full((20, 30), 1.5, np.float32)
    grid[5:8, :] = np.nan
    write_tiff(tmp_path / "h.tif", grid)
    (tmp_path / "h.json").write_text(json.dumps({"calibration": {"pixel_mm": [0.1, 0.3]}}))
    data = read_scan(tmp_path / "h.tif")
    assert data.format == "tiff" and data.grid_pitch_mm == (0.1, 0.3)
    assert len(data.points) == 17 * 30 and data.dropped == 90
    assert np.isclose(data.points[:, 1].min(), -19 * 0.3) and np.all(data.points[:, 2] == 1.5)


def test_uint16_tiff_needs_a_height_calibration(tmp_path: Path) -> None:
    levels = np.zeros((20, 20), np.uint16)
    levels[2:, :] = 1000
    write_tiff(tmp_path / "l.tif", levels)
    with pytest.raises(ScanError, match="height_mm"):
        read_scan(tmp_path / "l.tif", pixel_mm=0.1)
    (tmp_path / "l.json").write_text(
        json.dumps({"calibration": {"pixel_mm": 0.2, "height_mm": 0.001, "height_offset_mm": 1}})
    )
    data = read_scan(tmp_path / "l.tif")
    assert len(data.points) == 18 * 20 and np.allclose(data.points[:, 2], 2.0)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("two.csv", "1,2\n3,4\n", "2 column"),
        ("empty.xyz", "# nothing\n", "empty cloud"),
        ("words.txt", "x y z\n1 2 3\n4 five 6\n", "not readable as txt"),
        ("mixed.xyz", "1 2 3\nx y z\n", "not readable as xyz"),
        ("junk.pcd", "hello\n", "not readable as pcd"),
        ("junk.ply", "hello\n", "not readable as ply"),
        ("junk.npy", "hello\n", "not readable as npy"),
        ("junk.tif", "hello\n", "not readable as tif"),
        ("map.foo", "1 2 3\n", "unknown scan format"),
    ],
)
def test_broken_files_are_one_line_errors(
    tmp_path: Path, name: str, content: str, match: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ScanError, match=match) as info:
        read_scan(path)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_ply_without_vertices_is_refused(tmp_path: Path) -> None:
    plyfile = pytest.importorskip("plyfile")
    faces = np.array([((0, 1, 2),)], dtype=[("vertex_indices", "i4", (3,))])
    plyfile.PlyData([plyfile.PlyElement.describe(faces, "face")]).write(str(tmp_path / "f.ply"))
    with pytest.raises(ScanError, match="no vertex element"):
        read_scan(tmp_path / "f.ply")


def test_pcd_without_z_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "xy.pcd"
    path.write_text(
        "VERSION 0.7\nFIELDS x y\nSIZE 4 4\nTYPE F F\nCOUNT 1 1\nWIDTH 2\nHEIGHT 1\n"
        "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA ascii\n1 2\n3 4\n"
    )
    with pytest.raises(ScanError, match=r"no field\(s\) \['z'\]"):
        read_scan(path)


def test_a_missing_extra_names_the_pip_command(tmp_path: Path, monkeypatch) -> None:
    write_xyz(tmp_path / "c.xyz", _cloud(10))  # text needs no extra
    monkeypatch.setitem(sys.modules, "pypcd4", None)
    with pytest.raises(ScanError, match=r'pip install "weldsynth\[scan\]"'):
        write_pcd(tmp_path / "c.pcd", _cloud(10))
    (tmp_path / "d.pcd").write_text("x")
    with pytest.raises(ScanError, match=r"reading PCD files needs pypcd4: pip install"):
        read_scan(tmp_path / "d.pcd")
    assert len(read_scan(tmp_path / "c.xyz").points) == 10
