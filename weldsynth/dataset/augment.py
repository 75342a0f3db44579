"""Label-preserving variants of good welds and "bad" extras, for class balancing.

Seed 001, section 6.5: the good set was multiplied with two changes that keep a weld good,
each applied several times — about 2 % of the measured pixels set to 0 (scanner dropouts),
and a random brightness change — and the bad set got extras: images of the plate alone
(bead removed) and solid images.

Those two changes are made to good images only, so they are a feature that only the good
class has: a model learns "speckled or shifted image → good" instead of the defects
(``weldsynth evaluate --split train`` on a topology-7 model showed it: every dropout
variant called good, most other good welds called bad). The default variants are
therefore mirror images (``hflip``, ``vflip``, ``hvflip``): the trainer mirrors every
class at random anyway, so a mirrored good weld carries nothing the bad ones lack. The
seed's ``dropout`` and ``brightness`` stay available by name
(``weldsynth balance --augment dropout,brightness``).

Every function here is pure: it takes a height map and a ``numpy.random.Generator`` and
returns the new pixels (same shape and bit depth as the input) with a JSON-ready ``params``
dict naming what was done and with which values. No-data pixels (0) stay 0; measured
pixels only become 0 where a dropout says so.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from weldsynth.geometry import locate
from weldsynth.io.heightmap import HeightMap, to_uint

DROPOUT = "dropout"
BRIGHTNESS = "brightness"
FLIPS = {"hflip": (1,), "vflip": (0,), "hvflip": (0, 1)}
"""Mirror-image variants and the array axes each one flips."""
AUGMENTS = (*FLIPS, DROPOUT, BRIGHTNESS)
"""Every label-preserving variant kind."""
DEFAULT_AUGMENTS = tuple(FLIPS)
"""Kinds used by default, in turn (variant k of an image is ``kinds[k % len(kinds)]``)."""

PLATE_ONLY = "plate_only"
SOLID = "solid"
EXTRAS = (PLATE_ONLY, SOLID)
"""Kinds of "bad" extras, used in turn. They are written with these names as ``defect``."""

DROPOUT_PROB = 0.02
"""Fraction of measured pixels set to 0 by the dropout variant (the seed's 2 %)."""
BRIGHTNESS_LIMIT = 0.08
"""Largest brightness shift, as a fraction of full scale."""
CONTRAST_LIMIT = 0.08
"""Largest relative contrast change (heights scaled by 1 ± this)."""
SOLID_RANGE = (0.15, 0.85)
"""Range of the grey level of a solid extra."""
BEAD_MARGIN = 3
"""Pixels around the located bead also replaced by the plate in a plate-only extra."""
MIN_PLATE_ONLY_VALID = 0.05
"""A plate-only extra must keep at least this fraction of measured pixels."""


def parse_augments(text: str) -> tuple[str, ...]:
    """Variant kinds from a comma list; ``flip`` stands for ``hflip,vflip,hvflip``.

    Raises:
        ValueError: an unknown or repeated kind, or an empty list.
    """
    kinds: list[str] = []
    for term in (t.strip() for t in text.split(",")):
        for kind in FLIPS if term == "flip" else (term,):
            if kind not in AUGMENTS:
                raise ValueError(
                    f"unknown variant kind {kind!r}; allowed: flip, {', '.join(AUGMENTS)}"
                )
            if kind in kinds:
                raise ValueError(f"variant kind {kind!r} given twice")
            kinds.append(kind)
    if not kinds:
        raise ValueError("no variant kind given")
    return tuple(kinds)


def augment_kind(k: int, kinds: tuple[str, ...] = DEFAULT_AUGMENTS) -> str:
    """Kind of the ``k``-th label-preserving variant of one image."""
    return kinds[k % len(kinds)]


def extra_kind(j: int) -> str:
    """Kind of the ``j``-th bad extra of a topology."""
    return EXTRAS[j % len(EXTRAS)]


def augment(hm: HeightMap, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A label-preserving variant of a good weld.

    Args:
        hm: The source height map.
        kind: ``"hflip"``, ``"vflip"``, ``"hvflip"`` (mirror images: left-right, top-bottom,
            both), ``"dropout"`` (``A.PixelDropout``, about 2 % of measured pixels set to 0)
            or ``"brightness"`` (``A.RandomBrightnessContrast`` with a drawn shift and scale).
        rng: Draws the values (and the albumentations seed); flips draw nothing.

    Returns:
        (pixels of the source's bit depth, params).
    """
    if kind in FLIPS:
        pixels = np.ascontiguousarray(np.flip(hm.to_uint(), FLIPS[kind]))
        return pixels, {"augment": "flip", "flip": kind}

    import albumentations as A  # imports torch: only load it when variants are made

    if kind == DROPOUT:
        aug_seed = int(rng.integers(0, 2**31 - 1))
        tf = A.Compose(
            [A.PixelDropout(dropout_prob=DROPOUT_PROB, drop_value=0, p=1.0)], seed=aug_seed
        )
        out = tf(image=hm.height)["image"]
        params: dict[str, Any] = {
            "augment": "pixel_dropout",
            "dropout_prob": DROPOUT_PROB,
            "albumentations_seed": aug_seed,
        }
    elif kind == BRIGHTNESS:
        brightness = round(float(rng.uniform(-BRIGHTNESS_LIMIT, BRIGHTNESS_LIMIT)), 4)
        contrast = round(float(rng.uniform(-CONTRAST_LIMIT, CONTRAST_LIMIT)), 4)
        tf = A.Compose(
            [
                A.RandomBrightnessContrast(
                    brightness_limit=(brightness, brightness),
                    contrast_limit=(contrast, contrast),
                    brightness_by_max=True,
                    p=1.0,
                )
            ],
            seed=0,
        )  # fixed values: the seed draws nothing
        out = tf(image=hm.height)["image"]
        params = {"augment": "brightness_contrast", "brightness": brightness, "contrast": contrast}
    else:
        raise ValueError(f"unknown augmentation {kind!r}; allowed: {', '.join(AUGMENTS)}")
    pixels = _keep_validity(out, hm, dropped=(out == 0) & hm.valid if kind == DROPOUT else None)
    if kind == DROPOUT:
        params["dropped_pixels"] = int(np.count_nonzero(hm.valid & (pixels == 0)))
    return pixels, params


def variant_mask(mask: np.ndarray, kind: str) -> np.ndarray:
    """The defect mask of a ``kind`` variant, from its base's: transformed as the image is.

    Mirror images mirror the mask along the same axes; ``dropout`` and ``brightness`` move
    no pixel, so the mask is the base's (a dropout may zero a few defect pixels, but they
    are still the pixels the defect changed).

    Raises:
        ValueError: ``kind`` is not a label-preserving variant kind.
    """
    if kind in FLIPS:
        return np.ascontiguousarray(np.flip(mask, FLIPS[kind]))
    if kind in (DROPOUT, BRIGHTNESS):
        return mask
    raise ValueError(f"unknown augmentation {kind!r}; allowed: {', '.join(AUGMENTS)}")


def variant_measures(measures: dict[str, float], params: dict) -> dict[str, float]:
    """A variant's measures from its base's (the manifest's ``measures``).

    Mirror images and dropouts keep every size. A brightness/contrast variant is
    ``h * (1 + contrast) + brightness`` in [0, 1] units with its base's calibration
    sidecar, so every height *difference* on it is ``1 + contrast`` times its base's: a
    vertical size in mm (``height_mm``, ``depth_mm``: the norm's :data:`HEIGHT_QUANTITIES`)
    is scaled by that; sizes across the image (diameter, length, offset, in mm or px) are
    not. Relative heights (``*_rel``) never reach the manifest (only norm-judged draws
    write measures, and a height is judged in mm only), so they are left as they are.
    The verdict is kept: an accepted draw lies at most at ``limit * (1 - guard)``, and
    ``1 +`` :data:`CONTRAST_LIMIT` keeps it under the limit for a guard band over 7.4 %
    (the shipped norms' is 15 %; a recipe's smaller ``guard`` is not checked here).
    """
    if params.get("augment") != "brightness_contrast":
        return dict(measures)
    scale = 1.0 + float(params.get("contrast", 0.0))
    return {
        key: round(value * scale, 6) if _is_height_mm(key) else value
        for key, value in measures.items()
    }


HEIGHT_QUANTITIES = ("height", "depth")
"""Norm rule quantities measured vertically (a measure key is ``<quantity>_<unit>``)."""


def _is_height_mm(key: str) -> bool:
    quantity, _, unit = key.rpartition("_")
    return unit == "mm" and quantity in HEIGHT_QUANTITIES


def plate_only(hm: HeightMap, rng: np.random.Generator) -> tuple[np.ndarray, dict] | None:
    """A "bad" extra: the plates of a good weld with the bead removed.

    Bead pixels take the plane of the nearest plate plus noise as rough as that plate's own
    surface, so the image looks like plates that were never welded. Without plates beside
    the bead (topology 3: bead only), the bead becomes no data instead.

    Returns:
        (pixels, params), or None when no bead is found or too little would be left.
    """
    try:
        geom = locate(hm.height)
    except NotImplementedError:  # geometry.locate not available in this build
        return None
    if not geom.found or not geom.bead_mask.any():
        return None
    # a margin takes the bead's flanks too (and a last column the bead mask may miss)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BEAD_MARGIN + 1,) * 2)
    bead = cv2.dilate(geom.bead_mask.astype(np.uint8), kernel).astype(bool) & hm.valid
    out = hm.height.astype(np.float64).copy()
    labels = geom.plate_labels
    planes = {p.side: p.plane for p in geom.plates}
    if planes:
        _, (iy, ix) = ndimage.distance_transform_edt(
            ~np.isin(labels, list(planes)), return_indices=True
        )
        nearest = labels[iy, ix]
        yy, xx = np.nonzero(bead)
        fill = np.zeros(len(yy))
        noise = 0.0
        for side, (a, b, c) in planes.items():
            sel = nearest[yy, xx] == side
            fill[sel] = a * xx[sel] + b * yy[sel] + c
            noise = max(noise, _plate_roughness(hm, labels == side, (a, b, c)))
        fill += rng.normal(0.0, noise, len(fill)) if noise > 0 else 0.0
        out[yy, xx] = fill
        params: dict[str, Any] = {
            "extra": PLATE_ONLY,
            "fill": "plate_plane",
            "noise_std": round(noise, 6),
        }
    else:
        out[bead] = 0.0
        params = {"extra": PLATE_ONLY, "fill": "nodata"}
    params["bead_pixels"] = int(bead.sum())
    pixels = _keep_validity(out, hm, dropped=bead if not planes else None)
    if np.count_nonzero(pixels) < MIN_PLATE_ONLY_VALID * pixels.size:
        return None
    return pixels, params


def solid(hm: HeightMap, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A "bad" extra: one grey level everywhere, same size and bit depth as ``hm``."""
    value = round(float(rng.uniform(*SOLID_RANGE)), 4)
    pixels = to_uint(np.full(hm.shape, value, np.float32), hm.bit_depth)
    return pixels, {"extra": SOLID, "value": value}


def _plate_roughness(hm: HeightMap, mask: np.ndarray, plane: tuple[float, float, float]) -> float:
    """Standard deviation of a plate's measured pixels around its fitted plane."""
    sel = mask & hm.valid
    if sel.sum() < 10:
        return 0.0
    yy, xx = np.nonzero(sel)
    a, b, c = plane
    resid = hm.height[yy, xx] - (a * xx + b * yy + c)
    return float(np.std(resid))


def _keep_validity(out: np.ndarray, hm: HeightMap, dropped: np.ndarray | None) -> np.ndarray:
    """Pixels of ``hm``'s bit depth: no-data stays 0, measured stays > 0 unless ``dropped``."""
    top = 255 if hm.bit_depth == 8 else 65535
    pixels = to_uint(np.asarray(out, np.float64), hm.bit_depth).astype(np.int64)
    pixels = np.clip(pixels, 1, top)
    pixels[~hm.valid] = 0
    if dropped is not None:
        pixels[dropped] = 0
    return pixels.astype(np.uint8 if hm.bit_depth == 8 else np.uint16)
