"""Atomic file writes: readers see the old file or the new one, never half of one.

The data goes to a temporary file in the destination's folder (so the rename never crosses a
file system), is flushed and fsynced, then renamed over the destination with ``os.replace``
(atomic on POSIX and Windows). If anything fails before the rename, the temporary file is
removed and the old destination is untouched, and an ``OSError`` names the destination
(``ENOSPC`` from a write has no file name of its own).

Temporary files being written are registered (:func:`live_temp_files`), so that the CLI can
remove them when it is interrupted between the creation of one and its ``try``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; parent folders are created.

    Args:
        path: Destination file.
        data: The whole new content.

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    _LIVE.add(tmp)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # a write or fsync: name the file
            raise OSError(exc.errno, exc.strerror, str(dest)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _LIVE.discard(tmp)
    return dest


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write_bytes` of its encoding)."""
    return atomic_write_bytes(path, text.encode(encoding))


def live_temp_files() -> list[Path]:
    """Temporary files this process is writing now (normally none outside a write)."""
    return [Path(t) for t in sorted(_LIVE)]


def remove_live_temp_files() -> int:
    """Remove the temporary files this process is writing (after an interrupt); count them."""
    removed = 0
    for tmp in list(_LIVE):
        try:
            Path(tmp).unlink()
            removed += 1
        except OSError:
            pass
        _LIVE.discard(tmp)
    return removed


_LIVE: set[str] = set()


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()
