"""``weldsynth defects list|show``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.synth.defects import list_defects

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "4" / "4_0000.png"


def _run(*args: str):
    return CliRunner().invoke(cli, ["defects", *args], catch_exceptions=False)


def test_list_table_names_every_plugin_with_ranges() -> None:
    res = _run("list")
    assert res.exit_code == 0, res.output
    for name in list_defects():
        assert name in res.output
    assert "allowed [1, 30]" in res.output  # hole radius bounds
    assert "bad / good" in res.output  # cut may be an acceptable (good) cut


def test_list_json_matches_registry() -> None:
    res = _run("list", "--json")
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == list_defects()
    hole = next(r for r in rows if r["name"] == "hole")
    radius = next(p for p in hole["parameters"] if p["name"] == "radius")
    assert radius["bounds"] == [1.0, 30.0] and radius["default"] == [2.0, 4.5]


@pytest.fixture(scope="module")
def sample() -> Path:
    if not SAMPLE.exists():
        pytest.skip("shipped samples/ not present")
    return SAMPLE


def test_show_one_defect_writes_a_grid(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "g" / "hole.png"
    res = _run(
        "show",
        "hole",
        "--input",
        str(sample),
        "--out",
        str(out),
        "-n",
        "2",
        "--geometry",
        "truth",
        "--set",
        "radius=3,4",
    )
    assert res.exit_code == 0, res.output
    assert "2 draws, 0 rejected" in res.output
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > image.shape[0]  # 3 panels wide, 2 rows
    assert not list(out.parent.glob("*.tmp"))


def test_show_all_and_locate(sample: Path, tmp_path: Path) -> None:
    from weldsynth.geometry import locate
    from weldsynth.io.heightmap import read_heightmap

    try:
        locate(read_heightmap(sample).height)
    except NotImplementedError:
        pytest.skip("geometry.locate is not implemented yet")
    out = tmp_path / "all.png"
    res = _run("show", "--all", "--input", str(sample), "--out", str(out), "-n", "1")
    assert res.exit_code == 0, res.output
    assert f"{len(list_defects())} draws" in res.output and out.exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["hole", "--all"], "give a defect NAME or --all"),
        ([], "give a defect NAME or --all"),
        (["--all", "--set", "radius=3"], "--set applies to one defect"),
        (["hole", "--set", "radius"], "expected FIELD=VALUE"),
    ],
)
def test_show_usage_errors(sample: Path, tmp_path: Path, args: list[str], message: str) -> None:
    res = _run("show", *args, "--input", str(sample), "--out", str(tmp_path / "x.png"))
    assert res.exit_code == 2 and message in res.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["crack"], "error: unknown defect 'crack'; known:"),
        (["hole", "--set", "radius=2,100"], "error: hole: radius=(2, 100) is outside the allowed"),
    ],
)
def test_show_user_errors_are_one_line(
    sample: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "defects",
            "show",
            *args,
            "--input",
            str(sample),
            "--out",
            str(tmp_path / "x.png"),
            "--geometry",
            "truth",
        ],
    )
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [res.output.strip()]
    assert res.output.startswith(message)


def test_truth_geometry_needs_a_sidecar(tmp_path: Path, sample: Path) -> None:
    lone = tmp_path / "w.png"
    lone.write_bytes(sample.read_bytes())
    res = CliRunner().invoke(
        cli,
        [
            "defects",
            "show",
            "hole",
            "--input",
            str(lone),
            "--out",
            str(tmp_path / "x.png"),
            "--geometry",
            "truth",
        ],
    )
    assert res.exit_code == 2 and "no truth sidecar" in res.output
