"""Class balancing of a data set through its manifest (seed 001, section 6.5).

Per topology, reach a requested good:bad ratio among the rows in use:

* **oversample** — add label-preserving variants of good images (:mod:`weldsynth.dataset.augment`:
  mirror images by default, which carry nothing the bad class lacks once the trainer mirrors
  every class; the seed's dropout and brightness variants on request)
  as new files next to their base image (an original, or an acceptable cut), with new
  manifest rows: the base's defect ("" for an original), params naming the augmentation,
  its values and the base, the row seed, and the base's ``source`` and ``split`` so groups
  stay whole; a base with a defect mask (an acceptable cut) gives its variant a mask
  transformed like the image (mirrored with a mirror image) beside the base's, and a
  brightness variant's vertical measures in mm scaled by its contrast;
* **undersample** — select rows of the majority class to leave out by setting
  ``status="excluded:undersample"``; nothing is deleted or moved, and the selection is
  recomputed from scratch each run (so a new ratio can bring rows back);
* **both** — oversample with at most ``max_variants`` variants per good image, then
  undersample what is still in excess;
* **extras** — optionally first add "bad" extras (plate only with the bead removed, solid
  images), ``extras`` per topology in total.

Planning reads only the manifest (and, for plate-only extras, the base images) and checks
everything before a single file is written. Every draw is seeded by
:func:`weldsynth.core.seeding.derive_seed` of ``(seed, new_row_path, k)``, so the output
depends on neither order nor worker count; rerunning on a balanced set does nothing.

Modules: :mod:`~.types` (plan types, option parsing, item seeds), :mod:`~.plan` (what to do),
:mod:`~.items` (which files to add), :mod:`~.apply` (doing it), :mod:`~.masks` (the
variants' masks and measures).
"""

from weldsynth.dataset.balance.apply import apply_plan, balance
from weldsynth.dataset.balance.plan import plan_balance
from weldsynth.dataset.balance.types import (
    DEFAULT_MAX_VARIANTS,
    EXCLUDED,
    METHODS,
    BalanceError,
    BalancePlan,
    NewItem,
    TopologyPlan,
    item_seed,
    parse_ratio,
    parse_variant_kinds,
)

__all__ = [
    "DEFAULT_MAX_VARIANTS",
    "EXCLUDED",
    "METHODS",
    "BalanceError",
    "BalancePlan",
    "NewItem",
    "TopologyPlan",
    "apply_plan",
    "balance",
    "item_seed",
    "parse_ratio",
    "parse_variant_kinds",
    "plan_balance",
]
