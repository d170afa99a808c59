"""Per-host output files of a run: raw stdout and stderr bytes plus an index that keeps their interleaving.

Under ``runs/<run_id>/`` each host has ``<name>.out`` (stdout exactly as received), ``<name>.err`` (stderr
exactly as received) and ``<name>.idx``, one fixed-size record per chunk (stream, length, time; see
:data:`INDEX_RECORD`) so the original order of stdout and stderr can be replayed. ``<name>`` is the host
name made safe for a file name (:func:`safe_name`). Chunks go straight to the OS with unbuffered
``os.write`` calls, so a crash of this process loses nothing that was handed to :meth:`HostOutput.write`;
``fsync`` happens once, when the host finishes. Files are created 0600 and run dirs 0700 because output may
hold secrets the masking did not know about. This module is plain file handling and knows nothing of SQLite.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from fleetdeck.core.runner.events import Stream

INDEX_RECORD: Final = struct.Struct("<B3xId")
"""One index record: stream (0 stdout, 1 stderr), 3 pad bytes, chunk length (uint32), time (float64); 16 bytes."""

STREAM_CODES: Final[dict[Stream, int]] = {"stdout": 0, "stderr": 1}
_STREAM_NAMES: Final[tuple[Stream, Stream]] = ("stdout", "stderr")
SUFFIXES: Final = (".out", ".err", ".idx")

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700

_SAFE_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_NAME: Final = 200  # leaves room for a suffix under the usual 255-byte limit on a file name
_MAX_CHUNK: Final = 0xFFFFFFFF
_READ_PIECE: Final = 1 << 20

_OPEN_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


def safe_name(name: str) -> str:
    """Make a host name (or run id) usable as one file name component, reversibly.

    Bytes of the UTF-8 encoding outside ``[A-Za-z0-9._-]`` are percent-encoded, and so is a dot that starts
    the name or follows another dot, so the result is never ``.``, ``..``, hidden or containing ``..``.
    ``%`` itself is encoded, which keeps the mapping one-to-one. Very long names are cut and given a hash
    suffix (``~`` is never produced otherwise, so they cannot collide with an uncut name).

    Raises:
        ValueError: ``name`` is empty; there is nothing to name the files after.
    """
    if not name:
        raise ValueError("an empty name cannot be used for output files")
    parts: list[str] = []
    previous = ""
    for char in name:
        if char in _SAFE_CHARS and not (char == "." and previous in ("", ".")):
            parts.append(char)
        else:
            parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        previous = char
    safe = "".join(parts)
    if len(safe) > _MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        cut = safe[: _MAX_NAME - 17]
        escape = cut.rfind("%", len(cut) - 2)
        safe = (cut[:escape] if escape >= 0 else cut) + "~" + digest
    return safe


def assign_file_names(hosts: Iterable[str], taken: dict[str, str] | None = None) -> dict[str, str]:
    """Give each host a file name that differs from the others even on a case-insensitive filesystem.

    Deterministic in the order of ``hosts``, so the names of a crashed run can be rebuilt from its host
    list. ``taken`` maps already-used lower-cased names to their hosts; it is updated in place, which lets a
    caller add a host that was not in the original list without a clash.
    """
    used = taken if taken is not None else {}
    names: dict[str, str] = {}
    for host in hosts:
        if host in names:
            continue
        base = safe_name(host)
        name = base
        counter = 1
        while used.get(name.lower(), host) != host:
            counter += 1
            name = f"{base}~{counter}"
        used[name.lower()] = host
        names[host] = name
    return names


def make_private_dir(path: Path) -> None:
    """Create ``path`` and missing parents as 0700; an existing dir is left as it is."""
    if path.is_dir():
        return
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask


def _open_private(path: Path) -> int:
    fd = os.open(path, _OPEN_FLAGS, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have narrowed it; never widened, but be exact
    except OSError:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class HostOutput:
    """The three open files of one running host, appended to as chunks arrive.

    Holds exactly three file descriptors from the first chunk until :meth:`close`, so a run with 500 hosts
    in flight keeps at most 1,500 descriptors open for output; closed (finished) hosts hold none.
    """

    __slots__ = ("_err", "_idx", "_out", "stem")

    def __init__(self, stem: Path) -> None:
        """Open (creating 0600, appending) ``<stem>.out``, ``<stem>.err`` and ``<stem>.idx``."""
        self.stem = stem
        fds: list[int] = []
        try:
            for suffix in SUFFIXES:
                fds.append(_open_private(stem.with_name(stem.name + suffix)))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        self._out, self._err, self._idx = fds

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._idx < 0

    def write(self, stream: Stream, data: bytes, when: float) -> None:
        """Append one chunk: its bytes to the stream's file, then its index record.

        The data goes first so the index never points past what is on disk; a crash between the two leaves
        bytes that :func:`iter_chunks` still returns at the end.
        """
        if self.closed:
            raise ValueError(f"output files of {self.stem.name} are closed")
        view = memoryview(data)
        for start in range(0, len(view), _MAX_CHUNK):
            piece = view[start : start + _MAX_CHUNK]
            _write_all(self._out if stream == "stdout" else self._err, piece)
            _write_all(self._idx, INDEX_RECORD.pack(STREAM_CODES[stream], len(piece), when))

    def close(self, *, sync: bool = True) -> None:
        """Close the files, first making them durable with ``fsync`` unless ``sync`` is false. Idempotent."""
        if self.closed:
            return
        fds = (self._out, self._err, self._idx)
        self._out = self._err = self._idx = -1
        error: OSError | None = None
        for fd in fds:
            try:
                if sync:
                    os.fsync(fd)
            except OSError as exc:
                error = error or exc
            finally:
                os.close(fd)
        if error is not None:
            raise error


def output_exists(stem: Path) -> bool:
    """Whether any of the host's output files exist (a host that never printed may have none)."""
    return any(stem.with_name(stem.name + suffix).exists() for suffix in SUFFIXES)


def _read_pieces(file: BinaryIO, length: int) -> Iterator[bytes]:
    while length > 0:
        piece = file.read(min(length, _READ_PIECE))
        if not piece:
            return
        length -= len(piece)
        yield piece


def iter_chunks(stem: Path) -> Iterator[tuple[Stream, bytes]]:
    """Replay a host's output in the order it arrived, byte for byte.

    Chunks come back as they were written; one larger than 1 MiB comes back in 1 MiB pieces so replaying
    never needs much memory. Bytes on disk that the index does not cover (a crash between writing data and
    its record, or a torn last record) are returned at the end, stdout first, so nothing is lost. Missing
    files read as empty.
    """
    paths = [stem.with_name(stem.name + suffix) for suffix in SUFFIXES]
    files: list[BinaryIO | None] = []
    try:
        for path in paths:
            try:
                files.append(path.open("rb"))
            except FileNotFoundError:
                files.append(None)
        out, err, idx = files
        streams = (out, err)
        if idx is not None:
            while True:
                record = idx.read(INDEX_RECORD.size)
                if len(record) < INDEX_RECORD.size:
                    break
                code, length, _when = INDEX_RECORD.unpack(record)
                source = streams[code] if code < len(streams) else None
                if source is None:
                    continue
                for piece in _read_pieces(source, length):
                    yield _STREAM_NAMES[code], piece
        for code, source in enumerate(streams):
            if source is None:
                continue
            for piece in _read_pieces(source, 1 << 62):
                yield _STREAM_NAMES[code], piece
    finally:
        for file in files:
            if file is not None:
                file.close()
