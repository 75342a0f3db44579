"""The command line: version, help on every command, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth import __version__
from weldsynth.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_version_via_checkout_shim() -> None:
    res = _run("--version")
    assert res.returncode == 0
    assert __version__ in res.stdout


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append(" ".join((*prefix, name)))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


@pytest.mark.parametrize("name", _command_paths(cli))
def test_every_command_has_help_with_an_example(name: str) -> None:
    res = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output
    assert f"weldsynth {name}" in res.output


def test_foundation_commands_are_registered() -> None:
    assert {"info", "inspect", "samples", "demo"} <= set(cli.commands)


def _write(path: Path, value: int = 30000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((32, 64), np.uint16)
    img[10:20, :] = value
    cv2.imwrite(str(path), img)


def test_info_counts_per_topology_and_class(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        _write(tmp_path / "7" / "good" / f"{name}.png")
    _write(tmp_path / "7" / "bad" / "d.png")
    _write(tmp_path / "10" / "good" / "e.png")
    _write(tmp_path / "7" / "_masks" / "d.png")  # masks are not counted
    res = CliRunner().invoke(cli, ["info", str(tmp_path), "--plot", str(tmp_path / "c.png")])
    assert res.exit_code == 0, res.output
    lines = {
        line.split("│")[1].strip(): line for line in res.output.splitlines() if line.count("│") >= 4
    }
    assert [c.strip() for c in lines["7"].split("│")[2:5]] == ["3", "1", "4"]
    assert [c.strip() for c in lines["10"].split("│")[2:5]] == ["1", "0", "1"]
    assert [c.strip() for c in lines["all"].split("│")[2:5]] == ["4", "1", "5"]
    plot = cv2.imread(str(tmp_path / "c.png"))
    assert plot is not None and plot.shape[0] > 100


def test_info_empty_folder_is_a_one_line_error(tmp_path: Path) -> None:
    res = _run("info", str(tmp_path))
    assert res.returncode == 2
    assert "no PNG height maps" in res.stderr
    assert "Traceback" not in res.stderr


def test_inspect_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    res = _run("inspect", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "broken.png" in res.stderr and "truncated" in res.stderr


def test_inspect_missing_file_exits_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["inspect", str(tmp_path / "nope.png")])
    assert res.exit_code == 2
    assert "nope.png: file not found" in res.output


def test_demo_refuses_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    res = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "not a weldsynth demo output" in res.output
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_cli_start_up_does_not_load_heavy_libraries() -> None:
    # `weldsynth --help` and generate's workers must not pay for torch (~600 MB, seconds)
    code = (
        "import sys, weldsynth.cli.main, weldsynth.dataset.generate, weldsynth.synth.defects; "
        "print(sorted(m for m in ('torch', 'albumentations', 'ray', 'mlflow', "
        "'matplotlib') if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
