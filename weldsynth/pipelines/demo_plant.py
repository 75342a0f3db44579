"""The demo's plant data: a topology's model next to the seed's figure, and an audit that
finds label errors injected on purpose.

:func:`make_plant` builds a small plant-like data set of one topology (procedural good
welds → defects → balance → grouped split) and flips a known share of the training and
validation labels through the relabel journal (undoable; listed in ``injected.csv``).
:func:`loop_plant` runs one loop iteration on it: a model trained on the data as it is
(its test error printed next to the seed's ResNet18 figure for that topology), an audit
whose flagged samples are scored against the flipped ones (precision and recall), the
confident suggestions applied, and the model retrained.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.seeding import rng_for

SEED_RESNET18_ERROR_PCT = {
    "2": (0.11, 0.0),
    "3": (0.61, 0.10),
    "4": (0.92, 0.30),
    "5": (2.88, 0.20),
    "7": (3.65, 0.89),
    "8": (2.29, 0.40),
    "9": (0.15, 0.0),
    "10": (0.0, 0.0),
    "11": (0.19, 0.0),
}
"""The seed's validation error (%) of ResNet18 per topology, on its first data set and after
cleaning its labels (seed 001, figures 6.33 and 6.52), on thousands of welds with ImageNet
weights and a GPU."""
PLANT_WELDS = 20
"""Good welds of the plant data (8 to 12 images each after generate and balance)."""
FLIP_SHARE = 0.08
"""Share of the training and validation labels flipped on purpose."""
PLANT_SEED = 11


@dataclass(frozen=True)
class Plant:
    """The plant data set.

    Attributes:
        data: Its root.
        topology: Its topology.
        injected: Manifest paths (after the flip) of the labels flipped on purpose.
        images: Images in use.
    """

    data: Path
    topology: str
    injected: list[str]
    images: int


def make_plant(root: Path, topology: str, welds: int = PLANT_WELDS) -> Plant:
    """Build the plant data set in ``root`` and flip :data:`FLIP_SHARE` of its labels."""
    from weldsynth.dataset import generate as gen
    from weldsynth.dataset.balance import balance
    from weldsynth.dataset.split import split_dataset
    from weldsynth.synth.recipe import recipe_for_topology
    from weldsynth.synth.samples import write_samples

    good, data = root / "good", root / "data"
    write_samples(good, [int(topology)], n=welds, seed=PLANT_SEED)
    recipes = {int(topology): recipe_for_topology(int(topology))}
    gen.prepare_out(data, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, data, by_defect=False)
    gen.run(tasks, data, rejected, workers=gen.default_workers())
    balance(data, ratio="1:1", method="oversample", seed=0)
    _before, rows = split_dataset(data, val=0.2, test=0.2, seed=42)
    injected = flip_labels(data, root / "injected.csv")
    used = sum(1 for r in rows if r.active)
    return Plant(data, topology, injected, used)


def flip_labels(data: Path, listing: Path, share: float = FLIP_SHARE) -> list[str]:
    """Move ``share`` of the train/val images to the other class as one relabel step.

    Returns:
        The flipped images' manifest paths after the move (also written to ``listing``).
    """
    from weldsynth.dataset.relabel.journal import open_journal
    from weldsynth.io.manifest import read_manifest, safe_join, sha256_file

    rows = [r for r in read_manifest(data) if r.active and r.split in ("train", "val")]
    if not rows:
        return []
    rng = rng_for(PLANT_SEED, "demo-flip")
    pick = sorted(rng.choice(len(rows), size=max(1, round(share * len(rows))), replace=False))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "decision", "to", "sha256"])
    flipped = []
    for k in pick:
        row = rows[int(k)]
        to = "bad" if row.label == "good" else "good"
        writer.writerow([row.path, "move", to, sha256_file(safe_join(data, row.path))])
        parts = row.path.split("/")
        flipped.append("/".join([parts[0], to, *parts[2:]]))
    decisions = listing.with_name("injected_decisions.csv")
    atomic_write_bytes(decisions, buf.getvalue().encode())
    with open_journal(data) as journal:
        journal.apply(decisions)
    atomic_write_bytes(listing, ("path\n" + "".join(f"{p}\n" for p in flipped)).encode())
    return flipped


def audit_scores(suspects: Path, injected: list[str]) -> dict[str, Any]:
    """How an audit's ``suspects.csv`` finds the ``injected`` label errors: flagged,
    true positives, precision and recall of the flagged ones, and precision@k of the loss
    ranking (k = number injected)."""
    with suspects.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    truth = set(injected)
    flagged = [r["path"] for r in rows if r["suggestion"] != "keep"]
    hits = sum(1 for p in flagged if p in truth)
    by_loss = sorted(rows, key=lambda r: int(r["loss_rank"]))[: len(truth)]
    top = sum(1 for r in by_loss if r["path"] in truth)
    return {
        "injected": len(truth),
        "flagged": len(flagged),
        "found": hits,
        "precision": hits / len(flagged) if flagged else 0.0,
        "recall": hits / len(truth) if truth else 0.0,
        "precision_at_k": top / len(truth) if truth else 0.0,
    }


def seed_figure(topology: str) -> str:
    """The seed's ResNet18 error on ``topology``, in words."""
    first, cleaned = SEED_RESNET18_ERROR_PCT.get(topology, (float("nan"),) * 2)
    return f"seed's ResNet18 on topology {topology}: {first:.2f}% → {cleaned:.2f}% after cleaning"


def loop_message(state: Any, plant: Plant, scores: dict[str, Any] | None) -> str:
    """The demo's loop line: test error before and after, the seed's figure, the audit's
    precision on the injected errors."""
    rows = state.rows
    error = f"test error {100 * rows[0]['test_error']:.1f}%"
    if len(rows) > 1:
        error += f" → {100 * rows[-1]['test_error']:.1f}% after the audit"
    found = ""
    if scores is not None:
        found = (
            f"; the audit flagged {scores['flagged']}, {scores['found']} of the "
            f"{scores['injected']} labels flipped on purpose: precision "
            f"{100 * scores['precision']:.0f}%, recall {100 * scores['recall']:.0f}% "
            f"(top-{scores['injected']} by loss: {100 * scores['precision_at_k']:.0f}%)"
        )
    return f"topology {plant.topology}: {error} ({seed_figure(plant.topology)}){found}"
