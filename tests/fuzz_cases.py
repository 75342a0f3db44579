"""The fuzz table of issue 17: hand-made bad inputs x the CLI commands that read them.

Shared by ``tests/fuzz/test_fuzz_cli.py`` (each case a test, run in a subprocess) and
``bench/fuzz.py`` (the whole table, counts to ``bench/results/fuzz.json``). A case is
handled when the command

* exits with a status of the README's table that the case allows (0 ok, 1 check failed,
  2 user error; never 3 = a bug, nor a crash),
* prints no traceback,
* names the input in its one ``error:`` line when it fails (or, for ``generate``, lists it
  in ``rejected.csv``),
* changes no file of the data set or of its inputs (sha256 before and after), and
* runs no code from the input (a pickle's ``__reduce__`` would create a marker file).

A case that fails because of an open issue-18 item carries that item in ``xfail``; H2's
fix flips it (the test is ``xfail(strict=True)``). H2 adds rows here for the issue-18 cases.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MARKER = "PWNED"
"""File a malicious input would create in the world's root if its code ran."""


@dataclass(frozen=True)
class World:
    """What the cases run against: good welds, a generated data set, a model, a recipe.

    Attributes:
        root: Holds everything (and the marker a malicious input would write).
        good: A folder of good welds (topology 7).
        data: A data set generated from them (with a symlink out of it planted).
        model: A weldsynth ``model.pt`` (an untrained weldnet: loads, predicts).
        recipe: A valid recipe for topology 7.
        outside: A file outside the data set.
    """

    root: Path
    good: Path
    data: Path
    model: Path
    recipe: Path
    outside: Path


def build_world(root: Path, n_good: int = 3) -> World:
    """Make the world in ``root`` (a few seconds: one small generate run)."""
    from weldsynth.data import recipes_dir, samples_dir

    good = root / "good" / "7"
    good.mkdir(parents=True)
    for src in sorted((samples_dir() / "7").glob("*.png"))[:n_good]:
        shutil.copy2(src, good / src.name)
    recipe = root / "7.yaml"
    shutil.copy2(recipes_dir() / "7.yaml", recipe)
    data = root / "data"
    res = weldsynth(
        [*("generate", str(good), "--recipe", str(recipe)), *("--out", str(data), "-q")],
        cwd=root,
    )
    assert res.returncode == 0, res.stderr
    outside = root / "outside.png"
    shutil.copy2(good / sorted(os.listdir(good))[0], outside)
    (data / "7" / "good" / "zz_link.png").symlink_to(outside)
    model = root / "model" / "model.pt"
    _save_model(model)
    return World(root, good, data, model, recipe, outside)


def _save_model(path: Path, arch: str = "weldnet", classes: int = 2, meta_arch: str = "") -> None:
    from weldsynth.train.checkpoint import save_checkpoint
    from weldsynth.train.models import build_model

    net = build_model(arch, classes, 1)
    meta = {
        "arch": meta_arch or arch,
        "classes": ["bad", "good"],
        "in_channels": 1,
        "input_size": [64, 176],
        "mean": 0.5,
        "std": 0.2,
        "topology": "7",
    }
    save_checkpoint(path, net, meta)


def weldsynth(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m weldsynth ARGS`` in a subprocess (no colour, no debug)."""
    env = {**os.environ, "NO_COLOR": "1", "WELDSYNTH_DEBUG": "", "COLUMNS": "200"}
    env["XDG_CACHE_HOME"] = str(cwd / ".cache")  # crash reports of a failing case land here
    return subprocess.run(
        [sys.executable, "-m", "weldsynth", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# ----------------------------------------------------------------------------- inputs


def _sample_png() -> bytes:
    from weldsynth.data import samples_dir

    return sorted((samples_dir() / "7").glob("*.png"))[0].read_bytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_header_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` 8-bit grey pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _img(mode: str, size: tuple[int, int], value: object) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / f"{mode.lower()}_{size[0]}x{size[1]}.png"
        img = Image.new(mode, size, value)  # type: ignore[arg-type]
        if mode in ("RGB", "RGBA"):
            px = np.array(img)
            px[..., 0] = np.arange(size[0], dtype=np.uint8)[None, :] % 200 + 20
            img = Image.fromarray(px, mode)
        img.save(path)
        return path

    return make


def _bytes(name: str, data: Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data())
        return path

    return make


def _corrupt() -> bytes:
    data = bytearray(_sample_png())
    start = data.index(b"IDAT") + 40
    data[start : start + 200] = bytes(range(200))
    return bytes(data)


def _renamed(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_sample_png())
        return path

    return make


def _missing(folder: Path) -> Path:
    return folder / "missing.png"


def _folder(folder: Path) -> Path:
    (folder / "folder.png").mkdir()
    return folder / "folder.png"


def _all_zero(folder: Path) -> Path:
    path = folder / "zero.png"
    Image.fromarray(np.zeros((64, 96), np.uint16)).save(path)
    return path


def _grey_alpha16(folder: Path) -> Path:
    path = folder / "la16.png"
    raw = b"".join(
        b"\x00" + b"".join(struct.pack(">HH", 1000 + 300 * x + 50 * y, 65535) for x in range(96))
        for y in range(64)
    )
    ihdr = struct.pack(">IIBBBBB", 96, 64, 16, 4, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )
    return path


IMAGES: dict[str, Callable[[Path], Path]] = {
    "missing": _missing,
    "dir": _folder,
    "empty": _bytes("empty.png", lambda: b""),
    "truncated": _bytes("truncated.png", lambda: _sample_png()[: len(_sample_png()) // 2]),
    "corrupt": _bytes("corrupt.png", _corrupt),
    "text": _bytes("text.png", lambda: b"not a png at all\n"),
    "colour": _img("RGB", (96, 64), (10, 20, 30)),
    "rgba": _img("RGBA", (96, 64), (10, 20, 30, 255)),
    "palette": _img("P", (96, 64), 3),
    "1x1": _img("L", (1, 1), 128),
    "huge-header": _bytes("huge.png", huge_header_png),
    "all-zero": _all_zero,
    "grey-alpha-16": _grey_alpha16,
}
"""Bad height maps: name -> maker(folder) -> path."""

NAMES: dict[str, Callable[[Path], Path]] = {
    "space": _renamed("with space.png"),
    "unicode": _renamed("ünïcødé-溶接.png"),
    "dash": _renamed("-dash.png"),
    "dotdot": _renamed("sub/../dots..png"),
}
"""Good maps with awkward names (they must work, or fail in one line)."""


# recipes
RECIPES: dict[str, Callable[[Path], Path]] = {
    "binary": _bytes("binary.yaml", lambda: bytes(range(256)) * 4),
    "python-tag": _bytes(
        "tag.yaml",
        lambda: (
            f"topology: 7\ndefects: !!python/object/apply:os.system ['touch {MARKER}']\n".encode()
        ),
    ),
    "wrong-types": _bytes("types.yaml", lambda: b"topology: seven\ndefects: [1, 2]\nseed: x\n"),
    "aliases": _bytes(
        "alias.yaml",
        lambda: (
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"topology: 7\ndefects: {hole: {weight: 1, params: {bomb: *d}}}\n"
        ),
    ),
    "unknown-key": _bytes("unknown.yaml", lambda: b"topology: 7\ndefects: {hole: {}}\nfoo: 1\n"),
    "empty": _bytes("empty.yaml", lambda: b""),
    "huge-variants": _bytes(
        "variants.yaml", lambda: b"topology: 7\nvariants: 1000000000\ndefects: {hole: {}}\n"
    ),
}
"""Bad recipes."""


# decisions CSVs (need the world's data set)
def _decisions(
    name: str, rows: Callable[[World], list[str]], prefix: bytes = b"", newline: str = "\n"
) -> Callable[[World, Path], Path]:
    def make(world: World, folder: Path) -> Path:
        path = folder / f"{name}.csv"
        text = newline.join(["path,decision,to,sha256", *rows(world)]) + newline
        path.write_bytes(prefix + text.encode("utf-8"))
        return path

    return make


def _row(world: World, k: int = 0) -> tuple[str, str]:
    from weldsynth.io.manifest import read_manifest

    rec = [r for r in read_manifest(world.data) if r.label == "bad"][k]
    return rec.path, rec.sha256


DECISIONS: dict[str, Callable[[World, Path], Path]] = {
    "outside": _decisions("outside", lambda w: [f"../outside.png,drop,,{'0' * 64}"]),
    "dotdot": _decisions("dotdot", lambda w: [f"7/good/../../outside.png,drop,,{'0' * 64}"]),
    "absolute": _decisions("absolute", lambda w: [f"{w.outside},drop,,{'0' * 64}"]),
    "manifest": _decisions("manifest", lambda w: [f"manifest.csv,drop,,{'0' * 64}"]),
    "symlink": _decisions("symlink", lambda w: [f"7/good/zz_link.png,drop,,{'0' * 64}"]),
    "wrong-sha": _decisions("sha", lambda w: [f"{_row(w)[0]},move,good,{'0' * 64}"]),
    "duplicate": _decisions(
        "dup", lambda w: [f"{_row(w)[0]},drop,,{_row(w)[1]}", f"{_row(w)[0]},keep,,{_row(w)[1]}"]
    ),
    "bom-crlf-unknown": _decisions(
        "bom",
        lambda w: [f"{_row(w)[0]},burn,,{_row(w)[1]}"],
        prefix=b"\xef\xbb\xbf",
        newline="\r\n",
    ),
    "unknown-decision": _decisions("unknown", lambda w: [f"{_row(w)[0]},delete,,{_row(w)[1]}"]),
    "binary": lambda w, folder: _bytes("binary.csv", lambda: bytes(range(256)) * 8)(folder),
}
"""Bad decisions CSVs for ``relabel apply`` (all refused: nothing applied)."""


class _Evil:
    """Unpickling this runs ``touch PWNED`` (it must never be unpickled)."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {MARKER}",))


def _evil_pickle(folder: Path) -> Path:
    path = folder / "evil.pt"
    path.write_bytes(pickle.dumps({"meta": {}, "state_dict": _Evil()}))
    return path


def _evil_torch(folder: Path) -> Path:
    import torch

    path = folder / "evil-zip.pt"
    torch.save({"meta": {"arch": "weldnet"}, "state_dict": _Evil()}, path)
    return path


def _model_variant(**kwargs: object) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / f"model-{'-'.join(map(str, kwargs.values()))}.pt"
        _save_model(path, **kwargs)  # type: ignore[arg-type]
        return path

    return make


def _truncated_model(folder: Path) -> Path:
    full = folder / "full.pt"
    _save_model(full)
    path = folder / "truncated.pt"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    return path


CHECKPOINTS: dict[str, Callable[[Path], Path]] = {
    "random": _bytes("random.pt", lambda: np.random.default_rng(0).bytes(4096)),
    "evil-pickle": _evil_pickle,
    "evil-torch": _evil_torch,
    "wrong-arch": _model_variant(meta_arch="resnet18"),
    "wrong-classes": _model_variant(classes=3),
    "truncated": _truncated_model,
}
"""Bad checkpoints."""


# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One bad input given to one command.

    Attributes:
        id: ``command:input``.
        make: Writes the input into a folder (given the world); returns its path.
        argv: The command line for (world, input, a fresh output folder).
        codes: Exit statuses that handle it.
        fast: In the fast suite (else ``slow``).
        xfail: The issue-18 item that makes it fail today, or "".
        rejected: The input must be listed in OUT/rejected.csv (generate) instead of an
            error line.
    """

    id: str
    make: Callable[[World, Path], Path]
    argv: Callable[[World, Path, Path], list[str]]
    codes: frozenset[int] = frozenset({2})
    fast: bool = False
    xfail: str = ""
    rejected: bool = False
    names: Callable[[Path], tuple[str, ...]] = field(default=lambda p: (p.name,))


def _plain(maker: Callable[[Path], Path]) -> Callable[[World, Path], Path]:
    return lambda world, folder: maker(folder)


def _in_good_copy(maker: Callable[[Path], Path]) -> Callable[[World, Path], Path]:
    """The input inside a copy of the world's good welds (what generate reads)."""

    def make(world: World, folder: Path) -> Path:
        good = folder / "good"
        shutil.copytree(world.good, good)
        return maker(good)

    return make


FAST = {
    "inspect:missing", "inspect:truncated", "inspect:huge-header", "inspect:unicode",
    "predict:corrupt", "generate:huge-header", "recipe-check:binary",
    "recipe-check:python-tag", "generate-recipe:aliases", "relabel:outside",
    "relabel:bom-crlf-unknown", "predict-model:evil-pickle", "predict-model:evil-torch",
    "defects-show:rgba", "info:dir", "train:augment",
}  # fmt: skip
"""The cases of the fast suite (one of each kind of input, the cheapest commands)."""

XFAIL: dict[str, str] = {}
"""case id -> the issue-18 item that makes it fail today (H2's fixes empty this)."""


def _image_cases() -> list[Case]:
    cases = []
    ok = frozenset({0, 2})  # a map that is valid after all (16-bit grey+alpha, a name)
    for name, maker in {**IMAGES, **NAMES}.items():
        codes = ok if name in NAMES or name == "grey-alpha-16" else frozenset({1, 2})
        dash = name == "dash"
        cases += [
            Case(
                f"inspect:{name}",
                _plain(maker),
                lambda w, p, o, dash=dash: ["inspect", *(["--"] if dash else []), str(p)],
                codes,
            ),
            Case(
                f"predict:{name}",
                _plain(maker),
                lambda w, p, o, dash=dash: [
                    "predict",
                    str(w.model),
                    *(["--"] if dash else []),
                    str(p),
                ],
                codes,
            ),
            Case(
                f"defects-show:{name}",
                _plain(maker),
                lambda w, p, o: [
                    "defects",
                    "show",
                    "hole",
                    "--input",
                    str(p),
                    "--out",
                    str(o / "g.png"),
                ],
                codes,
            ),
            Case(
                f"generate:{name}",
                _in_good_copy(maker),
                lambda w, p, o: [
                    "generate",
                    str(o.parent / "in" / "good"),
                    "--recipe",
                    str(w.recipe),
                    "--out",
                    str(o),
                    "--workers",
                    "1",
                    "-q",
                ],
                frozenset({0}),
                rejected=name not in NAMES and name not in ("missing", "dir", "grey-alpha-16"),
            ),
        ]
        if name not in NAMES:  # import reads PNG height images too; rejects go to a CSV
            cases.append(
                Case(
                    f"import:{name}",
                    _plain(maker),
                    lambda w, p, o: ["import", str(p), "--out", str(o), "-q"],
                    frozenset({0, 2}),
                    names=lambda p: (p.name, "rejected.csv"),
                )
            )
        if name in ("dir", "missing", "text"):
            cases.append(
                Case(
                    f"info:{name}",
                    _plain(maker),
                    lambda w, p, o: ["info", str(p)],
                    frozenset({0, 2}),
                )
            )
    return cases


def _recipe_cases() -> list[Case]:
    cases = []
    for name, maker in RECIPES.items():
        cases += [
            Case(
                f"recipe-check:{name}",
                _plain(maker),
                lambda w, p, o: ["recipe", "check", str(p)],
                frozenset({1}),
            ),
            Case(
                f"norm-check:{name}",
                _plain(maker),
                lambda w, p, o: ["norm", "check", str(p)],
                frozenset({1}),
            ),
            Case(
                f"generate-recipe:{name}",
                _plain(maker),
                lambda w, p, o: [
                    "generate",
                    str(w.good),
                    "--recipe",
                    str(p),
                    "--out",
                    str(o),
                    "--workers",
                    "1",
                    "-q",
                ],
            ),
        ]
    return cases


def _decision_cases() -> list[Case]:
    return [
        Case(
            f"relabel:{name}",
            maker,
            lambda w, p, o: ["relabel", "apply", str(w.data), str(p)],
            names=lambda p: (p.name, "decision", "path"),
        )
        for name, maker in DECISIONS.items()
    ]


def _checkpoint_cases() -> list[Case]:
    cases = []
    for name, maker in CHECKPOINTS.items():
        cases += [
            Case(
                f"predict-model:{name}",
                _plain(maker),
                lambda w, p, o: ["predict", str(p), str(w.good)],
            ),
            Case(
                f"evaluate-model:{name}",
                _plain(maker),
                lambda w, p, o: ["evaluate", str(p), str(w.data), "--split", "all"],
            ),
        ]
    return cases


def _option_cases() -> list[Case]:
    """Options handed to libraries: refused before any work, with the allowed range."""
    none = _plain(lambda folder: folder / "none")

    def train(*extra: str) -> Callable[[World, Path, Path], list[str]]:
        return lambda w, p, o: ["train", str(w.data), "--out", str(o), "--epochs", "1", *extra]

    rows = [
        ("train:augment", train("--augment", "dropout=2"), "dropout must be in [0, 1] (got 2)"),
        ("train:augment-text", train("--augment", "rotate=abc"), "rotate must be a number"),
        ("train:threads", train("--threads", "100000"), "threads must be in [0, 1024]"),
        ("train:tracking-uri", train("--track", "mlflow", "--tracking-uri", "ftp://x/y"),
         "--tracking-uri ftp://x/y"),
        ("train:address", train("--engine", "ray", "--address", "10.0.0.5"), "--address"),
        ("generate:address", lambda w, p, o: ["generate", str(w.good), "--recipe", str(w.recipe),
                                              "--out", str(o), "--engine", "ray", "--address",
                                              "no-port"], "--address"),
    ]  # fmt: skip
    return [Case(cid, none, argv, names=lambda p, text=text: (text,)) for cid, argv, text in rows]


def all_cases() -> list[Case]:
    """Every case of the table, fast ones flagged."""
    from fuzz_cases_18 import FAST_18, issue18_cases  # the issue-18 rows (H2)

    cases = [
        *_image_cases(),
        *_recipe_cases(),
        *_decision_cases(),
        *_checkpoint_cases(),
        *_option_cases(),
        *issue18_cases(),
    ]
    fast = FAST | FAST_18
    return [
        Case(**{**c.__dict__, "fast": c.id in fast, "xfail": XFAIL.get(c.id, "")}) for c in cases
    ]


# ----------------------------------------------------------------------------- checks


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (links by their target), lock files aside."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.name in ("lock", "relabel.lock") and path.parent.name == ".weldsynth":
            continue
        if path.is_symlink():
            found[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_case(case: Case, world: World, work: Path) -> str:
    """Run one case in ``work``; "" when handled, else what went wrong (one line)."""
    inputs, out = work / "in", work / "out"
    inputs.mkdir(parents=True)
    path = case.make(world, inputs)
    before = tree_digest(world.data), tree_digest(world.good)
    res = weldsynth(case.argv(world, path, out), cwd=work)
    problems = []
    if res.returncode not in case.codes:
        problems.append(f"exit {res.returncode}, expected {sorted(case.codes)}")
    if "Traceback" in res.stderr or "Traceback" in res.stdout:
        problems.append("a traceback")
    errors = [line for line in res.stderr.splitlines() if line.lower().startswith("error:")]
    if res.returncode == 2 or (res.returncode == 1 and errors):
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        elif not any(n in errors[0] for n in case.names(path)):
            problems.append(f"the error line does not name the input: {errors[0][:160]!r}")
    if case.rejected and res.returncode == 0:
        listed = (
            (out / "rejected.csv").read_text("utf-8") if (out / "rejected.csv").exists() else ""
        )
        if path.name not in listed:
            problems.append("not listed in rejected.csv")
    if (tree_digest(world.data), tree_digest(world.good)) != before:
        problems.append("the data set or its inputs changed")
    if (work / MARKER).exists() or (world.root / MARKER).exists():
        problems.append("code from the input ran")
    return "; ".join(problems)
