"""Help text: every option of every command says what it does; numbers in help come from
a benchmark."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command and sub-command, with its full name."""
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
    return out


COMMANDS = _commands(cli)


def test_the_walk_finds_sub_commands() -> None:
    names = [n for n, _ in COMMANDS]
    assert "train" in names and "norm show" in names and len(names) > 20


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_has_help_text(name: str, cmd: click.Command) -> None:
    missing = [
        "/".join(p.opts)
        for p in cmd.params
        if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()
    ]
    assert not missing, f"weldsynth {name}: options without help text: {missing}"


def test_data_commands_take_quiet() -> None:
    for name in ("samples", "generate", "balance", "split", "import"):
        opts = {o for p in cli.commands[name].params for o in getattr(p, "opts", [])}
        assert {"-q", "--quiet"} <= opts, name


_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:s|sec|seconds?|min|minutes?|h|hours?)\b|\b(?:a|one|two|three|few) "
    r"(?:seconds?|minutes?|hours?)\b",
    re.IGNORECASE,
)
_CITED = re.compile(r"bench/results/([\w.-]+\.json)")


def _figures(file: Path) -> set[str]:
    """Every number of a benchmark's JSON, as written there and rounded to whole units."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.update({f"{value:g}", str(round(value))})

    walk(json.loads(file.read_text()))
    return found


def _help(name: str) -> str:
    res = CliRunner().invoke(cli, [*name.split(), "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_duration_in_help_is_a_cited_benchmark_figure(name: str) -> None:
    text = _help(name)
    cited = _CITED.findall(text)
    figures = set().union(*(_figures(ROOT / "bench" / "results" / f) for f in cited))
    for match in _DURATION.finditer(text):
        number = match.group(1)
        assert number is not None, f"weldsynth {name}: a duration without a figure: {match[0]!r}"
        assert cited, f"weldsynth {name}: {match[0]!r} cites no bench/results/*.json"
        assert number in figures, f"weldsynth {name}: {number} is not a figure of {cited}"


def test_demo_help_states_the_benchmarked_time_and_its_settings() -> None:
    from weldsynth.pipelines import demo, demo_plant

    text = _help("demo")
    seconds = json.loads((ROOT / "bench/results/defaults.json").read_text())["demo"]["seconds"]
    assert f"{round(seconds)} s on 2 CPU cores" in text
    assert "about a minute" not in text and "two minutes" not in text
    cfg = demo._demo_config()
    assert f"{cfg.size[0]}x{cfg.size[1]} input, {cfg.epochs} epochs" in text
    assert f"{demo_plant.PLANT_WELDS} procedural welds" in text
    assert f"{round(100 * demo_plant.FLIP_SHARE)} % of the train/val labels" in text


def test_the_duration_check_catches_an_uncited_claim() -> None:
    assert _DURATION.search("sized for about two minutes on 2 CPU cores")
    assert _DURATION.search("takes 75 s")
    assert not _DURATION.search("--epochs 20 --size 64x176")
