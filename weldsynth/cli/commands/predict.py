"""``weldsynth predict MODEL IMAGES...``: label and probability per height map."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.cli.commands._decision import decision_options
from weldsynth.cli.commands._options import device_option
from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError


@click.command("predict")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write file, label, probability and one column per class here.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Images scored per forward pass (memory, not results).",
)
@click.option(
    "--heatmap",
    "heatmap_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write per image an overlay PNG of where the model sees the defect (mask head "
    "when trained with --mask-loss, else Grad-CAM) into this folder; the table and CSV "
    "get the share of the map on the weld bead.",
)
@decision_options
@device_option
@click.option("--quiet", "-q", is_flag=True, help="No table (use with --csv).")
def command(
    model: Path,
    images: tuple[Path, ...],
    csv_out: Path | None,
    batch_size: int,
    quiet: bool,
    device: str = "auto",
    heatmap_dir: Path | None = None,
    tta: str = "none",
    threshold: str | None = None,
) -> None:
    """Classify height maps with a trained MODEL (model.pt or its run folder).

    IMAGES are PNG files or folders (searched recursively for *.png in any case;
    folders starting with "_" or "." are skipped). Unreadable files, dangling symlinks
    and other files in the folders are listed and skipped; the command fails only when
    none can be read.

    \b
    Examples:
      weldsynth predict runs/train/7/model.pt scans/7/*.png
      weldsynth predict runs/train/7 scans/ --csv predictions.csv
      weldsynth predict runs/train/7 scans/ --tta flip
    """
    from rich.console import Console
    from rich.table import Table

    from weldsynth.io.inputs import scan_paths
    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.reports import write_csv

    ckpt = load_checkpoint(model, device=device)
    scan = scan_paths(images)
    files = scan.files
    skipped = [(str(path), reason) for path, reason in scan.skipped]
    if not files:
        listed = "".join(f"; skipped {f}: {r}" for f, r in skipped[:3])
        given = ", ".join(str(i) for i in images[:3]) + (", ..." if len(images) > 3 else "")
        raise WeldsynthError(f"no PNG files found in {given}{listed}")
    preds, failures = _predict(ckpt, files, batch_size, tta, threshold, quiet)
    failures = skipped + failures
    err = Console(stderr=True)
    for file, reason in failures:
        err.print(f"skipped {file}: {reason}", markup=False, highlight=False, soft_wrap=True)
    classes = ckpt.classes
    heat, heat_cols = _heatmaps(ckpt, preds, heatmap_dir)
    if csv_out is not None:
        rows = [
            {
                "file": p.file,
                "label": p.label,
                "probability": p.probability,
                **{f"p_{c}": v for c, v in zip(classes, p.probs, strict=True)},
                "error": "",
                **_heat_fields(heat, p.file),
            }
            for p in preds
        ]
        rows += [{"file": f, "label": "", "probability": "", "error": r} for f, r in failures]
        write_csv(
            csv_out,
            ["file", "label", "probability", *(f"p_{c}" for c in classes), "error", *heat_cols],
            rows,
        )
    if preds and not quiet:
        table = Table(title=f"{ckpt.path}: {len(preds)} predicted, {len(failures)} unreadable")
        table.add_column("file", overflow="fold")
        table.add_column("label")
        table.add_column("probability", justify="right")
        _bead_column(table, heat_cols)
        for p in preds:
            table.add_row(p.file, p.label, f"{p.probability:.4f}", *_on_bead(heat, p.file))
        print_table(Console(), table)
    if csv_out is not None:
        click.echo(f"predictions written to {csv_out}")
    if not preds:
        first = f" ({failures[0][0]}: {failures[0][1]})" if failures else ""
        raise WeldsynthError(f"none of the {len(files)} file(s) could be read{first}")


def _predict(ckpt, files: list[Path], batch_size: int, tta: str, threshold, quiet: bool):
    """``predict_files`` a chunk of files at a time (the same batches), with progress on
    stderr (a bar on a terminal, a line in a log; none with --quiet)."""
    from rich.console import Console

    from weldsynth.cli.progress import Reporter
    from weldsynth.train.predict import predict_files

    chunk, preds, failures = 8 * batch_size, [], []
    with Reporter(Console(stderr=True), quiet=quiet, transient=True) as reporter:
        tick = reporter.ticker("predict", len(files), "img")
        for start in range(0, len(files), chunk):
            part = files[start : start + chunk]
            got, bad = predict_files(ckpt, part, batch_size, tta=tta, threshold=threshold)
            preds += got
            failures += bad
            tick(len(part))
    return preds, failures


def _heatmaps(ckpt, preds: list, folder: Path | None) -> tuple[dict, list[str]]:
    """``--heatmap``: file -> (overlay, bead share) of the predicted files, and the CSV
    columns they fill (({}, []) without)."""
    if folder is None:
        return {}, []
    from weldsynth.train.heatmap import heatmaps_for_files

    heat = heatmaps_for_files(ckpt, [p.file for p in preds], folder) if preds else {}
    click.echo(f"{len(heat)} heat map overlay(s) written to {folder}")
    return heat, ["heatmap", "bead_share"]


def _bead_column(table, heat_cols: list[str]) -> None:
    """The table's "on bead" column, with --heatmap."""
    if heat_cols:
        table.add_column("on bead", justify="right")


def _on_bead(heat: dict, file: str) -> list[str]:
    """The table's "on bead" cell of one file ([] without --heatmap)."""
    if not heat:
        return []
    share = _heat_fields(heat, file).get("bead_share", "")
    return [f"{100 * share:.0f}%" if share != "" else "-"]


def _heat_fields(heat: dict, file: str) -> dict:
    """The CSV fields of one file's heat map: overlay path and bead share ("" when none)."""
    if file not in heat:
        return {}
    path, share = heat[file]
    return {"heatmap": str(path), "bead_share": "" if share != share else round(share, 4)}
