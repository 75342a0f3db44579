"""Grad-CAM: batching, mapping back through the letterbox, CAM-in-mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from weldsynth.audit.gradcam import (
    cam_in_mask,
    cam_to_map,
    gradcam,
    letterbox_box,
    png_shape,
)
from weldsynth.train.images import letterbox
from weldsynth.train.model import build_model


@pytest.mark.parametrize(
    "shape,size",
    [
        ((128, 352), (64, 176)),
        ((100, 100), (64, 176)),
        ((40, 300), (128, 128)),
        ((128, 352), (128, 352)),
    ],
)
def test_letterbox_box_is_where_letterbox_puts_the_map(shape, size) -> None:
    placed = letterbox(np.ones(shape, np.float32), size) > 0.5
    rows, cols = np.flatnonzero(placed.any(axis=1)), np.flatnonzero(placed.any(axis=0))
    top, left, h, w = letterbox_box(shape, size)
    assert (top, left, h, w) == (rows[0], cols[0], len(rows), len(cols))


def test_cam_to_map_puts_a_hot_cell_back_where_it_was() -> None:
    # a 128x352 map letterboxed into 128x128: content 128 wide x ~47 high, centred
    shape, size = (128, 352), (128, 128)
    top, _left, h, _w = letterbox_box(shape, size)
    cam = np.zeros((16, 16), np.float32)
    # the cell at the right end of the content's middle row
    cy = (top + h // 2) * 16 // size[0]
    cam[cy, 15] = 1.0
    back = cam_to_map(cam, size, shape)
    assert back.shape == shape
    y, x = np.unravel_index(np.argmax(back), shape)
    assert x > 0.9 * shape[1] and abs(y - shape[0] / 2) < shape[0] / 4


def test_cam_in_mask_energy_share() -> None:
    mask = np.zeros((40, 100), np.uint8)
    mask[10:20, 30:50] = 255
    uniform = np.ones((40, 100), np.float32)
    inside, share = cam_in_mask(uniform, mask, dilate=0)
    assert inside == pytest.approx(200 / 4000) and share == pytest.approx(200 / 4000)
    focused = np.zeros((40, 100), np.float32)
    focused[12:18, 35:45] = 1.0
    assert cam_in_mask(focused, mask, dilate=0)[0] == pytest.approx(1.0)
    elsewhere = np.zeros((40, 100), np.float32)
    elsewhere[:, 80:] = 1.0
    assert cam_in_mask(elsewhere, mask, dilate=3)[0] == 0.0
    grown = cam_in_mask(uniform, mask, dilate=3)[1]
    assert grown > share  # dilation grows the mask
    assert np.isnan(cam_in_mask(np.zeros((40, 100), np.float32), mask)[0])


@pytest.mark.parametrize(("arch", "cells"), [("resnet18", (2, 3)), ("weldnet", (4, 6))])
def test_gradcam_batched_equals_one_image_at_a_time(arch: str, cells: tuple[int, int]) -> None:
    """Each CAM depends on its own image only (eval mode): batching mixes nothing; the CAM
    has one cell per ``layer4`` position (stride 32 in a ResNet, 16 in WeldNet)."""
    torch.manual_seed(0)
    model = build_model(arch, 2).eval()
    images = np.random.default_rng(1).integers(0, 65535, (3, 64, 96), dtype=np.uint16)
    targets = np.array([0, 1, 1])
    together = gradcam(model, images, targets, 0.5, 0.3, batch_size=3)
    alone = np.concatenate(
        [gradcam(model, images[k : k + 1], targets[k : k + 1], 0.5, 0.3) for k in range(3)]
    )
    assert together.shape == (3, *cells)
    assert np.allclose(together, alone, atol=1e-4)
    # each CAM is scaled to a maximum of 1, or is all 0 where no cell argues for the target
    peaks = together.max(axis=(1, 2))
    assert together.min() >= 0 and np.all(np.isclose(peaks, 1.0) | (peaks == 0))
    assert np.isclose(peaks.max(), 1.0)
    other = gradcam(model, images, 1 - targets, 0.5, 0.3)
    assert not np.allclose(other, together)  # the target class matters


def test_png_shape_reads_the_header(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((37, 91), np.uint16))
    assert png_shape(tmp_path / "a.png") == (37, 91)
    (tmp_path / "b.png").write_bytes(b"not a png at all, really not")
    assert png_shape(tmp_path / "b.png") is None


def test_audit_report_shows_grad_cams_and_cam_in_mask(tmp_path: Path, monkeypatch) -> None:
    """The audit's CAM path end to end, with untrained fold models (no training time)."""
    import csv
    import json

    import audit_fixtures as afx

    import weldsynth.audit.oof as oof_mod
    from weldsynth.audit.learner import Fitted
    from weldsynth.audit.run import AuditSettings, audit_topology
    from weldsynth.train.config import TrainConfig

    def untrained(x, y, n_classes, cfg, *, seed, **kw):
        torch.manual_seed(seed % 2**31)
        return Fitted(model=build_model("resnet18", n_classes).eval(), mean=0.4, std=0.3)

    monkeypatch.setattr(oof_mod, "train_arrays", untrained)
    root, _flipped, _truth = afx.flipped_set(tmp_path / "data", n_sources=8, flips=(1,))
    out = tmp_path / "audit"
    audit_topology(
        root,
        "7",
        out,
        TrainConfig(size=(32, 96), weights="none"),
        AuditSettings(folds=2, seeds=1, top=6, weights="none"),
    )
    html = (out / "report.html").read_text()
    assert html.count('class="ov-cam"') == 6 and html.count('class="ov-mask"') >= 1
    with (out / "suspects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    masked = [r for r in rows if r["given"] == "bad" and r["mask"]]
    assert masked and all(r["cam_in_mask"] != "" for r in masked)
    assert all(0.0 <= float(r["cam_in_mask"]) <= 1.0 for r in masked)
    assert all(r["cam_in_mask"] == "" for r in rows if r["given"] == "good")
    with (out / "cam_in_mask.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    assert [r["defect"] for r in summary] == ["hole"]
    assert int(summary[0]["n"]) == len(masked)
    assert json.loads((out / "audit.json").read_text())["cam_in_mask"][0]["defect"] == "hole"
