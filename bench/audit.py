"""Benchmark of the label audit (issues 7 and 16) -> bench/results/audit.json.

1. Builds a data set the way a user would: procedural good welds (``write_samples``),
   defects from the shipped recipes (``generate``, with their ``_masks/``), balanced 1:1
   (``balance``); decodes it once (one decode serves every condition, seed and fold model).
2. For each seed and each noise condition flips the labels of a known share of the
   samples (5 % and 10 %, uniformly or bad -> good only, the costly mistake) and runs the
   audit's own steps on the noisy labels: grouped out-of-fold models over ``--audit-seeds``
   seeds (``audit --seeds``) with flip test-time augmentation, scores, suggestions and the
   mask evidence (defect map against the sample's own mask), ranked as suspects.csv.
3. Scores the ranking against the known flips: precision@k (k = number flipped; also
   without the mask evidence, by loss alone and with the first audit seed alone), recall
   and precision of the flagged suggestions and AUROC of the loss; and compares with
   cleanlab on the *same* out-of-fold probabilities: ``find_label_issues`` (prune by noise
   rate) for the flagged set, ``self_confidence`` / ``normalized_margin`` ranks. cleanlab is
   optional (``pip install cleanlab``); without it its published formulas are used (the
   JSON says which). The package never imports it.

The fold models are WeldNet trained from scratch (no ImageNet weights offline).

Usage: python bench/audit.py [--sources 48] [--topology 3] [--folds 3] [--epochs 24]
                             [--audit-seeds 3] [--seeds 3] [--conditions all]
                             [--data DIR] [--no-tta] [--no-masks] [--quick]
Timings depend on the machine and on its load; the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "audit.json"
STARTED = time.perf_counter()

from weldsynth.audit.oof import out_of_fold, score  # noqa: E402
from weldsynth.audit.suspects import Sample, suggest  # noqa: E402
from weldsynth.train.config import TrainConfig, parse_size  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from cache import machine  # noqa: E402

CONDITIONS = (("uniform", 0.05), ("uniform", 0.10), ("bad_to_good", 0.05), ("bad_to_good", 0.10))


def build_dataset(work: Path, topology: int, sources: int, seed: int) -> Path:
    """Good welds -> shipped-recipe defects -> balanced 1:1; returns the data-set root."""
    from weldsynth.dataset import generate as gen
    from weldsynth.dataset.balance import balance
    from weldsynth.synth.recipe import recipe_for_topology
    from weldsynth.synth.samples import write_samples

    good, data = work / "good", work / "data"
    write_samples(good, [topology], n=sources, seed=seed)
    recipes = {topology: recipe_for_topology(topology)}
    gen.prepare_out(data, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, data, by_defect=False)
    gen.run(tasks, data, rejected, workers=2)
    balance(data, ratio="1:1", method="oversample", seed=0)
    return data


def flip(
    labels: np.ndarray, mode: str, rate: float, bad: int, good: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices to flip: ``rate`` of all samples, any class (uniform) or bad ones only."""
    k = max(1, round(rate * len(labels)))
    pool = np.arange(len(labels)) if mode == "uniform" else np.flatnonzero(labels == bad)
    return np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean ``positive`` (ties count 1/2)."""
    from scipy.stats import rankdata

    pos = positive.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(rank_scores: np.ndarray, flagged: np.ndarray, truth: np.ndarray) -> dict:
    """precision@k (k = flips), recall/precision of the flagged set, AUROC."""
    k = int(truth.sum())
    top = np.argsort(-rank_scores, kind="stable")[:k]
    hits = int(truth[flagged].sum())
    return {
        "precision_at_k": round(float(truth[top].mean()), 4),
        "flagged": int(flagged.sum()),
        "recall_flagged": round(hits / max(k, 1), 4),
        "precision_flagged": round(hits / max(int(flagged.sum()), 1), 4),
        "auroc": round(auroc(rank_scores, truth), 4),
    }


def confident_learning(noisy: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Flagged set of confident learning (Northcutt et al. 2021), as cleanlab's default
    ``find_label_issues`` (``prune_by_noise_rate``): per-class thresholds (mean self-
    confidence), the calibrated confident joint, and per off-diagonal cell the samples of
    largest margin ``p(j) - p(given)``; only samples predicted otherwise are kept. Used
    when cleanlab is not installed."""
    n_cls = probs.shape[1]
    thresholds = np.array([probs[noisy == k, k].mean() for k in range(n_cls)])
    above = probs >= thresholds[None] - 1e-6
    has = above.any(axis=1)
    guess = np.where(above, probs, -np.inf).argmax(axis=1)
    joint = np.zeros((n_cls, n_cls))
    np.add.at(joint, (noisy[has], guess[has]), 1.0)
    counts = np.bincount(noisy, minlength=n_cls)
    joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1) * counts[:, None]
    issues = np.zeros(len(noisy), bool)
    for i in range(n_cls):
        idx = np.flatnonzero(noisy == i)
        for j in range(n_cls):
            if i != j:
                order = np.argsort(-(probs[idx, j] - probs[idx, i]), kind="stable")
                issues[idx[order[: int(np.rint(joint[i, j]))]]] = True
    return issues & (probs.argmax(axis=1) != noisy)


def cleanlab_metrics(noisy: np.ndarray, probs: np.ndarray, truth: np.ndarray) -> dict:
    """cleanlab's flagged set and rankings on the same out-of-fold probabilities
    (cleanlab itself when installed, else its published formulas: self-confidence
    ``p(given)``, normalized margin ``p(given) - max other``, confident learning)."""
    rows = np.arange(len(noisy))
    other = probs.copy()
    other[rows, noisy] = -np.inf
    t0 = time.perf_counter()
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        issues, source = find_label_issues(noisy, probs), "cleanlab"
        quality = {
            m: get_label_quality_scores(noisy, probs, method=m)
            for m in ("self_confidence", "normalized_margin")
        }
    except ImportError:
        issues, source = confident_learning(noisy, probs), "reimplemented (no cleanlab)"
        quality = {
            "self_confidence": probs[rows, noisy],
            "normalized_margin": probs[rows, noisy] - other.max(axis=1),
        }
    out = {"find_label_issues": metrics(1.0 - quality["self_confidence"], issues, truth)}
    for method, q in quality.items():
        out[method] = metrics(-q, issues, truth)
    out["seconds"] = round(time.perf_counter() - t0, 4)
    out["source"] = source
    return out


def load(args: argparse.Namespace, tmp: Path, size: tuple[int, int]):
    """Build and decode the data set once (one decode for every condition, seed and fold
    model); returns (listing items, decoded images, classes, labels, groups, samples)."""
    from weldsynth.io.manifest import read_manifest
    from weldsynth.train.data import list_images
    from weldsynth.train.images import decode_all

    data = args.data or build_dataset(tmp, args.topology, args.sources, seed=args.data_seed)
    listing = list_images(data, str(args.topology))
    items = listing.items
    decoded = decode_all([i.path for i in items], size)
    images = decoded.images
    if (
        getattr(args, "guide", None) is not None and args.guide.guided
    ):  # the fold models learn from the masks, as `weldsynth audit` does
        from weldsynth.train.cache import with_masks
        from weldsynth.train.masks import load_masks

        found, non_empty = load_masks(items, size)
        if found is not None and non_empty:
            images = with_masks(images, found)
    masks = {r.path: r.mask for r in read_manifest(data)}
    classes = listing.classes
    labels = np.array([classes.index(i.label) for i in items], np.int64)
    samples = [
        Sample(
            path=i.rel,
            topology=listing.topology,
            defect=i.defect,
            source=i.source,
            mask=masks.get(i.rel, ""),
        )
        for i in items
    ]
    return data, images, classes, labels, [i.source for i in items], samples


def audit_once(
    ctx: dict, noisy: np.ndarray, seeds: list[int], truth: np.ndarray
) -> tuple[dict, object]:
    """One audit of the noisy labels (the audit's own steps: out-of-fold with TTA over
    ``seeds``, scores, suggestions, mask evidence, suspects.csv's order), scored."""
    args, classes = ctx["args"], ctx["classes"]
    t0 = time.perf_counter()
    oof = out_of_fold(
        ctx["images"],
        noisy,
        ctx["groups"],
        len(classes),
        ctx["cfg"],
        folds=args.folds,
        seeds=seeds,
        precision=ctx["precision"],
        good=classes.index("good"),
        cams=not args.no_masks,
        tta=not args.no_tta,
    )
    scored = ranked(ctx, oof, noisy, truth)
    return {
        "audit_seconds": round(time.perf_counter() - t0, 1),
        "oof_seconds": oof.seconds,
        **scored,
    }, oof


def ranked(ctx: dict, oof, noisy: np.ndarray, truth: np.ndarray) -> dict:
    """The audit's ranking of out-of-fold predictions (``probs`` (S, N, C), ``cams``,
    ``mean``) in suspects.csv's order, scored against the flips; and cleanlab's."""
    from weldsynth.audit.evidence import sample_evidence, with_evidence

    classes, samples = ctx["classes"], ctx["samples"]

    def order(probs: np.ndarray) -> tuple:
        s = score(probs, noisy)
        plain = suggest(s, samples, classes, len(probs))
        view = types.SimpleNamespace(cams=oof.cams, mean=probs.mean(axis=0))
        ev = sample_evidence(view, samples, noisy, classes, ctx["data"], ctx["cfg"].size)
        return s, plain, with_evidence(plain, ev), ev

    s, plain, suggestions, evidence = order(oof.probs)
    flags = np.array([g.flagged for g in suggestions])
    tier = np.array([g.tier for g in suggestions])
    ours = metrics(s.loss - 1000.0 * tier, flags, truth)  # suspects.csv's order
    plain_tier = np.array([g.tier for g in plain])
    ours["precision_at_k_without_masks"] = metrics(s.loss - 1000.0 * plain_tier, flags, truth)[
        "precision_at_k"
    ]
    ours["precision_at_k_loss_only"] = metrics(s.loss, flags, truth)["precision_at_k"]
    for effect in ("suspect", "doubt", "supports"):
        hit = np.array([k in evidence and evidence[k].effect == effect for k in range(len(truth))])
        ours[f"mask_{effect}"] = [int(hit.sum()), int((hit & truth).sum())]
    first, _, first_sug, _ = order(oof.probs[:1])  # the first audit seed alone, same models
    first_tier = np.array([g.tier for g in first_sug])
    ours["precision_at_k_first_seed"] = metrics(first.loss - 1000.0 * first_tier, flags, truth)[
        "precision_at_k"
    ]
    return {
        "oof_error_vs_noisy": round(float(np.mean(s.predicted != noisy)), 4),
        "oof_error_vs_truth": round(float(np.mean(s.predicted != ctx["labels"])), 4),
        "weldsynth": ours,
        "cleanlab": cleanlab_metrics(noisy, oof.probs.mean(axis=0).astype(np.float64), truth),
    }


def rescore(args: argparse.Namespace) -> dict:
    """Score the runs of earlier outputs (``--rescore`` JSONs, their ``--dump`` folder)
    again with the ranking code as it is now: no training; the runs keep their timings."""
    result: dict = {}
    runs = []
    ctx = {"args": args, "cfg": TrainConfig(size=parse_size(args.size))}
    with tempfile.TemporaryDirectory(prefix="weldsynth-audit-bench-") as tmp:
        data, _images, classes, labels, _groups, samples = load(args, Path(tmp), ctx["cfg"].size)
        ctx.update(data=data, classes=classes, labels=labels, samples=samples)
        for file in args.rescore:
            old = json.loads(file.read_text())
            result = result or {k: v for k, v in old.items() if k not in ("runs", "summary")}
            for r in old["runs"]:
                z = np.load(args.dump / f"run_{r['seed']}_{r['mode']}_{int(r['rate'] * 100)}.npz")
                oof = types.SimpleNamespace(probs=z["probs"], cams=z["cams"])
                truth = z["noisy"] != z["labels"]
                runs.append({**r, **ranked(ctx, oof, z["noisy"], truth)})
    runs.sort(key=lambda r: (r["seed"], CONDITIONS.index((r["mode"], r["rate"]))))
    result.update(runs=runs, summary=summarise(runs), rescored=[str(f.name) for f in args.rescore])
    result["conditions"] = ",".join(sorted({f"{r['mode']}:{r['rate']:g}" for r in runs}))
    result["complete"] = False  # whether every planned run finished: see "seeds" and "runs"
    save(args, result)
    return result


def _weight(value: str) -> float | str:
    """``auto`` or a weight (``--mask-loss``, ``--cam-loss``)."""
    return value if value == "auto" else float(value)


def run(args: argparse.Namespace) -> dict:
    from weldsynth.audit.oof import audit_seeds
    from weldsynth.train.model import resolve_precision

    torch.set_num_threads(args.threads or torch.get_num_threads())
    size = parse_size(args.size)
    cfg = TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        size=size,
        augment=args.augment,
        weights="none",
        mask_loss=_weight(args.mask_loss),
        cam_loss=_weight(args.cam_loss),
    )
    args.guide = cfg
    conditions = [c for c in CONDITIONS if f"{c[0]}:{c[1]:g}" in args.conditions.split(",")]
    conditions = conditions if args.conditions != "all" else list(CONDITIONS)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="weldsynth-audit-bench-") as tmp:
        t0 = time.perf_counter()
        data, images, classes, labels, groups, samples = load(args, Path(tmp), size)
        ctx = {
            "args": args,
            "cfg": cfg,
            "precision": resolve_precision("auto"),
            "data": data,
            "images": images,
            "classes": classes,
            "labels": labels,
            "groups": groups,
            "samples": samples,
        }
        result = header(args, cfg, ctx, time.perf_counter() - t0)
        bad, good = classes.index("bad"), classes.index("good")
        plan = [(seed, c) for seed in range(args.seeds) for c in conditions]
        for seed, (mode, rate) in plan:
            c = CONDITIONS.index((mode, rate))
            rng = np.random.default_rng(np.random.SeedSequence([args.data_seed, seed, c]))
            flipped = flip(labels, mode, rate, bad, good, rng)
            noisy = labels.copy()
            noisy[flipped] = 1 - noisy[flipped]
            truth = np.zeros(len(labels), bool)
            truth[flipped] = True
            seeds = audit_seeds(1000 * seed + c, args.audit_seeds)
            one, oof = audit_once(ctx, noisy, seeds, truth)
            runs.append({"seed": seed, "mode": mode, "rate": rate, "flipped": len(flipped), **one})
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                name = f"run_{seed}_{mode}_{int(rate * 100)}.npz"
                extra = {} if oof.cams is None else {"cams": oof.cams}
                np.savez(args.dump / name, probs=oof.probs, noisy=noisy, labels=labels, **extra)
            print(json.dumps(runs[-1]), flush=True)
            result.update(runs=runs, summary=summarise(runs), complete=len(runs) == len(plan))
            save(args, result)
    return result


def header(args: argparse.Namespace, cfg: TrainConfig, ctx: dict, build_seconds: float) -> dict:
    """audit.json's description of the data set and of each audit."""
    labels, classes = ctx["labels"], ctx["classes"]
    return {
        "data": {
            "topology": args.topology,
            "sources": args.sources,
            "images": len(labels),
            "classes": classes,
            "counts": {c: int((labels == k).sum()) for k, c in enumerate(classes)},
            "with_mask": sum(1 for smp in ctx["samples"] if smp.mask),
            "build_and_decode_seconds": round(build_seconds, 1),
            "decodes": "one per image for every condition, seed and fold model",
        },
        "audit": {
            "folds": args.folds,
            "seeds_per_audit": args.audit_seeds,
            "tta": "none" if args.no_tta else f"flips of --augment {cfg.augment}",
            "mask_evidence": not args.no_masks,
            "arch": cfg.arch,
            "size": list(cfg.size),
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "augment": cfg.augment,
            "weights": "none (from scratch)",
            "precision": ctx["precision"],
            "mask_loss": cfg.mask_weight,
            "cam_loss": cfg.cam_weight,
        },
        "conditions": args.conditions,
        "seeds": args.seeds,
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "targets": {"precision_at_k": ">= 0.9", "vs_cleanlab": "above, every condition"},
    }


def save(args: argparse.Namespace, result: dict) -> None:
    """Write the results so far (after every run: a cut-short benchmark keeps its runs)."""
    result["seconds_total"] = round(time.perf_counter() - STARTED, 1)
    result["machine"] = {**machine(), "threads": torch.get_num_threads()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(args.out)


def summarise(runs: list[dict]) -> dict:
    """Mean (and min) over seeds per condition, ours vs cleanlab."""
    out = {}
    for mode, rate in CONDITIONS:
        sel = [r for r in runs if r["mode"] == mode and r["rate"] == rate]
        if not sel:
            continue

        def mean(get, sel=sel) -> float:
            return round(float(np.mean([get(r) for r in sel])), 4)

        ours = {
            key: mean(lambda r, key=key: r["weldsynth"][key])
            for key in (
                "precision_at_k",
                "precision_at_k_without_masks",
                "precision_at_k_loss_only",
                "precision_at_k_first_seed",
                "recall_flagged",
                "precision_flagged",
                "auroc",
            )
        }
        clean = {
            f"cleanlab_precision_at_k_{m}": mean(lambda r, m=m: r["cleanlab"][m]["precision_at_k"])
            for m in ("self_confidence", "normalized_margin")
        }
        best_clean = max(
            max(
                r["cleanlab"][m]["precision_at_k"] for m in ("self_confidence", "normalized_margin")
            )
            - r["weldsynth"]["precision_at_k"]
            for r in sel
        )
        out[f"{mode}_{int(rate * 100)}pct"] = {
            "runs": len(sel),
            **ours,
            "precision_at_k_min": round(min(r["weldsynth"]["precision_at_k"] for r in sel), 4),
            **clean,
            "cleanlab_find_label_issues_recall": mean(
                lambda r: r["cleanlab"]["find_label_issues"]["recall_flagged"]
            ),
            "cleanlab_find_label_issues_precision": mean(
                lambda r: r["cleanlab"]["find_label_issues"]["precision_flagged"]
            ),
            "above_cleanlab_in_every_run": best_clean < 0,
            **{
                f"mask_{e}_n_mislabelled": [
                    sum(r["weldsynth"][f"mask_{e}"][i] for r in sel) for i in (0, 1)
                ]
                for e in ("suspect", "doubt", "supports")
            },
            "oof_error_vs_truth": mean(lambda r: r["oof_error_vs_truth"]),
            "audit_seconds": mean(lambda r: r["audit_seconds"]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topology", type=int, default=3)
    parser.add_argument("--sources", type=int, default=48, help="Good welds generated.")
    parser.add_argument("--data-seed", type=int, default=11)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--arch", default="weldnet")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--size", default="64x176")
    parser.add_argument("--augment", default="hflip,vflip")
    parser.add_argument("--seeds", type=int, default=3, help="Flip draws per condition.")
    parser.add_argument(
        "--audit-seeds", type=int, default=3, help="Seeds averaged per audit (audit --seeds)."
    )
    parser.add_argument(
        "--conditions",
        default="all",
        help="'all' or a comma list of MODE:RATE, e.g. uniform:0.05,bad_to_good:0.05.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="A data set this script built before (its data/ folder): skips the build.",
    )
    parser.add_argument(
        "--rescore",
        type=Path,
        nargs="+",
        default=None,
        help="Earlier output JSONs to score again from their --dump (no training).",
    )
    parser.add_argument("--no-tta", action="store_true", help="No flip TTA of the predictions.")
    parser.add_argument("--no-masks", action="store_true", help="No mask evidence (no CAMs).")
    parser.add_argument("--mask-loss", default="auto", help="Fold models' --mask-loss.")
    parser.add_argument("--cam-loss", default="auto", help="Fold models' --cam-loss.")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs (smoke run).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--dump",
        type=Path,
        default=None,
        help="Folder for per-run out-of-fold probabilities (.npz).",
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.audit_seeds = 1, 2, 2
    result = rescore(args) if args.rescore else run(args)
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
