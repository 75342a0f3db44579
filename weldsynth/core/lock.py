"""Advisory lock on an output folder: one weldsynth writes a folder at a time.

Every command that writes a data set or a run folder (``generate``, ``balance``, ``split``,
``relabel``, ``train --out``, ``audit --out``, ...) holds :func:`output_lock` on it while it
writes. The lock is ``OUT/.weldsynth/lock``: ``fcntl.flock`` on POSIX (released by the
kernel when the holder dies, even by ``kill -9``), and the file holds the holder's pid and
host so that a second writer is told who has it::

    error: data is being written by another weldsynth (pid 4242 on node-3); wait or
    choose another --out

A lock file left by a process that is gone (its content is there but nobody holds the
``flock``) is taken over with a one-line notice. Where ``flock`` is missing (Windows) or not
supported by the file system, the pid in the file decides: a live pid on this host holds
the lock. The file itself is never deleted (deleting a lock file races with a process that
is opening it); it is emptied on release.

Nested use in one process (a pipeline calling a command's function) is re-entrant.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from weldsynth.core.errors import WeldsynthError

STATE_DIR = ".weldsynth"
LOCK_NAME = "lock"


class FolderLockedError(WeldsynthError):
    """Another weldsynth process is writing the folder.

    Attributes:
        folder: The locked folder.
        pid: The holder's process id (0 when unknown).
        host: The holder's host name ("" when unknown).
    """

    def __init__(self, folder: Path, pid: int, host: str, note: str = "") -> None:
        self.folder, self.pid, self.host = folder, pid, host
        who = f"pid {pid} on {host}" if pid else "pid unknown"
        super().__init__(
            f"{folder} is being written by another weldsynth ({who}){note}; "
            "wait or choose another --out"
        )


@dataclass
class _Held:
    fd: int
    count: int
    cleanup: list[Path]
    times: tuple[int, int] | None = None
    """(atime, mtime) in ns of the lock file before this run, put back on release."""


_HELD: dict[str, _Held] = {}
"""Locks this process holds: resolved folder -> open lock file and nesting depth."""
_LAST: list[tuple[Path, str]] = []
"""The folders locked by this process, most recent last (where a crash report goes), each
with what a failed run leaves there (:func:`kept_note`)."""


def lock_path(folder: str | os.PathLike[str]) -> Path:
    """The lock file of ``folder``."""
    return Path(folder) / STATE_DIR / LOCK_NAME


def locked_folders() -> list[Path]:
    """Folders this process has locked (held now or earlier), most recent last."""
    return [folder for folder, _ in _LAST]


def kept_note() -> str:
    """What a failed run keeps in the folder locked last ("" when nothing was said)."""
    return _LAST[-1][1] if _LAST else ""


def is_bare(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds nothing but (maybe) its lock: an empty output folder."""
    root = Path(folder)
    for entry in root.iterdir():
        if entry.name != STATE_DIR or not entry.is_dir():
            return False
        if any(p.name != LOCK_NAME for p in entry.iterdir()):
            return False
    return True


@contextmanager
def output_lock(
    folder: str | os.PathLike[str],
    kept: str = "",
    notice: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the advisory write lock of ``folder`` (created if missing) for the block.

    Args:
        folder: The output folder.
        kept: What a run that fails on a file system error (disk full) leaves in the folder,
            for the error line, e.g. "finished sources are kept; rerun to resume".
        notice: Prints the one-line notice when a stale lock is taken over (default: stderr).

    Yields:
        The lock file.

    Raises:
        FolderLockedError: Another live weldsynth holds it.
        OSError: The folder or its lock file cannot be created (read-only, ...).
    """
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise WeldsynthError(f"{root}: exists and is not a folder")
    key = str(root.resolve())
    held = _HELD.get(key)
    if held is not None:
        held.count += 1
        try:
            yield lock_path(root)
        finally:
            held.count -= 1
        return
    created = _make_dirs(root)
    try:
        before = os.stat(lock_path(root))
        times: tuple[int, int] | None = (before.st_atime_ns, before.st_mtime_ns)
    except OSError:
        times = None
    try:
        fd = _acquire(root, notice or _stderr)
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[key] = _Held(fd=fd, count=1, cleanup=created, times=times)
    _LAST.append((root, kept))
    try:
        yield lock_path(root)
    finally:
        _release(key)


def _make_dirs(root: Path) -> list[Path]:
    """Create ``root/.weldsynth``; return the folders this created (deepest first)."""
    created: list[Path] = []
    for path in (lock_path(root).parent, *lock_path(root).parent.parents):
        if path.exists():
            break
        created.append(path)
    lock_path(root).parent.mkdir(parents=True, exist_ok=True)
    return created


def _acquire(root: Path, notice: Callable[[str], None]) -> int:
    """Open and lock the lock file; write our pid and host into it."""
    file = lock_path(root)
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        pid, host = _read_owner(fd)
        if not _flock(fd):
            raise FolderLockedError(root, pid, host, _dead_note(pid, host))
        if pid and pid != os.getpid():
            if not _flock_supported() and _alive_here(pid, host):
                raise FolderLockedError(root, pid, host)
            notice(
                f"notice: {root}: taking over the lock of weldsynth pid {pid} on {host}, "
                "which is no longer running"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{socket.gethostname()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release(key: str) -> None:
    held = _HELD.get(key)
    if held is None:
        return
    held.count -= 1
    if held.count > 0:
        return
    del _HELD[key]
    try:
        os.ftruncate(held.fd, 0)
        if held.times is not None:  # a rerun that writes nothing leaves the folder as it was
            os.utime(held.fd, ns=held.times)
    except OSError:
        pass  # read-only now, or gone: the flock still goes with the close
    finally:
        os.close(held.fd)
    if held.cleanup:  # a run that made the folder and wrote nothing leaves nothing behind
        _remove_if_untouched(Path(key), held.cleanup)


def _remove_if_untouched(root: Path, created: list[Path]) -> None:
    """Remove the lock file and the folders in ``created`` if nothing else was written."""
    try:
        if [p.name for p in lock_path(root).parent.iterdir()] != [LOCK_NAME]:
            return
        lock_path(root).unlink()
    except OSError:
        return
    _remove_empty(created)


def _remove_empty(created: list[Path]) -> None:
    for path in created:  # deepest first
        try:
            path.rmdir()
        except OSError:
            return


def _read_owner(fd: int) -> tuple[int, str]:
    """(pid, host) written in the lock file, or (0, "")."""
    try:
        lines = os.pread(fd, 256, 0).decode("utf-8", "replace").splitlines()
        return int(lines[0]), lines[1] if len(lines) > 1 else ""
    except (OSError, ValueError, IndexError):
        return 0, ""


_NO_FLOCK: list[bool] = []


def _flock(fd: int) -> bool:
    """Try the exclusive flock: True when taken (or not supported here), False when held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the pid in the file decides
        _NO_FLOCK.append(True)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        _NO_FLOCK.append(True)  # ENOLCK, EOPNOTSUPP: a file system without locks
    return True


def _flock_supported() -> bool:
    return not _NO_FLOCK


def _alive_here(pid: int, host: str) -> bool:
    """Whether ``pid`` runs on this host (a pid on another host is taken as alive)."""
    if host and host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_note(pid: int, host: str) -> str:
    """Why a lock of a dead pid is still held: its worker processes live on."""
    if pid and host == socket.gethostname() and not _alive_here(pid, host):
        return ", which has exited but whose worker processes still run"
    return ""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
