"""grouping.assign_groups: the one grouped splitter (split, folds and train use it)."""

from __future__ import annotations

from collections import Counter

from weldsynth.dataset.grouping import assign_groups


def groups_of(n: int) -> dict[str, dict[str, int]]:
    return {f"w{i:02d}": {"good": 1 + i % 3, "bad": 2 + i % 4} for i in range(n)}


def test_shares_reached_per_label_and_every_bin_used() -> None:
    groups = groups_of(40)
    placed = assign_groups(groups, [0.6, 0.2, 0.2], seed=1)
    assert set(placed) == set(groups)
    for lab in ("good", "bad"):
        total = sum(c[lab] for c in groups.values())
        per_bin = Counter()
        for key, b in placed.items():
            per_bin[b] += groups[key][lab]
        for b, share in enumerate((0.6, 0.2, 0.2)):
            assert abs(per_bin[b] / total - share) < 0.05, (lab, b)


def test_deterministic_order_free_and_seeded_ties() -> None:
    groups = {f"s{i}": {0: 2} for i in range(30)}
    a = assign_groups(groups, [0.5, 0.5], seed=3)
    b = assign_groups(dict(reversed(list(groups.items()))), [0.5, 0.5], seed=3)
    assert a == b
    assert assign_groups(groups, [0.5, 0.5], seed=4) != a, "the seed orders equal groups"
    assert assign_groups(groups, [0.5, 0.5], seed=3, salt=("7",)) != a


def test_fixed_groups_stay_and_count_towards_targets() -> None:
    groups = groups_of(20)
    fixed = {"w00": 2, "w01": 2}
    placed = assign_groups(groups, [0.8, 0.2, 0.0], seed=0, fixed=fixed)
    assert placed["w00"] == 2 and placed["w01"] == 2
    assert all(b in (0, 1) for k, b in placed.items() if k not in fixed), "share 0: closed"


def test_a_rare_label_reaches_every_open_bin() -> None:
    groups = {f"g{i}": {"good": 6} for i in range(9)} | {f"b{i}": {"bad": 1} for i in range(3)}
    for seed in range(5):
        placed = assign_groups(groups, [0.7, 0.2, 0.1], seed=seed)
        for b in range(3):
            assert any(placed[f"b{i}"] == b for i in range(3)), (seed, b)


def test_k_equal_bins_all_non_empty_with_as_many_groups() -> None:
    groups = {"a": {0: 1, 1: 1}, "b": {0: 1}, "c": {1: 1}}
    placed = assign_groups(groups, [1 / 3] * 3, seed=0)
    assert sorted(placed.values()) == [0, 1, 2]
