"""Wall time of the defaults a new user meets (issue 15) -> bench/results/defaults.json.

1. ``weldsynth demo`` (target: <= 120 s on 2 CPU cores), with the figures it prints: the
   plant topology's test error next to the seed's, and the audit's precision and recall on
   the labels it flipped on purpose.
2. ``weldsynth audit DATA --topology 3`` with every default, on 40 procedural good welds of
   topology 3 (samples -> generate -> balance; target: <= 120 s on 2 CPU cores).

Each is run as a user would, as a subprocess of the installed command. Timings depend on
the machine and its load; the JSON records both.

Usage: python bench/defaults.py [--welds 40] [--work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "defaults.json"


def weldsynth(*args: str) -> tuple[float, str]:
    """Run ``weldsynth ARGS``; (wall seconds, stdout)."""
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "weldsynth", *args], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - t0, res.stdout


def demo(work: Path) -> dict:
    seconds, out = weldsynth("demo", "--out", str(work / "demo"))
    text = " ".join(out.split())
    found = re.search(r"precision (\d+)%, recall (\d+)%", text)
    error = re.search(r"test error ([\d.]+)%", text)
    return {
        "seconds": round(seconds, 1),
        "target_seconds": 120,
        "test_error_pct": float(error.group(1)) if error else None,
        "audit_precision_pct": int(found.group(1)) if found else None,
        "audit_recall_pct": int(found.group(2)) if found else None,
        "loop_line": next((ln for ln in out.splitlines() if re.match(r"\d+/\d+ loop", ln)), ""),
    }


def audit(work: Path, welds: int) -> dict:
    data = work / "data"
    if not (data / "manifest.csv").is_file():
        weldsynth("samples", "--topology", "3", "-n", str(welds), "--out", str(work / "good"), "-q")
        weldsynth("generate", str(work / "good"), "--all", "--out", str(data), "-q")
        weldsynth("balance", str(data), "-q")
    seconds, _out = weldsynth("audit", str(data), "--topology", "3", "--out", str(work / "a"), "-q")
    summary = json.loads((work / "a" / "audit.json").read_text())
    return {
        "command": f"weldsynth audit DATA --topology 3 ({welds} good welds)",
        "images": summary["audited"],
        "seconds": round(seconds, 1),
        "target_seconds": 120,
        "arch": summary["train"]["arch"],
        "arch_reason": summary["train"].get("arch_reason", ""),
        "precision": summary["train"].get("precision_used", ""),
        "oof_error": summary["oof_error"],
        "stage_seconds": summary["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--welds", type=int, default=40)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="weldsynth-bench-defaults-"))
    result = {}
    for name, run in (("demo", lambda: demo(work)), ("audit", lambda: audit(work, args.welds))):
        before = [round(v, 2) for v in os.getloadavg()]
        result[name] = run()
        result[name]["load_average_before"] = before
        result[name]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        print(name, result[name], flush=True)
    import torch

    from weldsynth.train.device import cpu_bf16

    flags = ""
    with contextlib.suppress(OSError, StopIteration):
        flags = next(
            ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")
        )
    result["machine"] = {
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "cpu_flags": {f: f in flags.split() for f in ("avx2", "avx512_bf16", "amx_bf16")},
        "bf16": cpu_bf16(),
        "at": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
