"""Crash reports: what a user sends when weldsynth fails in a way it did not foresee.

The CLI's error boundary prints one line and the path of a report written here: the
command line, the traceback and the versions of Python, the platform and the libraries
weldsynth uses. The report goes to the command's output folder
(``OUT/.weldsynth/crash-*.txt``) when it has one, else to the user's cache
(``$XDG_CACHE_HOME/weldsynth/`` or ``~/.cache/weldsynth/``).
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

LIBRARIES = (
    "numpy",
    "scipy",
    "pillow",
    "opencv-python-headless",
    "torch",
    "torchvision",
    "albumentations",
    "pydantic",
    "click",
    "ray",
    "mlflow",
)
"""Distributions whose versions a report lists (those installed)."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/weldsynth`` (default ``~/.cache/weldsynth``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "weldsynth"


def versions() -> dict[str, str]:
    """weldsynth, Python, the platform and the installed libraries' versions."""
    from weldsynth import __version__

    found = {"weldsynth": __version__, "python": sys.version.split()[0]}
    found["platform"] = platform.platform()
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def report_text(exc: BaseException, argv: Sequence[str]) -> str:
    """The text of a crash report of ``exc`` raised by the command line ``argv``."""
    lines = [
        "weldsynth crash report",
        f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
        f"command: {' '.join(argv)}",
        f"cwd: {os.getcwd()}",
        "",
        "versions:",
        *(f"  {k}: {v}" for k, v in versions().items()),
        "",
        "traceback:",
        "".join(traceback.format_exception(exc)).rstrip(),
        "",
    ]
    return "\n".join(lines)


def write_crash_report(
    exc: BaseException, argv: Sequence[str], folders: Sequence[Path] = ()
) -> Path:
    """Write a report of ``exc`` to the first of ``folders``/.weldsynth that can take it,
    else to :func:`cache_dir`.

    Args:
        exc: The exception, with its traceback.
        argv: The command line (for the report).
        folders: Output folders of the command, most fitting first.

    Returns:
        The report's path.

    Raises:
        OSError: No folder could take it.
    """
    from weldsynth.core.atomic import atomic_write_text

    text = report_text(exc, argv)
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    targets = [Path(f) / ".weldsynth" for f in folders if Path(f).is_dir()] + [cache_dir()]
    error: OSError | None = None
    for target in targets:
        try:
            return atomic_write_text(target / name, text)
        except OSError as exc_write:
            error = exc_write
    assert error is not None
    raise error
