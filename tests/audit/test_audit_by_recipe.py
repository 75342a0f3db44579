"""A generated sample whose label follows from what generated it (its draw's defect and
norm verdict) is kept, and the model's disagreement is reported as a model error; a sample
whose label no longer follows (relabelled by hand, flipped) is judged as before."""

from __future__ import annotations

import numpy as np

from weldsynth.audit.oof import Scores
from weldsynth.audit.suspects import Sample, suggest

CLASSES = ["bad", "good"]


def _scores(given: list[int], p_good: list[float]) -> Scores:
    p = np.array([[1 - q, q] for q in p_good])
    n = len(given)
    return Scores(
        given=np.array(given),
        predicted=p.argmax(1),
        p_given=p[np.arange(n), given],
        p_predicted=p.max(1),
        loss=-np.log(p[np.arange(n), given]),
        margin=np.zeros(n),
        agree=np.ones(n),
        p_given_min=p[np.arange(n), given],
        p_given_max=p[np.arange(n), given],
        rank=np.arange(n),
    )


def test_a_cut_bad_by_construction_is_kept_as_a_model_error() -> None:
    samples = [
        Sample("7/bad/w__cut_00.png", "7", "cut", source="s1", seed="11"),  # drawn bad (24 px > 10)
        Sample("7/bad/w__cut_01.png", "7", "cut", source="s2", seed="12", verdict="reject"),
        Sample("7/good/w__acceptable_cut_02.png", "7", "acceptable_cut", source="s3", seed="13"),
        Sample(
            "7/good/w__cut_03.png", "7", "cut", source="s4", seed="14"
        ),  # relabelled bad -> good
        Sample("7/bad/orig.png", "7", "", source="s5"),  # an original: no recipe behind it
    ]
    given = [0, 0, 1, 1, 0]
    p_good = [0.97, 0.8, 0.02, 0.01, 0.97]  # the model disagrees with every one
    out = suggest(_scores(given, p_good), samples, CLASSES, seeds=1)
    for s in out[:3]:
        assert s.action == "keep" and not s.flagged
        assert s.why.startswith("keep (label follows from the recipe)")
        assert "model error" in s.why
    assert out[3].flagged and out[3].action == "relabel:bad"
    assert out[4].flagged
