"""The Ray engine: the same bytes as the local engine, retried after a worker dies,
resumable, and per-topology training with the same summary rows."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset import generate as gen
from weldsynth.engines import faults
from weldsynth.engines import ray as ray_engine
from weldsynth.engines.base import get_executor
from weldsynth.synth.recipe import recipe_for_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = (2, 7)  # a line and a square weld, shipped samples and recipes


@pytest.fixture(scope="module")
def fault_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def ray_cluster(fault_dir: Path):
    """One local Ray (2 CPUs) for the module; its workers see the fault-injection folder."""
    ray = pytest.importorskip("ray")
    before = os.environ.get(faults.FAULT_ENV)
    os.environ[faults.FAULT_ENV] = str(fault_dir)  # inherited by the Ray workers
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.WARNING,
        object_store_memory=100 * 2**20,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop(faults.FAULT_ENV, None)
        else:
            os.environ[faults.FAULT_ENV] = before


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good")
    for topo in TOPOLOGIES:
        shutil.copytree(ROOT / "samples" / str(topo), root / str(topo))
    return root


def _run(good: Path, out: Path, engine: str, workers: int = 0) -> gen.RunSummary:
    recipes = {t: recipe_for_topology(t) for t in TOPOLOGIES}
    gen.prepare_out(out, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, out, by_defect=False)
    workers = workers or (2 if engine == "ray" else 1)
    return gen.run(tasks, out, rejected, workers=workers, engine=engine)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def local_tree(good: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "out"
    _run(good, out, "local")
    return _tree(out)


def _assert_same(tree: dict[str, bytes], expected: dict[str, bytes]) -> None:
    assert sorted(tree) == sorted(expected)
    differ = [k for k in expected if tree[k] != expected[k]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:3]}"


def test_a_killed_local_worker_stops_the_run_and_a_rerun_resumes(
    good: Path, local_tree: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    requests = tmp_path / "faults"
    requests.mkdir()
    monkeypatch.setenv(faults.FAULT_ENV, str(requests))  # the forked workers see it
    (requests / "2_2_0002.png").write_text("3")  # dies before its 4th image write
    out = tmp_path / "out"
    with pytest.raises(WeldsynthError, match="worker process died"):
        _run(good, out, "local", workers=2)
    assert (requests / "2_2_0002.png.killed").exists(), "the worker did not die"
    assert not (out / "manifest.csv").exists()
    assert len(list((out / "2" / "bad").glob("2_0002__*.png"))) < 6  # stopped mid-source
    summary = _run(good, out, "local", workers=2)
    assert summary.sources_run >= 1  # at least the killed source, redone
    assert summary.sources_run + summary.sources_done_before == 4 * len(TOPOLOGIES)
    _assert_same(_tree(out), local_tree)


def test_ray_writes_the_same_bytes_as_the_local_engine(
    ray_cluster, good: Path, local_tree: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary = _run(good, out, "ray")
    assert summary.sources_run == 4 * len(TOPOLOGIES)
    _assert_same(_tree(out), local_tree)
    assert sum(k.endswith(".png") and "/bad/" in k for k in local_tree) >= 20
    assert b"7/bad/" in local_tree["manifest.csv"]


def test_a_task_killed_mid_run_is_retried_with_the_same_result(
    ray_cluster, good: Path, local_tree: dict[str, bytes], fault_dir: Path, tmp_path: Path
) -> None:
    request = fault_dir / "7_7_0001.png"
    request.write_text("3")  # the worker dies before its 4th image write, once
    out = tmp_path / "out"
    summary = _run(good, out, "ray")
    assert not request.exists(), "the fault was not injected"
    assert (fault_dir / "7_7_0001.png.killed").exists(), "the worker did not die"
    assert summary.sources_run == 4 * len(TOPOLOGIES)
    _assert_same(_tree(out), local_tree)


def test_a_chunk_of_sources_killed_mid_run_is_retried(
    ray_cluster, good: Path, local_tree: dict[str, bytes], fault_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    recipes = {t: recipe_for_topology(t) for t in TOPOLOGIES}
    gen.prepare_out(out, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, out, by_defect=False)
    # chunks of 3: [2_0000 2_0001 2_0002] [2_0003 7_0000 7_0001] [7_0002 7_0003]; the
    # worker dies in the 3rd unit of the 2nd chunk, after the first two were done
    (fault_dir / "7_7_0001.png.killed").unlink(missing_ok=True)
    (fault_dir / "7_7_0001.png").write_text("5")
    with get_executor("ray") as executor:
        results = list(executor.map(gen.run_task, tasks, chunk=3))
    assert (fault_dir / "7_7_0001.png.killed").exists()
    assert [r.skipped for r in results[3:6]] == [True, True, False]  # the retry skipped 2
    assert [r.records[0].path for r in results] == [
        f"{t.topology}/good/{Path(t.name).stem}.png" for t in tasks
    ]  # in task order
    summary = gen.run(tasks, out, rejected)  # every unit done: only the manifest is left
    assert summary.sources_run == 0
    _assert_same(_tree(out), local_tree)


def test_ray_resumes_a_run_made_by_the_local_engine(
    ray_cluster, good: Path, local_tree: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for rel, data in local_tree.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    # as if killed: one source had not finished (no done record, one image missing) and
    # the manifest was never written
    (out / ".weldsynth/done/2/2_0003.png.json").unlink()
    (out / "2/good/2_0003.png").unlink()
    (out / "manifest.csv").unlink()
    (out / ".weldsynth/merged.json").unlink(missing_ok=True)
    summary = _run(good, out, "ray")
    assert (summary.sources_run, summary.sources_done_before) == (1, 4 * len(TOPOLOGIES) - 1)
    _assert_same(_tree(out), local_tree)


def test_cli_engine_ray_and_the_message_without_ray(
    ray_cluster, good: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "generate",
            str(good / "7"),
            "--recipe",
            str(ROOT / "recipes" / "7.yaml"),
            "--out",
            str(tmp_path / "ok"),
            "--engine",
            "ray",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "ok" / "7" / "good").glob("*.png"))) >= 4
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    res = CliRunner().invoke(
        cli,
        [
            "generate",
            str(good / "7"),
            "--recipe",
            str(ROOT / "recipes" / "7.yaml"),
            "--out",
            str(tmp_path / "no"),
            "--engine",
            "ray",
        ],
    )
    assert res.exit_code == 2
    assert 'pip install "weldsynth[ray]"' in res.output
    assert not (tmp_path / "no").exists()  # refused before writing anything
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=3)
    res = CliRunner().invoke(
        cli, ["train", str(data), "--all", "--engine", "ray", "--out", str(tmp_path / "runs")]
    )
    assert res.exit_code == 2 and 'pip install "weldsynth[ray]"' in res.output
    assert not (tmp_path / "runs").exists()


def test_address_needs_engine_ray(good: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "generate",
            str(good / "7"),
            "--recipe",
            str(ROOT / "recipes" / "7.yaml"),
            "--out",
            str(tmp_path / "o"),
            "--address",
            "auto",
        ],
    )
    assert res.exit_code == 2 and "--engine ray" in res.output
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=3)
    for option in (["--ray-cpus-per-task", "2"], ["--ray-resource", "GPU=1"]):
        res = CliRunner().invoke(cli, ["train", str(data), "--out", str(tmp_path / "r"), *option])
        assert res.exit_code == 2 and f"{option[0]} is for --engine ray" in res.output
    assert not (tmp_path / "r").exists()


def test_parse_resources() -> None:
    assert ray_engine.parse_resources(["GPU=1", "big_memory=0.5"]) == {
        "GPU": 1.0,
        "big_memory": 0.5,
    }
    for bad in ("GPU", "=1", "GPU=x", "GPU=-1"):
        with pytest.raises(ray_engine.WeldsynthError, match="NAME=AMOUNT"):
            ray_engine.parse_resources([bad])


def _rows(path: Path) -> list[dict[str, str]]:
    """CSV rows without the wall-clock column."""
    with path.open() as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


@pytest.mark.slow
def test_ray_training_gives_the_summary_of_the_local_engine(ray_cluster, tmp_path: Path) -> None:
    data = fx.image_folder(tmp_path / "data", ("3", "7"), n_per_class=12)
    fast = [
        "--size",
        "32x96",
        "--batch-size",
        "8",
        "--weights",
        "none",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--quiet",
    ]
    runs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        res = CliRunner().invoke(
            cli,
            ["train", str(data), "--all", "--out", str(out), "--engine", engine, *fast],
            catch_exceptions=False,
        )
        assert res.exit_code == 0, res.output
        runs[engine] = out
    local, ray = _rows(runs["local"] / "summary.csv"), _rows(runs["ray"] / "summary.csv")
    assert [r["topology"] for r in ray] == ["3", "7"]
    assert ray == local
    for topo in ("3", "7"):  # same seeds, same threads: the same training, epoch by epoch
        assert _rows(runs["ray"] / topo / "metrics.csv") == _rows(
            runs["local"] / topo / "metrics.csv"
        )
        assert (runs["ray"] / topo / "model.pt").is_file()
