"""Keep the README's generated tables (topologies, defects) in step with the registries.

Each generated section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.
``python tools/readme_tables.py`` rewrites them; ``python tools/readme_tables.py --check`` exits 1
when they drift (a test runs the check).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"  # the checkout's README (a dev tool)


def _topologies() -> str:
    from weldsynth.core.topology import topology_table_markdown

    return topology_table_markdown()


def _defects() -> str:
    from weldsynth.synth.defects import get_defect, list_defects

    rows = [
        "| defect | label | parameters (default; allowed range) | what it does |",
        "|---|---|---|---|",
    ]
    for name in list_defects():
        plugin = get_defect(name)
        params = []
        for spec in plugin.Config.describe():
            default = spec["default"]
            shown = (
                f"{default[0]:g}–{default[1]:g}"
                if isinstance(default, tuple)
                else f"{default:g}"
                if isinstance(default, float)
                else str(default)
            )
            bounds, choices = spec["bounds"], spec["choices"]
            allowed = (
                f"; {bounds[0]:g}–{bounds[1]:g}"
                if bounds
                else f"; one of {'/'.join(map(str, choices))}"
                if choices
                else ""
            )
            unit = f" {spec['unit']}" if spec["unit"] else ""
            params.append(f"`{spec['name']}` {shown}{unit}{allowed}")
        labels = " / ".join(plugin.labels())
        rows.append(f"| `{name}` | {labels} | {'<br>'.join(params)} | {plugin.description} |")
    return "\n".join(rows)


def _imperfections() -> str:
    """Plugin -> the imperfections it models, what is measured, the limits of each preset."""
    from weldsynth.synth.defects import get_defect, list_defects
    from weldsynth.synth.norm import load_preset, preset_names

    levels = [load_preset(p) for p in preset_names()]
    head = " | ".join(f"`{lv.preset}`" for lv in levels)
    rows = [
        f"| defect | imperfection | measured | {head} | reference (ISO norm) |",
        "|---|---|---|" + "---|" * len(levels) + "---|",
    ]
    for name in list_defects():
        plugin = get_defect(name)
        for rule_id in plugin.imperfections:
            rules = [lv.rule(rule_id) for lv in levels]
            known = next((r for r in reversed(rules) if r is not None), None)
            if known is None:
                continue
            cells = []
            for lv, rule in zip(levels, rules, strict=True):
                if rule is None:
                    cells.append("— (bad)")
                    continue
                text = lv.limit_of(rule).describe()
                fallback = rule.without_calibration
                if rule.unit == "mm" and fallback != "error":
                    text += (
                        " (uncalibrated: "
                        + ("pixel thresholds" if fallback == "plugin" else "bad")
                        + ")"
                    )
                cells.append(text)
            iso = next((r for r in rules[:-1] if r is not None), known)
            rows.append(
                f"| `{name}` | {known.imperfection} | {known.quantity} ({known.unit}) | "
                f"{' | '.join(cells)} | {iso.reference} |"
            )
    return "\n".join(rows)


SECTIONS: dict[str, Callable[[], str]] = {
    "topologies": _topologies,
    "defects": _defects,
    "imperfections": _imperfections,
}


def render(text: str) -> str:
    """Return ``text`` with every generated section present in it re-rendered."""
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", flags=re.DOTALL
        )
        if pattern.search(text):
            body = make().strip() + "\n"
            text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's generated sections, or check them with ``--check``."""
    args = sys.argv[1:] if argv is None else argv
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in args:
        if fresh != current:
            print("README.md generated sections are out of date: run python tools/readme_tables.py")
            return 1
        return 0
    if fresh != current:
        README.write_text(fresh, encoding="utf-8")
        print("README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
