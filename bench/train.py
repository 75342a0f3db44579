"""Benchmark of the built-in trainer (issue 6) -> bench/results/train.json.

1. Builds a data set from the shipped recipes: ``weldsynth samples`` (8-bit, so that the
   reference's PIL loader reads it correctly) -> ``generate --all`` -> ``balance`` (1:1) ->
   ``split`` (val 0.2, test 0.1, grouped by source).
2. On one topology, same split, same model size (ResNet18), same epochs, in this process:
   a plain reference loop (torchvision ImageFolder + PIL decoding every epoch, 3-channel
   input, fp32, standard DataLoader, Adam, random init) against ``weldsynth train``'s code
   path (RAM cache, 1 channel, channels-last, bf16 where supported, fine-tune schedule),
   reporting wall time per epoch and validation error of both, alternating the two loops
   so that they share the machine's load; then shorter runs that isolate channels-last
   and bf16.
3. Per-topology validation (and test) error on every topology, with ``--topo-arch``
   (WeldNet by default: no ImageNet weights can be had offline, and ResNet18 from scratch
   does not learn these defects), plus ResNet18 on ``--topology`` on the same data and
   epochs for contrast (``--parts resnet``).
4. A learning curve: the error of ``--topo-arch`` on ``--topology`` with 20, 40 and 80
   good welds (``--parts curve``).
5. A throughput table (``--parts throughput``, :mod:`train_throughput`): images/s, train
   and eval, of resnet18, resnet50 and WeldNet at 128x352, fp32 and mixed precision,
   weldsynth against a plain reference loop on ``--device``, in this process.

``--device`` (auto, cpu, cuda, cuda:N, mps) runs the comparison and the throughput table
there; the JSON records the device, the precision, the CPU's flags and the load.

Usage: python bench/train.py [--parts compare,ablation,topologies] [--work DIR] ...
Sections not run are kept from the existing JSON, so parts can be measured separately.
Timings depend on the machine and on its load; the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from train_throughput import throughput

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"


def weldsynth(*args: str) -> None:
    """Run a weldsynth command (the stable CLI contract), quietly."""
    subprocess.run(
        [sys.executable, "-m", "weldsynth", *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )


def build_dataset(work: Path, count: int) -> Path:
    """Good welds -> defects from the shipped recipes -> balanced 1:1 -> grouped split."""
    good, data = work / "good", work / "data"
    weldsynth("samples", "--all", "-n", str(count), "--bit-depth", "8", "--out", str(good), "-q")
    weldsynth("generate", str(good), "--all", "--out", str(data), "--workers", "2", "-q")
    weldsynth("balance", str(data))
    weldsynth("split", str(data), "--val", "0.2", "--test", "0.1", "--seed", "42")
    return data


def reference_loop(
    data: Path, topology: str, epochs: int, batch_size: int, seed: int = 0, device: str = "cpu"
) -> dict:
    """The plain loop a user would write: ImageFolder + PIL, RGB, fp32, DataLoader, Adam
    (``.to(device)`` per batch)."""
    import torchvision
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms

    from weldsynth.io.manifest import read_manifest

    class Folder(torchvision.datasets.ImageFolder):
        def find_classes(self, directory):  # masks (_masks) are not a class
            names = sorted(
                e.name
                for e in os.scandir(directory)
                if e.is_dir() and not e.name.startswith(("_", "."))
            )
            return names, {n: k for k, n in enumerate(names)}

    torch.manual_seed(seed)
    tf_train = transforms.Compose(
        [
            transforms.Resize((128, 352)),
            transforms.RandomHorizontalFlip(),
            transforms.RandomVerticalFlip(),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    tf_val = transforms.Compose(
        [
            transforms.Resize((128, 352)),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    split = {r.path: r.split for r in read_manifest(data) if r.active and r.topology == topology}
    train_set, val_set = Folder(data / topology, tf_train), Folder(data / topology, tf_val)
    rel = [Path(p).relative_to(data).as_posix() for p, _ in train_set.samples]
    train_idx = [k for k, r in enumerate(rel) if split.get(r) == "train"]
    val_idx = [k for k, r in enumerate(rel) if split.get(r) == "val"]
    train_dl = DataLoader(Subset(train_set, train_idx), batch_size=batch_size, shuffle=True)
    val_dl = DataLoader(Subset(val_set, val_idx), batch_size=batch_size)
    model = torchvision.models.resnet18(weights=None, num_classes=len(train_set.classes))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    started, cpu0 = time.perf_counter(), time.process_time()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        for x, y in train_dl:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        wrong = n = 0
        with torch.no_grad():
            for x, y in val_dl:
                wrong += int((model(x.to(device)).argmax(1).cpu() != y).sum())
                n += len(y)
        history.append(
            {"epoch": epoch, "val_error": wrong / n, "seconds": time.perf_counter() - t0}
        )
    total, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {
        "train_images": len(train_idx),
        "val_images": len(val_idx),
        "seconds_total": total,
        "seconds_per_epoch": total / epochs,
        "cpu_seconds_per_epoch": cpu / epochs,
        "val_error_final": history[-1]["val_error"],
        "val_error_best": min(h["val_error"] for h in history),
        "history": history,
    }


def weldsynth_run(
    data: Path, topology: str, out: Path, epochs: int, batch_size: int, **cfg_changes
) -> dict:
    """``weldsynth train``'s code path on one topology, timed end to end."""
    from weldsynth.train.config import TrainConfig
    from weldsynth.train.model import resolve_weights
    from weldsynth.train.run import prepare, train_topology

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, **cfg_changes)
    weights, note = resolve_weights(cfg.weights, cfg.arch)
    started, cpu0 = time.perf_counter(), time.process_time()
    report = train_topology(
        prepare(data, topology, cfg),
        out,
        cfg,
        weights=weights,
        weights_note=note,
        say=lambda _: None,
    )
    total, cpu = time.perf_counter() - started, time.process_time() - cpu0
    rows = _metrics(out / "metrics.csv")
    n_train = sum(report["counts"]["train"].values())
    epoch_s = [float(r["seconds"]) for r in rows]
    return {
        "precision": report["precision"],
        "channels_last": cfg.channels_last,
        "weights": _short(note),
        "train_images": n_train,
        "val_images": report["val"]["images"],
        "seconds_total": total,
        "seconds_per_epoch": total / len(rows),
        "cpu_seconds_per_epoch": cpu / len(rows),
        "epoch_loop_seconds_mean": float(np.mean(epoch_s)),
        "epoch_loop_seconds_after_first": float(np.mean(epoch_s[1:] or epoch_s)),
        "train_images_per_s": n_train / float(np.mean(epoch_s[1:] or epoch_s)),
        "decode_seconds": report["decode_seconds"],
        "val_error_best": report["val"]["error_rate"],
        "val_error_final": float(rows[-1]["error_rate"]),
        "history": [
            {
                "epoch": int(r["epoch"]),
                "val_error": float(r["error_rate"]),
                "seconds": float(r["seconds"]),
            }
            for r in rows
        ],
    }


def _short(note: str) -> str:
    """A weights note without this machine's paths."""
    return note.replace(str(Path(torch.hub.get_dir())), "<torch hub dir>")


def _metrics(path: Path) -> list[dict]:
    import csv

    with path.open() as fh:
        return list(csv.DictReader(fh))


def machine() -> dict:
    """What the numbers were measured on."""
    from weldsynth.train.model import bf16_supported

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    return {
        "cpu": cpu,
        "cpu_flags": {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")},
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "bf16_supported": bf16_supported(),
        "python": platform.python_version(),
    }


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def compare(
    data: Path, work: Path, topo: str, epochs: int, bs: int, repeats: int, device: str = "cpu"
) -> dict:
    """Reference loop against weldsynth, alternating (A B A B...) so both see the same load.

    Time per epoch is the best of the repeats (the least disturbed by other processes);
    errors come from the first repeat (both loops are seeded, so repeats agree).
    """
    refs, ours = [], []
    for k in range(repeats):
        refs.append(reference_loop(data, topo, epochs, bs, device=device))
        print(f"reference: {refs[-1]['seconds_per_epoch']:.1f} s/epoch", flush=True)
        run = work / "runs" / f"main{k}"
        ours.append(weldsynth_run(data, topo, run, epochs, bs, arch="resnet18", device=device))
        print(f"weldsynth: {ours[-1]['seconds_per_epoch']:.1f} s/epoch", flush=True)
    ref, own = dict(refs[0]), dict(ours[0])
    for row, runs in ((ref, refs), (own, ours)):
        for key in ("seconds_per_epoch", "cpu_seconds_per_epoch"):
            row[f"{key}_repeats"] = [round(r[key], 3) for r in runs]
            row[key] = min(r[key] for r in runs)
    ratio = own["seconds_per_epoch"] / ref["seconds_per_epoch"]
    cpu_ratio = own["cpu_seconds_per_epoch"] / ref["cpu_seconds_per_epoch"]
    return {
        "topology": topo,
        "arch": "resnet18",
        "device": device,
        "epochs": epochs,
        "batch_size": bs,
        "repeats": repeats,
        "reference": ref,
        "weldsynth": own,
        "time_ratio_weldsynth_over_reference": round(ratio, 3),
        "cpu_time_ratio_weldsynth_over_reference": round(cpu_ratio, 3),
        "target_ratio": 0.6,
        "meets_time_target": ratio <= 0.6,
        "error_not_worse": own["val_error_best"] <= ref["val_error_best"],
    }


def ablation(data: Path, work: Path, topo: str, epochs: int, bs: int) -> dict:
    """Channels-last and bf16 switched on one at a time (weldsynth's loop, same data)."""
    runs = {}
    for name, changes in {
        "fp32": {"precision": "fp32", "channels_last": False},
        "fp32+channels_last": {"precision": "fp32"},
        "auto+channels_last": {},
    }.items():
        run = weldsynth_run(data, topo, work / "runs" / name, epochs, bs, **changes)
        runs[name] = {
            k: run[k]
            for k in (
                "precision",
                "channels_last",
                "epoch_loop_seconds_after_first",
                "train_images_per_s",
            )
        }
        print(f"{name}: {run['train_images_per_s']:.1f} train img/s", flush=True)
    base = runs["fp32"]["epoch_loop_seconds_after_first"]
    for row in runs.values():
        row["time_ratio_vs_fp32"] = round(row["epoch_loop_seconds_after_first"] / base, 3)
    return {
        "topology": topo,
        "epochs": epochs,
        "batch_size": bs,
        "runs": runs,
        "note": "epoch loop time (train + BatchNorm re-estimate + val) after the first "
        "epoch; same data, batch and seed",
    }


def per_topology(
    data: Path,
    work: Path,
    epochs: int,
    bs: int,
    size: tuple[int, int],
    arch: str,
    topologies: list[str] | None = None,
) -> dict:
    """``arch`` on every topology (or ``topologies``) with the default settings but epochs,
    batch and size."""
    from weldsynth.train.config import TrainConfig
    from weldsynth.train.data import list_topologies
    from weldsynth.train.model import resolve_weights
    from weldsynth.train.run import train_topologies

    cfg = TrainConfig(arch=arch, epochs=epochs, batch_size=bs, size=size)
    weights, note = resolve_weights(cfg.weights, cfg.arch)
    started = time.perf_counter()
    runs = work / "runs" / arch
    rows = train_topologies(
        data,
        topologies or list_topologies(data),
        runs,
        cfg,
        weights=weights,
        weights_note=note,
        say=lambda s: print(s, flush=True),
    )
    return {
        "arch": arch,
        "epochs": epochs,
        "batch_size": bs,
        "size": list(size),
        "weights": _short(note),
        "seconds": round(time.perf_counter() - started, 1),
        "goal_val_error_pct": "< 1 on every topology",
        "rows": rows,
        "meets_goal": all(float(r["error_pct"]) < 1.0 for r in rows),
        "details": topology_details(runs, [r["topology"] for r in rows]),
    }


def learning_curve(
    work: Path, topo: str, counts: list[int], epochs: int, bs: int, size: tuple[int, int], arch: str
) -> dict:
    """Validation/test error of ``arch`` on one topology as the number of good welds grows
    (each count is its own data set: samples -> generate -> balance -> split)."""
    from weldsynth.train.config import TrainConfig
    from weldsynth.train.run import train_topologies

    cfg = TrainConfig(arch=arch, epochs=epochs, batch_size=bs, size=size, weights="none")
    rows = []
    for count in counts:
        root = work / f"curve-{topo}-{count}"
        good, data = root / "good", root / "data"
        if not (data / "manifest.csv").is_file():
            weldsynth(
                "samples",
                "--topology",
                topo,
                "-n",
                str(count),
                "--bit-depth",
                "8",
                "--out",
                str(good),
                "-q",
            )
            weldsynth("generate", str(good), "--all", "--out", str(data), "--workers", "2", "-q")
            weldsynth("balance", str(data), "-q")
            weldsynth("split", str(data), "--val", "0.2", "--test", "0.1", "--seed", "42")
        started = time.perf_counter()
        row = train_topologies(
            data,
            [topo],
            root / "runs",
            cfg,
            weights=None,
            weights_note="none",
            say=lambda s: print(s, flush=True),
        )[0]
        rows.append(
            {"good_welds": count, **row, "seconds": round(time.perf_counter() - started, 1)}
        )
    return {
        "arch": arch,
        "topology": topo,
        "epochs": epochs,
        "batch_size": bs,
        "size": list(size),
        "rows": rows,
    }


def topology_details(runs: Path, topologies: list[str]) -> dict:
    """Where the errors are: validation errors per (label, defect) summed over topologies,
    and each topology's last training loss (a high one means the model underfits)."""
    by_defect: dict[str, list[int]] = {}
    last_loss = {}
    for topo in topologies:
        report = json.loads((runs / topo / "report.json").read_text())
        for row in report["val"]["per_defect"]:
            key = f"{row['label']}/{row['defect']}"
            errors, images = by_defect.get(key, [0, 0])
            by_defect[key] = [errors + row["errors"], images + row["images"]]
        last_loss[topo] = round(float(_metrics(runs / topo / "metrics.csv")[-1]["train_loss"]), 4)
    return {
        "val_errors_by_label_defect": {
            k: {"errors": e, "images": n} for k, (e, n) in sorted(by_defect.items())
        },
        "last_train_loss": last_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts",
        default="compare,ablation,topologies,resnet,curve,throughput",
        help="comma list of compare, ablation, topologies, resnet, curve, throughput; "
        "sections "
        "not run "
        "are kept from the existing results file",
    )
    parser.add_argument("--count", type=int, default=20, help="good welds per topology")
    parser.add_argument("--topology", default="7", help="topology of compare and ablation")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the comparison")
    parser.add_argument("--repeats", type=int, default=2, help="A/B repeats of the comparison")
    parser.add_argument("--ablation-epochs", type=int, default=3)
    parser.add_argument("--topo-epochs", type=int, default=10, help="epochs per topology")
    parser.add_argument("--topo-size", default="128x352", help="input size per topology")
    parser.add_argument("--topo-arch", default="weldnet", help="model of the topologies part")
    parser.add_argument(
        "--curve-counts",
        default="20,40,80",
        help="good welds per data set of the learning curve (on --topology)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (compare, throughput)"
    )
    parser.add_argument("--tp-batch", type=int, default=32, help="throughput: batch size")
    parser.add_argument(
        "--tp-batches", type=int, default=20, help="throughput: timed batches per measurement"
    )
    parser.add_argument(
        "--tp-archs", default="resnet18,resnet50,weldnet", help="throughput: architectures"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder; a data set already there is reused"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from weldsynth.train.config import parse_size

    if args.threads:
        torch.set_num_threads(args.threads)
    from weldsynth.train.device import resolve_device

    device = resolve_device(args.device).name
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    work = args.work or Path(tempfile.mkdtemp(prefix="weldsynth-bench-train-"))
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    data = work / "data"
    if parts - {"throughput"} and not (data / "manifest.csv").is_file():
        t0 = time.perf_counter()
        build_dataset(work, args.count)
        print(f"dataset ready in {time.perf_counter() - t0:.0f} s", flush=True)
    result["dataset"] = {
        "recipe": "shipped recipes/, samples --bit-depth 8, balance 1:1 "
        "(mirror-image variants), split val 0.2 test 0.1 seed 42",
        "good_welds_per_topology": args.count,
    }
    sections = {
        "compare": (
            "comparison",
            lambda: compare(
                data, work, args.topology, args.epochs, args.batch_size, args.repeats, device
            ),
        ),
        "throughput": (
            "throughput" if device == "cpu" else f"throughput_{device.split(':')[0]}",
            lambda: throughput(device, args.tp_batch, args.tp_batches, args.tp_archs.split(",")),
        ),
        "ablation": (
            "ablation",
            lambda: ablation(data, work, args.topology, args.ablation_epochs, args.batch_size),
        ),
        "topologies": (
            "per_topology",
            lambda: per_topology(
                data,
                work,
                args.topo_epochs,
                args.batch_size,
                parse_size(args.topo_size),
                args.topo_arch,
            ),
        ),
        "resnet": (
            "per_topology_resnet18",
            lambda: per_topology(
                data,
                work,
                args.topo_epochs,
                args.batch_size,
                parse_size(args.topo_size),
                "resnet18",
                [args.topology],
            ),
        ),
        "curve": (
            "learning_curve",
            lambda: learning_curve(
                work,
                args.topology,
                [int(c) for c in args.curve_counts.split(",")],
                args.topo_epochs,
                args.batch_size,
                parse_size(args.topo_size),
                args.topo_arch,
            ),
        ),
    }
    for part, (key, run) in sections.items():
        if part not in parts:
            continue
        load_before, when = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M")
        section = run()
        section["measured"] = {
            "at": when,
            "machine": machine(),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }
        section["balance_variants"] = "mirror images (balance --augment flip)"
        result[key] = section
        _write(args.out, result)
    print(f"written {args.out}")


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
