"""The optional manifest columns (verdict, rule, measures, calibration): written only when
used, read as empty when absent, carried through a read/write round trip."""

from __future__ import annotations

from pathlib import Path

from weldsynth.io.manifest import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    Record,
    columns_of,
    read_manifest,
    record_dict,
    write_manifest,
)

OLD = """\
path,topology,label,defect,source,params,seed,mask,sha256,split,status
7/bad/a__hole_00.png,7,bad,hole,7/good/a.png,{},3,,abc,train,
7/good/a.png,7,good,,7/good/a.png,{},,,def,,
"""


def test_old_manifest_reads_with_empty_new_columns(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(OLD)
    rows = read_manifest(tmp_path)
    assert [r.defect for r in rows] == ["hole", ""]
    assert all(getattr(r, c) == "" for r in rows for c in OPTIONAL_COLUMNS)
    write_manifest(tmp_path, rows)  # unused optional columns are not added
    assert (tmp_path / "manifest.csv").read_text() == OLD


def test_new_columns_round_trip_and_only_used_ones_are_written(tmp_path: Path) -> None:
    rows = [
        Record(
            path="7/good/a__hole_07.png",
            topology="7",
            label="good",
            defect="hole",
            verdict="accept",
            rule="ISO 5817:2014 1.3 surface pore",
            measures='{"diameter_mm": 1.3}',
            calibration="sidecar",
        ),
        Record(path="7/good/a.png", topology="7", label="good", calibration="sidecar"),
    ]
    write_manifest(tmp_path, rows)
    header = (tmp_path / "manifest.csv").read_text().splitlines()[0].split(",")
    assert header == [*COLUMNS, *OPTIONAL_COLUMNS]
    assert read_manifest(tmp_path) == sorted(rows, key=lambda r: r.path)
    only_cal = [Record(path="a.png", topology="3", label="good", calibration="recipe")]
    assert columns_of(only_cal) == [*COLUMNS, "calibration"]
    write_manifest(tmp_path, only_cal)
    assert read_manifest(tmp_path) == only_cal


def test_record_dict_leaves_out_empty_optional_fields() -> None:
    rec = Record(path="a.png", topology="3", label="good")
    assert list(record_dict(rec)) == list(COLUMNS)
    assert Record(**record_dict(rec)) == rec
    cal = rec.with_(calibration="--scan:s.yaml")
    assert record_dict(cal)["calibration"] == "--scan:s.yaml"
    assert Record(**record_dict(cal)) == cal
