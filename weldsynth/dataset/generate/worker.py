"""One work unit of generate: a good weld and all its variants, written and recorded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes, durable_batch
from weldsynth.core.errors import HeightMapError
from weldsynth.dataset.generate.plan import (
    MASKS_DIR,
    STATE_DIR,
    VERDICTS,
    Rejection,
    SourceResult,
    SourceTask,
    item_seed,
    source_id,
)
from weldsynth.engines import faults
from weldsynth.io.calibration import Calibration, write_sidecar
from weldsynth.io.heightmap import (
    HeightMap,
    encode_png,
    heightmap_from_pixels,
    read_heightmap,
    write_png,
)
from weldsynth.io.manifest import (
    Record,
    record_dict,
    safe_join,
)
from weldsynth.io.resample import resample_calibrated
from weldsynth.synth.recipe import (
    Recipe,
    acceptable_defects,
    variant_defect,
)


def run_task(task: SourceTask) -> SourceResult:
    """Do (or skip, when its record exists) all the work of one good weld.

    Its files (images, masks, sidecars) are written atomically without an fsync each and
    made durable together (:func:`weldsynth.core.atomic.durable_batch`) before its record,
    which the manifest's rows come from, is written: a crash never leaves a record (or a
    manifest row) pointing at a file that is not on disk.
    """
    record_file = _record_file(task)
    done = _read_record(record_file) if record_file.exists() else None
    if done is not None:
        done.skipped = True
        return done
    source = source_id(task.topology, task.name)
    try:
        hm, calibration = _read_source(task)  # calibration: square pixels, or None
    except HeightMapError as exc:
        return SourceResult(rejections=[Rejection(source, "", "", exc.reason)])
    with durable_batch():
        result = _draw_and_write(task, hm, calibration)
    _write_record(record_file, result)
    return result


def _draw_and_write(
    task: SourceTask, hm: HeightMap, calibration: Calibration | None
) -> SourceResult:
    """The good weld and its variants, written; their records and rejections."""
    from weldsynth.geometry import locate

    source = source_id(task.topology, task.name)
    result = SourceResult()
    geometry = locate(hm.height)
    if not geometry.found and not task.keep_unlocated:  # not a weld to learn as good
        reason = f"no bead located: {geometry.reason}; not kept as a good weld"
        result.rejections.append(Rejection(source, "", "", f"{reason} (--keep-unlocated)"))
        return result
    if task.recipe.clutter not in (None, "none") and geometry.found:
        hm = _cluttered(task, hm, geometry)
    pixels = hm.to_uint()
    stem = Path(task.name).stem
    good_rel = f"{task.topology}/good/{stem}.png"
    result.records.append(_write_original(task, good_rel, pixels, calibration))
    recipe = task.recipe
    acceptable = acceptable_defects(recipe, calibration)
    plans = _variant_plan(recipe, acceptable)
    if not geometry.found and plans:
        result.rejections.append(
            Rejection(source, "*", "", f"no bead located: {geometry.reason}; no variants drawn")
        )
        return result
    plugins: dict[tuple[str, str], Any] = {}
    for variant, kind in plans:
        seed = item_seed(recipe.seed, task.topology, task.name, variant)
        rng = np.random.default_rng(seed)
        name = _pick_defect(recipe, kind, rng, acceptable)
        key = (name, kind)
        if key not in plugins:
            plugins[key] = variant_defect(recipe, name, VERDICTS[kind], calibration)
        out = plugins[key](pixels, rng, geometry)
        tag = _acceptable_name(recipe, name) if kind == "good" else name
        if not out.ok:
            result.rejections.append(Rejection(source, str(variant), tag, out.reason))
            continue
        label = out.label
        folder = "good" if label == "good" else (f"bad-{name}" if task.by_defect else "bad")
        fname = f"{stem}__{tag}_{variant:02d}.png"
        rel = f"{task.topology}/{folder}/{fname}"
        mask_rel = f"{task.topology}/{MASKS_DIR}/{fname}"
        write_png(safe_join(task.out, mask_rel), out.mask.astype(np.uint8) * 255)
        result.records.append(
            _write_image(
                task,
                rel,
                out.height,
                source=good_rel,
                label=label,
                defect=tag if label == "good" else name,
                params=out.params.to_dict(),
                seed=str(seed),
                mask=mask_rel,
                calibration=calibration,
                judged=out,
            )
        )
    return result


def _cluttered(task: SourceTask, hm: HeightMap, geometry: Any) -> HeightMap:
    """The recipe's ``clutter:`` on the good weld, before its variants are drawn on it;
    seeded by (recipe seed, topology, source name, "clutter")."""
    from weldsynth.core.seeding import rng_for
    from weldsynth.io.heightmap import to_float, to_uint
    from weldsynth.synth.samples.clutter import clutter_located

    rng = rng_for(task.recipe.seed, int(task.topology), task.name, "clutter")
    level = str(task.recipe.clutter)
    height, _ = clutter_located(
        hm.height, geometry.path, geometry.bead_mask, int(task.topology), level, rng
    )
    height = to_float(to_uint(height, hm.bit_depth))  # what the PNG will hold
    return HeightMap(height=height, valid=height > 0, bit_depth=hm.bit_depth, path=hm.path)


def _write_original(
    task: SourceTask, rel: str, pixels: np.ndarray, calibration: Calibration | None
) -> Record:
    """The good weld itself, copied into ``good`` (on the square grid when resampled)."""
    return _write_image(
        task,
        rel,
        pixels,
        source=rel,
        label="good",
        defect="",
        params={},
        seed="",
        calibration=calibration,
    )


def _read_source(task: SourceTask) -> tuple[HeightMap, Calibration | None]:
    """The source map and its calibration; a map with rectangular pixels is resampled to
    square ones first (:mod:`weldsynth.io.resample`), and its calibration with it."""
    hm = read_heightmap(task.file)
    calibration = task.calibration
    if calibration is None or calibration.is_square:
        return hm, calibration
    pixels, calibration = resample_calibrated(hm.to_uint(), calibration)
    return heightmap_from_pixels(pixels, task.file), calibration


def _variant_plan(recipe: Recipe, acceptable: list[str]) -> list[tuple[int, str]]:
    """(variant index, kind) of every variant: ``variants`` bad ones, then ``acceptable``
    good ones when a defect of the recipe draws acceptable variants here (none otherwise)."""
    bad = [(v, "bad") for v in range(recipe.variants)] if recipe.defects else []
    good = [(recipe.variants + a, "good") for a in range(recipe.acceptable)] if acceptable else []
    return bad + good


def _pick_defect(recipe: Recipe, kind: str, rng: np.random.Generator, acceptable: list[str]) -> str:
    """The defect of one variant, drawn by weight among those that can make its kind (a
    single candidate of an acceptable variant is taken without a draw)."""
    if kind == "bad":
        names = sorted(n for n, e in recipe.defects.items() if e.weight > 0)
    else:
        names = acceptable
        if len(names) == 1:
            return names[0]
    weights = np.array([recipe.defects[n].weight for n in names], float)
    if weights.sum() <= 0:
        weights = np.ones(len(names))
    return str(rng.choice(names, p=weights / weights.sum()))


def _acceptable_name(recipe: Recipe, name: str) -> str:
    """Manifest name of an acceptable variant: ``acceptable_<defect>`` without a norm
    preset (and under the plant norm), the defect's own name under the others."""
    from weldsynth.synth.defects.rule import acceptable_name
    from weldsynth.synth.recipe_norm import norm_settings

    settings = norm_settings(recipe.norm.model_dump())
    if settings is None:
        return acceptable_name(name)
    return settings.level.norm.acceptable_prefix + name


def _write_image(
    task: SourceTask,
    rel: str,
    pixels: np.ndarray,
    *,
    source: str,
    label: str,
    defect: str,
    params: dict[str, Any],
    seed: str,
    mask: str = "",
    calibration: Calibration | None = None,
    judged: Any = None,
) -> Record:
    data = encode_png(pixels, rel)
    faults.before_write(f"{task.topology}_{task.name}")  # test hook: nothing in a normal run
    target = safe_join(task.out, rel)
    atomic_write_bytes(target, data)
    if calibration is not None:
        write_sidecar(target, calibration)
    digest = hashlib.sha256(data).hexdigest()  # of the bytes written: no read-back
    return Record(
        path=rel,
        topology=str(task.topology),
        label=label,
        defect=defect,
        source=source,
        params=json.dumps(params, sort_keys=True),
        seed=seed,
        mask=mask,
        sha256=digest,
        calibration=calibration.source if calibration is not None else "",
        **_judgement(judged),
    )


def _judgement(result: Any) -> dict[str, str]:
    """The manifest's verdict, rule and measures of a draw judged by a norm (none else)."""
    if result is None or result.verdict is None:
        return {}
    measures = {k: round(float(v), 6) for k, v in (result.measures or {}).items()}
    return {
        "verdict": result.verdict,
        "rule": result.rule,
        "measures": json.dumps(measures, sort_keys=True),
    }


def _record_file(task: SourceTask) -> Path:
    return task.out / STATE_DIR / "done" / str(task.topology) / f"{task.name}.json"


def _write_record(path: Path, result: SourceResult) -> None:
    data = {
        "records": [record_dict(r) for r in result.records],
        "rejections": [asdict(r) for r in result.rejections],
    }
    # no fsync: written after the source's files are durable, and a record a crash left
    # empty or cut is read as "not done" (_read_record), so the source is simply redone
    atomic_write_bytes(path, json.dumps(data, sort_keys=True).encode("utf-8"), sync=False)


def _read_record(path: Path) -> SourceResult | None:
    """The record of a finished source; None when it is unreadable (a crash before it
    reached the disk): the source is done again."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SourceResult(
            records=[Record(**r) for r in data["records"]],
            rejections=[Rejection(**r) for r in data["rejections"]],
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
