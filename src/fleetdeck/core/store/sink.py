"""The sink that records runs: output bytes to per-host files as they arrive, results and audit to SQLite.

Output chunks are appended on the event loop itself: an unbuffered append to the page cache takes microseconds,
and doing it at once is what makes "nothing lost" hold even if the process dies a moment later. The database
is never touched per chunk; it gets one row when a run starts, one per host when the host finishes and one
update when the run finishes, all queued to the store's writer thread. The ``fsync`` and close of a finished
host's files also run on that thread, ahead of its result row, so a committed row means durable output and
the loop never waits on the disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from fleetdeck.core.runner.events import (
    HostConnecting,
    HostFinished,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
)
from fleetdeck.core.store.db import HostResultRecord, RunStore, StoreError
from fleetdeck.core.store.output_files import HostOutput, assign_file_names, make_private_dir

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Host:
    """What the sink tracks for one host of a run until the run ends."""

    name: str
    files: HostOutput | None = None
    started: float | None = None
    bytes_out: int = 0
    bytes_err: int = 0
    write_failed: bool = False


@dataclass(slots=True)
class _Run:
    """File names and open files of one run the sink follows."""

    run_id: str
    dir: Path
    names: dict[str, str]
    taken: dict[str, str]
    hosts: dict[str, _Host] = field(default_factory=dict)
    dir_ready: bool = False


class StoreSink:
    """Records every event of any number of runs into a :class:`RunStore` (the runner's ``Sink`` protocol).

    Keeps three file descriptors open per host that has printed and not finished: 500 hosts in flight hold at
    most 1,500 descriptors, and a finished host holds none once the writer thread has synced its files
    (milliseconds later). Output of a host that never finishes (a crash) is on disk all the same. Call it from
    one thread (the event loop). :meth:`close` does not close the store, which may outlive the sink.
    """

    def __init__(self, store: RunStore) -> None:
        """Record into ``store``."""
        self._store = store
        self._runs: dict[str, _Run] = {}

    def handle(self, event: RunEvent) -> None:
        """Take one event; only output appends touch the disk here, everything else is queued."""
        if isinstance(event, Output):
            self._output(event)
        elif isinstance(event, HostFinished):
            self._host_finished(event)
        elif isinstance(event, HostConnecting | HostRunning):
            host = self._host(event.run_id, event.host)
            if host.started is None:
                host.started = event.time
        elif isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, RunFinished):
            self._run_finished(event)

    def close(self) -> None:
        """Close any host files still open.

        Waiting for the database commit is left to the caller (``RunStore.flush`` in a thread), because
        this runs on the event loop, where a console must keep answering keys.
        """
        runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            for host in run.hosts.values():
                self._close_files(host)

    # -- events ----------------------------------------------------------------------------------------------

    def _run(self, run_id: str, hosts: tuple[str, ...] = ()) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            taken: dict[str, str] = {}
            names = assign_file_names(hosts, taken)
            run = _Run(run_id=run_id, dir=self._store.run_dir(run_id), names=names, taken=taken)
            self._runs[run_id] = run
        if not run.dir_ready:
            make_private_dir(run.dir)
            run.dir_ready = True
        return run

    def _host(self, run_id: str, host_name: str) -> _Host:
        run = self._run(run_id)
        host = run.hosts.get(host_name)
        if host is None:
            name = run.names.get(host_name)
            if name is None:  # a host the run did not announce: give it a name that clashes with none
                name = assign_file_names([host_name], run.taken)[host_name]
                run.names[host_name] = name
            host = _Host(name=name)
            run.hosts[host_name] = host
        return host

    def _run_started(self, event: RunStarted) -> None:
        run = self._run(event.run_id, event.hosts)
        unnamed = [h for h in event.hosts if h not in run.names]  # events that came before RunStarted
        if unnamed:
            run.names.update(assign_file_names(unnamed, run.taken))
        self._store.record_run_started(event)

    def _output(self, event: Output) -> None:
        if not event.data:
            return
        host = self._host(event.run_id, event.host)
        if host.started is None:
            host.started = event.time
        if event.stream == "stdout":
            host.bytes_out += len(event.data)
        else:
            host.bytes_err += len(event.data)
        try:
            if host.files is None:
                host.files = HostOutput(self._runs[event.run_id].dir / host.name)
            host.files.write(event.stream, event.data, event.time)
        except OSError as exc:
            if not host.write_failed:
                host.write_failed = True
                log.error("cannot save output of %s in run %s: %s", event.host, event.run_id, exc)
                self._store.audit(
                    "output_write_failed",
                    run_id=event.run_id,
                    detail={"host": event.host, "error": str(exc)},
                )

    def _host_finished(self, event: HostFinished) -> None:
        host = self._host(event.run_id, event.host)
        self._close_files(host)
        self._store.record_host_result(
            HostResultRecord(
                run_id=event.run_id,
                host=event.host,
                status=event.status,
                exit_status=event.exit_status,
                duration_s=event.duration_s,
                error=event.error,
                step=event.step,
                kill_confirmed=event.kill_confirmed,
                bytes_out=host.bytes_out,
                bytes_err=host.bytes_err,
                output_path=self._store.output_path(event.run_id, host.name),
                started=host.started if host.started is not None else event.time - event.duration_s,
                finished=event.time,
            )
        )

    def _run_finished(self, event: RunFinished) -> None:
        run = self._runs.pop(event.run_id, None)
        if run is not None:
            for host in run.hosts.values():
                self._close_files(host)
        self._store.record_run_finished(event)

    def _close_files(self, host: _Host) -> None:
        """Hand the host's files to the writer thread to fsync and close (or do it here if it is gone)."""
        files, host.files = host.files, None
        if files is None:
            return
        try:
            self._store.call_in_writer(files.close)
        except StoreError:
            files.close()
