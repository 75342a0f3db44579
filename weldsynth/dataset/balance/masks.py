"""The defect masks and measures of balance's variants, derived from their base's.

A generated data set names each image's defect mask in the manifest's ``mask`` column
(``<topology>/_masks/<name>.png``, 255 = a pixel the defect changed); acceptable
imperfections written to ``good`` have one too. A label-preserving variant of such a base
gets its own mask, transformed exactly as its image
(:func:`weldsynth.dataset.augment.variant_mask`: mirrored with a mirror image, the base's
for dropout and brightness), written atomically beside the base's mask under the variant's
file name, so every reader that finds masks through the ``mask`` column (training's mask
loss, the heat-map scores, the audit's mask evidence) finds it. Bases without a mask
(original welds) give variants without one, and so do the bad extras (made of originals).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import cv2

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.dataset import augment
from weldsynth.dataset.balance.types import BalanceError, NewItem
from weldsynth.io.heightmap import encode_png
from weldsynth.io.manifest import safe_join


def mask_path(it: NewItem) -> str:
    """Where the variant ``it``'s mask goes ("" when it gets none): the folder of its
    base's mask, the variant's file name."""
    if it.kind not in augment.AUGMENTS or not it.base.mask:
        return ""
    return str(PurePosixPath(it.base.mask).parent / PurePosixPath(it.path).name)


def write_mask(root: Path, it: NewItem) -> str:
    """Write the variant ``it``'s mask (see the module docstring); return its manifest path.

    Returns "" when the variant gets no mask: no mask path on its base, or the base's mask
    file is missing or unreadable (readers treat such a mask as empty anyway).

    Raises:
        BalanceError: a different file is already where the mask goes.
    """
    rel = mask_path(it)
    if not rel:
        return ""
    source = safe_join(root, it.base.mask)
    base = cv2.imread(str(source), cv2.IMREAD_UNCHANGED) if source.is_file() else None
    if base is None:
        return ""
    mask = augment.variant_mask(base, it.kind)
    data = source.read_bytes() if mask is base else encode_png(mask, rel)  # unchanged: copied
    target = safe_join(root, rel)
    if target.exists() and target.read_bytes() != data:
        raise BalanceError(
            f"{rel}: exists, is not the mask balance would write for {it.path}; "
            "move it away and rerun"
        )
    atomic_write_bytes(target, data)
    return rel


def variant_measures(base_measures: str, params: dict) -> str:
    """The manifest ``measures`` of a variant with ``params`` made of a base with
    ``base_measures`` (:func:`weldsynth.dataset.augment.variant_measures`); the base's
    text itself when no size changes."""
    if not base_measures:
        return ""
    try:
        sizes = json.loads(base_measures)
    except json.JSONDecodeError:
        return base_measures
    if not isinstance(sizes, dict):
        return base_measures
    changed = augment.variant_measures(sizes, params)
    return base_measures if changed == sizes else json.dumps(changed, sort_keys=True)
