"""Safe joins: a relative path from a manifest or a user may never lead out of its folder."""

from __future__ import annotations

from pathlib import Path

from weldsynth.core.errors import WeldsynthError


class UnsafePathError(WeldsynthError, ValueError):
    """A path is absolute or leads out of the folder it must stay in (``..``, a symlink)."""


def safe_join(root: str | Path, relative: str | Path) -> Path:
    """``root / relative`` resolved, refusing anything that ends up outside ``root``.

    Symbolic links are followed before the check, so a link pointing out of ``root`` is
    refused like ``..``.

    Args:
        root: The folder the result must stay in.
        relative: A relative path (POSIX or native separators).

    Returns:
        The resolved path, inside ``root`` (or ``root`` itself).

    Raises:
        UnsafePathError: ``relative`` is absolute or escapes ``root``.
    """
    base = Path(root).resolve()
    rel = Path(relative)
    if rel.is_absolute():
        raise UnsafePathError(f"{relative}: absolute paths are not allowed")
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"{relative}: escapes the folder {root}")
    return target
