"""The issue-18 (data integrity) rows of the fuzz table in ``tests/fuzz_cases.py``: each
case is the regression row of one fix, run like every other case (a subprocess; handled
means an allowed exit status, no traceback, the input named, nothing of the data set or
its inputs changed)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fuzz_cases import Case, World

FAST_18 = {
    "generate-inputs:dup-case",
    "generate-inputs:variant-name",
    "predict-model:std-zero",
    "split:relabel-unfinished",
    "demo:samples-inside-out",
}
"""The issue-18 cases of the fast suite (all cheap)."""


def _two_welds(world: World, folder: Path, names: tuple[str, str]) -> Path:
    """Two different good welds of the world under ``names`` in ``folder/good``."""
    good = folder / "good"
    good.mkdir()
    first, second = sorted(world.good.glob("*.png"))[:2]
    shutil.copy2(first, good / names[0])
    shutil.copy2(second, good / names[1])
    return good


def _flat(folder: Path) -> Path:
    import cv2

    path = folder / "flat.png"
    cv2.imwrite(str(path), np.full((64, 96), 100, np.uint8))
    return path


def _std_zero_model(folder: Path) -> Path:
    from weldsynth.train.checkpoint import save_checkpoint
    from weldsynth.train.models import build_model

    path = folder / "std0.pt"
    meta = {
        "arch": "weldnet",
        "classes": ["bad", "good"],
        "in_channels": 1,
        "input_size": [64, 176],
        "mean": 0.5,
        "std": 0.0,
    }
    save_checkpoint(path, build_model("weldnet", 2, 1), meta)
    return path


def _upper_case_folder(world: World, folder: Path) -> Path:
    scans = folder / "scans"
    scans.mkdir()
    shutil.copy2(sorted(world.good.glob("*.png"))[0], scans / "SCAN.PNG")
    (scans / "dangling.png").symlink_to(folder / "gone.png")
    return scans


def _unfinished_relabel(world: World, folder: Path) -> Path:
    data = folder / "data"
    shutil.copytree(world.data, data, symlinks=True)
    with open(data / ".weldsynth" / "journal.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"kind": "apply", "step": 1, "type": "intent"}\n')  # no commit: killed
    return data


def _demo_over_its_samples(world: World, folder: Path) -> Path:
    out = folder / "demo_out"
    (out / "good" / "7").mkdir(parents=True)
    shutil.copy2(sorted(world.good.glob("*.png"))[0], out / "good" / "7" / "w.png")
    (out / ".weldsynth-demo").write_text("made by `weldsynth demo`; safe to delete\n")
    (out / "notes.txt").write_text("mine")
    return out


def _generate(good: Callable[[Path], Path]) -> Callable[[World, Path, Path], list[str]]:
    return lambda w, p, o: ["generate", str(good(p)), "--recipe", str(w.recipe), "--out",
                            str(o), "--workers", "1", "-q"]  # fmt: skip


def issue18_cases() -> list[Case]:
    """Every issue-18 row (``fast`` as in :data:`FAST_18`)."""
    cases = [
        Case(
            "generate-inputs:dup-case",
            lambda w, f: _two_welds(w, f, ("dup.png", "dup.PNG")),
            _generate(lambda p: p),
            names=lambda p: ("dup.png", "dup.PNG"),
        ),
        Case(
            "generate-inputs:variant-name",
            lambda w, f: _two_welds(w, f, ("w.png", "w__hole_00.png")),
            _generate(lambda p: p),
            names=lambda p: ("w__hole_00.png",),
        ),
        Case(
            "generate:no-bead",
            lambda w, f: _flat(_two_welds(w, f, ("a.png", "b.png"))),
            _generate(lambda p: p.parent),
            frozenset({0}),
            rejected=True,
        ),
        Case(
            "predict-model:std-zero",
            lambda w, f: _std_zero_model(f),
            lambda w, p, o: ["predict", str(p), str(w.good)],
        ),
        Case(
            "predict:upper-case-and-dangling",
            _upper_case_folder,
            lambda w, p, o: ["predict", str(w.model), str(p), "--csv", str(o / "p.csv")],
            frozenset({0}),
        ),
        Case(
            "split:relabel-unfinished",
            _unfinished_relabel,
            lambda w, p, o: ["split", str(p)],
            names=lambda p: ("relabel log",),
        ),
        Case(
            "demo:samples-inside-out",
            _demo_over_its_samples,
            lambda w, p, o: ["demo", "--out", str(p), "--samples", str(p / "good")],
            names=lambda p: ("inside",),  # the refusal, not a crash after deleting
        ),
    ]
    return [Case(**{**c.__dict__, "fast": c.id in FAST_18}) for c in cases]
