"""Keep the README's generated tables (topologies, defects) in step with the registries.

Each generated section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.
``python -m weldsynth.readme`` rewrites them; ``python -m weldsynth.readme --check`` exits 1
when they drift (a test runs the check).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _topologies() -> str:
    from weldsynth.samples import topology_table_markdown

    return topology_table_markdown()


def _defects() -> str:
    from weldsynth.defects import defect_table_markdown

    return defect_table_markdown()


SECTIONS: dict[str, Callable[[], str]] = {"topologies": _topologies, "defects": _defects}


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
            print("README.md generated sections are out of date: run python -m weldsynth.readme")
            return 1
        return 0
    if fresh != current:
        README.write_text(fresh, encoding="utf-8")
        print("README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
