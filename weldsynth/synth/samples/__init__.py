"""Procedural good welds: plausible scanner height maps of every topology, with exact truth.

The plant's real height maps cannot be shipped, so tests, benchmarks, the gallery and the
bundled ``samples/`` folder use these. Each weld comes with its **truth**: the bead path
(centreline, width at each vertex, see :mod:`weldsynth.geometry.path`), the plates and every
knob the generator drew, so ``geometry.locate`` and the defect plugins can be checked against it.

Typical use::

    rng = sample_seed(0, 7, 12)            # the only way samples are seeded
    weld = generate_weld(7, rng)           # weld.height, weld.truth
    geom = truth_geometry(weld)            # a WeldGeometry without running locate
    write_samples("good", [2, 7], n=20, seed=0)

Which topologies exist is :mod:`weldsynth.core.topology`. The modules, each importing only
those above it:

* :mod:`~weldsynth.synth.samples.knobs` — the generator's defaults per topology id
  (``GENERATOR_KNOBS``, ``TOPOLOGIES``) and the draw of one weld's knobs;
* :mod:`~weldsynth.synth.samples.render` — rendering primitives (fields, bead surface,
  shadows, masks);
* :mod:`~weldsynth.synth.samples.paths` — bead centrelines (line beads, square welds);
* :mod:`~weldsynth.synth.samples.shapes` — the full render of one weld from its knobs;
* :mod:`~weldsynth.synth.samples.weld` — seeding, ``generate_weld``, ``truth_geometry``;
* :mod:`~weldsynth.synth.samples.io` — PNG + JSON sidecar files.
"""

from __future__ import annotations

from weldsynth.synth.samples.io import read_sample, sample_name, write_samples, write_weld
from weldsynth.synth.samples.knobs import (
    GENERATOR_KNOBS,
    TOPOLOGIES,
    GeneratorKnobs,
    TopologySpec,
    topology_spec,
)
from weldsynth.synth.samples.weld import (
    DEFAULT_SHAPE,
    MIN_SHAPE,
    VERTEX_STEP,
    SyntheticWeld,
    bead_and_side,
    generate_weld,
    sample_seed,
    truth_geometry,
)

__all__ = [
    "DEFAULT_SHAPE",
    "GENERATOR_KNOBS",
    "MIN_SHAPE",
    "TOPOLOGIES",
    "VERTEX_STEP",
    "GeneratorKnobs",
    "SyntheticWeld",
    "TopologySpec",
    "bead_and_side",
    "generate_weld",
    "read_sample",
    "sample_name",
    "sample_seed",
    "topology_spec",
    "truth_geometry",
    "write_samples",
    "write_weld",
]
