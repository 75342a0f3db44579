"""evaluate's per defect x verdict breakdown, read from the manifest's verdict column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import train_fixtures as fx
from rich.console import Console

from weldsynth.cli.commands.evaluate import defect_table
from weldsynth.io.manifest import read_manifest, write_manifest
from weldsynth.train.data import Item, list_images
from weldsynth.train.evaluate import per_defect_rows

CLASSES = ["bad", "good"]


def _item(label: str, defect: str = "", verdict: str = "") -> Item:
    return Item(Path("x.png"), "x.png", label, defect, "s", "test", verdict)


def test_acceptable_pores_taken_for_bad_are_one_line() -> None:
    items = [
        _item("good", "hole", "accept"),
        _item("good", "hole", "accept"),
        _item("good", "hole", "accept"),
        _item("bad", "hole", "reject"),
        _item("good"),
    ]
    pred = np.array([0, 0, 1, 0, 1])  # two acceptable pores predicted bad
    rows = per_defect_rows(items, pred, CLASSES, by_verdict=True)
    line = next(
        r for r in rows if (r["label"], r["defect"], r["verdict"]) == ("good", "hole", "accept")
    )
    assert (line["images"], line["errors"], line["as_bad"]) == (3, 2, 2)
    assert line["error_pct"] == round(100 * 2 / 3, 2)
    assert {r["verdict"] for r in rows} == {"accept", "reject", "-"}
    plain = per_defect_rows(items, pred, CLASSES)  # as before: by label and defect only
    assert [tuple(r)[:3] for r in plain] == [("label", "defect", "images")] * 3
    text = _render(defect_table(rows, CLASSES, "per defect x verdict"))
    assert "verdict" in text and "accept" in text
    assert "verdict" not in _render(defect_table(plain, CLASSES))


def test_verdicts_are_read_from_the_manifest(tmp_path: Path) -> None:
    data = fx.manifest_set(tmp_path / "data", n_sources=6)
    rows = read_manifest(data)
    write_manifest(data, [r.with_(verdict="reject") if r.label == "bad" else r for r in rows])
    listing = list_images(data, "7")
    assert {(i.label, i.verdict) for i in listing.items} == {("bad", "reject"), ("good", "")}


def _render(table: object) -> str:
    console = Console(width=200, record=True)
    with console.capture() as cap:
        console.print(table)
    return cap.get()
