"""Benchmark of mask-guided training (issue 16) -> bench/results/masks.json.

A learning curve with and without ``--mask-loss``: WeldNet from scratch at 128x352 on
topologies (default 3, 5, 7) with 20, 40 and 80 good welds each (one data set per count:
``samples`` -> ``generate`` -> ``balance`` -> ``split`` val 0.2 / test 0.1 grouped by source,
as ``bench/train.py``'s curve). Per run: validation and test error, and on the bad images of
val and test with masks: the heat-map IoU (the model's own map: mask head with the mask
loss, else Grad-CAM; threshold 0.5) and the CAM-in-mask energy of Grad-CAM (the same
explanation for both models, so the shortcut measure compares like with like).

``default_wins`` says whether the mask loss had a lower validation + test error at every
size measured (the rule for making it the default on data with masks). A third side,
``mask_cam`` (``--variants``), adds the CAM loss (``--cam-loss``: the share of the true
class's activation map outside the mask) to the mask loss; ``cam_loss_wins`` says whether
it kept the validation + test error at or below the mask loss's while raising CAM-in-mask.

Usage: python bench/masks.py [--topologies 3,5,7] [--counts 20,40,80] [--epochs 40]
[--mask-loss 1.0] [--work DIR]. Rows already in the results file for other (topology,
count) pairs are kept, so the curve can be measured in pieces; the JSON records the
settings, the machine and its load. On a shared machine the two sides can run as two
processes (``--variants plain --out A.json`` and ``--variants mask_loss --out B.json``,
same ``--work`` after the data set exists), then ``--merge A.json B.json`` writes the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import machine, weldsynth  # bench/train.py's helpers

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "masks.json"
SIDES = ("plain", "mask_loss", "mask_cam")
"""Variants: no guide; the mask head's loss; the mask head's loss plus the CAM loss."""


def dataset(work: Path, topo: str, count: int) -> Path:
    """The data set of ``count`` good welds of ``topo`` (built once, reused)."""
    root = work / f"masks-{topo}-{count}"
    good, data = root / "good", root / "data"
    if not (data / "manifest.csv").is_file():
        weldsynth("samples", "--topology", topo, "-n", str(count), "--out", str(good), "-q")
        weldsynth("generate", str(good), "--all", "--out", str(data), "--workers", "2", "-q")
        weldsynth("balance", str(data), "-q")
        weldsynth("split", str(data), "--val", "0.2", "--test", "0.1", "--seed", "42")
    return data


def heat_scores(run: Path, data: Path) -> dict:
    """Heat-map IoU (the model's own map) and Grad-CAM-in-mask on val and test."""
    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.evaluate import listing_for
    from weldsynth.train.localise import localise

    ckpt = load_checkpoint(run)
    listing = listing_for(ckpt.meta, data)
    items = [i for i in listing.items if i.split in ("val", "test")]
    own = localise(ckpt, items)
    cam = localise(ckpt, items, method="gradcam")
    if own is None or cam is None:
        return {"heat_images": 0}
    return {
        "heat_images": len(own.images),
        "heat_method": own.method,
        "heat_iou": _r(own.mean_iou),
        "cam_in_mask": _r(cam.mean_energy),
        "heat_in_mask": _r(own.mean_energy),
        "per_defect_heat_iou": {r["defect"]: r["mean_iou"] for r in own.per_defect()},
    }


def _r(value: float) -> float | None:
    return None if value != value else round(value, 4)


def one_run(data: Path, topo: str, out: Path, cfg) -> dict:
    """Train one topology, then score its heat maps."""
    from weldsynth.train.run import train_topologies

    started = time.perf_counter()
    row = train_topologies(
        data, [topo], out, cfg, weights=None, weights_note="none", say=lambda s: None
    )[0]
    seconds = time.perf_counter() - started
    return {
        "val_error_pct": row["error_pct"],
        "test_error_pct": row.get("test_error_pct"),
        "train": row["train"],
        "val": row["val"],
        "test": row.get("test"),
        "best_epoch": row["best_epoch"],
        "train_seconds": round(seconds, 1),
        **heat_scores(out / topo, data),
    }


def merge(files: list[Path]) -> dict:
    """One result from runs of single variants (rows joined by topology and count)."""
    parts = [json.loads(f.read_text()) for f in files]
    rows: dict[tuple[str, int], dict] = {}
    for part in parts:
        for row in part["rows"]:
            key = (row["topology"], row["good_welds"])
            held = rows.setdefault(key, {"topology": key[0], "good_welds": key[1]})
            for side in SIDES:
                if side in row:
                    held[side] = row[side]
            held.setdefault("measured", {})[_side(row)] = row.get("measured", {})
    joined = sorted(rows.values(), key=lambda r: (int(r["topology"]), r["good_welds"]))
    for row in joined:
        if "plain" in row and "mask_loss" in row:
            row["mask_loss_wins"] = wins(row)
        if "mask_cam" in row and "mask_loss" in row:
            row["cam_loss_wins"] = wins(row, "mask_cam", "mask_loss")
    return {
        "rows": joined,
        "settings": parts[0]["settings"],
        "machine": parts[0]["machine"],
        "default_wins": all(r.get("mask_loss_wins", False) for r in joined),
    }


def _side(row: dict) -> str:
    return "+".join(s for s in SIDES if s in row)


def _total(side: dict) -> float:
    return float(side["val_error_pct"]) + float(side["test_error_pct"] or 0.0)


def wins(row: dict, side: str = "mask_loss", than: str = "plain") -> bool:
    """``side``'s validation + test error is below ``than``'s (the mask loss against the
    plain model); for the CAM loss (``mask_cam`` against ``mask_loss``) "not above" and a
    higher CAM-in-mask: it is added for the explanation, so it must not cost accuracy."""
    if side == "mask_cam":
        more_cam = float(row[side]["cam_in_mask"] or 0) > float(row[than]["cam_in_mask"] or 0)
        return _total(row[side]) <= _total(row[than]) and more_cam
    return _total(row[side]) < _total(row[than])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topologies", default="3,5,7")
    parser.add_argument("--counts", default="20,40,80", help="good welds per data set")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", default="128x352")
    parser.add_argument("--mask-loss", type=float, default=1.0, help="weight of the mask loss")
    parser.add_argument(
        "--cam-loss", type=float, default=1.0, help="weight of the CAM loss (mask_cam side)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (reused)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--variants", default="plain,mask_loss", help="sides to train")
    parser.add_argument("--merge", type=Path, nargs="*", help="join these results into --out")
    args = parser.parse_args()
    if args.merge:
        _write(args.out, merge(args.merge))
        print(f"written {args.out}")
        return
    from weldsynth.train.config import TrainConfig, parse_size

    if args.threads:
        torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="weldsynth-masks-"))
    size = parse_size(args.size)
    base = TrainConfig(
        arch="weldnet",
        epochs=args.epochs,
        batch_size=args.batch_size,
        size=size,
        weights="none",
        seed=args.seed,
    )
    result = json.loads(args.out.read_text()) if args.out.is_file() else {"rows": []}
    for topo in args.topologies.split(","):
        for count in (int(c) for c in args.counts.split(",")):
            load_before, when = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M")
            data = dataset(work, topo, count)
            row = {"topology": topo, "good_welds": count}
            sides = {
                "plain": (0.0, 0.0),
                "mask_loss": (args.mask_loss, 0.0),
                "mask_cam": (args.mask_loss, args.cam_loss),
            }
            for key in (k for k in sides if k in args.variants.split(",")):
                out = work / f"runs-{topo}-{count}-{key}"
                mask_w, cam_w = sides[key]
                cfg = base.with_(mask_loss=mask_w, cam_loss=cam_w)
                row[key] = one_run(data, topo, out, cfg)
                print(topo, count, key, row[key], flush=True)
            if "plain" in row and "mask_loss" in row:
                row["mask_loss_wins"] = wins(row)
            if "mask_cam" in row and "mask_loss" in row:
                row["cam_loss_wins"] = wins(row, "mask_cam", "mask_loss")
            row["measured"] = {
                "at": when,
                "load_average_before": [round(v, 2) for v in load_before],
                "load_average_after": [round(v, 2) for v in os.getloadavg()],
            }
            keep = [r for r in result["rows"] if (r["topology"], r["good_welds"]) != (topo, count)]
            result["rows"] = sorted(
                [*keep, row], key=lambda r: (int(r["topology"]), r["good_welds"])
            )
            result["settings"] = {
                "arch": "weldnet",
                "weights": "none",
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "size": list(size),
                "mask_loss": args.mask_loss,
                "cam_loss": args.cam_loss,
                "seed": args.seed,
                "augment": base.augment,
                "split": "val 0.2, test 0.1, grouped by source (split --seed 42)",
                "heat_threshold": 0.5,
            }
            result["machine"] = {**machine(), "precision": "auto (bf16 where supported)"}
            result["default_wins"] = all(r.get("mask_loss_wins") for r in result["rows"])
            _write(args.out, result)
    print(f"written {args.out}")


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
