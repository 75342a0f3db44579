"""balance: ratio reached per method, nothing deleted, deterministic, label-preserving variants."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.dataset import augment
from weldsynth.dataset.balance import (
    EXCLUDED,
    BalanceError,
    balance,
    parse_ratio,
)
from weldsynth.geometry import locate
from weldsynth.io.heightmap import read_heightmap, to_uint
from weldsynth.io.manifest import ManifestError, Record, read_manifest, sha256_file, write_manifest

H, W = 64, 160


def _locate_ready() -> bool:
    try:
        locate(np.ones((H, W), np.float32))
    except NotImplementedError:
        return False
    return True


NEEDS_LOCATE = pytest.mark.skipif(
    not _locate_ready(),
    reason="geometry.locate raises NotImplementedError: plate-only extras "
    "(bead removed) need it; balance falls back to solid extras meanwhile",
)


def ridge(i: int) -> np.ndarray:
    """A tilted bead on two plates at different heights, a no-data strip on the left."""
    y = np.arange(H)[:, None]
    x = np.arange(W)[None, :]
    h = np.where(y < 30, 0.45, 0.3) + 0.002 * (i % 5) + np.zeros((H, W))
    h = h + 0.4 * np.exp(-((y - 30 - 0.04 * x + 0.5 * i) ** 2) / (2 * 4.0**2))
    h[:, :6] = 0.0
    return h


def _write(root: Path, rel: str, height: np.ndarray, depth: int) -> str:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), to_uint(height, depth))
    return sha256_file(target)


def make_dataset(root: Path, layout: dict[str, tuple[int, int, int]] | None = None) -> None:
    """Data set in the generate layout: per topology (originals, bad per original, depth).

    Topology 7 also gets one acceptable cut (label good, a defect).
    """
    layout = layout or {"7": (4, 3, 16), "3": (3, 2, 8)}
    rows = []
    for topo, (n, bad_each, depth) in layout.items():
        for i in range(n):
            stem = f"{topo}_{i:04d}"
            good = ridge(i)
            src = f"{topo}/good/{stem}.png"
            rows.append(
                Record(
                    path=src,
                    topology=topo,
                    label="good",
                    source=src,
                    sha256=_write(root, src, good, depth),
                )
            )
            for v in range(bad_each):
                hole = good.copy()
                hole[28:34, 40 + 20 * v : 46 + 20 * v] = 0.0
                rel = f"{topo}/bad/{stem}__hole_{v:02d}.png"
                rows.append(
                    Record(
                        path=rel,
                        topology=topo,
                        label="bad",
                        defect="hole",
                        source=src,
                        params=json.dumps({"radius": 3}),
                        seed=str(v),
                        sha256=_write(root, rel, hole, depth),
                    )
                )
        if topo == "7":
            cut = ridge(0)
            cut[:, 80:82] = 0.0
            rel = f"{topo}/good/{topo}_0000__acceptable_cut_09.png"
            rows.append(
                Record(
                    path=rel,
                    topology=topo,
                    label="good",
                    defect="acceptable_cut",
                    source=f"{topo}/good/{topo}_0000.png",
                    seed="9",
                    sha256=_write(root, rel, cut, depth),
                )
            )
    write_manifest(root, rows)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def active_counts(root: Path) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for r in read_manifest(root):
        if r.active:
            out.setdefault(r.topology, Counter())[r.label] += 1
    return out


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    make_dataset(root)
    return root


def assert_nothing_lost(
    root: Path, before_files: dict[str, bytes], before_rows: list[Record]
) -> None:
    after = snapshot(root)
    for rel, data in before_files.items():
        if rel != "manifest.csv":
            assert after.get(rel) == data, f"{rel} changed or vanished"
    rows = {r.path: r for r in read_manifest(root)}
    for old in before_rows:
        assert old.path in rows
        assert rows[old.path].with_(status="", split="") == old.with_(status="", split="")


def test_oversample_reaches_ratio_and_deletes_nothing(ds: Path) -> None:
    files, rows = snapshot(ds), read_manifest(ds)
    balance(ds, "1:1", "oversample", seed=3)
    counts = active_counts(ds)
    assert counts["7"] == Counter(good=12, bad=12)
    assert counts["3"] == Counter(good=6, bad=6)
    assert_nothing_lost(ds, files, rows)
    new = [r for r in read_manifest(ds) if r.path not in {o.path for o in rows}]
    assert len(new) == 7 + 3
    by_path = {r.path: r for r in rows}
    for r in new:
        params = json.loads(r.params)
        base = by_path[params["base"]]
        assert r.label == "good" and r.defect == base.defect and r.status == ""
        assert r.source == base.source and r.topology == base.topology
        assert params["augment"] == "flip"  # the default: nothing only good images have
        assert r.path.startswith(f"{r.topology}/good/") and r.seed.isdigit()
        assert sha256_file(ds / r.path) == r.sha256
        # the acceptable cut is a good image too, but variants are never made of variants
        assert "augment" not in json.loads(base.params)
    # topology 7 has 5 good bases and needs 7: every base gets one before any gets two
    per_base = Counter(json.loads(r.params)["base"] for r in new if r.topology == "7")
    assert sorted(per_base.values()) == [1, 1, 1, 2, 2]


def test_default_variants_are_mirror_images_of_their_base(ds: Path) -> None:
    """A flipped weld has exactly its base's pixel values: no statistic that ignores
    orientation (dropout speckle, brightness, no-data share) tells variants from originals,
    so oversampling gives the model no 'good-only' shortcut."""
    balance(ds, "1:1", "oversample", seed=1)
    axes = {"hflip": (1,), "vflip": (0,), "hvflip": (0, 1)}
    kinds = Counter()
    for r in read_manifest(ds):
        params = json.loads(r.params)
        if "augment" not in params:
            continue
        kinds[params["flip"]] += 1
        base = read_heightmap(ds / params["base"])
        var = read_heightmap(ds / r.path)
        assert var.bit_depth == base.bit_depth
        assert np.array_equal(var.to_uint(), np.flip(base.to_uint(), axes[params["flip"]]))
        assert r.path.endswith(f"__{params['flip']}_{int(r.path[-6:-4]):02d}.png")
    # 7 + 3 variants over 5 + 3 bases, each base's k-th variant is kinds[k % 3]
    assert set(kinds) <= set(axes) and kinds["hflip"] >= kinds["vflip"] >= kinds["hvflip"]
    assert sum(kinds.values()) == 10


def test_unknown_variant_kind_is_refused_before_writing(ds: Path) -> None:
    files = snapshot(ds)
    with pytest.raises(BalanceError, match=r"--augment 'flip,sparkle'.*sparkle.*allowed"):
        balance(ds, "1:1", "oversample", augments="flip,sparkle")
    with pytest.raises(BalanceError, match="given twice"):
        balance(ds, "1:1", "oversample", augments="flip,hflip")
    assert snapshot(ds) == files


def test_variants_keep_nodata_bit_depth_and_label(ds: Path) -> None:
    balance(ds, "1:1", "oversample", seed=1, augments="dropout,brightness")
    kinds = set()
    for r in read_manifest(ds):
        params = json.loads(r.params)
        if "augment" not in params:
            continue
        kinds.add(params["augment"])
        base = read_heightmap(ds / params["base"])
        var = read_heightmap(ds / r.path)
        assert var.bit_depth == base.bit_depth == (16 if r.topology == "7" else 8)
        assert not (var.valid & ~base.valid).any(), "no-data pixel turned into data"
        if params["augment"] == "pixel_dropout":
            dropped = base.valid & ~var.valid
            frac = dropped.sum() / base.valid.sum()
            assert 0.01 < frac < 0.03
            assert params["dropped_pixels"] == dropped.sum()
            same = var.valid
            assert np.array_equal(var.to_uint()[same], base.to_uint()[same])
        else:
            assert np.array_equal(var.valid, base.valid), "brightness must not drop pixels"
            b, c = params["brightness"], params["contrast"]
            assert abs(b) <= augment.BRIGHTNESS_LIMIT and abs(c) <= augment.CONTRAST_LIMIT
            expected = np.clip(base.height * (1 + c) + b, 0, 1)[base.valid]
            assert np.abs(var.height[base.valid] - expected).max() < 2 / 255
    assert kinds == {"pixel_dropout", "brightness_contrast"}


def test_undersample_excludes_through_manifest_only(ds: Path) -> None:
    dropped = "7/bad/7_0002__hole_01.png"  # left out by an audit: balance leaves it alone
    write_manifest(
        ds, [r.with_(status="dropped") if r.path == dropped else r for r in read_manifest(ds)]
    )
    files, rows = snapshot(ds), read_manifest(ds)
    balance(ds, "1:1", "undersample", seed=0)
    assert active_counts(ds) == {"7": Counter(good=5, bad=5), "3": Counter(good=3, bad=3)}
    after = read_manifest(ds)
    assert len(after) == len(rows)
    assert {r.status for r in after} == {"", EXCLUDED, "dropped"}
    assert [r.path for r in after if r.status == "dropped"] == [dropped]
    assert all(r.label == "bad" for r in after if not r.active)
    assert_nothing_lost(ds, files, rows)
    assert set(snapshot(ds)) == set(files)
    # a looser ratio brings rows back: the selection is recomputed, never accumulated
    balance(ds, "1:2", "undersample", seed=0)
    assert active_counts(ds) == {"7": Counter(good=5, bad=10), "3": Counter(good=3, bad=6)}
    assert [r.path for r in read_manifest(ds) if r.status == "dropped"] == [dropped]


def test_undersample_good_majority(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"4": (6, 1, 8)})
    balance(tmp_path, "2:1", "undersample", seed=5)
    assert active_counts(tmp_path) == {"4": Counter(good=6, bad=3)}
    balance(tmp_path, "1:1", "undersample", seed=5)
    assert active_counts(tmp_path) == {"4": Counter(good=6, bad=6)}
    balance(tmp_path, "1:3", "undersample", seed=5)
    assert active_counts(tmp_path) == {"4": Counter(good=2, bad=6)}
    # originals are kept before anything derived from them
    kept = [r for r in read_manifest(tmp_path) if r.active and r.label == "good"]
    assert all(r.defect == "" for r in kept)


def test_both_caps_variants_then_undersamples(ds: Path) -> None:
    files, rows = snapshot(ds), read_manifest(ds)
    balance(ds, "1:1", "both", seed=2, max_variants=1)
    counts = active_counts(ds)
    # topology 7: 5 good bases x 1 variant -> 10 good; 12 bad undersampled to 10
    assert counts["7"] == Counter(good=10, bad=10)
    # topology 3: 3 bases -> 6 good, 6 bad: the ratio is reached without undersampling
    assert counts["3"] == Counter(good=6, bad=6)
    assert_nothing_lost(ds, files, rows)


@pytest.mark.parametrize(
    ("method", "seed", "extras", "cap"),
    [("both", 11, 2, 2), ("both", 0, 2, 1), ("undersample", 3, 3, 0), ("oversample", 5, 1, 0)],
)
def test_rerun_is_a_no_op_and_runs_are_byte_identical(
    tmp_path: Path, method: str, seed: int, extras: int, cap: int
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_dataset(a)
    shutil.copytree(a, b)
    for root in (a, b):
        balance(root, "1:1", method, seed=seed, extras=extras, max_variants=cap)
    snap = snapshot(a)
    assert snap == snapshot(b)
    plan = balance(a, "1:1", method, seed=seed, extras=extras, max_variants=cap)
    assert plan.changes == 0
    assert snapshot(a) == snap
    plan = balance(a, "1:1", "oversample", seed=99)
    assert plan.changes == 0, "a balanced set stays as it is whatever the seed"


@NEEDS_LOCATE
def test_bad_extras_plate_only_and_solid(ds: Path) -> None:
    balance(ds, "1:1", "oversample", seed=4, extras=2)
    rows = read_manifest(ds)
    extras = [r for r in rows if r.defect in augment.EXTRAS]
    assert Counter((r.topology, r.defect) for r in extras) == {
        ("7", "plate_only"): 1,
        ("7", "solid"): 1,
        ("3", "plate_only"): 1,
        ("3", "solid"): 1,
    }
    for r in extras:
        assert r.label == "bad" and r.path.startswith(f"{r.topology}/bad/")
        hm = read_heightmap(ds / r.path)
        base = read_heightmap(ds / json.loads(r.params)["base"])
        assert hm.bit_depth == base.bit_depth and hm.shape == base.shape
        if r.defect == "solid":
            assert len(np.unique(hm.to_uint())) == 1
        else:
            # the bead (0.4 above the plates) is gone: nothing stands far above the plates
            assert base.height.max() > 0.8
            assert hm.height.max() < 0.55
            assert not (hm.valid & ~base.valid).any()
    # extras count as bad: good is oversampled to the new bad count
    assert active_counts(ds)["7"] == Counter(good=14, bad=14)


@NEEDS_LOCATE
def test_by_defect_layout_puts_extras_in_their_folder(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"8": (2, 1, 16)})
    rows = [r.with_(path=r.path.replace("/bad/", "/bad-hole/")) for r in read_manifest(tmp_path)]
    for r in rows:
        if "bad-hole" in r.path:
            (tmp_path / r.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tmp_path / r.path.replace("/bad-hole/", "/bad/"), tmp_path / r.path)
    write_manifest(tmp_path, rows)
    balance(tmp_path, "1:1", "oversample", extras=2)
    paths = {r.path for r in read_manifest(tmp_path) if r.defect in augment.EXTRAS}
    assert {p.split("/")[1] for p in paths} == {"bad-plate_only", "bad-solid"}


def test_new_rows_inherit_the_split_of_their_base(ds: Path) -> None:
    rows = read_manifest(ds)
    write_manifest(ds, [r.with_(split="val" if "7_0001" in r.source else "train") for r in rows])
    balance(ds, "1:1", "oversample")
    for r in read_manifest(ds):
        assert r.split == ("val" if "7_0001" in r.source else "train"), r.path


def test_run_killed_before_the_manifest_resumes_to_a_clean_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_dataset(a)
    shutil.copytree(a, b)
    balance(a, "1:1", "both", seed=8, extras=2, max_variants=1)

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("weldsynth.dataset.balance.apply.write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        balance(b, "1:1", "both", seed=8, extras=2, max_variants=1)
    written = {k for k in snapshot(b) if not k.startswith(".weldsynth")}
    assert len(written) == len(snapshot(a)), "files written, manifest not"
    assert (b / ".weldsynth" / "balance-pending.json").is_file(), "what it was writing"
    monkeypatch.undo()
    balance(b, "1:1", "both", seed=8, extras=2, max_variants=1)
    assert snapshot(b) == snapshot(a)


def test_paths_escaping_the_data_set_are_refused(tmp_path: Path) -> None:
    make_dataset(tmp_path / "ds", {"7": (2, 2, 8)})
    rows = read_manifest(tmp_path / "ds")
    good = next(r for r in rows if r.label == "good")
    evil = good.with_(path="../outside.png", source="../outside.png")
    write_manifest(tmp_path / "ds", [*rows, evil])
    shutil.copy(tmp_path / "ds" / good.path, tmp_path / "outside.png")
    files = snapshot(tmp_path)
    with pytest.raises(ManifestError, match="escapes"):
        balance(tmp_path / "ds", "3:1", "oversample", seed=2)
    assert snapshot(tmp_path) == files


def test_foreign_file_is_never_overwritten(ds: Path) -> None:
    plan = balance(ds, "1:1", "oversample", seed=0, dry_run=True)
    target = ds / plan.topologies[0].new[0].path
    target.write_bytes(b"someone else's file")
    before = read_manifest(ds)
    with pytest.raises(BalanceError, match="not in the manifest"):
        balance(ds, "1:1", "oversample", seed=0)
    assert target.read_bytes() == b"someone else's file"
    assert read_manifest(ds) == before


@pytest.mark.parametrize("text", ["1-1", "0:1", "1:", "a:b", "1:-2", ""])
def test_bad_ratio_names_the_option(text: str) -> None:
    with pytest.raises(BalanceError, match="--ratio"):
        parse_ratio(text)


def test_parse_ratio_accepts_decimals() -> None:
    assert parse_ratio("1.5:1") == (1.5, 1) and parse_ratio(" 2 : 3 ") == (2, 3)


def test_topology_without_bad_is_a_clear_error(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"7": (2, 1, 8), "9": (2, 0, 8)})
    files = snapshot(tmp_path)
    with pytest.raises(BalanceError, match=r"topology 9: no bad rows.*--extras"):
        balance(tmp_path, "1:1", "oversample")
    assert snapshot(tmp_path) == files, "an error leaves everything as it was"
    balance(tmp_path, "1:1", "oversample", extras=2)  # extras make it possible
    assert active_counts(tmp_path)["9"] == Counter(good=2, bad=2)


def test_missing_manifest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        balance(tmp_path)


def test_cli_prints_before_after_and_errors_in_one_line(ds: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["balance", str(ds), "--ratio", "1:1", "-q"])
    assert res.exit_code == 0, res.output
    rows = {
        cells[0]: cells
        for line in res.output.splitlines()
        if line.count("│") == 9
        for cells in [[c.strip() for c in line.split("│")[1:9]]]
    }
    # topology, good/bad before, good/bad after, new files, excluded, restored
    assert rows["7"] == ["7", "5", "12", "12", "12", "7", "0", "0"]
    assert rows["3"] == ["3", "3", "6", "6", "6", "3", "0", "0"]
    res = runner.invoke(cli, ["balance", str(ds), "-q"])
    assert "already balanced" in res.output
    res = runner.invoke(cli, ["balance", str(ds), "--ratio", "1to1"])
    assert res.exit_code == 2 and "--ratio" in res.output
    res = runner.invoke(cli, ["balance", str(ds), "--method", "smote"])
    assert res.exit_code == 2 and "--method" in res.output
    res = runner.invoke(cli, ["balance", str(ds), "--augment", "mixup"])
    assert res.exit_code == 2 and "--augment 'mixup'" in res.output and "hflip" in res.output


def test_a_killed_run_leaves_no_orphan_files_after_a_rerun_with_another_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupted run's files that the next plan does not write are swept, so the data
    set never holds images its manifest does not list (issue 18: 106,747 orphan PNGs)."""
    ds = tmp_path / "ds"
    make_dataset(ds)

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("weldsynth.dataset.balance.apply.write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        balance(ds, "3:1", "oversample", seed=8)
    monkeypatch.undo()
    balance(ds, "1:1", "oversample", seed=8)  # fewer new files than the killed plan
    listed = {r.path for r in read_manifest(ds)}
    on_disk = {p.relative_to(ds).as_posix() for p in ds.rglob("*.png") if "_masks" not in p.parts}
    assert on_disk - listed == set()
    assert not list(ds.rglob("*.tmp")) and not (ds / ".weldsynth" / "balance-pending.json").exists()
