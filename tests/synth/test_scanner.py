"""The virtual laser line scanner: seeded, in the robot frame, with shadows, spikes, dropouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weldsynth.io.scan.readers import read_scan
from weldsynth.synth.scanner import ScannerSettings, main, simulate_scan, write_scan

CLEAN = ScannerSettings(noise_mm=0.0, spike_fraction=0.0, dropout_fraction=0.0)


def test_same_seed_same_scan_other_index_other_scan() -> None:
    a, b = simulate_scan(4, seed=5, index=1), simulate_scan(4, seed=5, index=1)
    assert np.array_equal(a.points, b.points)
    c = simulate_scan(4, seed=5, index=2)
    assert a.points.shape != c.points.shape or not np.array_equal(a.points, c.points)


def test_clean_scan_lies_on_the_true_surface_in_the_robot_frame() -> None:
    scan = simulate_scan(9, settings=CLEAN)
    assert np.abs(scan.height_error(scan.points)).max() < 1e-9
    assert scan.points[:, 2].mean() == pytest.approx(410.0, abs=10.0)  # the robot offset
    spacing = np.linalg.norm(scan.points[1] - scan.points[0])
    assert spacing == pytest.approx(0.1, rel=0.05)  # neighbours along one laser line


def _weld_pixels(scan) -> tuple[np.ndarray, np.ndarray]:
    """Nearest weld-image (row, col) of every scan point."""
    w = scan.to_weld(scan.points)
    p = scan.settings.surface_pixel_mm
    rows = np.rint(scan.surface_mm.shape[0] - 1 - w[:, 1] / p).astype(int)
    return rows, np.rint(w[:, 0] / p).astype(int)


def test_the_welds_hidden_side_is_not_measured() -> None:
    scan = simulate_scan(2, settings=CLEAN)  # upper plate seen, the lower side has no data
    hidden = scan.weld.height == 0
    assert hidden.mean() > 0.2 and np.array_equal(scan.measurable, ~hidden)
    rows, cols = _weld_pixels(scan)
    assert not hidden[rows, cols].any()
    # an isolated bead lies on a plate at its foot's height, measured all around it
    iso = simulate_scan(3, settings=CLEAN)
    rows, cols = _weld_pixels(iso)
    assert (iso.weld.height[rows, cols] == 0).mean() > 0.5 and iso.measurable.all()


def test_occlusion_leaves_a_shadow_behind_the_bead() -> None:
    counts = {}
    for angle in (0, 45, 70):
        cfg = ScannerSettings(**{**CLEAN.__dict__, "view_angle_deg": angle})
        counts[angle] = len(simulate_scan(9, settings=cfg).points)
    lost45, lost70 = (1 - counts[a] / counts[0] for a in (45, 70))
    assert 0.002 < lost45 < lost70 < 0.1  # the steeper the view, the longer the shadow


def test_noise_spikes_and_dropouts() -> None:
    cfg = ScannerSettings(noise_mm=0.05, spike_fraction=0.01, dropout_fraction=0.05)
    scan = simulate_scan(9, settings=cfg)
    error = scan.height_error(scan.points)
    spikes = np.abs(error) > 1.0
    assert 0.005 < spikes.mean() < 0.015
    assert np.std(error[~spikes]) == pytest.approx(0.05, rel=0.1)
    clean = simulate_scan(9, settings=ScannerSettings(noise_mm=0.05))
    assert len(scan.points) < 0.97 * len(clean.points)


def test_profile_image_maps_back_to_the_robot_frame() -> None:
    scan = simulate_scan(4, settings=CLEAN)
    rows, cols = np.nonzero(np.isfinite(scan.image))
    local = np.column_stack([cols * 0.1, -rows * 0.3, scan.image[rows, cols]])
    assert np.abs(scan.height_error(scan.image_to_robot(local))).max() < 1e-5


@pytest.mark.parametrize("suffix", [".pcd", ".ply", ".xyz", ".csv", ".tif"])
def test_written_scans_read_back(tmp_path: Path, suffix: str) -> None:
    scan = simulate_scan(5, settings=CLEAN)
    data = read_scan(write_scan(scan, tmp_path / f"s{suffix}"))
    expected = np.isfinite(scan.image).sum() if suffix == ".tif" else len(scan.points)
    assert len(data.points) == expected


def test_module_entry_point_writes_the_layout(tmp_path: Path, capsys) -> None:
    main(["--out", str(tmp_path), "-t", "4", "-n", "2", "--format", "ply"])
    assert sorted(p.name for p in (tmp_path / "4").iterdir()) == ["4_0000.ply", "4_0001.ply"]
    assert "4_0001.ply" in capsys.readouterr().out
