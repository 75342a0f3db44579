"""The counts chart of ``weldsynth info --plot``: stacked bars, one per topology.

The legend stands to the right of the axes, so it never covers a bar; the figure grows
with the number of topologies and the length of the class names.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.dataset.inventory import Inventory


def plot_counts(inv: Inventory, out: Path) -> Path:
    """Save a stacked bar chart of ``inv``'s counts (one bar per topology, one colour per
    class) as a PNG, atomically.

    Args:
        inv: The counts (:func:`~weldsynth.dataset.inventory.scan` or a manifest's).
        out: The PNG file.

    Returns:
        ``out``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    topos = inv.topologies
    x = np.arange(len(topos))
    longest = max((len(c) for c in inv.classes), default=4)
    width = max(4.0, 0.6 * len(topos) + 2.4) + 0.07 * longest
    fig, ax = plt.subplots(figsize=(width, 3.2), dpi=120, layout="constrained")
    bottom = np.zeros(len(topos))
    for cls in inv.classes:
        vals = np.array([inv.count(t, cls) for t in topos], float)
        ax.bar(x, vals, bottom=bottom, label=cls)
        bottom += vals
    ax.set_xticks(x, topos)
    if max((len(t) for t in topos), default=0) * len(topos) > 6 * width:
        ax.tick_params(axis="x", labelrotation=45)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("topology")
    ax.set_ylabel("height maps")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())
