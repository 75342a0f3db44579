"""Test-suite set-up: the shared fixtures modules in ``tests/`` and the dev tools in
``tools/`` are importable from every sub-folder (tests mirror the package layout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# tests never download weights: resolve_weights sees downloads as off unless a test says so
os.environ.setdefault("WELDSYNTH_OFFLINE", "1")

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, _HERE.parent / "tools"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
