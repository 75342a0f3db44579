"""Welding norms as data: rules per imperfection, limits per quality level, verdicts.

* :mod:`.expr`: limit expressions of ``t``, ``s``, ``a``, ``b``, parsed safely with ``ast``;
* :mod:`.model`: norm files (YAML), the shipped presets (``iso5817-2014-B/-C/-D``,
  ``plant``) in ``weldsynth/data/norms``;
* :mod:`.judge`: a norm bound to one map's calibration and bead: limits, guard band,
  the size interval of each verdict.

Plugins declare the imperfections they model (``Defect.imperfections``) and measure their
draws; the norm decides accept (label good), reject (bad) or guard (never drawn).
"""

from __future__ import annotations

from weldsynth.synth.norm.expr import SYMBOLS, Expression, ExpressionError, parse_expression
from weldsynth.synth.norm.judge import (
    NORM,
    PLUGIN,
    SKIP,
    Judge,
    Limit,
    NeedsCalibrationError,
    NormSettings,
)
from weldsynth.synth.norm.model import (
    NormError,
    NormFile,
    NormLevel,
    Rule,
    load_norm_file,
    load_preset,
    preset_names,
)

__all__ = [
    "NORM",
    "PLUGIN",
    "SKIP",
    "SYMBOLS",
    "Expression",
    "ExpressionError",
    "Judge",
    "Limit",
    "NeedsCalibrationError",
    "NormError",
    "NormFile",
    "NormLevel",
    "NormSettings",
    "Rule",
    "load_norm_file",
    "load_preset",
    "parse_expression",
    "preset_names",
]
