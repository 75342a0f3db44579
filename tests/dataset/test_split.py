"""split: grouped by source, stratified, deterministic, --keep-test; info from the manifest."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.dataset.split import SplitError, assign_splits, check_fractions, split_dataset
from weldsynth.io.manifest import Record, read_manifest, write_manifest


def group_rows(topo: str, name: str, good: int, bad: int, status: str = "") -> list[Record]:
    """One source: ``good`` good rows (the original first) and ``bad`` bad variants."""
    src = f"{topo}/good/{name}.png"
    rows = [Record(path=src, topology=topo, label="good", source=src)] if good else []
    rows += [
        Record(
            path=f"{topo}/good/{name}__dropout_{k:02d}.png", topology=topo, label="good", source=src
        )
        for k in range(good - 1)
    ]
    rows += [
        Record(
            path=f"{topo}/bad/{name}__hole_{k:02d}.png",
            topology=topo,
            label="bad",
            defect="hole",
            source=src,
            status=status,
        )
        for k in range(bad)
    ]
    return rows


def dataset() -> list[Record]:
    rows: list[Record] = []
    for i in range(20):
        rows += group_rows("7", f"g{i:02d}", 1 + i % 3, 2 + i % 4)
    for i in range(8):
        rows += group_rows("3", f"h{i:02d}", 1, 3, status="excluded:undersample" if i < 2 else "")
    return rows


def sources_per_split(records: list[Record]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        out[r.topology, r.source or r.path].add(r.split)
    return out


def test_groups_never_cross_splits_and_fractions_are_close() -> None:
    out = assign_splits(dataset(), val=0.2, test=0.1, seed=42)
    assert all(len(s) == 1 for s in sources_per_split(out).values())
    assert all(r.split in ("train", "val", "test") for r in out)
    rows7 = [r for r in out if r.topology == "7" and r.active]
    share = Counter(r.split for r in rows7)
    assert abs(share["val"] / len(rows7) - 0.2) < 0.06
    assert abs(share["test"] / len(rows7) - 0.1) < 0.06
    for split in ("train", "val", "test"):  # stratified: each label near its share
        for label in ("good", "bad"):
            lab = [r for r in rows7 if r.label == label]
            frac = sum(r.split == split for r in lab) / len(lab)
            want = {"train": 0.7, "val": 0.2, "test": 0.1}[split]
            assert abs(frac - want) < 0.1, (split, label, frac)


def test_both_labels_reach_val_and_test_when_possible() -> None:
    # nine pure-good sources of 6 rows and three single-row bad sources (real bad welds):
    # a split by row count alone would put every bad row in train
    rows: list[Record] = []
    for i in range(9):
        rows += group_rows("5", f"g{i}", 6, 0)
    for i in range(3):
        rows += [Record(path=f"5/bad/real{i}.png", topology="5", label="bad")]
    for seed in range(5):
        out = assign_splits(rows, val=0.2, test=0.1, seed=seed)
        labels = defaultdict(set)
        for r in out:
            labels[r.split].add(r.label)
        assert labels["val"] == {"good", "bad"}, seed
        assert labels["test"] == {"good", "bad"}, seed
        assert "bad" in labels["train"], seed


def test_deterministic_and_a_resplit_changes_nothing() -> None:
    rows = dataset()
    first = assign_splits(rows, 0.25, 0.1, seed=7)
    assert assign_splits(list(reversed(rows)), 0.25, 0.1, seed=7) == list(reversed(first))
    assert assign_splits(first, 0.25, 0.1, seed=7) == first


def test_excluded_rows_follow_their_group() -> None:
    out = assign_splits(dataset(), 0.2, 0.1, seed=1)
    excluded = [r for r in out if not r.active]
    assert excluded and all(r.split for r in excluded)
    assert all(len(s) == 1 for s in sources_per_split(out).values())


def test_keep_test_keeps_test_rows_and_never_leaks() -> None:
    first = assign_splits(dataset(), 0.2, 0.1, seed=42)
    test_rows = {r.path for r in first if r.split == "test"}
    test_sources = {r.source for r in first if r.split == "test"}
    # later: new variants of a test source, and new sources
    src = sorted(test_sources)[0]
    topo, name = src.split("/")[0], Path(src).stem
    more = [
        Record(
            path=f"{topo}/good/{name}__brightness_09.png", topology=topo, label="good", source=src
        )
    ]
    more += group_rows("7", "new0", 2, 3) + group_rows("7", "new1", 1, 2)
    out = assign_splits(first + more, val=0.3, test=0.5, seed=3, keep_test=True)
    by_path = {r.path: r for r in out}
    assert all(by_path[p].split == "test" for p in test_rows)
    assert by_path[more[0].path].split == "test", "a new variant of a test weld stays in test"
    assert {r.path for r in out if r.split == "test"} == test_rows | {more[0].path}
    assert all(len(s) == 1 for s in sources_per_split(out).values())
    assert any(r.split == "val" for r in out) and any(r.split == "train" for r in out)


def test_keep_test_without_a_test_set_is_an_error() -> None:
    with pytest.raises(SplitError, match="--keep-test"):
        assign_splits(dataset(), 0.2, 0.1, keep_test=True)


@pytest.mark.parametrize(
    ("val", "test", "option"),
    [
        (1.0, 0.1, "--val"),
        (-0.1, 0.1, "--val"),
        (0.2, 1.5, "--test"),
        (0.2, -0.01, "--test"),
        (0.6, 0.4, "--val 0.6 + --test 0.4"),
    ],
)
def test_bad_fractions_name_the_option(val: float, test: float, option: str) -> None:
    with pytest.raises(SplitError, match=option.replace("+", r"\+")):
        check_fractions(val, test)


def test_zero_test_fraction_makes_no_test_rows() -> None:
    out = assign_splits(dataset(), val=0.2, test=0.0, seed=0)
    assert {r.split for r in out} == {"train", "val"}


def test_split_dataset_writes_only_when_something_changes(tmp_path: Path) -> None:
    write_manifest(tmp_path, dataset())
    split_dataset(tmp_path, 0.2, 0.1, 42)
    data = (tmp_path / "manifest.csv").read_bytes()
    mtime = (tmp_path / "manifest.csv").stat().st_mtime_ns
    split_dataset(tmp_path, 0.2, 0.1, 42)
    assert (tmp_path / "manifest.csv").read_bytes() == data
    assert (tmp_path / "manifest.csv").stat().st_mtime_ns == mtime


def test_cli_split_then_info_counts_from_manifest(tmp_path: Path) -> None:
    write_manifest(tmp_path, dataset())
    runner = CliRunner()
    res = runner.invoke(cli, ["split", str(tmp_path), "--val", "0.2", "--test", "0.1"])
    assert res.exit_code == 0, res.output
    again = runner.invoke(cli, ["split", str(tmp_path), "--val", "0.2", "--test", "0.1"])
    assert "split unchanged" in again.output
    res = runner.invoke(cli, ["split", str(tmp_path), "--val", "0.7", "--test", "0.3"])
    assert res.exit_code == 2 and "--val 0.7 + --test 0.3" in res.output

    rows = read_manifest(tmp_path)
    res = runner.invoke(cli, ["info", str(tmp_path)])
    assert res.exit_code == 0, res.output
    table = {
        tuple(c.strip() for c in line.split("│")[1:4]): [c.strip() for c in line.split("│")[4:-1]]
        for line in res.output.splitlines()
        if line.count("│") == 8
    }
    for (topo, cls, defect), cells in table.items():
        if topo == "all":
            continue
        want = [
            sum(
                1
                for r in rows
                if r.active
                and r.topology == topo
                and r.split == s
                and r.path.split("/")[1] == cls
                and (r.defect or "-") == defect
            )
            for s in ("train", "val", "test")
        ]
        assert [int(c) for c in cells] == [*want, sum(want)], (topo, cls, defect)
    assert {k[:2] for k in table} >= {("7", "good"), ("7", "bad"), ("3", "good"), ("3", "bad")}
    assert table["all", "", ""][-1] == str(sum(r.active for r in rows))
    assert "excluded rows: 6 (excluded:undersample: 6)" in res.output
