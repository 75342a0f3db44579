"""Registry of defect plugins: ``@register_defect``, lookup, and entry-point discovery.

Built-in plugins are found by importing every module of the ``weldsynth.synth.defects``
package (:mod:`pkgutil`): a module that defines a plugin registers it with
``@register_defect``, so a new plugin module needs no list entry. Helper modules without
plugins are imported too (harmless); only :data:`NOT_SCANNED`, adapters to a slow-to-import
library, are left out. Third-party packages add plugins through the entry-point group
``weldsynth.defects``; each entry point names a :class:`~weldsynth.synth.defects.base.Defect`
subclass (or a module that registers its plugins on import)::

    [project.entry-points."weldsynth.defects"]
    crack = "my_package.crack:Crack"

Discovery is lazy: it runs once, on the first lookup. A plugin that fails to load gives a
``RuntimeWarning`` naming the entry point; it never breaks the others.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from importlib import metadata
from typing import Any

from weldsynth.synth.defects.base import Defect, UnknownDefectError

ENTRY_POINT_GROUP = "weldsynth.defects"
PACKAGE = "weldsynth.synth.defects"
NOT_SCANNED = frozenset({"transform"})
"""Modules of :data:`PACKAGE` discovery does not import: they define no plugin and pull in
a library that takes seconds to import (``transform``: albumentations)."""

_REGISTRY: dict[str, type[Defect]] = {}
_SOURCES: dict[str, str] = {}
_loaded = False


class DuplicateDefectError(ValueError):
    """Two different plugin classes claim the same name."""


def register_defect(cls: type[Defect]) -> type[Defect]:
    """Class decorator adding a plugin to the registry under ``cls.name``.

    Registering the same class twice is a no-op; a different class with a taken name raises
    :class:`DuplicateDefectError`.
    """
    if not (inspect.isclass(cls) and issubclass(cls, Defect)):
        raise TypeError(f"@register_defect expects a Defect subclass, got {cls!r}")
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(
            f"{cls.__qualname__}: name must be a lower_snake_case identifier, got {name!r}"
        )
    if inspect.isabstract(cls):
        raise TypeError(
            f"{cls.__qualname__} ({name}) does not implement "
            f"{', '.join(sorted(cls.__abstractmethods__))}"
        )
    held = _REGISTRY.get(name)
    if held is not None and held is not cls:
        raise DuplicateDefectError(
            f"defect name {name!r} is already registered by "
            f"{held.__module__}.{held.__qualname__}; cannot register "
            f"{cls.__module__}.{cls.__qualname__}"
        )
    _REGISTRY[name] = cls
    _SOURCES.setdefault(name, cls.__module__)
    return cls


def unregister_defect(name: str) -> None:
    """Remove a plugin (for tests and interactive use); unknown names are ignored."""
    _REGISTRY.pop(name, None)
    _SOURCES.pop(name, None)


def builtin_modules() -> list[str]:
    """Full names of the modules of :data:`PACKAGE` that discovery imports, sorted."""
    package = importlib.import_module(PACKAGE)
    found = pkgutil.iter_modules(package.__path__, prefix=f"{PACKAGE}.")
    return sorted({m.name for m in found if m.name.rsplit(".", 1)[1] not in NOT_SCANNED})


def _load_builtins() -> None:
    for module in builtin_modules():
        importlib.import_module(module)


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load third-party plugins of an entry-point group; returns the names registered.

    A failing entry point (import error, not a Defect, duplicate name) gives a
    ``RuntimeWarning`` naming it and is skipped.
    """
    added: list[str] = []
    for ep in metadata.entry_points(group=group):
        label = f"{ep.name} = {ep.value}"
        try:
            obj: Any = ep.load()
            if inspect.isclass(obj):
                register_defect(obj)
                added.append(obj.name)
                _SOURCES[obj.name] = f"entry point {label}"
            elif not inspect.ismodule(obj):
                raise TypeError(f"expected a Defect subclass or a module, got {obj!r}")
        except Exception as exc:  # one broken plugin must not break the rest
            warnings.warn(
                f"weldsynth: defect plugin entry point '{label}' (group {group}) "
                f"failed to load: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return added


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    _load_builtins()
    load_entry_points()


def reload_plugins() -> None:
    """Run discovery again (after installing a plugin in a running process)."""
    global _loaded
    _loaded = False
    _ensure_loaded()


def list_defects() -> list[str]:
    """Names of every registered plugin, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_defect(name: str) -> type[Defect]:
    """The plugin class registered under ``name``.

    Raises:
        UnknownDefectError: No such plugin (the message lists the known ones).
    """
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownDefectError(f"unknown defect {name!r}; known: {known}") from None


def create_defect(name: str, **config: Any) -> Defect:
    """Instantiate a plugin by name with config values (validated)."""
    return get_defect(name)(**config)


def defect_source(name: str) -> str:
    """Where a plugin came from (module, or the entry point that provided it)."""
    get_defect(name)
    return _SOURCES.get(name, _REGISTRY[name].__module__)
