"""A manifest never holds one path twice: writing one is refused, naming the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from weldsynth.io.manifest import ManifestError, Record, read_manifest, write_manifest


def test_writing_a_path_twice_is_refused(tmp_path: Path) -> None:
    rows = [
        Record(path="7/good/dup.png", topology="7", label="good", sha256="a"),
        Record(path="7/good/other.png", topology="7", label="good", sha256="b"),
        Record(path="7/good/dup.png", topology="7", label="good", sha256="c"),
    ]
    with pytest.raises(ManifestError, match=r"7/good/dup\.png"):
        write_manifest(tmp_path, rows)
    assert not (tmp_path / "manifest.csv").exists()
    write_manifest(tmp_path, rows[:2])
    assert [r.path for r in read_manifest(tmp_path)] == ["7/good/dup.png", "7/good/other.png"]
