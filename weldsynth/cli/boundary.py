"""The CLI's one error boundary: every failure of every command ends as one line and an
exit status from one table, never as a traceback.

====  ===================================================================================
exit  meaning
====  ===================================================================================
0     ok
1     a check failed, or what was looked for was not found (``recipe check``, ``inspect``)
2     user error: a bad option, input file or folder; a file system error (disk full,
      permission denied, read-only folder, too many open files), naming the path
3     internal error: a bug; the line names the crash report (traceback and versions)
130   interrupted (Ctrl-C): the temporary files being written are removed first
====  ===================================================================================

``--debug`` (or ``WELDSYNTH_DEBUG=1``) prints the full traceback as well.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from weldsynth.core.errors import WeldsynthError

OK = 0
CHECK_FAILED = 1
USER_ERROR = 2
INTERNAL_ERROR = 3
INTERRUPTED = 130
EXIT_CODES = {
    OK: "ok",
    CHECK_FAILED: "check failed / not found",
    USER_ERROR: "user error (bad option, input, folder; disk full, permission denied)",
    INTERNAL_ERROR: "internal error (a crash report is written)",
    INTERRUPTED: "interrupted",
}
"""The exit status table (the README's)."""


def debug_from_env() -> bool:
    """Whether ``WELDSYNTH_DEBUG`` asks for tracebacks."""
    return os.environ.get("WELDSYNTH_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def one_line(text: str) -> str:
    """``text`` on one line (line breaks become ``; ``)."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts)


def handle(exc: BaseException, argv: Sequence[str], debug: bool) -> int:
    """Print ``exc`` for the user (one line, or the traceback with ``debug``); its exit status.

    Args:
        exc: What the command raised (not a click exception or ``SystemExit``).
        argv: The command line, for a crash report.
        debug: Print the traceback too.
    """
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, KeyboardInterrupt):
        return _interrupted()
    if isinstance(exc, WeldsynthError):
        _say(f"error: {one_line(str(exc))}")
        return USER_ERROR
    if isinstance(exc, OSError):
        _say(os_error_line(exc))
        return USER_ERROR
    return _crashed(exc, argv, debug)


def os_error_line(exc: OSError) -> str:
    """``error: PATH: errno text`` and, when an output folder is locked, what was kept."""
    from weldsynth.core.lock import kept_note, locked_folders

    text = exc.strerror or one_line(str(exc)) or type(exc).__name__
    where = None if exc.filename is None else os.fsdecode(exc.filename)
    if where is not None and exc.filename2 is not None:
        where = f"{where} -> {os.fsdecode(exc.filename2)}"
    if where is None and locked_folders():
        where = f"{locked_folders()[-1]} (writing)"
    line = f"error: {where}: {text}" if where else f"error: {text}"
    folders = locked_folders()
    inside = exc.filename is None or (bool(folders) and _inside(exc.filename, folders[-1]))
    note = kept_note() if inside else ""
    return f"{line}; {note}" if note else line


def _inside(file: str | bytes | os.PathLike, folder: Path) -> bool:
    """Whether ``file`` lies in ``folder`` (what was kept there concerns it)."""
    try:
        return Path(os.fsdecode(file)).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def _interrupted() -> int:
    from weldsynth.core.atomic import remove_live_temp_files

    removed = remove_live_temp_files()
    extra = f"; {removed} temporary file(s) removed" if removed else ""
    _say(f"interrupted{extra}")
    return INTERRUPTED


def _crashed(exc: BaseException, argv: Sequence[str], debug: bool) -> int:
    from weldsynth.core.atomic import remove_live_temp_files
    from weldsynth.core.crash import write_crash_report
    from weldsynth.core.lock import locked_folders

    remove_live_temp_files()
    what = one_line(f"{type(exc).__name__}: {exc}")[:300]
    folders = [*reversed(locked_folders()), *_out_options(argv)]
    try:
        report = write_crash_report(exc, argv, folders)
    except OSError as write_error:
        _say(f"error: internal error ({what}); no crash report could be written ({write_error})")
        return INTERNAL_ERROR
    hint = "" if debug else "; run with --debug to see the traceback"
    _say(f"error: internal error ({what}); crash report: {report}{hint}")
    return INTERNAL_ERROR


def _out_options(argv: Sequence[str]) -> list[Path]:
    """The folders given with ``--out`` on the command line."""
    found = []
    for i, word in enumerate(argv):
        if word == "--out" and i + 1 < len(argv):
            found.append(Path(argv[i + 1]))
        elif word.startswith("--out="):
            found.append(Path(word.split("=", 1)[1]))
    return found


def _say(line: str) -> None:
    with contextlib.suppress(OSError):  # stderr closed: nothing more can be said
        print(line, file=sys.stderr, flush=True)
