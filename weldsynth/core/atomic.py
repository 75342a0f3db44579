"""Atomic file writes: readers see the old file or the new one, never half of one.

The data goes to a temporary file in the destination's folder (so the rename never crosses a
file system), is flushed and fsynced, then renamed over the destination with ``os.replace``
(atomic on POSIX and Windows). If anything fails before the rename, the temporary file is
removed and the old destination is untouched, and an ``OSError`` names the destination
(``ENOSPC`` from a write has no file name of its own).

Temporary files being written are registered (:func:`live_temp_files`), so that the CLI can
remove them when it is interrupted between the creation of one and its ``try``.

Many small files (``generate``'s images, masks and sidecars of one source) are made durable
together: inside ``with durable_batch():`` each write is still temp file + rename, but
without an fsync of its own; when the block ends without an error every file written in it
is made durable at once (their fsyncs issued together, so the file system commits them in
one or two journal transactions, not one per file), then each folder that gained an
entry. Record the files anywhere (a manifest row, a done marker) only after the block: a
crash before it leaves files that nothing points at, and the next run rewrites them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; parent folders are created.

    Args:
        path: Destination file.
        data: The whole new content.
        sync: False: no fsync, not even in a :func:`durable_batch` (for a file whose loss
            in a crash costs only work redone, e.g. a resume marker its reader checks).

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    _LIVE.add(tmp)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; give what open() would
        batch = _BATCH.get() if sync else None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync and batch is None:
                os.fsync(fh.fileno())
        os.replace(tmp, dest)
        if batch is not None:
            batch.add(dest)
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


class DurableBatch:
    """Files written atomically but not yet durable; see :func:`durable_batch`."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.folders: dict[Path, None] = {}  # insertion-ordered set

    def add(self, path: Path) -> None:
        """Record a file renamed into place without an fsync of its own."""
        self.files.append(path)
        self.folders[path.parent] = None

    def commit(self) -> None:
        """Make every file recorded durable, then the folders' new entries.

        The fsyncs are issued together from a few threads, so the file system commits them
        in one or two journal transactions instead of one per file, and only these files
        are written back (a ``syncfs`` would also wait for every other process's data on
        the file system: measured slower on a shared machine, bench/norm_speed.py).

        Raises:
            OSError: A sync failed (e.g. ENOSPC), naming the file or folder.
        """
        if not self.files:
            return
        files, folders = list(self.files), list(self.folders)
        self.files.clear()
        self.folders.clear()
        with ThreadPoolExecutor(max_workers=min(SYNC_THREADS, len(files))) as pool:
            list(pool.map(_fsync_path, files))
            if os.name != "nt":  # a folder cannot be opened for an fsync there
                list(pool.map(_fsync_path, folders, [_DIR_FLAGS] * len(folders)))


@contextlib.contextmanager
def durable_batch() -> Iterator[DurableBatch]:
    """Atomic writes in the block skip their own fsync; all are made durable when it ends.

    Nested blocks join the outer batch. When the block raises, nothing is synced (the files
    are in place but may not survive a crash; record them nowhere).
    """
    outer = _BATCH.get()
    if outer is not None:
        yield outer
        return
    batch = DurableBatch()
    token = _BATCH.set(batch)
    try:
        yield batch
    finally:
        _BATCH.reset(token)
    batch.commit()


def _fsync_path(path: Path, flags: int = os.O_RDWR) -> None:
    """fsync the file (or, with :data:`_DIR_FLAGS`, the folder) at ``path``.

    Raises:
        OSError: naming ``path``.
    """
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        os.close(fd)


SYNC_THREADS = 8
"""Threads a batch's fsyncs are issued from (they wait on the disk, not the CPU)."""
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
_BATCH: ContextVar[DurableBatch | None] = ContextVar("weldsynth_durable_batch", default=None)


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
