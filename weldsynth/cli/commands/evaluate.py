"""``weldsynth evaluate MODEL DATA``: error, confusion and per-defect breakdown on a split."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.cli.commands._decision import decision_options, plant_report
from weldsynth.cli.commands._options import device_option
from weldsynth.cli.tables import print_table

SPLITS = ("test", "val", "train", "all")


@click.command("evaluate")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="test",
    show_default=True,
    help="Which images: the split rebuilt as training made it, or all.",
)
@click.option(
    "--topology", "-t", default=None, help="Topology of DATA to use (default: the model's own)."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the results as JSON here.",
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write one row per image (file, label, predicted, probability).",
)
@click.option(
    "--no-heatmap",
    is_flag=True,
    help="Skip the heat-map scores printed on generated data: per defect, the mean IoU of "
    "the thresholded heat map with the true mask and the CAM-in-mask energy (share of the "
    "map inside the mask; low means a shortcut).",
)
@decision_options
@device_option
def command(
    model: Path,
    data: Path,
    split: str,
    topology: str | None,
    json_out: Path | None,
    csv_out: Path | None,
    device: str = "auto",
    no_heatmap: bool = False,
    tta: str = "none",
    threshold: str | None = None,
) -> None:
    """Evaluate a trained MODEL on one split of the data set DATA.

    Prints the error rate, the confusion matrix and, per defect, how many images
    were taken for another class (from the manifest's defect column, or the
    bad-<defect> folder names). When the manifest has norm verdicts, also per
    defect x verdict, so acceptable imperfections taken for bad are one line.

    \b
    Examples:
      weldsynth evaluate runs/train/7/model.pt dataset/ --split test
      weldsynth evaluate runs/train/7 dataset/ --split val --json eval.json
      weldsynth evaluate runs/train/7 dataset/ --tta flip --threshold 0.5
    """
    from rich.console import Console

    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.metrics import f1_score
    from weldsynth.train.reports import write_csv, write_json

    ckpt = load_checkpoint(model, device=device)
    result = _evaluate(ckpt, data, split, topology, tta, threshold)
    console, err = Console(), Console(stderr=True)
    n, wrong = _print_head(console, err, result, split)
    plant = plant_report(console, result, tta)  # false alarms and misses, the plant's figures
    breakdown, by_verdict = _print_tables(console, result)
    located = None if no_heatmap else _localisation(console, ckpt, result)
    if json_out is not None:
        write_json(
            json_out,
            {
                "model": str(ckpt.path),
                "data": str(data),
                "topology": result.topology,
                "split": split,
                "images": n,
                "errors": wrong,
                "error_rate": result.error,
                "f1": f1_score(result.y_true, result.y_pred, result.classes),
                "classes": result.classes,
                "confusion": result.confusion.tolist(),
                "per_defect": breakdown,
                "per_defect_verdict": by_verdict,
                **plant,
                **({"localisation": located.to_dict()} if located is not None else {}),
                "skipped": [{"file": f, "reason": r} for f, r in result.failures],
            },
        )
    if csv_out is not None:
        rows = [
            {
                "file": i.rel,
                "label": i.label,
                "defect": i.defect,
                "predicted": result.classes[int(p)],
                "probability": float(pr[int(p)]),
            }
            for i, p, pr in zip(result.items, result.y_pred, result.probs, strict=True)
        ]
        write_csv(csv_out, ["file", "label", "defect", "predicted", "probability"], rows)


def _evaluate(ckpt, data: Path, split: str, topology: str | None, tta: str, threshold):
    """Evaluate with progress (a bar on a terminal, a line in a log)."""
    from weldsynth.cli.progress import Reporter
    from weldsynth.train.evaluate import evaluate

    with Reporter(transient=True) as reporter:
        counter = reporter.counter(f"evaluate {split}", None, "img")
        return evaluate(ckpt, data, split, topology, tta=tta, threshold=threshold, progress=counter)


def _print_head(console, err, result, split: str) -> tuple[int, int]:
    """Warnings and skipped files (on ``err``), then the one-line summary; returns
    (images, wrong)."""
    for line in result.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    for file, reason in result.failures:
        err.print(f"skipped {file}: {reason}", markup=False, highlight=False, soft_wrap=True)
    n = len(result.items)
    wrong = int((result.y_true != result.y_pred).sum())
    console.print(
        f"topology {result.topology}, {split} split: {n} images, {wrong} wrong, "
        f"error {100 * result.error:.2f}%",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return n, wrong


def _print_tables(console, result) -> tuple[list[dict], list[dict]]:
    """Print the confusion and per-defect tables fitted to the terminal (the "as <class>"
    columns go first: the errors column says most of it); returns the per-defect and the
    per defect x verdict rows."""
    print_table(console, confusion_table(result.confusion, result.classes))
    also = tuple(f"as {c}" for c in result.classes)
    breakdown = result.per_defect()
    print_table(console, defect_table(breakdown, result.classes), also, keys=2)
    by_verdict = result.per_defect_verdict()
    if result.has_verdicts:
        table = defect_table(by_verdict, result.classes, "per defect x verdict")
        print_table(console, table, also, keys=3)
    return breakdown, by_verdict


def confusion_table(matrix, classes: list[str]):
    """A rich table of a confusion matrix (rows actual, columns predicted)."""
    from rich.table import Table

    table = Table(title="confusion (rows: actual, columns: predicted)")
    table.add_column("actual")
    for c in classes:
        table.add_column(c, justify="right")
    for c, row in zip(classes, matrix, strict=True):
        table.add_row(c, *(str(int(v)) for v in row))
    return table


def defect_table(rows: list[dict], classes: list[str], title: str = "per defect"):
    """A rich table of the per-defect breakdown (with a verdict column when the rows have
    one: the per defect x verdict breakdown)."""
    from rich.table import Table

    keys = ("label", "defect", "verdict") if rows and "verdict" in rows[0] else ("label", "defect")
    table = Table(title=title)
    for col in (*keys, "images", "errors", "error %", *(f"as {c}" for c in classes)):
        table.add_column(col, justify="left" if col in keys else "right")
    for r in rows:
        table.add_row(
            *(r[k] for k in keys),
            str(r["images"]),
            str(r["errors"]),
            f"{r['error_pct']:.2f}",
            *(str(r[f"as_{c}"]) for c in classes),
        )
    return table


def _localisation(console, ckpt, result):
    """Print the heat-map scores of the bad images with masks (None, nothing printed, when
    the split has none)."""
    from rich.table import Table

    from weldsynth.train.localise import localise

    located = localise(ckpt, result.items)
    if located is None or not located.images:
        return None
    console.print(
        f"heat maps ({located.method}) on {len(located.images)} bad images with masks: mean "
        f"IoU {_pct(located.mean_iou)} (heat >= {located.threshold:g}), CAM-in-mask "
        f"{_pct(located.mean_energy)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title="heat map vs defect mask, per defect")
    for col in ("defect", "images", "mean IoU", "CAM-in-mask"):
        table.add_column(col, justify="left" if col == "defect" else "right")
    for row in located.per_defect():
        table.add_row(
            row["defect"], str(row["images"]), _pct(row["mean_iou"]), _pct(row["cam_in_mask"])
        )
    console.print(table)
    return located


def _pct(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f}%"
