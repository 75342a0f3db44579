"""The README stays honest: generated tables match the registries, commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import readme_tables as readme

from weldsynth.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_tables_match_the_registries() -> None:
    assert readme.render(TEXT) == TEXT, "run: python tools/readme_tables.py"


def test_render_replaces_a_stale_table() -> None:
    stale = "x\n<!-- topologies:start -->\n| old |\n<!-- topologies:end -->\ny\n"
    fresh = readme.render(stale)
    assert "| old |" not in fresh and "| 7 |" in fresh and fresh.endswith("end -->\ny\n")


def _readme_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part)
                if words[:1] == ["weldsynth"]:
                    commands.append(words[1:])
    return commands


def test_the_two_set_up_commands_come_first() -> None:
    first = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.DOTALL)[:2]
    assert first[0].strip() == 'pip install -e ".[dev]" && weldsynth demo'
    assert first[1].strip() == 'pip install -e ".[dev]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert first[1].strip() in ci


@pytest.mark.parametrize("words", _readme_commands(), ids=" ".join)
def test_readme_command_and_options_exist(words: list[str]) -> None:
    command: click.Command = cli
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in command.commands, f"README uses unknown command {name!r}"
        command = command.commands[name]
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    known |= {"--help", "-h"}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"{' '.join(words)}: unknown option {word}"
