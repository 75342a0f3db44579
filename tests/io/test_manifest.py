"""manifest.csv: round trip, validation naming file/line/field, path safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from weldsynth.io.manifest import (
    COLUMNS,
    ManifestError,
    Record,
    read_manifest,
    safe_join,
    sha256_file,
    write_manifest,
)


def test_round_trip_sorted_by_path(tmp_path: Path) -> None:
    recs = [
        Record(
            path="7/bad/b.png",
            topology="7",
            label="bad",
            defect="hole",
            source="7/a.png",
            params='{"radius": 3.5}',
            seed="12",
            mask="7/_masks/b.png",
        ),
        Record(path="7/good/a.png", topology="7", label="good", source="7/a.png"),
    ]
    write_manifest(tmp_path, reversed(recs))
    assert read_manifest(tmp_path) == sorted(recs, key=lambda r: r.path)
    header = (tmp_path / "manifest.csv").read_text().splitlines()[0]
    assert header.split(",") == list(COLUMNS)


def test_bad_label_names_file_line_and_field(tmp_path: Path) -> None:
    write_manifest(tmp_path, [Record(path="a.png", topology="3", label="good")])
    text = (tmp_path / "manifest.csv").read_text().replace(",good,", ",great,")
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(ManifestError, match=r"manifest\.csv:2: label='great'"):
        read_manifest(tmp_path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("path,label\na.png,good\n")
    with pytest.raises(ManifestError, match=r"missing column.*topology"):
        read_manifest(tmp_path)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("bad", ["../escape.png", "/etc/passwd", "a/../../b.png"])
def test_safe_join_refuses_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ManifestError):
        safe_join(tmp_path, bad)


def test_safe_join_allows_inside(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "7/good/../bad/x.png") == (tmp_path / "7/bad/x.png").resolve()


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_a_binary_manifest_is_a_one_line_error(tmp_path: Path) -> None:
    from weldsynth.io.manifest import ManifestError, read_manifest

    (tmp_path / "manifest.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage\x00")
    with pytest.raises(ManifestError, match=r"manifest\.csv: not a readable manifest CSV") as info:
        read_manifest(tmp_path)
    assert "\n" not in str(info.value)
