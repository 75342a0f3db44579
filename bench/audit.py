"""Benchmark of the label audit (issue 7) -> bench/results/audit.json.

1. Builds a data set the way a user would: procedural good welds (``write_samples``),
   defects from the shipped recipes (``generate``), balanced 1:1 (``balance``).
2. Decodes it once, then for each seed and each noise condition flips the labels of a
   known share of the samples — 5 % and 10 %, uniformly (either direction) or
   class-conditionally (bad → good only, the costly mistake: a defect trained as good) —
   and runs the audit's out-of-fold step on the noisy labels (grouped folds, fresh models,
   the same code as ``weldsynth audit``).
3. Scores the ranking against the known flips: precision@k (k = number flipped), recall
   and precision of the flagged suggestions (relabel or drop, the default threshold) and
   AUROC of the loss; and compares with cleanlab on the *same* out-of-fold probabilities:
   ``cleanlab.filter.find_label_issues`` (default: prune by noise rate) for the flagged
   set, and its ``self_confidence`` / ``normalized_margin`` label-quality ranks.
   cleanlab is a bench-only dependency (``pip install cleanlab``); the package never
   imports it.

The audit's models are WeldNet (``--arch``): trained from scratch (no ImageNet weights
offline), a ResNet18 stays near the class prior on data this small, and an audit is only
as good as its out-of-fold probabilities.

Usage: python bench/audit.py [--sources 48] [--topology 3] [--folds 3] [--epochs 24]
                             [--arch weldnet] [--size 64x176] [--seeds 3] [--quick]
Timings depend on the machine and on its load; the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "audit.json"

from weldsynth.audit.oof import out_of_fold, score  # noqa: E402
from weldsynth.audit.suspects import Sample, suggest  # noqa: E402
from weldsynth.train.config import TrainConfig, parse_size  # noqa: E402

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


def cleanlab_metrics(noisy: np.ndarray, probs: np.ndarray, truth: np.ndarray) -> dict:
    """cleanlab's flagged set and rankings on the same out-of-fold probabilities."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    t0 = time.perf_counter()
    issues = find_label_issues(noisy, probs)
    seconds = time.perf_counter() - t0
    out = {
        "find_label_issues": metrics(1.0 - get_label_quality_scores(noisy, probs), issues, truth)
    }
    for method in ("self_confidence", "normalized_margin"):
        quality = get_label_quality_scores(noisy, probs, method=method)
        out[method] = metrics(1.0 - quality, issues, truth)
    out["seconds"] = round(seconds, 4)
    return out


def run(args: argparse.Namespace) -> dict:
    from weldsynth.train.data import list_images
    from weldsynth.train.images import decode_all
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
    )
    precision = resolve_precision("auto")
    with tempfile.TemporaryDirectory(prefix="weldsynth-audit-bench-") as tmp:
        t0 = time.perf_counter()
        data = build_dataset(Path(tmp), args.topology, args.sources, seed=args.data_seed)
        listing = list_images(data, str(args.topology))
        items = listing.items
        decoded = decode_all([i.path for i in items], size)
        build_seconds = time.perf_counter() - t0
    classes = listing.classes
    labels = np.array([classes.index(i.label) for i in items], np.int64)
    groups = [i.source for i in items]
    samples = [
        Sample(path=i.rel, topology=listing.topology, defect=i.defect, source=i.source)
        for i in items
    ]
    bad, good = classes.index("bad"), classes.index("good")
    runs = []
    for seed in range(args.seeds):
        for c, (mode, rate) in enumerate(CONDITIONS):
            rng = np.random.default_rng(np.random.SeedSequence([args.data_seed, seed, c]))
            flipped = flip(labels, mode, rate, bad, good, rng)
            noisy = labels.copy()
            noisy[flipped] = 1 - noisy[flipped]
            truth = np.zeros(len(labels), bool)
            truth[flipped] = True
            t0 = time.perf_counter()
            oof = out_of_fold(
                decoded.images,
                noisy,
                groups,
                len(classes),
                cfg,
                folds=args.folds,
                seeds=[1000 * seed + c],
                precision=precision,
                cams=False,
            )
            s = score(oof.probs, noisy)
            suggestions = suggest(s, samples, classes, 1)
            flags = np.array([g.flagged for g in suggestions])
            # suspects.csv's rank: by review tier, then loss
            tier = np.array([g.tier for g in suggestions])
            seconds = time.perf_counter() - t0
            ours = metrics(s.loss - 1000.0 * tier, flags, truth)
            ours["precision_at_k_loss_only"] = metrics(s.loss, flags, truth)["precision_at_k"]
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                np.savez(
                    args.dump / f"run_{seed}_{mode}_{int(rate * 100)}.npz",
                    probs=oof.probs,
                    noisy=noisy,
                    labels=labels,
                    paths=np.array([i.rel for i in items]),
                    defects=np.array([i.defect for i in items]),
                    sources=np.array(groups),
                )
            clean = cleanlab_metrics(noisy, oof.mean.astype(np.float64), truth)
            runs.append(
                {
                    "seed": seed,
                    "mode": mode,
                    "rate": rate,
                    "flipped": int(truth.sum()),
                    "audit_seconds": round(seconds, 1),
                    "oof_error_vs_noisy": round(float(np.mean(s.predicted != noisy)), 4),
                    "oof_error_vs_truth": round(float(np.mean(s.predicted != labels)), 4),
                    "weldsynth": ours,
                    "cleanlab": clean,
                }
            )
            print(json.dumps(runs[-1]), flush=True)
    return {
        "data": {
            "topology": args.topology,
            "sources": args.sources,
            "images": len(labels),
            "classes": classes,
            "counts": {c: int((labels == k).sum()) for k, c in enumerate(classes)},
            "build_and_decode_seconds": round(build_seconds, 1),
        },
        "audit": {
            "folds": args.folds,
            "seeds_per_audit": 1,
            "arch": cfg.arch,
            "size": list(size),
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "augment": cfg.augment,
            "weights": "none (from scratch)",
            "precision": precision,
        },
        "runs": runs,
        "summary": summarise(runs),
    }


def summarise(runs: list[dict]) -> dict:
    """Mean (and min) over seeds per condition, ours vs cleanlab."""
    out = {}
    for mode, rate in CONDITIONS:
        sel = [r for r in runs if r["mode"] == mode and r["rate"] == rate]
        if not sel:
            continue

        def mean(get, sel=sel) -> float:
            return round(float(np.mean([get(r) for r in sel])), 4)

        out[f"{mode}_{int(rate * 100)}pct"] = {
            "precision_at_k": mean(lambda r: r["weldsynth"]["precision_at_k"]),
            "precision_at_k_min": round(min(r["weldsynth"]["precision_at_k"] for r in sel), 4),
            "precision_at_k_loss_only": mean(lambda r: r["weldsynth"]["precision_at_k_loss_only"]),
            "recall_flagged": mean(lambda r: r["weldsynth"]["recall_flagged"]),
            "precision_flagged": mean(lambda r: r["weldsynth"]["precision_flagged"]),
            "auroc": mean(lambda r: r["weldsynth"]["auroc"]),
            "cleanlab_precision_at_k_self_confidence": mean(
                lambda r: r["cleanlab"]["self_confidence"]["precision_at_k"]
            ),
            "cleanlab_precision_at_k_normalized_margin": mean(
                lambda r: r["cleanlab"]["normalized_margin"]["precision_at_k"]
            ),
            "cleanlab_find_label_issues_recall": mean(
                lambda r: r["cleanlab"]["find_label_issues"]["recall_flagged"]
            ),
            "cleanlab_find_label_issues_precision": mean(
                lambda r: r["cleanlab"]["find_label_issues"]["precision_flagged"]
            ),
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
    parser.add_argument("--seeds", type=int, default=3)
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
        args.seeds, args.epochs = 1, 2
    started = time.perf_counter()
    result = run(args)
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    result["machine"] = {
        "python": platform.python_version(),
        "cpu": platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    result["targets"] = {"precision_at_k": ">= 0.8", "vs_cleanlab": "not below"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
