"""generate's inputs: two welds that would map to one output path are refused before
anything is written (both named); a file whose header claims too many pixels is a rejected
row and the run goes on."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.manifest import read_manifest
from weldsynth.synth.samples import write_samples

RECIPE = """\
topology: 7
seed: 3
variants: 2
acceptable: 1
norm: {cut_accept_max: 4, cut_reject_min: 10}
defects:
  hole: {weight: 1}
  cut: {weight: 2}
"""


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good_inputs")
    write_samples(root, [7], n=3, seed=5)
    return root / "7"


@pytest.fixture()
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r7.yaml"
    path.write_text(RECIPE)
    return path


def _welds(samples: Path) -> list[Path]:
    return sorted(samples.glob("*.png"))


def huge_header_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` 8-bit grey pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "names",
    [
        ("dup.png", "dup.PNG"),  # extension case
        ("Dup.png", "dup.png"),  # name case: one file on macOS and Windows
        ("caf\u00e9.png", "cafe\u0301.png"),  # the same name in NFC and NFD
    ],
)
def test_two_welds_with_one_output_name_are_refused(
    samples: Path, recipe: Path, tmp_path: Path, names: tuple[str, str]
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    a, b = _welds(samples)[:2]
    shutil.copy(a, good / names[0])
    shutil.copy(b, good / names[1])
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(out), "-q"]
    )
    assert res.exit_code == 2, res.output
    assert str(good / names[0]) in res.output and str(good / names[1]) in res.output
    assert not out.exists()  # refused before anything was written


def test_the_same_name_in_two_folders_of_one_topology_is_refused(
    samples: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    for sub, weld in zip(("7", "07"), _welds(samples)[:2], strict=True):
        (good / sub).mkdir(parents=True)
        shutil.copy(weld, good / sub / "w.png")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["generate", str(good), "--all", "--out", str(out), "-q"])
    assert res.exit_code == 2, res.output
    assert str(good / "7" / "w.png") in res.output and str(good / "07" / "w.png") in res.output


def test_a_weld_named_like_a_variant_of_another_is_refused(
    samples: Path, recipe: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    a, b = _welds(samples)[:2]
    shutil.copy(a, good / "w.png")
    shutil.copy(b, good / "w__hole_00.png")  # the name of w.png's first hole variant
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(tmp_path / "o"), "-q"]
    )
    assert res.exit_code == 2, res.output
    assert "w__hole_00.png" in res.output and str(good / "w.png") in res.output


def test_a_huge_header_is_a_rejected_row_and_the_run_goes_on(
    samples: Path, recipe: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    shutil.copytree(samples, good)
    (good / "bomb.png").write_bytes(huge_header_png())
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    rejected = (out / "rejected.csv").read_text()
    assert "7/bomb.png" in rejected and "400000000 pixels" in rejected
    assert {r.source for r in read_manifest(out)} == {
        f"7/good/{p.stem}.png" for p in _welds(samples)
    }


def test_a_good_weld_without_a_bead_is_rejected_not_kept(
    samples: Path, recipe: Path, tmp_path: Path
) -> None:
    import cv2
    import numpy as np

    good = tmp_path / "good"
    shutil.copytree(samples, good)
    cv2.imwrite(str(good / "flat.png"), np.full((64, 96), 100, np.uint8))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert not (out / "7" / "good" / "flat.png").exists()
    assert not any("flat" in r.path for r in read_manifest(out))
    rejected = (out / "rejected.csv").read_text()
    assert "7/flat.png,,,no bead located: flat map" in rejected and "--keep-unlocated" in rejected
    kept = tmp_path / "kept"
    res = CliRunner().invoke(
        cli,
        [
            "generate",
            str(good),
            "--recipe",
            str(recipe),
            "--out",
            str(kept),
            "-q",
            "--keep-unlocated",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (kept / "7" / "good" / "flat.png").exists()
    assert "7/good/flat.png" in {r.path for r in read_manifest(kept)}


def test_generate_uses_the_shared_scanner(samples: Path, recipe: Path, tmp_path: Path) -> None:
    import os

    good = tmp_path / "good"
    good.mkdir()
    first = _welds(samples)[0]
    shutil.copy(first, good / "UP.PNG")
    os.symlink(good / "gone.png", good / "dangling.png")
    (good / "notes.txt").write_text("x")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    rejected = (out / "rejected.csv").read_text()
    assert "7/dangling.png,,,dangling symlink" in rejected
    assert "7/notes.txt,,,not a PNG file" in rejected
    assert "7/good/UP.png" in {r.path for r in read_manifest(out)}
