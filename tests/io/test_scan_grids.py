"""Height grids as scanners write them: CSV/TXT files with one laser profile per row, and TIFF
height images whose pitch is in their resolution tags (anisotropic ones end up square)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weldsynth.io.scan import ScanError
from weldsynth.io.scan.pipeline import ImportOptions, import_file
from weldsynth.io.scan.readers import read_scan
from weldsynth.io.scan.writers import write_tiff
from weldsynth.synth.scanner import ScannerSettings, simulate_scan

NOISE = 0.03


@pytest.fixture(scope="module")
def scan():
    return simulate_scan(9, seed=0, settings=ScannerSettings(noise_mm=NOISE))


def _grid(rows: int = 6, cols: int = 40) -> np.ndarray:
    grid = np.round(np.random.default_rng(2).normal(1.0, 0.2, (rows, cols)), 4)
    grid[1, 3] = grid[4, cols - 1] = np.nan  # an empty last field too
    return grid


def _write_rows(path: Path, grid: np.ndarray, sep: str, empty: str = "") -> Path:
    lines = [sep.join(empty if np.isnan(v) else f"{v:.4f}" for v in row) for row in grid]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("name", "sep", "empty"), [("p.csv", ",", ""), ("p.txt", " ", "nan")])
def test_one_profile_per_row_is_a_height_grid(
    tmp_path: Path, name: str, sep: str, empty: str
) -> None:
    grid = _grid()
    path = _write_rows(tmp_path / name, grid, sep, empty)
    with pytest.raises(ScanError, match="needs --pixel-mm"):
        read_scan(path)
    data = read_scan(path, pixel_mm=0.05)
    assert data.format == "profiles" and data.pitch_from == "--pixel-mm"
    assert data.grid_pitch_mm == (0.05, 0.05) and data.dropped == 2 and len(data.points) == 238
    # row 0 at the top: y = -row * pitch; x = col * pitch
    assert [0.05 * 7, -0.05 * 2, grid[2, 7]] in data.points.tolist()


def test_profile_grid_with_a_header_a_trailing_delimiter_and_a_sidecar(tmp_path: Path) -> None:
    grid = _grid(5, 64)
    path = tmp_path / "lines.csv"
    header = ";".join(f"p{i}" for i in range(64))
    rows = [";".join("" if np.isnan(v) else str(v) for v in row) + ";" for row in grid]
    path.write_text("# laser profiles\n" + header + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "lines.json").write_text(json.dumps({"calibration": {"pixel_mm": [0.1, 0.4]}}))
    data = read_scan(path, pixel_mm=0.05)  # the sidecar's pitch wins
    assert data.grid_pitch_mm == (0.1, 0.4) and data.pitch_from == "sidecar"
    assert len(data.points) == 318 and np.isclose(data.points[:, 1].min(), -4 * 0.4)


def test_ragged_profiles_are_one_line_errors(tmp_path: Path) -> None:
    grid = _grid()
    path = _write_rows(tmp_path / "r.csv", grid, ",")
    path.write_text(path.read_text() + "1.0,2.0\n")
    with pytest.raises(ScanError, match="line 7 has 2 values, the first profile 40") as info:
        read_scan(path, pixel_mm=0.1)
    assert "\n" not in str(info.value)


def test_between_points_and_profiles_is_refused_as_ambiguous(tmp_path: Path) -> None:
    path = _write_rows(tmp_path / "a.txt", _grid(6, 12), "\t")
    with pytest.raises(ScanError, match=r"12 values per row .* points or a profile grid"):
        read_scan(path, pixel_mm=0.1)
    # naming the columns makes them points; a few unnamed extra columns still are points
    named = tmp_path / "named.txt"
    named.write_text("x\ty\tz\t" + "\t".join(f"c{i}" for i in range(9)) + "\n")
    named.write_text(named.read_text() + "\n".join(path.read_text().splitlines()) + "\n")
    assert read_scan(named).format == "xyz" and len(read_scan(named).points) == 6
    few = _write_rows(tmp_path / "few.xyz", np.arange(15.0).reshape(3, 5), " ")
    np.testing.assert_array_equal(read_scan(few).points, [[0, 1, 2], [5, 6, 7], [10, 11, 12]])


def test_scanner_profiles_as_csv_import_back_to_the_surface(tmp_path: Path, scan) -> None:
    path = tmp_path / "profiles.csv"
    np.savetxt(path, scan.image, delimiter=",", fmt="%.5f")  # NaN where nothing was measured
    pitch = [scan.settings.point_spacing_mm, scan.settings.line_pitch_mm]
    (tmp_path / "profiles.json").write_text(json.dumps({"calibration": {"pixel_mm": pitch}}))
    imported = import_file(path, ImportOptions(pixel_mm=0.1, align="none"))
    assert imported.info["format"] == "profiles" and imported.info["source_pitch_mm"] == pitch
    m = np.array(imported.info["pixel_to_source"])
    r, c = np.nonzero(imported.valid)
    cells = np.stack([c, r, imported.heights_mm[r, c], np.ones_like(c)]).astype(float)
    error = scan.height_error(scan.image_to_robot((m @ cells).T))
    assert np.sqrt(np.mean(error**2)) <= 1.5 * NOISE


def _tiff_with_tags(path: Path, resolution: tuple[float, float], unit: str) -> Path:
    tifffile = pytest.importorskip("tifffile")
    image = np.full((20, 30), 1.5, np.float32)
    tifffile.imwrite(str(path), image, resolution=resolution, resolutionunit=unit)
    return path


@pytest.mark.parametrize(
    ("resolution", "unit", "pitch"),
    [
        ((100.0, 25.0), "CENTIMETER", (0.1, 0.4)),
        ((254.0, 254.0), "INCH", (0.1, 0.1)),
        ((20.0, 10.0), "MILLIMETER", (0.05, 0.1)),
    ],
)
def test_tiff_resolution_tags_give_the_pitch(
    tmp_path: Path, resolution: tuple[float, float], unit: str, pitch: tuple[float, float]
) -> None:
    path = _tiff_with_tags(tmp_path / "t.tif", resolution, unit)
    data = read_scan(path)
    assert data.pitch_from == "tiff tags"
    np.testing.assert_allclose(data.grid_pitch_mm, pitch, rtol=1e-6)
    override = read_scan(path, pixel_mm=0.2)  # --pixel-mm wins over the tags
    assert override.grid_pitch_mm == (0.2, 0.2) and override.pitch_from == "--pixel-mm"


@pytest.mark.parametrize(
    ("resolution", "unit"), [((72.0, 72.0), "INCH"), ((96.0, 96.0), "INCH"), ((1.0, 1.0), "NONE")]
)
def test_default_or_unitless_resolution_is_no_pitch(
    tmp_path: Path, resolution: tuple[float, float], unit: str
) -> None:
    path = _tiff_with_tags(tmp_path / "d.tif", resolution, unit)
    with pytest.raises(ScanError, match=r"needs --pixel-mm .*TIFF resolution tags"):
        read_scan(path)


def test_anisotropic_tagged_tiff_imports_to_square_pixels(tmp_path: Path, scan) -> None:
    pitch = (scan.settings.point_spacing_mm, scan.settings.line_pitch_mm)  # 0.1 x 0.3 mm
    path = write_tiff(tmp_path / "p.tif", scan.image, pixel_mm=pitch)
    imported = import_file(path, ImportOptions(align="none"))
    assert imported.info["source_pitch_from"] == "tiff tags"
    np.testing.assert_allclose(imported.info["source_pitch_mm"], pitch, rtol=1e-6)
    cal = imported.calibration
    assert cal.pixel_mm_x == cal.pixel_mm_y == pytest.approx(0.1)  # the finer pitch, square
    m = np.array(imported.info["pixel_to_source"])
    r, c = np.nonzero(imported.valid)
    cells = np.stack([c, r, imported.heights_mm[r, c], np.ones_like(c)]).astype(float)
    error = scan.height_error(scan.image_to_robot((m @ cells).T))
    assert np.sqrt(np.mean(error**2)) <= 1.5 * NOISE
