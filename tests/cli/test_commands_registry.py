"""CLI commands are discovered from weldsynth.cli.commands, never hand-listed."""

from __future__ import annotations

import pkgutil
import sys

import pytest

from weldsynth.cli import commands as commands_package
from weldsynth.cli.main import cli


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.iter_modules(commands_package.__path__)
        if not m.name.startswith("_")
    ]


def test_every_command_module_is_a_cli_command() -> None:
    for name in _modules():
        module = sys.modules[f"{commands_package.__name__}.{name}"]
        assert cli.commands[module.command.name] is module.command


def test_a_new_command_module_is_discovered(tmp_path, monkeypatch) -> None:
    before = len(_modules())
    (tmp_path / "hello_tmp.py").write_text(
        "import click\n\n@click.command('hello-tmp')\ndef command():\n"
        '    """Say hello.\n\n    Example: weldsynth hello-tmp\n    """\n'
    )
    monkeypatch.setattr(commands_package, "__path__", [*commands_package.__path__, str(tmp_path)])
    try:
        names = [c.name for c in commands_package.discover()]
    finally:
        sys.modules.pop(f"{commands_package.__name__}.hello_tmp", None)
    assert "hello-tmp" in names
    assert len(names) == before + 1


def test_a_module_without_a_command_fails_loudly(tmp_path, monkeypatch) -> None:
    (tmp_path / "oops_tmp.py").write_text("import click\n\ncomand = click.Command('typo')\n")
    monkeypatch.setattr(commands_package, "__path__", [*commands_package.__path__, str(tmp_path)])
    try:
        with pytest.raises(TypeError, match="oops_tmp: defines no click command"):
            commands_package.discover()
    finally:
        sys.modules.pop(f"{commands_package.__name__}.oops_tmp", None)
