"""The CAM loss (train.masks.cam_loss, WeldModel.class_map): the share of the true class's
activation map outside the defect mask, the same map Grad-CAM explains, and lowered by
training with ``cam_loss``."""

from __future__ import annotations

from pathlib import Path

import mask_fixtures as mf
import numpy as np
import pytest
import torch
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.train.cam import gradcam
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import list_images
from weldsynth.train.images import Batches
from weldsynth.train.masks import cam_loss
from weldsynth.train.models import build_model
from weldsynth.train.setup import decode_items, prepare_training

SIZE = (64, 192)


def test_cam_loss_is_the_share_outside_the_mask_on_masked_images_only() -> None:
    cams = torch.zeros(2, 2, 4)
    cams[0, 0, 0] = 3.0  # inside the mask
    cams[0, 1, 3] = 1.0  # outside
    cams[1, 1, 1] = 5.0  # an image without a mask: not counted
    masks = torch.zeros(2, 1, 4, 8)
    masks[0, 0, 0:2, 0:2] = 1.0  # covers feature cell (0, 0)
    assert float(cam_loss(cams, masks)) == pytest.approx(0.25)
    assert float(cam_loss(cams, torch.zeros_like(masks))) == 0.0


def test_class_map_is_the_grad_cam_of_weldnet() -> None:
    torch.manual_seed(0)
    model = build_model("weldnet", 2).eval()
    images = np.random.default_rng(0).integers(0, 65535, (3, *SIZE), dtype=np.uint16)
    targets = np.array([0, 1, 0])
    mean, std = 0.5, 0.25
    expected = gradcam(model, images, targets, mean, std)
    x = torch.from_numpy((images.astype(np.float32) / 65535 - mean) / std).unsqueeze(1)
    with torch.no_grad():
        got = model.class_map(model.features(x), torch.as_tensor(targets)).numpy()
    got = got / np.maximum(got.reshape(3, -1).max(1), 1e-12)[:, None, None]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def _mean_cam_loss(model: torch.nn.Module, batches: Batches) -> float:
    model.eval()
    with torch.no_grad():
        losses = []
        for x, y, m in batches:
            _logits, _seg, feats = model(x, with_features=True)
            losses.append(float(cam_loss(model.class_map(feats, y), m)))
    return float(np.mean(losses))


def test_cam_loss_pulls_the_activation_map_into_the_masks(tmp_path: Path) -> None:
    located = mf.masked_set(tmp_path / "data", n_sources=16)
    cfg = TrainConfig(
        arch="weldnet", size=SIZE, batch_size=8, epochs=3, weights="none", mask_loss=0.0
    )
    cfg = cfg.with_(cam_loss=1.0)
    decoded = decode_items(list_images(located, "7").items, cfg, lambda _line: None)
    y = np.array([i.label == "good" for i in decoded.items], np.int64)
    setup = prepare_training(decoded.images, y, 2, cfg, seed=0, weights=None)
    assert setup.train.with_masks and not setup.model.has_mask_head
    probe = Batches(decoded.images, y, 8, setup.mean, setup.std)
    probe.with_masks = True
    before = _mean_cam_loss(setup.model, probe)
    setup.fit(probe, classes=["bad", "good"], precision="fp32")
    after = _mean_cam_loss(setup.model, probe)
    assert after < 0.7 * before, (before, after)
