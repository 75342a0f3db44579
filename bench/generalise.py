"""Generalisation of the models of bench/masks.py (issue 16) -> bench/results/generalise.json.

The models ``bench/masks.py`` trains (WeldNet from scratch, 128x352, one per topology, good
weld count and variant: ``runs-{T}-{count}-{variant}/{T}/model.pt`` in its ``--work``
folder; the variants are found from the folder names, so ``plain``, ``mask_loss`` and any
later one are all scored; a run still training, without its report.json, is left out) are
tested on data they were not trained on. Per model, three sections, each scored with the
package's own evaluation (``weldsynth.train.evaluate``: the error rate;
``weldsynth.train.plant``: false alarms on untouched good welds and misses per defect), at
argmax as ``weldsynth evaluate`` decides by default and at the model's tuned threshold:

* ``in_distribution``: the model's own test split (the figure bench/masks.py reports);
* ``unseen_seed``: ``--test-welds`` good welds per topology from a procedural generator seed
  that no training weld used (``weldsynth samples --seed``; the training seeds are read from
  the training welds' sidecars and refused), through the shipped recipe (``generate --all``
  with another draw seed, ``balance``, no split): error, false alarms on the untouched
  originals, misses per defect;
* ``out_of_range``: the same unseen good welds with defects drawn outside the training
  recipe's parameter ranges, three data sets: ``smaller`` and ``larger`` (each size
  parameter of :data:`SHIFTED` drawn from a band as wide as its training range just below,
  resp. just above it, clipped to what the plugin allows; position parameters as trained),
  and ``elsewhere`` (the position parameters moved past the training range, sizes as
  trained; only plugins that have one). A cut is bad from the norm's ``cut_reject_min`` on,
  so there is no smaller bad cut: ``smaller`` draws acceptable cuts (label good) below the
  training ones instead. Labels come from the plugins and the norm as in training. The
  recipes are derived from the training data set's resolved recipe and the plugins' bounds;
  the JSON lists every band drawn and each parameter with no room outside its range.

Usage: python bench/generalise.py --work DIR_OF_MASKS_RUNS [--topologies 3,5,7]
[--counts 80] [--variants plain,mask_loss] [--test-welds 40] [--gen DIR] [--out JSON]
(counts and variants: all found by default). Evaluation only (no training); the test data
sets are built once per topology in ``--gen`` and reused; the training data must come from
the shipped recipe (checked).
Rows already in the results file for other (topology, count, variant) are kept. The JSON
records the settings, the recipes, the machine and its load.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import machine, weldsynth  # bench/train.py's helpers

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "generalise.json"
SAMPLE_SEED = 1
"""``weldsynth samples --seed`` of the test welds (bench/masks.py trains on seed 0)."""
DRAW_SEED = 1001
"""``weldsynth generate --seed`` of every test set (the shipped recipes use 2..11)."""
SHIFTED: dict[str, dict[str, str]] = {
    "ball": {"radius": "size", "height": "size", "offset": "position"},
    "bead_deviation": {"amplitude": "size", "length": "size"},
    "cut": {"length": "size"},
    "excess_material": {"strength": "size", "length": "size"},
    "hole": {"radius": "size", "depth": "size", "offset": "position"},
    "missing_plate": {"length": "size", "flank": "size", "depth": "size"},
}
"""Per plugin, the range parameters moved out of range and what they are; the others
(ramps, aspect, p_whole, side, margins) keep their training values. bead_deviation's
``position`` (start/middle/end) and every ``side`` are choices the training draws all of."""
SETS = ("smaller", "larger", "elsewhere")


def band(lo: float, hi: float, bounds: tuple[float, float], side: str) -> list[float] | None:
    """A band as wide as ``(lo, hi)`` just below or above it, clipped to ``bounds``; None
    when the bounds leave no room on that side."""
    width = hi - lo
    a, b = (max(bounds[0], lo - width), lo) if side == "below" else (hi, min(bounds[1], hi + width))
    return [round(a, 4), round(b, 4)] if b - a > 0.01 * width else None


def bounds_of(name: str) -> dict[str, tuple[float, float]]:
    """The allowed (min, max) of each bounded parameter of plugin ``name``."""
    from weldsynth.synth.defects import get_defect

    specs = get_defect(name).Config.field_specs()
    return {f.name: f.metadata["bounds"] for f in specs if f.metadata.get("bounds")}


def cut_params(trained: dict[str, Any], which: str) -> tuple[dict | None, str]:
    """The cut's out-of-range params for ``which`` (None: left out) and a note."""
    lo, hi = trained["length"]
    accept, reject = trained["accept_max"], trained["reject_min"]
    if which == "smaller":
        acc = band(lo, min(hi, accept), (bounds_of("cut")["length"][0], accept), "below")
        note = "bad cuts start at the norm's cut_reject_min: none smaller; acceptable cuts"
        return ({"length": acc, "p_acceptable": 1.0} if acc else None), f"{note} {acc} px"
    if which == "larger":
        bad = band(max(lo, reject), hi, bounds_of("cut")["length"], "above")
        note = "acceptable cuts end at the norm's cut_accept_max: none larger; bad cuts"
        return ({"length": bad, "p_acceptable": 0.0} if bad else None), f"{note} {bad} px"
    return None, "no position parameter (cuts anywhere along the bead already)"


def shifted_params(name: str, trained: dict[str, Any], which: str) -> tuple[dict, list[str]]:
    """Out-of-range params of plugin ``name`` for set ``which`` and the parameters with no
    room outside their training range on that side."""
    kind = "position" if which == "elsewhere" else "size"
    side = "below" if which == "smaller" else "above"
    bounds, params, no_room = bounds_of(name), {}, []
    for param, what in SHIFTED.get(name, {}).items():
        if what != kind:
            continue
        moved = band(*trained[param], bounds[param], side)
        if moved is None:
            no_room.append(f"{param} {trained[param]} (allowed {list(bounds[param])})")
        else:
            params[param] = moved
    return params, no_room


def out_of_range_recipe(shipped: dict, trained: dict, which: str) -> tuple[dict, dict]:
    """The recipe of set ``which`` (from the shipped recipe's text and the training data's
    resolved recipe) and its record: the bands drawn, what had no room, what was left out."""
    recipe = copy.deepcopy(shipped)
    record: dict[str, Any] = {"drawn": {}, "no_room": {}, "left_out": {}}
    for name, entry in shipped["defects"].items():
        params_now = trained["defects"][name]["params"]
        if name == "cut":
            params, note = cut_params(params_now, which)
            record["no_room"][name] = [note]
        else:
            params, no_room = shifted_params(name, params_now, which)
            if no_room:
                record["no_room"][name] = no_room
        weight = float(entry.get("weight", 1.0))
        if not params or (name == "cut" and which == "smaller"):
            kind = "position" if which == "elsewhere" else "size"
            none = f"no {kind} parameter with room outside the training range"
            record["left_out"][name] = none if not params else "bad draws"
        if not params:
            del recipe["defects"][name]
            continue
        bad_weight = 0.0 if name == "cut" and which == "smaller" else weight
        recipe["defects"][name] = {"weight": bad_weight, "params": params}
        record["drawn"][name] = params
    if which != "smaller" or "cut" not in recipe["defects"]:
        recipe["acceptable"] = 0
    return recipe, record


def build_test_sets(gen: Path, topo: str, welds: int, trained: dict) -> dict[str, Any]:
    """Unseen good welds -> the four test data sets of ``topo`` (built once)."""
    from weldsynth.core.atomic import atomic_write_bytes
    from weldsynth.synth.recipe import RECIPES_DIR, load_recipe, resolved

    root = gen / f"{topo}-n{welds}-seed{SAMPLE_SEED}-draw{DRAW_SEED}"
    good, shipped_file = root / "good", RECIPES_DIR / f"{topo}.yaml"
    shipped = yaml.safe_load(shipped_file.read_text())
    if resolved(load_recipe(shipped_file))["defects"] != trained["defects"]:
        raise SystemExit(f"topology {topo}: the training data used another recipe than {topo}.yaml")
    if not (good / topo).is_dir():
        args = ["--topology", topo, "-n", str(welds), "--seed", str(SAMPLE_SEED)]
        weldsynth("samples", *args, "--out", str(good), "-q")
    sets: dict[str, Any] = {"unseen_seed": {"recipe": f"recipes/{topo}.yaml (shipped)"}}
    _generate(good, root / "unseen_seed", ["--all"])
    for which in SETS:
        recipe, record = out_of_range_recipe(shipped, trained, which)
        file = root / "recipes" / f"{which}.yaml"
        atomic_write_bytes(file, yaml.safe_dump(recipe, sort_keys=False).encode("utf-8"))
        load_recipe(file)  # refuses a recipe the plugins would not take
        _generate(good / topo, root / which, ["--recipe", str(file)])
        sets[which] = {"recipe": recipe, **record}
    for name, entry in sets.items():
        entry["data"] = f"{root.name}/{name}"  # under --gen
        entry["rejected_draws"] = _rejected(root / name)
    return sets


def _generate(good: Path, data: Path, how: list[str]) -> None:
    """generate (draw seed :data:`DRAW_SEED`; once) -> balance (a no-op when balanced)."""
    if not (data / "manifest.csv").is_file():
        seed = ["--seed", str(DRAW_SEED)]
        weldsynth("generate", str(good), *how, *seed, "--out", str(data), "--workers", "2", "-q")
    weldsynth("balance", str(data), "-q")


def _rejected(data: Path) -> int:
    """Rows of generate's rejected.csv."""
    file = data / "rejected.csv"
    return max(0, len(file.read_text().splitlines()) - 1) if file.is_file() else 0


def scores(ev: Any, seen: bool, tuned: float | None) -> dict[str, Any]:
    """Error, false alarms and misses per defect of one evaluation at argmax, and at the
    model's ``tuned`` threshold (without the per-defect rows); ``seen``: leave out the
    originals of training sources (the in-distribution test split only)."""
    from weldsynth.train.plant import plant_rates

    def one(e: Any) -> dict[str, Any]:
        rates = plant_rates(e.items, e.y_pred, e.classes, e.seen_sources if seen else ())
        return {
            "error_pct": _pct(e.error),
            "untouched_good": rates["untouched_good"],
            "false_alarm_pct": _pct(rates["false_alarm_rate"]),
            "bad": rates["bad"],
            "miss_pct": _pct(rates["miss_rate"]),
            "miss_pct_per_defect": {
                r["defect"]: {"images": r["images"], "miss_pct": _pct(r["miss_rate"])}
                for r in rates["miss_per_defect"]
            },
        }

    labels = [i.label for i in ev.items]
    out = {"images": len(ev.items), "good": labels.count("good"), **one(ev)}
    out["good_called_bad_pct"] = {  # originals and mirrors ("-"), acceptable cuts
        r["defect"]: {"images": r["images"], "called_bad_pct": r["error_pct"]}
        for r in ev.per_defect()
        if r["label"] == "good"
    }
    if tuned is not None:
        at = one(dataclasses.replace(ev, threshold=tuned))
        at.pop("miss_pct_per_defect")
        out["tuned"] = {"threshold": tuned, **at}
    return out


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 2)


def score_model(
    run: Path, topo: str, own_data: Path, gen: Path, sets: dict[str, Any]
) -> dict[str, Any]:
    """The three sections of one model (test sets under ``gen``)."""
    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.evaluate import evaluate

    ckpt = load_checkpoint(run / topo)
    tuned = ckpt.meta.get("threshold")

    def on(data: Path, split: str, seen: bool) -> dict[str, Any]:
        ev = evaluate(ckpt, data, split=split, threshold="argmax")
        return scores(ev, seen, tuned)

    started = time.perf_counter()
    row = {
        "in_distribution": on(own_data, "test", seen=True),
        "unseen_seed": on(gen / sets["unseen_seed"]["data"], "all", seen=False),
        "out_of_range": {w: on(gen / sets[w]["data"], "all", seen=False) for w in SETS},
    }
    row["eval_seconds"] = round(time.perf_counter() - started, 1)
    return row


def discover(work: Path, topos: list[str], counts: str, variants: str) -> list[tuple]:
    """(topology, count, variant, run folder) of every finished bench/masks.py run wanted in
    ``work`` (a run still training has a model.pt but no report.json yet: left out)."""
    found = []
    for run in sorted(work.glob("runs-*-*-*")):
        topo, count, variant = run.name.split("-", 3)[1:]
        wanted = (not counts or count in counts.split(",")) and (
            not variants or variant in variants.split(",")
        )
        finished = (run / topo / "report.json").is_file()  # written when training ends
        if topo in topos and wanted and finished and (run / topo / "model.pt").is_file():
            found.append((topo, int(count), variant, run))
    return sorted(found, key=lambda f: (int(f[0]), f[1], f[2]))


def training_seeds(work: Path, topo: str, count: int) -> set[int]:
    """The ``samples --seed`` of the training welds (from their truth sidecars)."""
    seeds = set()
    for side in (work / f"masks-{topo}-{count}" / "good" / topo).glob("*.json"):
        seeds.add(int(json.loads(side.read_text()).get("sample", {}).get("seed", -1)))
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="bench/masks.py's --work")
    parser.add_argument("--topologies", default="3,5,7")
    parser.add_argument("--counts", default="", help="good weld counts (default: all found)")
    parser.add_argument("--variants", default="", help="variants (default: all found)")
    parser.add_argument("--test-welds", type=int, default=40, help="unseen welds per topology")
    parser.add_argument(
        "--gen", type=Path, default=None, help="test data sets, reused (default: in the temp dir)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    gen = args.gen or Path(tempfile.gettempdir()) / "weldsynth-generalise"
    runs = discover(args.work, args.topologies.split(","), args.counts, args.variants)
    if not runs:
        raise SystemExit(f"{args.work}: no runs-<T>-<count>-<variant>/<T>/model.pt wanted")
    result = json.loads(args.out.read_text()) if args.out.is_file() else {"rows": []}
    test_sets: dict[str, Any] = result.get("test_sets", {})
    load_before, when = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M")
    for topo, count, variant, run in runs:
        own = args.work / f"masks-{topo}-{count}" / "data"
        if SAMPLE_SEED in training_seeds(args.work, topo, count):
            raise SystemExit(f"{own}: trained on samples seed {SAMPLE_SEED}; pick another")
        trained = yaml.safe_load((own / "recipes" / f"{topo}.yaml").read_text())
        sets = build_test_sets(gen, topo, args.test_welds, trained)
        test_sets[topo] = sets
        epochs = int(json.loads((run / topo / "config.json").read_text())["epochs"])
        row = {"topology": topo, "good_welds": count, "variant": variant, "epochs": epochs}
        row.update(score_model(run, topo, own, gen, sets))
        print(topo, count, variant, epochs, _summary(row), flush=True)
        keep = [r for r in result["rows"] if _key(r) != _key(row)]
        result["rows"] = sorted([*keep, row], key=lambda r: (int(r["topology"]), *_key(r)[1:]))
        result["test_sets"] = test_sets
        result["settings"] = settings(args)
        result["measured"] = {
            "at": when,
            "machine": {**machine(), "precision": "auto (bf16 where supported)"},
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }
        _write(args.out, result)
    print(f"written {args.out}")


def _key(row: dict[str, Any]) -> tuple:
    """A row's identity: topology, good welds, variant and the model's epochs (rows written
    before epochs were recorded are bench/masks.py's 12-epoch models)."""
    return (row["topology"], row["good_welds"], row["variant"], row.setdefault("epochs", 12))


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the figures were measured with."""
    return {
        "models": "bench/masks.py runs: runs-{T}-{count}-{variant}/{T}/model.pt",
        "test_welds": args.test_welds,
        "samples_seed": SAMPLE_SEED,
        "training_samples_seed": "read from the training welds' sidecars (bench/masks.py: 0)",
        "generate_seed": DRAW_SEED,
        "balance": "weldsynth balance (oversample good with mirror images to 1:1), no split",
        "decision": "argmax (weldsynth evaluate's default); 'tuned': the model's threshold",
        "tta": "none",
        "false_alarms": "untouched originals (in_distribution: test-split sources only)",
        "shifted_parameters": SHIFTED,
        "out_of_range_rule": (
            "a band as wide as the training range, just below (smaller) or just above "
            "(larger, elsewhere) it, clipped to the plugin's allowed bounds"
        ),
    }


def _summary(row: dict[str, Any]) -> str:
    """One line per model for the log."""
    u, o = row["unseen_seed"], row["out_of_range"]
    parts = [f"test {row['in_distribution']['error_pct']}%"]
    parts.append(f"unseen {u['error_pct']}% fa {u['false_alarm_pct']}% miss {u['miss_pct']}%")
    parts += [f"{w} {o[w]['error_pct']}% miss {o[w]['miss_pct']}%" for w in SETS]
    return "; ".join(parts)


def _write(path: Path, result: dict) -> None:
    """The JSON, atomically."""
    from weldsynth.core.atomic import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
