"""The demo's output folder: never one that holds (or sits inside) its input samples, and
never deleted unless every entry in it is something the demo makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.pipelines.demo import MARKER, prepare_output


def _earlier_demo(out: Path) -> None:
    prepare_output(out)
    (out / "data").mkdir()
    (out / "data" / "manifest.csv").write_text("x")
    (out / "geometry.csv").write_text("x")


def test_samples_inside_the_output_are_refused_and_nothing_is_deleted(tmp_path: Path) -> None:
    out = tmp_path / "D"
    _earlier_demo(out)
    (out / "good" / "7").mkdir(parents=True)
    (out / "good" / "7" / "w.png").write_bytes(b"png")
    res = CliRunner().invoke(cli, ["demo", "--out", str(out), "--samples", str(out / "good")])
    assert res.exit_code == 2, res.output
    assert "--samples" in res.output and "inside" in res.output
    assert (out / "good" / "7" / "w.png").read_bytes() == b"png"
    assert (out / "geometry.csv").exists()


def test_output_inside_the_samples_is_refused(tmp_path: Path) -> None:
    samples = tmp_path / "S"
    (samples / "7").mkdir(parents=True)
    with pytest.raises(WeldsynthError, match="inside"):
        prepare_output(samples / "demo", inputs=[samples])
    assert not (samples / "demo").exists()


def test_a_user_file_in_an_earlier_demo_stops_the_delete(tmp_path: Path) -> None:
    out = tmp_path / "D"
    _earlier_demo(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(WeldsynthError, match=r"notes\.txt"):
        prepare_output(out)
    assert (out / "notes.txt").read_text() == "mine" and (out / "geometry.csv").exists()


def test_a_marker_that_is_not_the_demos_is_not_trusted(tmp_path: Path) -> None:
    out = tmp_path / "D"
    out.mkdir()
    (out / MARKER).mkdir()  # a folder of that name, not the demo's file
    (out / "data").mkdir()
    with pytest.raises(WeldsynthError, match="not a weldsynth demo output"):
        prepare_output(out)
    assert (out / "data").is_dir()


def test_an_earlier_demo_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "D"
    _earlier_demo(out)
    prepare_output(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]
