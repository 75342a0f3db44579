"""Evidence from the defect masks: where the fold models see a defect against where one
was drawn.

A generated data set knows, for every drawn defect, the pixels it changed (``_masks/``).
The audit compares each sample's *defect map* (where its out-of-fold model sees a defect,
:func:`defect_maps`) with the sample's own mask; the *lift* is the share of the map's
energy inside the dilated mask over the share an evenly spread map would put there:

* a **good** sample with a confident defect map (out-of-fold ``p(bad)`` of at least
  :data:`CONFIDENT_P`) on its own mask (lift of at least :data:`MIN_LIFT`): the models
  point at the very imperfection that was drawn and call it a defect, which is how a bad
  weld labelled good looks. A *mask suspect* (``effect`` "suspect"): flagged (dropped,
  unless the models already suggest a relabel) and reviewed first (96 of 100 such samples
  were mislabelled in ``bench/audit.py``'s runs). Not for an acceptable variant: its mask
  marks an imperfection the norm accepts, so a confident map on it is the models' error
  (since ``balance`` gives mirrored variants their masks, such false suspects appeared;
  without them every mask suspect of the 5 % and 10 % runs was a label error);
* a **bad** sample the fold models doubt (``p(bad)`` below :data:`DOUBT_P`) whose defect
  map misses its own mask: whatever the models call a defect there is not what was drawn,
  which is how a good weld labelled bad looks — or how a defect the models miss looks
  (5 of 54 were mislabelled there), so the reason is written out
  (``effect`` "doubt") but the sample keeps its place;
* a **bad** sample the fold models doubt whose defect map *lies on* its own mask: the
  models see the drawn defect, so their "good" is their error (2 of 92 such samples
  were mislabelled there): the suggestion becomes keep, with that reason
  (``effect`` "supports") — unless what was drawn there is an imperfection the norm
  accepts (an acceptable variant labelled bad): the map on it says nothing for "bad", so
  the sample keeps its place by loss (in the first ``bench/audit.py`` run at 10 % uniform
  flips with fold models trained with the mask loss, 14 of 27 "supports" were such
  acceptable variants, all mislabelled).

The reason is appended to ``suspects.csv``'s ``why`` (and so shown in ``report.html``).
Samples without a mask (original welds, plain ImageFolders) get no mask evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from weldsynth.audit.gradcam import cam_in_mask, cam_to_map, read_mask
from weldsynth.core.errors import WeldsynthError
from weldsynth.io.manifest import safe_join
from weldsynth.train.heatmap import defect_maps as heat_maps

MIN_LIFT = 1.5
"""A defect map with less than this multiple of an even map's energy inside the dilated
mask misses the mask (the shortcut threshold of ``cam_in_mask.csv``)."""
CONFIDENT_P = 0.5
"""Out-of-fold probability of "bad" from which a good sample's defect map is confident."""
DOUBT_P = 0.5
"""A bad sample's missed mask counts when its out-of-fold ``p(bad)`` is below this."""
MAP_STRIDE = 4
"""The audit keeps defect maps at this fraction of the input size (they are smooth)."""


def defect_maps(fitted: Any, images: Any, targets: np.ndarray) -> np.ndarray:
    """Where a fold model sees a defect in each image: (N, h, w) float32 in [0, 1], at a
    :data:`MAP_STRIDE`-th of the input size (the maps of a whole data set stay small).

    The audit's one call of :func:`weldsynth.train.heatmap.defect_maps`: the mask head's
    map for fold models trained with ``--mask-loss``, else the Grad-CAM of ``targets``.

    Args:
        fitted: A :class:`~weldsynth.audit.learner.Fitted` fold model.
        images: uint16 (N, H, W) letterboxed cache rows (array or view).
        targets: Class index explained per image (Grad-CAM).
    """
    maps = heat_maps(fitted.model, images, fitted.mean, fitted.std, targets=targets)
    n, h, w = maps.shape
    small = (max(1, w // MAP_STRIDE), max(1, h // MAP_STRIDE))
    out = np.empty((n, small[1], small[0]), np.float32)
    for k in range(n):
        out[k] = cv2.resize(maps[k], small, interpolation=cv2.INTER_AREA)
    return out


@dataclass(frozen=True)
class MaskEvidence:
    """What a sample's mask says about its label.

    Attributes:
        effect: "" (nothing to say), "suspect" (the mask speaks against the label),
            "doubt" (the map misses the mask of a doubted bad sample) or "supports" (the
            map lies on the mask of a doubted bad sample).
        reason: The reason written out ("" without an effect).
        in_mask: Share of the map's energy inside the dilated mask (NaN: no map or mask).
        share: The dilated mask's share of the map's area.
    """

    effect: str = ""
    reason: str = ""
    in_mask: float = math.nan
    share: float = math.nan

    @property
    def suspect(self) -> bool:
        """The mask speaks against the label (reviewed first)."""
        return self.effect == "suspect"

    @property
    def lift(self) -> float:
        """``in_mask / share``: 1 for an evenly spread map (NaN when unknown)."""
        if math.isnan(self.in_mask) or not self.share > 0:
            return math.nan
        return self.in_mask / self.share


def mask_evidence(
    given_bad: bool,
    p_bad: float,
    cam_map: np.ndarray | None,
    mask: np.ndarray | None,
    drawn_acceptable: bool = False,
) -> MaskEvidence:
    """The mask evidence of one sample (see the module docstring).

    Args:
        given_bad: The sample is labelled as a defect.
        p_bad: Its out-of-fold probability of being bad (all bad classes together).
        cam_map: Its defect map at the mask's shape (None: none computed).
        mask: Its defect mask (non-zero = drawn defect), or None when it has none.
        drawn_acceptable: What its mask marks was drawn as an imperfection the norm
            accepts (an acceptable variant): a map on it neither supports a "bad" label
            nor makes a "good" one suspect.
    """
    if cam_map is None or mask is None or not np.any(np.asarray(mask) > 0):
        return MaskEvidence()
    in_mask, share = cam_in_mask(cam_map, mask)
    ev = MaskEvidence(in_mask=in_mask, share=share)
    lift = ev.lift
    on_mask = lift >= MIN_LIFT  # False for NaN (no map, or one without energy)
    inside = f"{100 * in_mask:.0f}% of it inside" if not math.isnan(in_mask) else "no map"
    lifted = f"×{lift:.1f} an even map" if not math.isnan(lift) else "×0"
    if given_bad and p_bad < DOUBT_P:
        if on_mask and drawn_acceptable:
            return ev  # the models see the drawn imperfection, which the norm accepts
        if on_mask:
            why = (
                f"mask evidence supports the label: the defect map lies on its own defect "
                f"mask ({inside}, {lifted}), so the models see the drawn defect and their "
                f"p(bad)={p_bad:.2f} is their error, not a label error"
            )
            return replace(ev, effect="supports", reason=why)
        why = (
            f"mask evidence: labelled bad, but the defect map misses its own defect mask "
            f"({inside}, {lifted}) and p(bad)={p_bad:.2f}: nothing the models call a defect "
            "was drawn here (or they miss the drawn one)"
        )
        return replace(ev, effect="doubt", reason=why)
    if not given_bad and p_bad >= CONFIDENT_P and on_mask and not drawn_acceptable:
        why = (
            f"mask evidence: labelled good, but the defect map is confident "
            f"(p(bad)={p_bad:.2f}) and lies on its own mask ({inside}, {lifted}): the "
            "drawn imperfection looks like a defect"
        )
        return replace(ev, effect="suspect", reason=why)
    return ev


def with_evidence(suggestions: Sequence[Any], evidence: dict[int, MaskEvidence]) -> list[Any]:
    """The suggestions (:class:`~weldsynth.audit.suspects.Suggestion`) with the mask
    evidence: its reason appended to ``why``; a mask suspect marked ``mask_suspect``
    (reviewed first) and, unless already relabelled or dropped, dropped (flagged); a
    doubted bad sample the mask supports kept (``excused``)."""
    out = list(suggestions)
    for k, ev in evidence.items():
        sug = out[k]
        if ev.effect == "supports" and not sug.agrees:
            out[k] = replace(sug, action="keep", why=f"{ev.reason}; {sug.why}", excused=True)
        elif ev.suspect and sug.action == "keep":
            why = f"{sug.why}; {ev.reason}: drop it from training until reviewed"
            out[k] = replace(sug, action="drop", why=why, excused=False, mask_suspect=True)
        elif ev.effect:
            out[k] = replace(sug, why=f"{sug.why}; {ev.reason}", mask_suspect=ev.suspect)
    return out


def sample_evidence(
    oof: Any,
    samples: Sequence[Any],
    given: np.ndarray,
    classes: Sequence[str],
    data: Path,
    size: tuple[int, int],
) -> dict[int, MaskEvidence]:
    """Mask evidence of every sample with a readable mask file.

    Args:
        oof: The out-of-fold predictions (:class:`~weldsynth.audit.oof.OOF`: ``cams``, the
            defect maps in the input frame, None for no evidence; ``mean`` probabilities).
        samples: The audited samples (``mask``: its path relative to ``data``, "" for
            none; a :class:`~weldsynth.audit.suspects.Sample`).
        given: Given class index per sample.
        classes: Class names (model order); without a "good" class, only ``in_mask`` and
            ``share`` are measured.
        data: The data-set root.
        size: The models' input size (the maps' frame).

    Returns:
        Sample index -> evidence (``in_mask``/``share`` also for samples that are no suspect;
        a mask that cannot be read gives no entry).
    """
    cams = oof.cams
    good = list(classes).index("good") if "good" in classes else None
    p_good = None if good is None or cams is None else oof.mean[:, good]
    out: dict[int, MaskEvidence] = {}
    if cams is None:
        return out
    for k, smp in enumerate(samples):
        rel = smp.mask
        if not rel:
            continue
        try:
            mask = read_mask(safe_join(data, rel))
        except WeldsynthError:
            mask = None
        if mask is None:
            continue
        cam_map = cam_to_map(cams[k], size, mask.shape[:2])
        if good is None or p_good is None:
            in_mask, share = cam_in_mask(cam_map, mask)
            out[k] = MaskEvidence(in_mask=in_mask, share=share)
            continue
        given_bad, p_bad = int(given[k]) != good, 1.0 - float(p_good[k])
        ev = mask_evidence(given_bad, p_bad, cam_map, mask, _drawn_acceptable(smp))
        if math.isnan(ev.share):  # an empty mask: as cam_in_mask.csv has always counted it
            in_mask, share = cam_in_mask(cam_map, mask)
            ev = replace(ev, in_mask=in_mask, share=share)
        out[k] = ev
    return out


def _drawn_acceptable(smp: Any) -> bool:
    """The sample's mask marks an imperfection drawn as acceptable (its norm verdict, else
    an acceptable variant's defect name)."""
    from weldsynth.synth.defects.rule import ACCEPTABLE_PREFIX

    if getattr(smp, "verdict", "") in ("accept", "reject"):
        return smp.verdict == "accept"
    return str(getattr(smp, "defect", "") or "").startswith(ACCEPTABLE_PREFIX)
