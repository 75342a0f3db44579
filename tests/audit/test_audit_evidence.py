"""Mask evidence (a sample's own defect mask against where its fold models see a defect)
and flip test-time augmentation of the out-of-fold predictions."""

from __future__ import annotations

import csv
from pathlib import Path

import audit_fixtures as afx
import numpy as np
import pytest
import torch

import weldsynth.audit.oof as oof_mod
from weldsynth.audit.evidence import mask_evidence, with_evidence
from weldsynth.audit.learner import Fitted, tta_for
from weldsynth.audit.run import AuditSettings, audit_topology
from weldsynth.audit.suspects import Suggestion
from weldsynth.train.config import TrainConfig


def _disc(shape=(32, 96), cx=30, cy=16, r=5) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).astype(np.uint8) * 255


def test_mask_evidence_rules() -> None:
    mask = _disc()
    on = (mask > 0).astype(np.float32)  # a map right on the mask
    off = np.roll(on, 50, axis=1)  # the same blob elsewhere
    # a bad label whose map misses its mask while the models doubt it: the reason, no more
    ev = mask_evidence(True, 0.1, off, mask)
    assert ev.effect == "doubt" and "misses its own defect mask" in ev.reason
    assert not ev.suspect and ev.lift < 1.5
    # ... the map on the mask supports the label; models sure it is bad: nothing to say
    ev = mask_evidence(True, 0.1, on, mask)
    assert ev.effect == "supports" and "supports the label" in ev.reason and not ev.suspect
    assert mask_evidence(True, 0.9, off, mask).effect == ""
    # ... unless what was drawn there is an acceptable imperfection: no excuse for "bad"
    ev = mask_evidence(True, 0.1, on, mask, drawn_acceptable=True)
    assert ev.effect == "" and ev.lift > 1.5
    assert mask_evidence(True, 0.1, off, mask, drawn_acceptable=True).effect == "doubt"
    assert not mask_evidence(False, 0.95, on, mask, drawn_acceptable=True).suspect
    # a good label with a confident map on its own mask: a suspect
    ev = mask_evidence(False, 0.95, on, mask)
    assert ev.suspect and "labelled good" in ev.reason and ev.lift > 1.5
    assert not mask_evidence(False, 0.2, on, mask).suspect  # not confident
    assert not mask_evidence(False, 0.95, off, mask).suspect  # elsewhere: not the drawing
    # no mask, an empty mask or no map: no evidence either way
    for args in ((None, on), (np.zeros_like(mask), on), (mask, None)):
        ev = mask_evidence(False, 0.99, args[1], args[0])
        assert not ev.suspect and np.isnan(ev.in_mask)


def test_with_evidence_appends_the_reason_and_orders_the_review() -> None:
    disc, on = _disc(), (_disc() > 0).astype(np.float32)
    agree = Suggestion("keep", 0.1, "model agrees", agrees=True)
    unsure = Suggestion("keep", 0.6, "unsure: worth a look")
    dropped = Suggestion("drop", 0.8, "confidently wrong")
    assert (agree.tier, unsure.tier, dropped.tier) == (3, 1, 0)
    against = mask_evidence(False, 0.95, on, disc)  # good label, confident map on the mask
    doubt = mask_evidence(True, 0.2, np.roll(on, 50, axis=1), disc)
    supports = mask_evidence(True, 0.2, on, disc)
    out = with_evidence([agree, unsure, unsure, dropped], {1: against, 2: doubt, 3: supports})
    assert out[0] == agree
    assert out[1].why.startswith("unsure: worth a look; mask evidence: labelled good")
    assert out[1].mask_suspect and out[1].action == "drop" and out[1].tier == 0  # first
    relabelled = Suggestion("relabel:bad", 0.95, "p(bad)=0.95")
    assert with_evidence([relabelled], {0: against})[0].action == "relabel:bad"  # kept
    assert "misses its own defect mask" in out[2].why and out[2].tier == 1  # stays
    assert out[3].action == "keep" and out[3].excused and out[3].tier == 2
    assert out[3].why.startswith("mask evidence supports the label")


def test_tta_follows_the_training_flips() -> None:
    assert tta_for("hflip,vflip") == "flip"
    assert tta_for("vflip,rotate=5,hflip") == "flip"
    assert tta_for("hflip") == "none"  # never trained on top-bottom mirror images
    assert tta_for("none") == "none"


class _LeftRight(torch.nn.Module):
    """Logits: mean of the left half vs the right half (a flip swaps the classes)."""

    num_classes = 2

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(8.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.shape[-1] // 2
        left, right = x[..., :w].mean(dim=(1, 2, 3)), x[..., w:].mean(dim=(1, 2, 3))
        return self.scale * torch.stack([left, right], dim=1)


def test_flip_tta_averages_the_views() -> None:
    img = np.zeros((3, 8, 16), np.uint16)
    img[:, :, :8] = 65535  # bright left half
    fitted = Fitted(model=_LeftRight(), mean=0.0, std=1.0)
    plain = fitted.probabilities(img)
    assert (plain[:, 0] > 0.99).all()
    assert np.allclose(fitted.probabilities(img, tta="flip"), 0.5, atol=1e-6)


class _Truthful:
    """A fold model that knows the true classes (hole = bad) and maps the hole."""

    mean, std = 0.0, 1.0
    model = torch.nn.Identity()

    def probabilities(self, x, tta="none") -> np.ndarray:
        bad = (np.asarray(x[:]) == 0).any(axis=(1, 2))
        p = np.where(bad, 0.95, 0.05)
        return np.stack([p, 1 - p], axis=1).astype(np.float32)


def test_a_planted_bad_weld_labelled_good_gets_the_mask_reason(tmp_path: Path, monkeypatch) -> None:
    """Wiring from fold models to suspects.csv and report.html: a bad weld (hole, mask)
    planted in good/ is a suspect whose why gives the mask evidence; unflipped samples and
    the good weld planted in bad/ (no mask) get none."""
    root, flipped, truth = afx.flipped_set(tmp_path / "data", n_sources=12, flips=(3, 16))
    monkeypatch.setattr(oof_mod, "train_arrays", lambda *a, **k: _Truthful())

    def hole_maps(fitted, images, targets) -> np.ndarray:
        x = np.asarray(images[:])
        return (x == 0).astype(np.float32)  # where the hole is, at input resolution

    monkeypatch.setattr(oof_mod, "defect_maps", hole_maps)
    cfg = TrainConfig(size=(32, 96), epochs=1, weights="none", augment="none", seed=3)
    settings = AuditSettings(folds=3, seeds=1, top=5, weights="none")
    audit_topology(root, "7", tmp_path / "audit", cfg, settings)
    with (tmp_path / "audit" / "suspects.csv").open() as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    planted = [p for p in flipped if truth[p] == "bad"]
    assert len(planted) == 1
    row = rows[planted[0]]
    assert row["given"] == "good" and "mask evidence: labelled good" in row["why"]
    assert int(row["rank"]) <= len(flipped)
    others = [r for p, r in rows.items() if p not in planted]
    assert not any("mask evidence" in r["why"] for r in others)
    html = (tmp_path / "audit" / "report.html").read_text()
    assert "mask evidence: labelled good" in html


@pytest.mark.parametrize("given_bad", [True, False])
def test_mask_evidence_is_deterministic(given_bad: bool) -> None:
    rng = np.random.default_rng(np.random.SeedSequence([4, int(given_bad)]))
    cam = rng.random((32, 96)).astype(np.float32)
    assert mask_evidence(given_bad, 0.3, cam, _disc()) == mask_evidence(
        given_bad, 0.3, cam.copy(), _disc()
    )


def test_sample_evidence_knows_acceptable_variants_from_verdict_or_name() -> None:
    from weldsynth.audit.evidence import _drawn_acceptable
    from weldsynth.audit.suspects import Sample

    assert _drawn_acceptable(Sample(path="a.png", topology="7", defect="acceptable_cut"))
    assert not _drawn_acceptable(Sample(path="a.png", topology="7", defect="cut"))
    assert _drawn_acceptable(Sample(path="a.png", topology="7", defect="cut", verdict="accept"))
    named = Sample(path="a.png", topology="7", defect="acceptable_cut", verdict="reject")
    assert not _drawn_acceptable(named)  # the norm's verdict wins over the name
