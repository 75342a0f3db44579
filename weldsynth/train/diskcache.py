"""The on-disk half of the decode cache (:mod:`weldsynth.train.cache`).

``DATA/.weldsynth/cache/<H>x<W>/`` holds ``images.u16`` (raw uint16 rows of ``H×W``, the
layout of ``np.memmap``) and ``index.json``: the row of each content SHA-256 and a memo of
each file's (size, modification time, SHA-256) by its path in the data set. Only the images
missing from it are decoded; rows are written and synced before the index names them, so an
interrupted fill leaves a valid cache. ``lock`` serialises processes filling the same cache
(``fcntl.flock`` where it exists).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.io.manifest import sha256_file
from weldsynth.train.images import decode_all

FORMAT = "weldsynth-decode-cache/1"
CHUNK = 512
"""Images decoded (and written) per step."""
INDEX_EVERY = 8192
"""Rows written between two saves of the index (progress kept if the fill stops)."""
DISK_MARGIN = 256 << 20
"""Bytes left free on the disk after the cache has grown."""


@dataclass
class Filled:
    """What :meth:`DiskCache.load` found and added.

    Attributes:
        store: The cache's rows.
        rows: Row of each kept file, in order.
        kept: Indices of the files kept (readable).
        failures: (file, reason) of the others.
        decoded: Files decoded by this call.
        folder: The cache folder.
    """

    store: DiskStore
    rows: list[int]
    kept: list[int]
    failures: list[tuple[str, str]]
    decoded: int
    folder: Path


class DiskCache:
    """The disk cache of one data set at one input size.

    Args:
        folder: ``DATA/.weldsynth/cache/<H>x<W>``.
        size: (H, W).
    """

    def __init__(self, folder: Path, size: tuple[int, int]) -> None:
        self.folder, self.size = Path(folder), (int(size[0]), int(size[1]))
        self.data, self.index_file = self.folder / "images.u16", self.folder / "index.json"
        self.row_bytes = self.size[0] * self.size[1] * 2

    def load(self, paths: Sequence[Path], keys: Sequence[str], threads: int = 2) -> Filled:
        """The rows of ``paths`` (``keys``: their paths in the data set), decoding and
        adding the ones not cached yet.

        Raises:
            WeldsynthError: The folder cannot be written, or the new rows would not fit on
                its disk.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WeldsynthError(f"{self.folder}: cannot hold the decode cache ({exc})") from exc
        with self._locked():
            index = self._read_index()
            shas = [self._sha(index, Path(p), k) for p, k in zip(paths, keys, strict=True)]
            new = sorted({s for s in shas if s and s not in index["by_sha"]})
            first = {s: k for k, s in reversed(list(enumerate(shas))) if s}
            self._check_disk(len(new))
            unreadable = self._fill(index, [Path(paths[first[s]]) for s in new], new, threads)
            self._write_index(index)
        failures, kept, rows = [], [], []
        by_sha = index["by_sha"]
        for k, sha in enumerate(shas):
            if sha and sha in by_sha:
                kept.append(k)
                rows.append(int(by_sha[sha]))
            else:
                failures.append((str(paths[k]), unreadable.get(sha or "", "")))
        if any(not r for _, r in failures):  # unhashable files: the decoder says why
            redo = [Path(f) for f, r in failures if not r]
            reasons = dict(decode_all(redo, self.size, threads=1).failures)
            failures = [(f, r or reasons.get(f, "unreadable")) for f, r in failures]
        store = DiskStore(self.data, int(index["rows"]), self.size)
        return Filled(store, rows, kept, failures, len(new), self.folder)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one filler at a time is up to the user
            yield
            return
        with open(self.folder / "lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _read_index(self) -> dict[str, Any]:
        """The index, or a fresh one when absent, of another format or size, or when the
        data file is shorter than the rows it names."""
        fresh = {"format": FORMAT, "size": list(self.size), "rows": 0, "by_sha": {}, "files": {}}
        try:
            index = json.loads(self.index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return fresh
        ok = (
            isinstance(index, dict)
            and index.get("format") == FORMAT
            and index.get("size") == list(self.size)
            and self.data.is_file()
            and self.data.stat().st_size >= int(index.get("rows", 0)) * self.row_bytes
        )
        return index if ok else fresh

    def _write_index(self, index: dict[str, Any]) -> None:
        atomic_write_bytes(self.index_file, json.dumps(index, separators=(",", ":")).encode())

    @staticmethod
    def _sha(index: dict[str, Any], path: Path, key: str) -> str | None:
        """The file's content SHA-256 (from the memo when size and mtime are unchanged), or
        None when it cannot be read."""
        try:
            st = path.stat()
        except OSError:
            return None
        memo = index["files"].get(key)
        if memo and memo[0] == st.st_size and memo[1] == st.st_mtime_ns:
            return str(memo[2])
        try:
            sha = sha256_file(path)
        except OSError:
            return None
        index["files"][key] = [st.st_size, st.st_mtime_ns, sha]
        return sha

    def _check_disk(self, new_rows: int) -> None:
        need = new_rows * self.row_bytes
        if not need:
            return
        free = shutil.disk_usage(self.folder).free
        if need + DISK_MARGIN > free:
            raise WeldsynthError(
                f"decode cache: {new_rows} new images at {self.size[0]}x{self.size[1]} need "
                f"{need / 1e9:.1f} GB in {self.folder}, {free / 1e9:.1f} GB free; free some "
                "space, use a smaller --size, or a larger --cache-gb to keep them in RAM"
            )

    def _fill(
        self, index: dict[str, Any], paths: list[Path], shas: list[str], threads: int
    ) -> dict[str, str]:
        """Decode ``paths`` (content ``shas``) into new rows; returns sha -> reason of the
        unreadable ones."""
        unreadable: dict[str, str] = {}
        if not paths:
            return unreadable
        rows = int(index["rows"])
        fd = os.open(self.data, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            os.ftruncate(fd, (rows + len(paths)) * self.row_bytes)
            since_save = 0
            for start in range(0, len(paths), CHUNK):
                chunk = paths[start : start + CHUNK]
                decoded = decode_all(chunk, self.size, threads=threads)
                for j, k in enumerate(decoded.kept):
                    os.pwrite(fd, decoded.images[j].tobytes(), rows * self.row_bytes)
                    index["by_sha"][shas[start + k]] = rows
                    rows += 1
                bad = set(range(len(chunk))) - set(decoded.kept)
                reasons = dict(decoded.failures)
                unreadable.update({shas[start + k]: reasons[str(chunk[k])] for k in bad})
                since_save += len(chunk)
                if since_save >= INDEX_EVERY:
                    os.fsync(fd)
                    index["rows"], since_save = rows, 0
                    self._write_index(index)
            os.ftruncate(fd, rows * self.row_bytes)
            os.fsync(fd)
            index["rows"] = rows
        finally:
            os.close(fd)
        return unreadable


class DiskStore:
    """A raw uint16 ``(rows, H, W)`` file read by rows (``os.pread``; no mapping, so the
    pages read do not count as this process's memory).

    Args:
        file: The ``images.u16`` file.
        rows: Rows in the file.
        size: (H, W).
    """

    dtype = np.dtype(np.uint16)
    ndim = 3

    def __init__(self, file: Path, rows: int, size: tuple[int, int]) -> None:
        self.file, self.rows, self.size = Path(file), int(rows), tuple(size)
        self.row_bytes = int(np.prod(self.size)) * 2
        self._fd: int | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, H, W)."""
        return (self.rows, *self.size)  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.rows

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None}  # a worker opens its own descriptor

    def _read(self, first: int, count: int, into: np.ndarray) -> None:
        if self._fd is None:
            self._fd = os.open(self.file, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        want = count * self.row_bytes
        data = os.pread(self._fd, want, first * self.row_bytes)
        if len(data) != want:
            raise WeldsynthError(f"{self.file}: decode cache is truncated; delete it")
        into[:] = np.frombuffer(data, np.uint16).reshape(count, *self.size)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            rows = np.arange(*key.indices(self.rows))
        elif np.ndim(key) == 0:
            return self[np.array([int(key)])][0]
        else:
            rows = np.asarray(key)
            rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        out = np.empty((len(rows), *self.size), np.uint16)
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        start = 0
        while start < len(rows):  # one read per run of consecutive rows
            end = start + 1
            while end < len(rows) and sorted_rows[end] == sorted_rows[end - 1] + 1:
                end += 1
            block = np.empty((end - start, *self.size), np.uint16)
            self._read(int(sorted_rows[start]), end - start, block)
            out[order[start:end]] = block
            start = end
        return out

    def close(self) -> None:
        """Close the file descriptor (reopened on the next read)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError, TypeError):
            self.close()
