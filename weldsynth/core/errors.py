"""Errors that weldsynth reports to users in one line (the CLI prints them and exits 2)."""

from __future__ import annotations

from pathlib import Path


class WeldsynthError(Exception):
    """Base class of every error meant for the user, not for a traceback."""


class HeightMapError(WeldsynthError, ValueError):
    """A height-map file cannot be used. Names the file and what is wrong with it.

    Attributes:
        path: The offending file.
        reason: What is wrong, in a few words.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MissingFileError(HeightMapError, FileNotFoundError):
    """The file does not exist."""


class NotAnImageError(HeightMapError):
    """The file is not a PNG image (wrong signature, a folder, a text file...)."""


class CorruptImageError(HeightMapError):
    """The PNG is truncated or its data cannot be decoded."""


class ColourImageError(HeightMapError):
    """The image has colour channels that differ, so it is not a height map."""


class TinyImageError(HeightMapError):
    """The image is empty or smaller than the minimum size."""


class NoDataError(HeightMapError):
    """Every pixel is 0 (no data): nothing to work on."""


class TooLargeImageError(HeightMapError):
    """The image's header claims more pixels than the limit (checked before decoding)."""


class GeometryNotFoundError(WeldsynthError):
    """The bead could not be located in a height map."""
