"""generate: deterministic whatever the workers, resumable after SIGKILL, never stopped by
bad input, never writing outside its folder or over foreign files."""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.manifest import read_manifest, sha256_file
from weldsynth.synth.samples import write_samples

ROOT = Path(__file__).resolve().parents[2]
RECIPE = """\
topology: 7
seed: 3
variants: 3
acceptable: 1
norm: {cut_accept_max: 4, cut_reject_min: 10}
defects:
  hole: {weight: 1}
  ball: {weight: 1}
  cut: {weight: 2}
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good")
    write_samples(root, [7], n=5, seed=11)
    return root / "7"


@pytest.fixture()
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r7.yaml"
    path.write_text(RECIPE)
    return path


def _generate(*args: str) -> None:
    res = CliRunner().invoke(cli, ["generate", *args, "--quiet"])
    assert res.exit_code == 0, res.output


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_bytes_with_one_or_two_workers(good: Path, recipe: Path, tmp_path: Path) -> None:
    _generate(str(good), "--recipe", str(recipe), "--out", str(tmp_path / "a"), "--workers", "1")
    _generate(str(good), "--recipe", str(recipe), "--out", str(tmp_path / "b"), "--workers", "2")
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a)
    assert len([k for k in a if k.endswith(".png") and "/bad/" in k]) > 5


def test_manifest_describes_every_file(good: Path, recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out))
    rows = read_manifest(out)
    images = {
        p.relative_to(out).as_posix()
        for p in out.glob("7/*/*.png")
        if not p.parent.name.startswith("_")
    }
    assert {r.path for r in rows} == images
    for r in rows:
        assert sha256_file(out / r.path) == r.sha256
        assert r.path.split("/")[1] == r.label
        if r.defect:
            mask = cv2.imread(str(out / r.mask), cv2.IMREAD_UNCHANGED)
            img = cv2.imread(str(out / r.path), cv2.IMREAD_UNCHANGED)
            src = cv2.imread(str(out / r.source), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(mask > 0, img != src)  # mask = what changed
            assert img.dtype == src.dtype == np.uint16
            json.loads(r.params)
        else:
            assert r.source == r.path and r.mask == ""
    acceptable = [r for r in rows if r.defect == "acceptable_cut"]
    assert len(acceptable) == 5 and all(r.label == "good" for r in acceptable)
    assert all(json.loads(r.params)["length"] <= 4 for r in acceptable)
    bad_cuts = [r for r in rows if r.defect == "cut"]
    assert all(json.loads(r.params)["length"] >= 10 for r in bad_cuts)
    resolved = (out / "recipes" / "7.yaml").read_text()
    assert "accept_max: 4.0" in resolved and "radius" in resolved  # defaults filled in


def test_rerun_of_a_finished_run_changes_nothing(good: Path, recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    _generate(str(good), "--recipe", str(recipe), "--out", str(out))
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert before == after


def test_by_defect_folders(good: Path, recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out), "--by-defect")
    folders = {p.name for p in (out / "7").iterdir()}
    assert "good" in folders and "bad" not in folders
    assert {f for f in folders if f.startswith("bad-")} <= {"bad-hole", "bad-ball", "bad-cut"}
    assert all(r.label == "bad" for r in read_manifest(out) if r.path.split("/")[1] != "good")


def test_bad_inputs_are_listed_and_the_run_completes(
    good: Path, recipe: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for f in sorted(good.glob("*.png"))[:2]:
        (src / f.name).write_bytes(f.read_bytes())
    whole = (good / "7_0000.png").read_bytes()
    (src / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (src / "readme.txt").write_text("not an image")
    (src / "fake.png").write_text("not an image either")
    colour = np.dstack([np.full((64, 64), v, np.uint8) for v in (10, 20, 30)])
    cv2.imwrite(str(src / "colour.png"), colour)
    cv2.imwrite(str(src / "zero.png"), np.zeros((64, 64), np.uint16))
    cv2.imwrite(str(src / "tiny.png"), np.full((4, 4), 9, np.uint8))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["generate", str(src), "--recipe", str(recipe), "--out", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "6 input(s) or draw(s) rejected" in res.output
    reasons = {
        line.split(",")[0]: line for line in (out / "rejected.csv").read_text().splitlines()[1:]
    }
    assert "truncated" in reasons["7/truncated.png"]
    assert "not a PNG" in reasons["7/readme.txt"] and "not a PNG" in reasons["7/fake.png"]
    assert "channels differ" in reasons["7/colour.png"]
    assert "no data" in reasons["7/zero.png"]
    assert "smaller than" in reasons["7/tiny.png"]
    assert sum(r.defect == "" for r in read_manifest(out)) == 2
    strict = CliRunner().invoke(
        cli,
        ["generate", str(src), "--recipe", str(recipe), "--out", str(out), "--quiet", "--strict"],
    )
    assert strict.exit_code == 1


def test_refuses_foreign_folder_and_other_recipe(good: Path, recipe: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(foreign)]
    )
    assert res.exit_code == 2 and "not a weldsynth output" in res.output
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.docx"]
    _generate(str(good), "--recipe", str(recipe), "--out", str(foreign), "--force")
    assert (foreign / "thesis.docx").read_text() == "precious"

    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out))
    res = CliRunner().invoke(
        cli, ["generate", str(good), "--recipe", str(recipe), "--out", str(out), "--seed", "99"]
    )
    assert res.exit_code == 2 and "other recipes or options" in res.output


def test_kill_and_resume_ends_identical(tmp_path: Path, recipe: Path) -> None:
    write_samples(tmp_path / "good", [7], n=24, seed=5)
    clean = tmp_path / "clean"
    _generate(str(tmp_path / "good" / "7"), "--recipe", str(recipe), "--out", str(clean))

    killed = tmp_path / "killed"
    cmd = [
        sys.executable,
        str(ROOT / "cli.py"),
        "generate",
        str(tmp_path / "good" / "7"),
        "--recipe",
        str(recipe),
        "--out",
        str(killed),
        "--workers",
        "1",
        "--quiet",
    ]
    done = killed / ".weldsynth" / "done" / "7"
    for _attempt in range(5):  # kill at a moment when part of the work is done
        proc = subprocess.Popen(cmd, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if done.exists() and len(list(done.iterdir())) >= 3:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = len(list(done.iterdir())) if done.exists() else 0
        if proc.returncode == -signal.SIGKILL and 0 < finished < 24:
            break
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "manifest.csv").exists()
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=120)
    cmp = filecmp.dircmp(clean, killed)
    assert _tree(clean) == _tree(killed), cmp.report_full_closure()


def test_rerun_after_relabel_and_new_sources_keeps_later_steps(
    good: Path, recipe: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    files = sorted(good.glob("*.png"))
    for f in files[:3]:
        (src / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "out"
    _generate(str(src), "--recipe", str(recipe), "--out", str(out))
    bad = next(r for r in read_manifest(out) if r.label == "bad")
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(f"path,decision,to,sha256\n{bad.path},move,good,{bad.sha256}\n")
    res = CliRunner().invoke(cli, ["relabel", "apply", str(out), str(decisions)])
    assert res.exit_code == 0, res.output
    moved = bad.path.replace("/bad/", "/good/")
    (src / files[3].name).write_bytes(files[3].read_bytes())  # a new good weld arrives
    _generate(str(src), "--recipe", str(recipe), "--out", str(out))
    rows = {r.path: r for r in read_manifest(out)}
    assert bad.path not in rows and rows[moved].label == "good"  # relabel kept
    assert any(p.startswith(f"7/good/{files[3].stem}") for p in rows)  # new source added
    assert all((out / p).exists() for p in rows)


def test_params_in_the_manifest_rebuild_the_image(good: Path, recipe: Path, tmp_path: Path) -> None:
    from weldsynth.io.heightmap import read_heightmap
    from weldsynth.synth.defects import create_defect

    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out))
    rows = [r for r in read_manifest(out) if r.defect]
    assert {r.defect for r in rows} >= {"hole", "cut"}
    for r in rows:
        name = "cut" if r.defect == "acceptable_cut" else r.defect
        plugin = create_defect(name)
        source = read_heightmap(out / r.source).to_uint()
        rebuilt, _ = plugin.apply(source, plugin.params_from_dict(json.loads(r.params)))
        np.testing.assert_array_equal(rebuilt, read_heightmap(out / r.path).to_uint())


HOLE_ONLY = """\
topology: 7
seed: 5
variants: 2
defects:
  hole: {weight: 1}
"""


def test_hole_only_recipe_checks_and_generates(good: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "holes.yaml"
    recipe.write_text(HOLE_ONLY)
    checked = CliRunner().invoke(cli, ["recipe", "check", str(recipe)])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "out"
    _generate(str(good), "--recipe", str(recipe), "--out", str(out), "--workers", "1")
    rows = read_manifest(out)
    assert {r.defect for r in rows} == {"", "hole"}  # no acceptable variants: none can be drawn
    assert sum(r.label == "good" for r in rows) == 5 and sum(r.defect == "hole" for r in rows) > 5
    assert "acceptable: 0" in (out / "recipes" / "7.yaml").read_text()


def test_a_new_plugin_with_acceptable_draws_needs_no_change_to_generate(
    good: Path, tmp_path: Path
) -> None:
    from defects_support import registered, shallow_pit_plugin

    from weldsynth.dataset import generate as gen
    from weldsynth.synth.recipe import recipe_from_dict

    with registered(shallow_pit_plugin()):
        data = {
            "topology": 7,
            "seed": 2,
            "variants": 2,
            "acceptable": 2,
            "defects": {"cut": {"weight": 1}, "tmp_shallow_pit": {"weight": 1}},
        }
        recipe = recipe_from_dict(data)
        tasks, _ = gen.plan_topology(good, recipe, tmp_path / "out", by_defect=False)
        rows = [r for task in tasks for r in gen.run_task(task).records]
    good_rows = [r for r in rows if r.label == "good" and r.defect]
    assert {r.defect for r in good_rows} == {"acceptable_cut", "acceptable_tmp_shallow_pit"}
    assert len(good_rows) == 2 * len(tasks)
    for r in rows:
        if r.defect.endswith("tmp_shallow_pit"):
            depth = json.loads(r.params)["depth"]
            assert (depth <= 0.3) if r.label == "good" else (depth >= 0.6), r
