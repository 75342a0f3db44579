"""The one-line error of scan import, and the check that the ``scan`` extra is installed."""

from __future__ import annotations

import importlib
from types import ModuleType

from weldsynth.core.errors import WeldsynthError

EXTRA_HINT = 'pip install "weldsynth[scan]"'
"""What to run when a reader library is missing."""


class ScanError(WeldsynthError, ValueError):
    """A scan cannot be imported: unreadable file, degenerate cloud, grid too large..."""


def require(module: str, what: str) -> ModuleType:
    """Import an optional reader library or raise a one-line :class:`ScanError`.

    Args:
        module: Module to import (``pypcd4``, ``plyfile``, ``tifffile``).
        what: What it is needed for, e.g. ``"reading PCD files"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ScanError(f"{what} needs {module}: {EXTRA_HINT}") from exc
