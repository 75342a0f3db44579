"""Sub-commands of the ``weldsynth`` CLI, one module each, discovered (never hand-listed).

Every module of this package defines one click command (or group) named ``command``; adding
a module adds a command. A module without ``command`` is an error at start-up, not a command
that silently goes missing. Imports of heavy libraries (torch, matplotlib) go inside the
command functions so that ``weldsynth --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def discover() -> list[click.Command]:
    """Import every module of this package and return their commands, sorted by name.

    Raises:
        TypeError: A module does not define a click command named ``command``.
    """
    commands = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module.__name__}: defines no click command named 'command'")
        commands.append(command)
    return sorted(commands, key=lambda c: c.name or "")


COMMANDS: list[click.Command] = discover()
