"""Real scans in: point clouds and height images to calibrated weldsynth height maps.

A plant's scanner writes point clouds (PCD, PLY, XYZ/CSV text), profile or height arrays
(NPY/NPZ, TIFF) in millimetres, in the robot's frame, tilted, with missing points and
outliers. :func:`~weldsynth.io.scan.pipeline.import_file` turns one such file into a 16-bit
(or 8-bit) height map with its :class:`~weldsynth.io.calibration.Calibration`:

1. read the points (:mod:`~weldsynth.io.scan.readers`; NaN rows are dropped and counted);
2. fit the plate plane robustly and express heights above it (:mod:`~.plane`);
3. find the bead direction and rotate so the bead runs along x (:mod:`~.align`);
4. rasterise on a square grid, one value per cell (the **highest** point: the surface the
   scanner saw from above), reject isolated spikes, fill gaps up to ``fill_gaps_mm`` from
   measured neighbours, never across a wider gap (:mod:`~.raster`);
5. quantise to grey levels (1..max; 0 = no data) over the height range.

The maths are pure functions (arrays in, arrays out); files are read and written only in
:mod:`~.readers`, :mod:`~.writers` and :mod:`~.run`. The maintained readers (pypcd4,
plyfile, tifffile) come with the ``scan`` extra: ``pip install "weldsynth[scan]"``.
"""

from __future__ import annotations

from weldsynth.io.scan.errors import ScanError

SCAN_SUFFIXES = (".pcd", ".ply", ".xyz", ".csv", ".txt", ".npy", ".npz", ".tif", ".tiff", ".png")
"""File suffixes ``weldsynth import`` reads (case-insensitive)."""

__all__ = ["SCAN_SUFFIXES", "ScanError"]
