"""Samples on disk: ``OUT/<topology>/<topology>_<index:04d>.png`` with a JSON truth sidecar.

Writing is atomic; the same seed gives byte-identical files, and any one sample can be
regenerated alone (:func:`weldsynth.synth.samples.weld.sample_seed`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.io.heightmap import SUPPORTED_BIT_DEPTHS, read_heightmap, write_heightmap
from weldsynth.synth.samples.knobs import clutter_knobs, topology_spec
from weldsynth.synth.samples.weld import SyntheticWeld, generate_weld, sample_seed


def sample_name(topology: int, index: int) -> str:
    """File stem of a sample: ``<topology>_<index:04d>``."""
    return f"{topology}_{index:04d}"


def write_weld(
    weld: SyntheticWeld, png_path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> Path:
    """Write a weld's PNG and its ``.json`` truth sidecar (pretty, sorted keys), atomically.

    Args:
        weld: The weld.
        png_path: Destination PNG; the sidecar goes next to it with a ``.json`` suffix.
        extra: Extra top-level keys for the sidecar (e.g. ``{"sample": {...}}``).
    """
    png = Path(png_path)
    write_heightmap(png, weld.height, weld.bit_depth)
    sidecar = dict(weld.truth)
    if extra:
        sidecar.update(extra)
    text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(png.with_suffix(".json"), text.encode("utf-8"))
    return png


def read_sample(png_path: str | os.PathLike[str]) -> SyntheticWeld:
    """Read a sample written by :func:`write_samples` (PNG + JSON sidecar) back."""
    png = Path(png_path)
    hm = read_heightmap(png)
    truth = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
    truth.pop("sample", None)
    return SyntheticWeld(
        height=hm.height, bit_depth=hm.bit_depth, topology=int(truth["topology"]), truth=truth
    )


def write_samples(
    out_dir: str | os.PathLike[str],
    topologies: Iterable[int],
    n: int,
    seed: int,
    bit_depth: int = 16,
    progress: Callable[[int, int], None] | None = None,
    *,
    start: int = 0,
    clutter: str = "none",
) -> list[Path]:
    """Write ``n`` good welds per topology as ``OUT/<topology>/<topology>_<index:04d>.png``.

    Each PNG gets a ``.json`` truth sidecar (the truth plus ``"sample": {seed, index}``).
    Sample ``index`` is seeded by :func:`sample_seed` only, so the same seed gives
    byte-identical files, and any one sample can be regenerated alone.

    Args:
        out_dir: Output folder (created).
        topologies: Topology numbers.
        n: Samples per topology.
        seed: Base seed (>= 0).
        bit_depth: 8 or 16.
        progress: Called as ``progress(done, total)`` after each sample.
        start: First index (indices ``start .. start + n - 1``).
        clutter: "none" (clean welds, the files as always), "realistic" or "heavy" (see
            :func:`~weldsynth.synth.samples.weld.generate_weld`); recorded in the sidecar's
            ``"sample"`` when not "none".

    Returns:
        The written PNG paths, in order.
    """
    topos = [topology_spec(t).id for t in topologies]
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if bit_depth not in SUPPORTED_BIT_DEPTHS:
        raise ValueError(f"bit_depth must be one of {SUPPORTED_BIT_DEPTHS}, got {bit_depth}")
    clutter_knobs(3, clutter)  # an unknown level fails before anything is written
    out = Path(out_dir)
    total = len(topos) * n
    written: list[Path] = []
    for topo in topos:
        for index in range(start, start + n):
            rng = sample_seed(seed, topo, index)
            weld = generate_weld(topo, rng, bit_depth=bit_depth, clutter=clutter)
            png = out / str(topo) / f"{sample_name(topo, index)}.png"
            sample: dict[str, Any] = {"seed": seed, "index": index}
            if clutter != "none":
                sample["clutter"] = clutter
            written.append(write_weld(weld, png, {"sample": sample}))
            if progress is not None:
                progress(len(written), total)
    return written
