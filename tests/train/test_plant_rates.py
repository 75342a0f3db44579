"""False alarms on untouched unseen good welds and misses per defect, on hand-made cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weldsynth.train.data import Item
from weldsynth.train.plant import (
    is_untouched,
    plant_rates,
    rates_from_confusion,
    summary_line,
)


def test_rates_from_a_hand_made_confusion() -> None:
    classes = ["bad-ball", "bad-hole", "good"]
    # rows true, columns predicted
    cm = np.array(
        [
            [8, 0, 2],  # ball: 2 of 10 missed
            [1, 4, 0],  # hole: none missed (one taken for a ball is still bad)
            [1, 2, 47],  # good: 3 of 50 called bad
        ]
    )
    rates = rates_from_confusion(cm, classes)
    assert rates["good"] == 50 and rates["false_alarms"] == 3
    assert rates["false_alarm_rate"] == pytest.approx(0.06)
    assert rates["bad"] == 15 and rates["misses"] == 2
    assert rates["miss_rate"] == pytest.approx(2 / 15)
    empty = rates_from_confusion(np.array([[0, 0], [0, 4]]), ["bad", "good"])
    assert empty["miss_rate"] is None and empty["false_alarm_rate"] == 0.0


def _item(rel: str, label: str, defect: str = "", source: str | None = None) -> Item:
    return Item(path=Path(rel), rel=rel, label=label, defect=defect, source=source or rel)


def test_only_untouched_unseen_good_welds_count_as_false_alarm_chances() -> None:
    classes = ["bad", "good"]
    items = [
        _item("7/good/a.png", "good"),  # original, unseen: called bad -> a false alarm
        _item("7/good/b.png", "good"),  # original, unseen: called good
        _item("7/good/c.png", "good", source="7/good/c.png"),  # original seen in training
        _item("7/good/a__cut_06.png", "good", "cut", "7/good/a.png"),  # acceptable variant
        _item("7/good/b_hflip.png", "good", "", "7/good/b.png"),  # a mirrored copy
        _item("7/bad/a__hole_00.png", "bad", "hole", "7/good/a.png"),  # missed
        _item("7/bad/a__ball_01.png", "bad", "ball", "7/good/a.png"),  # caught
        _item("7/bad/b__ball_01.png", "bad", "ball", "7/good/b.png"),  # missed
    ]
    assert [is_untouched(i) for i in items] == [True, True, True, False, False] + [False] * 3
    pred = np.array([0, 1, 0, 0, 0, 1, 0, 1])  # 0 = bad, 1 = good
    rates = plant_rates(items, pred, classes, seen_sources={"7/good/c.png"})
    assert rates["untouched_good"] == 2 and rates["false_alarms"] == 1
    assert rates["false_alarm_rate"] == 0.5
    assert rates["bad"] == 3 and rates["misses"] == 2
    per = {r["defect"]: r for r in rates["miss_per_defect"]}
    assert per["hole"] == {"defect": "hole", "images": 1, "missed": 1, "miss_rate": 1.0}
    assert per["ball"]["missed"] == 1 and per["ball"]["miss_rate"] == 0.5
    line = summary_line(rates)
    assert "false alarms 50.00% of 2 untouched" in line and "worst: hole 100.00%" in line
    seen_all = plant_rates(items, pred, classes, seen_sources={"7/good/a.png", "7/good/b.png"})
    assert seen_all["untouched_good"] == 1  # only c is left unseen
    none = plant_rates(items[3:], pred[3:], classes)
    assert none["false_alarm_rate"] is None and "n/a" in summary_line(none)
