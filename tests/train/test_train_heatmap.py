"""Defect heat maps (train.heatmap, train.localise), the mask head through the model
interface and its checkpoint (old ``model.pt`` files still load), ``predict --heatmap`` and
``evaluate``'s heat-map scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import mask_fixtures as mf
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.cli.main import cli
from weldsynth.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from weldsynth.train.heatmap import defect_maps, heat_iou, maps_for_heights, method_of
from weldsynth.train.images import to_cache
from weldsynth.train.models import build_model, list_models
from weldsynth.train.predict import probabilities

FAST = ["--arch", "weldnet", "--weights", "none", "--epochs", "2", "--size", "32x96"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A data set with masks and two models trained on it: with and without --mask-loss."""
    root = tmp_path_factory.mktemp("heat")
    data = mf.masked_set(root / "data", n_sources=10)
    out = {"data": data}
    for name, extra in (("mask", ["--mask-loss", "1"]), ("plain", ["--mask-loss", "0"])):
        args = ["train", str(data), *FAST, "--batch-size", "4", "-q", *extra]
        res = CliRunner().invoke(cli, [*args, "--out", str(root / name)])
        assert res.exit_code == 0, res.output
        out[name] = root / name / "7"
    return out


def _cache(data: Path, size: tuple[int, int] = (32, 96)) -> tuple[np.ndarray, list[np.ndarray]]:
    files = sorted((data / "7" / "bad").glob("*.png"))[:5]
    heights = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) / 65535.0 for f in files]
    return np.stack([to_cache(h.astype(np.float32), size) for h in heights]), heights


@pytest.mark.parametrize("name", ["mask", "plain"])
def test_heat_maps_have_the_image_shape_and_are_deterministic(runs: dict, name: str) -> None:
    ckpt = load_checkpoint(runs[name])
    cache, heights = _cache(runs["data"])
    mean, std = float(ckpt.meta["mean"]), float(ckpt.meta["std"])
    first = defect_maps(ckpt.model, cache, mean, std)
    assert first.shape == cache.shape and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0 and first.max() > 0
    assert np.array_equal(first, defect_maps(ckpt.model, cache, mean, std))
    native = [h[:20, :50] for h in heights]  # other shapes than the input's
    maps = maps_for_heights(ckpt.model, native, ckpt.size, mean, std)
    assert [m.shape for m in maps] == [h.shape for h in native]
    assert method_of(ckpt.model) == ("mask" if name == "mask" else "gradcam")


def test_heat_iou() -> None:
    heat = np.zeros((4, 4), np.float32)
    heat[:2, :2] = 0.9
    mask = np.zeros((4, 4), np.uint8)
    mask[:2, :1] = 255
    assert heat_iou(heat, mask) == pytest.approx(0.5)
    assert np.isnan(heat_iou(np.zeros((4, 4)), np.zeros((4, 4))))


def test_mask_head_checkpoint_keeps_the_old_format(runs: dict, tmp_path: Path) -> None:
    payload = torch.load(runs["mask"] / "model.pt", weights_only=True)
    assert payload["format"] == FORMAT
    assert not any(k.startswith("mask_head") for k in payload["state_dict"])
    plain = build_model("weldnet", 2)  # an older weldsynth: the architecture's keys only
    plain.load_state_dict(payload["state_dict"], strict=True)
    ckpt = load_checkpoint(runs["mask"])
    assert ckpt.model.has_mask_head
    assert torch.equal(ckpt.model.mask_head.weight, payload["mask_head"]["weight"])


def test_old_checkpoint_without_head_loads_as_before(runs: dict, tmp_path: Path) -> None:
    ckpt = load_checkpoint(runs["plain"])
    old = {"format": FORMAT, "state_dict": ckpt.model.state_dict(), "meta": ckpt.meta}
    file = tmp_path / "old.pt"
    torch.save(old, file)  # written the way weldsynth always wrote it
    again = load_checkpoint(file)
    assert not again.model.has_mask_head
    _cache_x, heights = _cache(runs["data"])
    hs = [h.astype(np.float32) for h in heights]
    assert np.array_equal(probabilities(again, hs), probabilities(ckpt, hs))
    save_checkpoint(tmp_path / "resaved.pt", again.model, again.meta)
    assert "mask_head" not in torch.load(tmp_path / "resaved.pt", weights_only=True)


@pytest.mark.parametrize("arch", list_models())
def test_every_architecture_takes_a_mask_head(arch: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 2).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.add_mask_head()
        logits, seg = model(x, with_mask=True)
    assert torch.equal(logits, before) and seg.shape[:2] == (2, 1)
    assert seg.shape[-2:] == model.features(x).shape[-2:]
    head = {id(p) for p in model.mask_head.parameters()}
    assert head <= {id(p) for p in model.param_groups()[2]}
    model.freeze_body(True)
    assert all(p.requires_grad for p in model.mask_head.parameters())
    meta = {"arch": arch, "classes": ["bad", "good"], "in_channels": 1}
    meta |= {"input_size": [64, 64], "mean": 0.5, "std": 0.2}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, meta)).model
    assert torch.equal(loaded.mask_map(x), model.mask_map(x))


def test_predict_heatmap_writes_overlays_and_bead_shares(runs: dict, tmp_path: Path) -> None:
    images = runs["data"] / "7" / "bad"
    out, table = tmp_path / "heat", tmp_path / "p.csv"
    args = ["predict", str(runs["mask"]), str(images), "--heatmap", str(out)]
    res = CliRunner().invoke(cli, [*args, "--csv", str(table)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(table.open()))
    n = len(list(images.glob("*.png")))
    assert len(rows) == n and len(list(out.glob("*.heat.png"))) == n
    for row in rows:
        picture = cv2.imread(row["heatmap"])
        assert picture is not None and picture.ndim == 3
        assert 0.0 <= float(row["bead_share"]) <= 1.0
    assert "bead" in res.output  # the "on bead" column (its header may wrap)


def test_evaluate_reports_heat_map_iou_and_cam_in_mask(runs: dict, tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    args = ["evaluate", str(runs["mask"]), str(runs["data"]), "--split", "all"]
    res = CliRunner().invoke(cli, [*args, "--json", str(out)])
    assert res.exit_code == 0, res.output
    loc = json.loads(out.read_text())["localisation"]
    assert loc["method"] == "mask" and loc["images"] == 10
    assert [r["defect"] for r in loc["per_defect"]] == ["hole"]
    assert 0.0 <= loc["mean_iou"] <= 1.0 and 0.0 <= loc["cam_in_mask"] <= 1.0
    assert "CAM-in-mask" in res.output
    res = CliRunner().invoke(cli, [*args, "--json", str(out), "--no-heatmap"])
    assert "localisation" not in json.loads(out.read_text())
