"""Saving one host's full output from the run store to a file the operator names.

The console's tails hold only the newest lines; the store has every byte. :func:`save_host_output` copies a
host's stdout and stderr, interleaved in the order they arrived and byte for byte (what
``fleetdeck history RUN --host HOST >FILE 2>&1`` writes), into a file of the operator's choosing. An existing
file is never replaced unless the caller says so, so the console can ask first; a replacement goes through
a temporary file and a rename, so a failure half way leaves the old file as it was. Saved files are created
0600, like the store's own, because output may hold secrets the masking did not know about. Plain file
handling: it blocks on the disk, so the console calls it from a thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.runner.events import Stream
from fleetdeck.core.store.db import RunStore
from fleetdeck.core.store.output_files import FILE_MODE, safe_name

_CREATE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class OutputSaveError(FleetdeckError):
    """The output could not be saved; the message says where and what to do."""


class OutputExistsError(OutputSaveError):
    """The destination exists and replacing it was not allowed (ask the operator, then retry with ``overwrite``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} already exists")


@dataclass(frozen=True, slots=True)
class SavedOutput:
    """Where a host's output went and how much of it there was.

    Attributes:
        path: The file written, absolute.
        bytes_out: Bytes of stdout in it.
        bytes_err: Bytes of stderr in it.
    """

    path: Path
    bytes_out: int
    bytes_err: int

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self.bytes_out + self.bytes_err


def default_output_name(run_id: str, host: str) -> str:
    """``<run-id>-<host>.log``, both made safe for a file name (a host name may hold ``/`` or ``:``)."""
    return f"{safe_name(run_id)}-{safe_name(host)}.log"


def resolve_destination(text: str, default_name: str, cwd: Path) -> Path:
    """The file a typed path means: ``~`` expanded, relative to ``cwd``, a directory completed with the default name.

    A path ending in a separator, or naming an existing directory, means "in there", the way ``cp`` reads it.

    Raises:
        OutputSaveError: Nothing was typed.
    """
    typed = text.strip()
    if not typed:
        raise OutputSaveError(f"no file given: type a path, e.g. ./{default_name}")
    path = Path(typed).expanduser()
    if not path.is_absolute():
        path = cwd / path
    if typed.endswith(("/", os.sep)) or path.is_dir():
        path = path / default_name
    return Path(os.path.normpath(path))


def write_output(chunks: Iterable[tuple[Stream, bytes]], dest: Path, *, overwrite: bool = False) -> SavedOutput:
    """Write ``chunks`` to ``dest`` as they come, in order, byte for byte.

    Args:
        chunks: Output as ``(stream, data)`` pairs, e.g. from :meth:`RunStore.iter_output`.
        dest: The file to write; its directory must exist.
        overwrite: Replace an existing file (atomically) instead of refusing.

    Returns:
        The absolute path and the byte counts.

    Raises:
        OutputExistsError: ``dest`` exists and ``overwrite`` is false.
        OutputSaveError: The file cannot be written (missing directory, permission, a full disk, ...); no
            partial file is left behind.
    """
    dest = dest if dest.is_absolute() else Path.cwd() / dest
    if dest.is_dir():
        raise OutputSaveError(f"cannot save to {dest}: it is a directory; give a file name inside it")
    try:
        if overwrite:
            fd, temp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            partial = Path(temp_name)
        else:
            fd = os.open(dest, _CREATE_FLAGS, FILE_MODE)
            partial = dest
    except FileExistsError:
        raise OutputExistsError(dest) from None
    except OSError as exc:
        raise _write_error(dest, exc) from exc
    counts: dict[Stream, int] = {"stdout": 0, "stderr": 0}
    try:
        try:
            with os.fdopen(fd, "wb") as file:
                for stream, data in chunks:
                    file.write(data)
                    counts[stream] += len(data)
            if overwrite:
                partial.replace(dest)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    except OSError as exc:
        raise _write_error(dest, exc) from exc
    return SavedOutput(dest, counts["stdout"], counts["stderr"])


def save_host_output(store: RunStore, run_ref: str, host: str, dest: Path, *, overwrite: bool = False) -> SavedOutput:
    """Save every byte a host of a run printed, from the store's files, to ``dest``.

    Works for a run still going (what has arrived so far). Blocks on the disk: call it from a thread.

    Args:
        store: The run store.
        run_ref: The run (an id or any reference :meth:`RunStore.get_run` takes).
        host: The host.
        dest: The file to write.
        overwrite: Replace an existing file instead of refusing.

    Raises:
        OutputExistsError: ``dest`` exists and ``overwrite`` is false.
        OutputSaveError: The file cannot be written, or the store's files cannot be read.
        UnknownRunError: No such run.
        UnknownRunHostError: The host is not part of the run.
    """
    if not store.closed:
        store.flush()  # a run that just started may not be committed yet
    chunks = store.iter_output(run_ref, host)
    try:
        return write_output(_reading(chunks, host), dest, overwrite=overwrite)
    except _ReadError as exc:
        cause = exc.__cause__
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        raise OutputSaveError(
            f"cannot read the stored output of {host} ({detail}); nothing was saved. "
            "The run may have been pruned: see 'fleetdeck history'"
        ) from cause


class _ReadError(Exception):
    """Reading the store failed, as opposed to writing the destination."""


def _reading(chunks: Iterable[tuple[Stream, bytes]], host: str) -> Iterable[tuple[Stream, bytes]]:
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except OSError as exc:
            raise _ReadError(host) from exc
        yield chunk


def _write_error(dest: Path, exc: OSError) -> OutputSaveError:
    """Say what went wrong with ``dest`` and what to do about it."""
    parent = dest.parent
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        return OutputSaveError(
            f"cannot save to {dest}: the directory {parent} does not exist; create it or choose another path"
        )
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputSaveError(
            f"cannot save to {dest}: permission denied ({exc.strerror}); choose a directory you can write to"
        )
    if isinstance(exc, NotADirectoryError):
        return OutputSaveError(f"cannot save to {dest}: part of {parent} is a file, not a directory")
    if isinstance(exc, IsADirectoryError):
        return OutputSaveError(f"cannot save to {dest}: it is a directory; give a file name inside it")
    if exc.errno == errno.ENOSPC:
        return OutputSaveError(f"cannot save to {dest}: no space left on the device; nothing was kept")
    return OutputSaveError(f"cannot save to {dest}: {exc.strerror or exc}")
