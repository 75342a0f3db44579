"""The demo's norm step: one acceptable and one rejectable variant of a defect, side by side
in a figure, and a line with their measures in mm, the rule and the verdicts."""

from __future__ import annotations

from pathlib import Path

import cv2

from weldsynth.pipelines.demo import DEMO_ENTRIES, demo_steps, prepare_output


def test_the_norm_step_writes_the_pair_and_says_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    prepare_output(out)
    steps = {key: run for key, _title, run in demo_steps(out)}
    steps["good"]()
    done = steps["norm"]()
    figure = out / "norm" / "acceptable_vs_rejectable.png"
    assert cv2.imread(str(figure)) is not None
    assert f"figure: {figure}" in done.message
    assert " mm -> accept (good) vs " in done.message and " mm -> reject (bad)" in done.message
    assert "ISO 5817 level C" in done.message and "rule: " in done.message
    assert "norm" in DEMO_ENTRIES  # a rerun may replace the folder
