"""Regenerate the shipped samples, their thumbnails and their README.md exactly.

The samples live in ``weldsynth/data/samples`` (a checkout's ``samples/`` links there).

Run from anywhere::

    python tools/make_samples.py

Four good welds per topology from :mod:`weldsynth.synth.samples` with ``SEED``: indices 0-2 as
16-bit PNGs and index 3 as an 8-bit PNG (so both depths are shipped), each with its JSON truth
sidecar. The same as::

    weldsynth samples --all -n 3 --out samples --seed 7 --bit-depth 16
    weldsynth samples --all -n 1 --start 3 --out samples --seed 7 --bit-depth 8

One thumbnail per topology (index 0, contrast-stretched, half size) goes to ``docs/thumbs/``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.topology import get_topology, topology_ids
from weldsynth.io.heightmap import write_heightmap
from weldsynth.synth.samples import read_sample, sample_name, write_samples

SEED = 7
ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "weldsynth" / "data" / "samples"
THUMBS = ROOT / "docs" / "thumbs"
COMMANDS = (
    "weldsynth samples --all -n 3 --out samples --seed 7 --bit-depth 16",
    "weldsynth samples --all -n 1 --start 3 --out samples --seed 7 --bit-depth 8",
)


def thumbnail(height: np.ndarray) -> np.ndarray:
    """8-bit half-size preview: data stretched to 40..255 (low to high), no data black."""
    valid = height > 0
    lo = float(np.percentile(height[valid], 1)) if valid.any() else 0.0
    hi = float(height.max())
    img = np.where(valid, 40 + 215 * np.clip((height - lo) / max(hi - lo, 1e-6), 0, 1), 0)
    small = cv2.resize(
        img.astype(np.float32),
        (height.shape[1] // 2, height.shape[0] // 2),
        interpolation=cv2.INTER_AREA,
    )
    return np.rint(small).astype(np.uint8)


def readme(topos: list[int]) -> str:
    """samples/README.md: what the set is, one thumbnail per topology, how it was made."""
    rows = ["| topology | name | shape | description | thumbnail |", "|---:|---|---|---|---|"]
    for t in topos:
        spec = get_topology(t)
        rows.append(
            f"| {t} | {spec.name} | {spec.shape_kind} | {spec.description} "
            f"| ![topology {t}](../../../docs/thumbs/{t}.png) |"
        )
    cmds = "\n".join(COMMANDS)
    return f"""# Shipped samples

Procedural **good** weld height maps (no real plant data), four per topology, made by
`weldsynth.synth.samples` with seed {SEED}: `<topology>/<topology>_0000..0002.png` are 16-bit,
`<topology>_0003.png` is 8-bit. Each PNG is a 352x128 grayscale height map (white = high,
0 = no data) with a `.json` truth sidecar next to it: the bead path (centreline vertices
every ~4 px with the full bead width at each, closed for square welds), `axis_angle`,
`corners`, the visible plates (`side`, `kind`, `height`, `plane`) and every generator knob.

{chr(10).join(rows)}

Thumbnails are contrast-stretched for viewing; the PNGs hold the real heights.

## Regenerate

```
python tools/make_samples.py
```

which is the same as

```
{cmds}
```

plus the thumbnails in `docs/thumbs/` and this file. The same seed gives byte-identical files.
"""


def main() -> None:
    """Write the set, the thumbnails and the README."""
    topos = list(topology_ids())
    write_samples(HERE, topos, 3, SEED, bit_depth=16)
    write_samples(HERE, topos, 1, SEED, bit_depth=8, start=3)
    for t in topos:
        weld = read_sample(HERE / str(t) / f"{sample_name(t, 0)}.png")
        write_heightmap(THUMBS / f"{t}.png", thumbnail(weld.height))
    atomic_write_bytes(HERE / "README.md", readme(topos).encode("utf-8"))


if __name__ == "__main__":
    main()
