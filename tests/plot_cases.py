"""Every matplotlib picture weldsynth draws, on edge-case data: the one list the picture
test is parametrised over.

Each :class:`PlotCase` names the function it draws with (``module.function``) and calls
it on awkward data: one epoch, two epochs, one class, nine topologies, long names. The
picture test finds every function in ``weldsynth/`` that makes a matplotlib figure and
fails when one has no case here, so a new plot is covered as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NINE = ["2", "3", "4", "5", "7", "8", "9", "10", "11"]
LONG = "bad-undercut_with_a_rather_long_descriptive_name"


@dataclass(frozen=True)
class PlotCase:
    """One call of one plotting function.

    Attributes:
        function: ``module.function`` drawing the figure (what the discovery finds).
        id: The test id.
        draw: Draws into the PNG file it is given.
    """

    function: str
    id: str
    draw: Callable[[Path], object]


def _counts(topologies: list[str], classes: list[str]) -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.dataset.inventory import Inventory
        from weldsynth.dataset.plots import plot_counts

        counts = {
            (t, c): 10 * (k + 1) + 3 * j
            for k, t in enumerate(topologies)
            for j, c in enumerate(classes)
        }
        return plot_counts(Inventory(Path("data"), counts), out)

    return draw


def _loss(epochs: int, title: str = "topology 7, resnet18") -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.train.fit import EpochRecord
        from weldsynth.train.reports import plot_loss

        history = [
            EpochRecord(
                e,
                "head" if e == 1 else "all",
                0.9 / e,
                0.8 / e,
                0.3 / e,
                1 - 0.3 / e,
                0.6,
                1e-3,
                2.0,
            )
            for e in range(1, epochs + 1)
        ]
        return plot_loss(out, history, title)

    return draw


def _confusion(classes: list[str]) -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.train.reports import plot_confusion

        n = len(classes)
        matrix = np.arange(n * n, dtype=np.int64).reshape(n, n) * 37 + 5
        title = f"topology 11, resnet18: val error {12.5:.2f}%"
        return plot_confusion(out, matrix, classes, title)

    return draw


def _by_defect(classes: list[str], defects: list[str]) -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.audit.plots import plot_confusion_by_defect

        rows = []
        for k, defect in enumerate(defects):
            shares = np.roll(np.linspace(1.0, 0.2, len(classes)), k)
            shares = shares / shares.sum()
            rows.append(
                {
                    "given": classes[k % len(classes)],
                    "defect": defect,
                    "n": 100 + k,
                    **{
                        f"pred_{c}": round(float(s), 4)
                        for c, s in zip(classes, shares, strict=True)
                    },
                }
            )
        return plot_confusion_by_defect(out, rows, classes, "topology 7: out-of-fold predictions")

    return draw


def _gallery(names: list[str] | None, n: int) -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.data import samples_dir
        from weldsynth.geometry import locate
        from weldsynth.io.heightmap import read_heightmap
        from weldsynth.synth.defects.gallery import Shot, render, shoot
        from weldsynth.synth.defects.registry import create_defect, list_defects
        from weldsynth.synth.defects.result import DefectResult

        hm = read_heightmap(Path(samples_dir()) / "2" / "2_0000.png")
        pixels = hm.to_uint()
        geometry = locate(hm.height)
        chosen = list_defects()[:3] if names is None else names
        shots = {name: shoot(create_defect(name), pixels, geometry, n, 5) for name in chosen}
        if names is None:  # a long, rejected draw's caption beside the others
            reason = "the bead is in shadow over the whole window of this draw, nothing to change"
            shots[LONG] = [
                Shot(LONG, i, DefectResult(LONG, True, reason, None, None, 3)) for i in (0, 1)
            ]
        out.write_bytes(render(pixels, shots, title=f"2_0000.png  seed 5  {LONG}"))
        return out

    return draw


def _norm_pair(topology: int, level: str) -> Callable[[Path], object]:
    def draw(out: Path) -> object:
        from weldsynth.data import samples_dir
        from weldsynth.geometry import locate
        from weldsynth.io.calibration import Calibration
        from weldsynth.io.heightmap import read_heightmap
        from weldsynth.synth.norm_pair import draw_pair, render_pair
        from weldsynth.synth.recipe import recipe_for_topology, recipe_from_dict

        hm = read_heightmap(sorted((samples_dir() / str(topology)).glob("*.png"))[0])
        data = recipe_for_topology(topology).model_dump()
        data["norm"] = {**data["norm"], "preset": f"iso5817-2014-{level}", "t_mm": 3}
        calibration = Calibration(0.1, 0.1, height_mm=8 / 65535)
        pair = draw_pair(hm.to_uint(), locate(hm.height), recipe_from_dict(data), calibration, 0)
        assert pair is not None
        out.write_bytes(render_pair(pair))
        return out

    return draw


CASES: list[PlotCase] = [
    PlotCase(
        "weldsynth.dataset.plots.plot_counts",
        "counts-9-topologies-1-class",
        _counts(NINE, ["good"]),
    ),
    PlotCase(
        "weldsynth.dataset.plots.plot_counts",
        "counts-9-topologies-long-classes",
        _counts(NINE, ["good", "bad", LONG]),
    ),
    PlotCase(
        "weldsynth.dataset.plots.plot_counts", "counts-1-topology", _counts(["7"], ["good", "bad"])
    ),
    PlotCase("weldsynth.train.reports.plot_loss", "loss-1-epoch", _loss(1)),
    PlotCase("weldsynth.train.reports.plot_loss", "loss-2-epochs", _loss(2)),
    PlotCase(
        "weldsynth.train.reports.plot_loss",
        "loss-40-epochs-long-title",
        _loss(40, "topology 11, efficientnet_b0 with a very long descriptive run title " * 2),
    ),
    PlotCase("weldsynth.train.reports.plot_confusion", "confusion-1-class", _confusion(["good"])),
    PlotCase(
        "weldsynth.train.reports.plot_confusion", "confusion-2-classes", _confusion(["good", "bad"])
    ),
    PlotCase(
        "weldsynth.train.reports.plot_confusion",
        "confusion-long-classes",
        _confusion(["good", "bad-hole", LONG, "bad-crack_longitudinal", "bad-porosity"]),
    ),
    PlotCase(
        "weldsynth.audit.plots.plot_confusion_by_defect",
        "by-defect-2-classes",
        _by_defect(["bad", "good"], ["hole", "(none)", "bead_deviation", "excess_material"]),
    ),
    PlotCase(
        "weldsynth.audit.plots.plot_confusion_by_defect",
        "by-defect-1-class",
        _by_defect(["good"], ["(none)"]),
    ),
    PlotCase(
        "weldsynth.audit.plots.plot_confusion_by_defect",
        "by-defect-long-names",
        _by_defect(["good", LONG, "bad-porosity"], [LONG, "(none)", "porosity", "x" * 60, *NINE]),
    ),
    PlotCase(
        "weldsynth.audit.plots.plot_confusion_by_defect",
        "by-defect-empty",
        _by_defect(["bad", "good"], []),
    ),
    PlotCase("weldsynth.synth.norm_pair.render_pair", "norm-pair-topology-3-C", _norm_pair(3, "C")),
    PlotCase("weldsynth.synth.norm_pair.render_pair", "norm-pair-topology-7-B", _norm_pair(7, "B")),
    PlotCase("weldsynth.synth.defects.gallery.render", "gallery-one-defect", _gallery(["hole"], 2)),
    PlotCase(
        "weldsynth.synth.defects.gallery.render", "gallery-several-long-names", _gallery(None, 2)
    ),
]
