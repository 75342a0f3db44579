"""The one input scanner of generate and predict: *.png in any case, dangling symlinks and
other skipped files always listed with a reason; predict over a folder lists them too."""

from __future__ import annotations

import csv
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.inputs import scan_folder, scan_paths


def _weld(path: Path, value: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((40, 60), 30, np.uint8)
    img[15:25, :] = value
    cv2.imwrite(str(path.with_suffix(".png")), img)
    if path.suffix != ".png":
        path.with_suffix(".png").rename(path)


def _tree(root: Path) -> None:
    _weld(root / "a.png")
    _weld(root / "B.PNG")
    _weld(root / "sub" / "c.Png")
    _weld(root / "_skip" / "d.png")
    (root / "a.json").write_text("{}")  # sidecar of a.png
    (root / "notes.txt").write_text("x")
    (root / ".hidden.png").write_bytes(b"x")
    os.symlink(root / "gone.png", root / "dangling.png")


def test_scan_accepts_any_case_and_lists_what_it_skips(tmp_path: Path) -> None:
    _tree(tmp_path)
    flat = scan_folder(tmp_path)
    assert [p.name for p in flat.files] == ["B.PNG", "a.png"]
    assert {(p.name, why.split(" (")[0]) for p, why in flat.skipped} == {
        ("dangling.png", "dangling symlink"),
        ("notes.txt", "not a PNG file"),
    }
    deep = scan_paths([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in deep.files] == [
        "B.PNG",
        "a.png",
        "sub/c.Png",
    ]
    assert len(deep.skipped) == 2


def _bomb(path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def test_predict_over_a_folder_reads_upper_case_and_lists_skipped(tmp_path: Path) -> None:
    from weldsynth.train.checkpoint import save_checkpoint
    from weldsynth.train.model import build_model

    meta = {
        "arch": "resnet18",
        "classes": ["bad", "good"],
        "in_channels": 1,
        "input_size": [32, 32],
        "mean": 0.1,
        "std": 0.2,
    }
    save_checkpoint(tmp_path / "model.pt", build_model("resnet18", 2), meta)
    scans = tmp_path / "scans"
    _tree(scans)
    _bomb(scans / "bomb.png")
    out = tmp_path / "p.csv"
    res = CliRunner().invoke(
        cli, ["predict", str(tmp_path / "model.pt"), str(scans), "--csv", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    with out.open() as fh:
        rows = {Path(r["file"]).name: r for r in csv.DictReader(fh)}
    assert rows["B.PNG"]["label"] and rows["c.Png"]["label"] and rows["a.png"]["label"]
    assert rows["dangling.png"]["error"].startswith("dangling symlink")
    assert rows["notes.txt"]["error"] == "not a PNG file"
    assert "400000000 pixels" in rows["bomb.png"]["error"]
    text = " ".join(res.output.split())
    assert "dangling.png" in text and "notes.txt" in text and "bomb.png" in text
