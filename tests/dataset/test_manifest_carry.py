"""split, balance and relabel carry the optional manifest columns (verdict, rule, measures,
calibration) through unchanged; balance's new variants of a calibrated image are
calibrated like it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.calibration import read_sidecar
from weldsynth.io.manifest import OPTIONAL_COLUMNS, read_manifest, write_manifest
from weldsynth.synth.samples import write_samples

RECIPE = """\
topology: 7
seed: 6
variants: 3
acceptable: 0
scan: {pixel_mm: 0.08, height_mm: 0.0003}
defects:
  hole: {weight: 1}
"""


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated data set whose rows carry a calibration, a verdict, rule and measures."""
    root = tmp_path_factory.mktemp("carry")
    write_samples(root / "in", [7], n=3, seed=2)
    (root / "r7.yaml").write_text(RECIPE)
    out = root / "data"
    args = ["generate", str(root / "in" / "7"), "--recipe", str(root / "r7.yaml")]
    res = CliRunner().invoke(cli, [*args, "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    rows = [  # what a norm would add to the drawn rows
        r.with_(verdict="reject", rule="ISO 5817 2017", measures='{"diameter_mm": 2.5}')
        if r.defect
        else r
        for r in read_manifest(out)
    ]
    write_manifest(out, rows)
    return out


def _run(*args: str) -> None:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output


def _optional(rows: list) -> dict[str, tuple[str, ...]]:
    return {r.path: tuple(getattr(r, c) for c in OPTIONAL_COLUMNS) for r in rows}


def test_split_and_balance_keep_the_columns(calibrated: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(calibrated, data)
    before = _optional(read_manifest(data))
    assert {v[3] for v in before.values()} == {"recipe"} and any(v[0] for v in before.values())
    _run("split", str(data), "--val", "0.3", "--test", "0")
    assert _optional(read_manifest(data)) == before
    _run("balance", str(data), "--ratio", "1:1")
    after = read_manifest(data)
    assert {p: v for p, v in _optional(after).items() if p in before} == before
    new = [r for r in after if r.path not in before]
    assert new and all(r.calibration == "recipe" for r in new)
    for rec in new:  # a flipped copy of a calibrated good weld is calibrated the same way
        assert read_sidecar(data / rec.path).pixel_mm == 0.08


def test_relabel_keeps_the_columns(calibrated: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(calibrated, data)
    rows = read_manifest(data)
    moved = next(r for r in rows if r.label == "bad")
    decisions = tmp_path / "decisions.csv"
    with decisions.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "decision", "to", "sha256"])
        writer.writerow([moved.path, "move", "good", moved.sha256])
    _run("relabel", "apply", str(data), str(decisions))
    after = {r.source + r.seed: r for r in read_manifest(data)}
    now = after[moved.source + moved.seed]
    assert now.label == "good" and now.path != moved.path
    assert _optional([now])[now.path] == _optional([moved])[moved.path]
    # the image's calibration sidecar moves with it, and back on undo
    assert read_sidecar(data / now.path).pixel_mm == 0.08
    assert not (data / moved.path).with_suffix(".json").exists()
    _run("relabel", "undo", str(data))
    assert read_sidecar(data / moved.path).pixel_mm == 0.08
    assert not (data / now.path).with_suffix(".json").exists()
