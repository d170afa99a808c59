"""Grouping hosts with identical output, like ``clush -b``, so a run over hundreds of hosts reads as a few blocks.

A :class:`Gatherer` follows the events of one run and keeps, per host, a digest of everything the host
printed (both streams, in the order received) and only the first ``head_bytes`` of it, so memory stays
bounded however much the hosts print; every byte is in the store anyway. Finished hosts whose digest, exit
status and final status agree form one :class:`OutputGroup`, headed by the folded node set
(``web[01-17,19] (rc=0, 18 hosts)``). Groups can be asked for at any time, which is what the console's live
gathered view and the CLI's ``--gather`` output both use.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass

from fleetdeck.core.nodeset import NodeSetError, fold, natural_key
from fleetdeck.core.runner.events import (
    FinalStatus,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunStarted,
    Stream,
)

__all__ = ["DEFAULT_HEAD_BYTES", "Gatherer", "OutputGroup", "fold_hosts", "host_error", "one_line"]

DEFAULT_HEAD_BYTES = 256 * 1024
"""Output kept per host for display; the rest is only counted (it is in the run's output files)."""

_STREAM_TAGS: dict[Stream, bytes] = {"stdout": b"o", "stderr": b"e"}

# Statuses whose header names the error: the status alone would not say what went wrong.
_ERROR_IN_HEADER = frozenset({"unreachable", "auth_failed", "host_key_failed", "error"})

_GroupKey = tuple[str, int | None, FinalStatus]


@dataclass(frozen=True, slots=True)
class OutputGroup:
    """Finished hosts that printed the same output and ended the same way.

    Attributes:
        hosts: The hosts, in natural order.
        nodeset: ``hosts`` folded into node-set notation (``web[01-17,19]``).
        outcome: How the hosts ended and how many they are, e.g. ``rc=0, 18 hosts`` or ``timeout, 2 hosts``.
        header: The node set with the outcome, e.g. ``web[01-17,19] (rc=0, 18 hosts)``.
        text: The output (decoded UTF-8, undecodable bytes replaced), ending with a note on how to see the
            rest when it was cut.
        status: The final status the hosts share.
        exit_status: The exit status they share (``None`` when the command never finished).
        digest: Hex sha256 of the output with stream tags, identical for every host of the group.
        total_bytes: How many bytes each host printed.
        truncated_bytes: How many of those are not in ``text``.
    """

    hosts: tuple[str, ...]
    nodeset: str
    outcome: str
    header: str
    text: str
    status: FinalStatus
    exit_status: int | None
    digest: str
    total_bytes: int
    truncated_bytes: int


class _HostOutput:
    """Running digest and bounded head of one host's output.

    The digest must not depend on how the output was chunked in transit, and the same text on another stream
    must differ. Each run of bytes on one stream is hashed on its own, and the outer hash takes fixed-size
    records of (stream tag, run digest), which no output can forge.
    """

    __slots__ = ("_outer", "_run", "_run_stream", "head", "total")

    def __init__(self) -> None:
        self._outer = hashlib.sha256()
        self._run: hashlib._Hash | None = None
        self._run_stream: Stream | None = None
        self.head = bytearray()
        self.total = 0

    def add(self, stream: Stream, data: bytes, head_limit: int) -> None:
        if stream != self._run_stream or self._run is None:
            self._close_run()
            self._run = hashlib.sha256()
            self._run_stream = stream
        self._run.update(data)
        room = head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
        self.total += len(data)

    def finish(self) -> str:
        self._close_run()
        return self._outer.hexdigest()

    def _close_run(self) -> None:
        if self._run is not None and self._run_stream is not None:
            self._outer.update(_STREAM_TAGS[self._run_stream] + self._run.digest())
        self._run = None
        self._run_stream = None


@dataclass(frozen=True, slots=True)
class _Result:
    """What the gatherer keeps about a finished host."""

    key: _GroupKey
    error: str | None


_EMPTY_DIGEST = _HostOutput().finish()


class Gatherer:
    """Follows one run's events and groups finished hosts by identical output and outcome.

    It is a :class:`~fleetdeck.core.runner.events.Sink`, so it can be subscribed to a run directly, and
    :meth:`groups` may be called whenever a view needs to be redrawn.

    Args:
        head_bytes: How much of each host's output to keep for display.
    """

    def __init__(self, head_bytes: int = DEFAULT_HEAD_BYTES) -> None:
        if head_bytes < 0:
            raise ValueError(f"head_bytes must be zero or more, got {head_bytes}")
        self.head_bytes = head_bytes
        self.run_id = ""
        self._known: dict[str, None] = {}
        self._live: dict[str, _HostOutput] = {}
        self._finished: dict[str, _Result] = {}
        # Output by digest: hosts with the same output share one copy of its head.
        self._heads: dict[str, tuple[bytes, int]] = {}

    def handle(self, event: RunEvent) -> None:
        """Take one event of the run."""
        if isinstance(event, Output):
            if event.data and event.host not in self._finished:
                acc = self._live.get(event.host)
                if acc is None:
                    acc = self._live[event.host] = _HostOutput()
                    self._known.setdefault(event.host, None)
                acc.add(event.stream, event.data, self.head_bytes)
        elif isinstance(event, HostFinished):
            self._finish(event)
        elif isinstance(event, RunStarted):
            self.run_id = event.run_id
            self._known.update(dict.fromkeys(event.hosts))
        elif isinstance(event, HostQueued | HostConnecting | HostRunning):
            self._known.setdefault(event.host, None)
        if not self.run_id:
            self.run_id = event.run_id

    def close(self) -> None:
        """Nothing to flush: groups stay available after the run."""

    def groups(self) -> list[OutputGroup]:
        """Group the hosts finished so far: largest group first, ties in natural order of their first host."""
        members: dict[_GroupKey, list[str]] = {}
        for host, result in self._finished.items():
            members.setdefault(result.key, []).append(host)
        groups: list[OutputGroup] = []
        for key, hosts in members.items():
            hosts.sort(key=natural_key)
            groups.append(self._group(key, hosts))
        groups.sort(key=lambda group: (-len(group.hosts), natural_key(group.hosts[0])))
        return groups

    def pending(self) -> list[str]:
        """Hosts of the run that have not finished yet, in natural order."""
        return sorted((host for host in self._known if host not in self._finished), key=natural_key)

    def _finish(self, event: HostFinished) -> None:
        if event.host in self._finished:
            return
        self._known.setdefault(event.host, None)
        acc = self._live.pop(event.host, None)
        digest = _EMPTY_DIGEST if acc is None else acc.finish()
        if digest not in self._heads:
            self._heads[digest] = (b"", 0) if acc is None else (bytes(acc.head), acc.total)
        error = host_error(event.host, event.error) if event.error else None
        self._finished[event.host] = _Result((digest, event.exit_status, event.status), error)

    def _group(self, key: _GroupKey, hosts: list[str]) -> OutputGroup:
        digest, exit_status, status = key
        head, total = self._heads[digest]
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        truncated = total - len(head)
        text = decoder.decode(head, final=not truncated)
        if truncated:
            # A character cut by the head limit is counted with the rest rather than shown as garbage.
            truncated += len(decoder.getstate()[0])
            text += ("" if not text or text.endswith("\n") else "\n") + (
                f"… {truncated} more bytes: fleetdeck history {self.run_id} --host {hosts[0]}"
            )
        errors = {self._finished[host].error for host in hosts}
        nodeset = fold_hosts(hosts)
        outcome = _outcome(status, exit_status, errors, len(hosts))
        return OutputGroup(
            hosts=tuple(hosts),
            nodeset=nodeset,
            outcome=outcome,
            header=f"{nodeset} ({outcome})",
            text=text,
            status=status,
            exit_status=exit_status,
            digest=digest,
            total_bytes=total,
            truncated_bytes=truncated,
        )


def fold_hosts(hosts: list[str]) -> str:
    """Fold host names into node-set notation, or list them when a name cannot be folded."""
    try:
        return fold(hosts)
    except NodeSetError:
        return ",".join(hosts)


def _outcome(status: FinalStatus, exit_status: int | None, errors: set[str | None], count: int) -> str:
    """Describe how a group ended: ``rc=0``, ``timeout``, ``unreachable: <error>``, plus the host count."""
    parts: list[str] = []
    if status not in ("ok", "failed") or exit_status is None:
        label: str = status
        if status in _ERROR_IN_HEADER or (status == "failed" and exit_status is None):
            shown = {error for error in errors if error}
            if len(shown) == 1:
                label += f": {shown.pop()}"
            elif shown:
                label += f": {len(shown)} different errors"
        parts.append(label)
    if exit_status is not None:
        parts.append(f"rc={exit_status}")
    parts.append(f"{count} host" if count == 1 else f"{count} hosts")
    return ", ".join(parts)


def one_line(text: str) -> str:
    """Collapse a possibly multi-line error message into one line for headers and diagnostics."""
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def host_error(host: str, error: str) -> str:
    """An error message on one line without a leading ``host:``, which would repeat the name shown beside it.

    Without the prefix, hosts that failed for the same reason also compare equal in group headers.
    """
    text = one_line(error)
    prefix = f"{host}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
