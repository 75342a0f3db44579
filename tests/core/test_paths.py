"""core.paths: safe_join refuses '..', absolute paths and symlinks that lead out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.paths import UnsafePathError, safe_join


def test_inside_paths_are_joined_and_resolved(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "7/good/a.png") == tmp_path.resolve() / "7" / "good" / "a.png"
    assert safe_join(tmp_path, "7/../8/b.png") == tmp_path.resolve() / "8" / "b.png"
    assert safe_join(tmp_path, ".") == tmp_path.resolve()


@pytest.mark.parametrize("bad", ["../x.png", "7/../../x.png", ".."])
def test_dot_dot_out_of_the_root_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafePathError, match="escapes"):
        safe_join(tmp_path / "root", bad)


def test_absolute_path_is_refused(tmp_path: Path) -> None:
    inside = (tmp_path / "x.png").resolve()
    with pytest.raises(UnsafePathError, match="absolute"):
        safe_join(tmp_path, str(inside))
    assert issubclass(UnsafePathError, WeldsynthError)


def test_symlink_escaping_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    os.symlink(root / "7", root / "inner")
    with pytest.raises(UnsafePathError, match="escapes"):
        safe_join(root, "link/secret.png")
    assert safe_join(root, "inner/a.png") == root.resolve() / "7" / "a.png"
