"""Hypothesis half of the fuzz harness (issue 17): inputs mutated at random go through the
CLI in-process; every one ends in a status of the table (never 3 = a bug), and the readers
raise only weldsynth's one-line errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fuzz_cases import huge_header_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.data import recipes_dir, samples_dir
from weldsynth.dataset.relabel.decisions import read_decisions
from weldsynth.train.config import parse_augment

PNG = sorted((samples_dir() / "7").glob("*.png"))[0].read_bytes()
RECIPE = (recipes_dir() / "7.yaml").read_text(encoding="utf-8")
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, a slice cut out or the tail dropped."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        a = draw(st.integers(0, len(buf)))
        b = draw(st.integers(a, min(len(buf), a + 64)))
        del buf[a:b]
    if draw(st.booleans()):
        buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf)


def _one_error_line(output: str) -> bool:
    return sum(line.startswith("error:") for line in output.splitlines()) <= 1


@SETTINGS
@given(data=st.one_of(mutated(PNG), mutated(huge_header_png(20_000, 30_000))))
def test_inspect_on_a_mutated_png(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "m.png"
    file.write_bytes(data)
    res = CliRunner().invoke(cli, ["inspect", str(file), "--json"])
    assert res.exit_code in (0, 1, 2), res.output
    assert "Traceback" not in res.output and _one_error_line(res.output)


@SETTINGS
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(repr)))
def test_recipe_check_on_random_text(tmp_path: Path, text: str) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(cli, ["recipe", "check", str(file)])
    assert res.exit_code in (0, 1), res.output
    assert "Traceback" not in res.output


@SETTINGS
@given(data=mutated(RECIPE.encode("utf-8")))
def test_recipe_check_on_a_mutated_recipe(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "r.yaml"
    file.write_bytes(data)
    res = CliRunner().invoke(cli, ["recipe", "check", str(file)])
    assert res.exit_code in (0, 1), res.output


@settings(max_examples=200, deadline=None)
@given(
    spec=st.lists(
        st.tuples(
            st.sampled_from(["hflip", "vflip", "rotate", "dropout", "blur", "", " "]),
            st.one_of(st.none(), st.text(max_size=8), st.floats().map(str)),
        ),
        max_size=4,
    ).map(lambda terms: ",".join(n if v is None else f"{n}={v}" for n, v in terms))
)
def test_augment_specs_are_parsed_or_refused_in_one_line(spec: str) -> None:
    try:
        terms = parse_augment(spec)
    except WeldsynthError as exc:
        assert str(exc).startswith("--augment") and "\n" not in str(exc)
        return
    for name, value in terms or []:
        assert value is None or (name == "dropout" and 0 <= value <= 1) or 0 <= value <= 180


@SETTINGS
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_decisions_csv_is_read_or_refused(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "d.csv"
    file.write_bytes(b"path,decision,to,sha256\n" + data)
    try:
        read_decisions(file)
    except WeldsynthError as exc:
        assert str(file) in str(exc)
