"""The command line: ``main`` (the ``weldsynth`` console script) and one module per command."""

from weldsynth.cli.main import cli, main

__all__ = ["cli", "main"]
