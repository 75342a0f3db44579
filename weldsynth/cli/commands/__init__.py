"""Sub-commands of the ``weldsynth`` CLI, one module each.

A module defines one click command (or group) named ``command``; add it to the list below.
Imports of heavy libraries (torch, matplotlib) go inside the command functions so that
``weldsynth --help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

_MODULES = (
    "info",
    "inspect",
    "samples",
    "recipe",
    "generate",
    "balance",
    "split",
    "defects",
    "demo",
    "train",
    "predict",
    "evaluate",
    "ensemble",
    "relabel",
    "audit",
    "loop",
)


def _load() -> list[click.Command]:
    commands = []
    for name in _MODULES:
        try:
            module = importlib.import_module(f"weldsynth.cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"weldsynth.cli.commands.{name}":
                continue  # command not written yet
            raise
        commands.append(module.command)
    return commands


COMMANDS: list[click.Command] = _load()
