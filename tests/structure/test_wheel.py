"""A wheel built from the checkout installs and runs without the checkout.

The wheel goes into a fresh virtual environment; its dependencies (torch, opencv, ...) come
from the test's own environment through a ``.pth`` path entry, which adds their folder to
``sys.path`` without running that folder's ``.pth`` hooks, so the editable install of the
checkout stays invisible. The commands run from an unrelated folder.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    res = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        cwd=dist,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    (found,) = dist.glob("weldsynth-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    env = tmp_path_factory.mktemp("venv")
    assert _run([sys.executable, "-m", "venv", str(env)], cwd=env).returncode == 0
    python = env / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=env
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    Path(purelib, "_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    res = _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                str(wheel)], cwd=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return env / "bin"


def test_wheel_ships_recipes_and_samples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "weldsynth/data/recipes/7.yaml" in names
    assert "weldsynth/data/samples/7/7_0000.png" in names
    assert "weldsynth/data/samples/7/7_0000.json" in names
    assert not any(n.startswith(("tests/", "bench/", "tools/")) for n in names)


def test_installed_wheel_runs_without_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c", "import weldsynth; print(weldsynth.__file__)"],
                 cwd=tmp_path)  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)

    show = _run([str(installed / "weldsynth"), "recipe", "show", "7"], cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "topology" in show.stdout

    demo = _run([str(installed / "weldsynth"), "demo", "--out", "demo-out"], cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "copied from" in demo.stdout  # the shipped samples, not a regenerated fallback
    # not a terminal: the long steps report in plain lines (generate, each fold model)
    assert "generate, " in demo.stdout and "(100%)" in demo.stdout
    for k in (1, 2, 3):
        assert f"audit: fold models, fold model {k}/3 (seed 1/1, fold {k}/3)" in demo.stdout
    assert (tmp_path / "demo-out" / "data" / "manifest.csv").is_file()
    assert (tmp_path / "demo-out" / "loop" / "iter1" / "audit" / "report.html").is_file()
