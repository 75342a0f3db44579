"""Package data shipped inside the wheel: the per-topology recipes and the bundled samples.

The files live in ``weldsynth/data/recipes`` and ``weldsynth/data/samples`` (a checkout's
top-level ``recipes/`` and ``samples/`` are links to them), so an installed weldsynth never
needs the repository. Found through :mod:`importlib.resources`, as every installed package
finds its data.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(name: str) -> Path:
    # weldsynth is installed as plain files (setuptools never zips it), so the traversable
    # is a real directory; Path() makes that explicit for callers that glob and open.
    return Path(str(resources.files(__name__) / name))


def recipes_dir() -> Path:
    """The folder of the shipped recipes, one ``<topology>.yaml`` each."""
    return _folder("recipes")


def samples_dir() -> Path:
    """The folder of the shipped good welds, ``<topology>/<topology>_NNNN.png`` (+ ``.json``)."""
    return _folder("samples")


def norms_dir() -> Path:
    """The folder of the shipped welding norms (``<name>.yaml``; ``weldsynth norm list``)."""
    return _folder("norms")
