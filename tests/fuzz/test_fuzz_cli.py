"""Fuzz harness (issue 17): every CLI command that reads a user's file, in a subprocess,
against the hand-made bad inputs of ``tests/fuzz_cases.py``, plus hypothesis-made
variations in-process. Fast cases run in the default suite; the whole table is ``slow``
(``bench/fuzz.py`` runs it too and records the counts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_cases import World, all_cases, build_world, run_case

CASES = all_cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("world"))


def _param(case):  # type: ignore[no-untyped-def]
    marks = [] if case.fast else [pytest.mark.slow]
    if case.xfail:
        marks.append(pytest.mark.xfail(reason=f"issue 18: {case.xfail}", strict=True))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_handled(case, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problem = run_case(case, world, tmp_path)
    assert not problem, f"{case.id}: {problem}"


def test_the_table_covers_every_command() -> None:
    """Every command that reads a user's file or hands an option to a library has a case."""
    covered = {c.id.split(":")[0].split("-")[0] for c in CASES}
    reads_files = {"inspect", "predict", "defects", "generate", "info", "recipe", "relabel",
                   "evaluate", "train", "norm", "import"}  # fmt: skip
    assert reads_files <= covered
    assert sum(c.fast for c in CASES) >= 15
