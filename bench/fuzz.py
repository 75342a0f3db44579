"""Run the whole fuzz table of issue 17 and record how many cases were handled.

The table is ``tests/fuzz_cases.py`` (the same one the test suite runs): hand-made bad
inputs (images, names, recipes, decisions CSVs, checkpoints, library options) x the CLI
commands that read them, each in a subprocess. A case is handled when its exit status is
one the README's table allows, no traceback is printed, the one error line names the input,
the data set is unchanged and no code from the input ran.

Usage::

    python bench/fuzz.py [--out bench/results/fuzz.json] [--only ID-PREFIX]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_cases import all_cases, build_world, run_case  # noqa: E402


def main() -> None:
    """Run the table; write the counts and every unhandled case to the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    parser.add_argument("--only", default="", help="Run only the cases whose id starts so.")
    args = parser.parse_args()
    cases = [c for c in all_cases() if c.id.startswith(args.only)]
    start = time.perf_counter()
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="weldsynth-fuzz-") as tmp:
        world = build_world(Path(tmp) / "world")
        for k, case in enumerate(cases):
            work = Path(tmp) / f"case{k}"
            problem = run_case(case, world, work)
            if problem:
                failures[case.id] = problem
            print(f"{'ok  ' if not problem else 'FAIL'} {case.id} {problem}", flush=True)
    commands = sorted({c.id.split(":")[0] for c in cases})
    inputs = sorted({c.id.split(":")[1] for c in cases})
    result = {
        "tried": len(cases),
        "handled": len(cases) - len(failures),
        "commands": commands,
        "inputs": inputs,
        "expected_failures_issue_18": {c.id: c.xfail for c in cases if c.xfail},
        "unhandled": failures,
        "seconds": round(time.perf_counter() - start, 1),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"tried {result['tried']}, handled {result['handled']} -> {args.out}")


if __name__ == "__main__":
    main()
