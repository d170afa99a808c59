"""The run store keeps every byte of output and a readable record of runs, even across a crash."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest

from fleetdeck.core.runner.events import (
    HostConnecting,
    HostFinished,
    HostRunning,
    Output,
    RunFinished,
    RunStarted,
    Stream,
)
from fleetdeck.core.store import (
    UNFINISHED,
    RunStore,
    StoreSink,
    UnknownRunError,
    UnknownRunHostError,
    assign_file_names,
    iter_chunks,
    new_run_id,
    safe_name,
)
from fleetdeck.core.store.db import DB_NAME, SCHEMA_VERSION
from fleetdeck.core.store.output_files import INDEX_RECORD

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "state") as s:
        yield s


def sink_store(sink: StoreSink) -> RunStore:
    """The store a sink writes to: closing a sink leaves the commit wait to the caller."""
    return sink._store


def start(
    run_id: str,
    hosts: tuple[str, ...],
    t: float = T0,
    params: dict[str, object] | None = None,
    command: str | None = None,
) -> RunStarted:
    return RunStarted(run_id, "uptime", "@all", hosts, params=params or {}, command=command, user="ops", time=t)


def finish(run_id: str, t: float, exit_code: int = 0, *, halted: bool = False, cancelled: bool = False) -> RunFinished:
    return RunFinished(run_id, {"ok": 1}, exit_code, 1.0, halted=halted, cancelled=cancelled, time=t)


def record_run(store: RunStore, run_id: str, t: float, hosts: tuple[str, ...] = ("h1",), exit_code: int = 0) -> None:
    """A whole small run through a sink: one line of stdout per host."""
    sink = StoreSink(store)
    sink.handle(start(run_id, hosts, t))
    for host in hosts:
        sink.handle(Output(run_id, host, "stdout", f"{host} says hi\n".encode(), time=t + 0.1))
        sink.handle(HostFinished(run_id, host, "ok" if exit_code == 0 else "failed", exit_code, 0.2, time=t + 0.2))
    sink.handle(finish(run_id, t + 1, exit_code))
    sink.close()
    sink_store(sink).flush()


def replay(store: RunStore, run_ref: str, host: str) -> list[tuple[Stream, bytes]]:
    return list(store.iter_output(run_ref, host))


# -- the whole life of a run ------------------------------------------------------------------------------------

INTERLEAVED: dict[str, list[tuple[Stream, bytes]]] = {
    "web01": [
        ("stdout", b"starting\n"),
        ("stderr", b"warning: \xff\xfe not utf-8\n"),
        ("stdout", b"progress 10%\rprogress 50%\rprogress 100%\n"),
        ("stderr", b"\x00\x01\x02binary\x80"),
        ("stdout", b"partial line without newline"),
        ("stdout", b" ...continued\r\n"),
    ],
    "db01": [
        ("stderr", b"E: first\n"),
        ("stderr", b"E: second\n"),
        ("stdout", bytes(range(256))),
        ("stderr", b"\xe2\x82"),  # a UTF-8 sequence cut in the middle...
        ("stderr", b"\xac\n"),  # ...completed in the next chunk
    ],
    "cache01": [],
}


def test_run_lifecycle_records_everything_and_replays_byte_for_byte(store: RunStore) -> None:
    run_id = "20240501-120000-abcd"
    hosts = tuple(INTERLEAVED)
    sink = StoreSink(store)
    sink.handle(start(run_id, hosts, params={"service": "nginx", "token": "***"}, command="uptime"))
    for host in hosts:
        sink.handle(HostConnecting(run_id, host, time=T0 + 0.01))
        sink.handle(HostRunning(run_id, host, "uptime", 0, time=T0 + 0.02))
    # interleave hosts as well as streams
    t = T0 + 0.1
    for i in range(max(len(c) for c in INTERLEAVED.values())):
        for host, chunks in INTERLEAVED.items():
            if i < len(chunks):
                t += 0.001
                sink.handle(Output(run_id, host, chunks[i][0], chunks[i][1], time=t))
    sink.handle(HostFinished(run_id, "web01", "ok", 0, 1.5, time=T0 + 2))
    sink.handle(HostFinished(run_id, "db01", "failed", 3, 1.6, error="exit status 3", step="uptime", time=T0 + 2))
    sink.handle(HostFinished(run_id, "cache01", "timeout", None, 30.0, kill_confirmed=True, time=T0 + 31))
    sink.handle(RunFinished(run_id, {"ok": 1, "failed": 1, "timeout": 1}, exit_code=1, duration_s=31.0, time=T0 + 31))
    sink.close()
    sink_store(sink).flush()

    for host, chunks in INTERLEAVED.items():
        assert replay(store, run_id, host) == chunks
    run_dir = store.run_dir(run_id)
    assert (run_dir / "web01.out").read_bytes() == b"".join(d for s, d in INTERLEAVED["web01"] if s == "stdout")
    assert (run_dir / "web01.err").read_bytes() == b"".join(d for s, d in INTERLEAVED["web01"] if s == "stderr")
    assert (run_dir / "web01.idx").stat().st_size == INDEX_RECORD.size * len(INTERLEAVED["web01"])

    run = store.get_run(run_id)
    assert run.status == "failed" and run.exit_code == 1 and run.finished == T0 + 31
    assert run.hosts == hosts and run.params == {"service": "nginx", "token": "***"} and run.command == "uptime"
    assert run.counts == {"ok": 1, "failed": 1, "timeout": 1}
    doc = run.to_json()
    assert doc["id"] == run_id and doc["task"] == "uptime" and doc["status"] == "failed"
    assert doc["started"] == "2024-05-01T12:00:00.000Z" and doc["finished"] == "2024-05-01T12:00:31.000Z"
    json.dumps(doc)

    results = {r.host: r for r in store.host_results(run_id)}
    assert [r.host for r in store.host_results(run_id)] == list(hosts)  # the run's host order
    web = results["web01"]
    assert web.status == "ok" and web.exit_status == 0 and web.started == T0 + 0.01 and web.finished == T0 + 2
    assert web.bytes_out == sum(len(d) for s, d in INTERLEAVED["web01"] if s == "stdout")
    assert web.bytes_err == sum(len(d) for s, d in INTERLEAVED["web01"] if s == "stderr")
    assert web.output_path == f"runs/{run_id}/web01"
    assert results["db01"].error == "exit status 3" and results["db01"].step == "uptime"
    assert results["cache01"].kill_confirmed is True and results["cache01"].exit_status is None
    assert results["cache01"].bytes_out == 0 and replay(store, run_id, "cache01") == []
    json.dumps(results["db01"].to_json())

    assert store.hosts_with_status("last", {"failed", "error"}) == ["db01"]
    assert store.hosts_with_status(run_id, {"failed", "timeout"}) == ["db01", "cache01"]
    actions = [(a.action, a.run_id, a.user) for a in store.audit_entries(run_id)]
    assert actions == [("run_finished", run_id, "ops"), ("run_started", run_id, "ops")]
    started_detail = store.audit_entries(run_id)[-1].detail
    assert started_detail["hosts"] == 3 and started_detail["params"] == {"service": "nginx", "token": "***"}


def test_run_statuses_are_derived(store: RunStore) -> None:
    sink = StoreSink(store)
    sink.handle(start("r-running", ("h",), T0))
    sink.handle(start("r-halted", ("h",), T0 + 1))
    sink.handle(finish("r-halted", T0 + 2, 1, halted=True))
    sink.handle(start("r-cancelled", ("h",), T0 + 3))
    sink.handle(finish("r-cancelled", T0 + 4, 130, cancelled=True))
    sink.handle(start("r-ok", ("h",), T0 + 5))
    sink.handle(finish("r-ok", T0 + 6, 0))
    store.flush()
    assert [(r.id, r.status) for r in store.list_runs()] == [
        ("r-ok", "ok"),
        ("r-cancelled", "cancelled"),
        ("r-halted", "halted"),
        ("r-running", "running"),
    ]
    assert store.list_runs(limit=1)[0].id == "r-ok"
    assert store.get_run("r-running").duration_s is None
    sink.close()
    sink_store(sink).flush()


def test_output_of_a_host_that_never_finishes_is_still_on_disk(store: RunStore) -> None:
    sink = StoreSink(store)
    sink.handle(start("r1", ("a", "b")))
    sink.handle(Output("r1", "a", "stdout", b"done\n"))
    sink.handle(HostFinished("r1", "a", "ok", 0, 0.1))
    sink.handle(Output("r1", "b", "stdout", b"still going\n"))
    sink.handle(Output("r1", "b", "stderr", b"\x1b[31mred\x1b[0m\n"))
    # nothing flushed or closed: the bytes are with the OS already
    assert (store.run_dir("r1") / "b.out").read_bytes() == b"still going\n"
    assert (store.run_dir("r1") / "b.err").read_bytes() == b"\x1b[31mred\x1b[0m\n"
    sink.close()
    sink_store(sink).flush()


# -- big output ----------------------------------------------------------------------------------------------------


def test_100_mb_of_output_streams_through_in_little_memory(store: RunStore) -> None:
    chunk_size, total = 64 * 1024, 100 * 1024 * 1024
    sink = StoreSink(store)
    sink.handle(start("big", ("bulk",)))
    sent = hashlib.sha256()
    tracemalloc.start()
    try:
        for i in range(total // chunk_size):
            data = hashlib.sha256(i.to_bytes(4, "big")).digest() * (chunk_size // 32)
            sent.update(data)
            sink.handle(Output("big", "bulk", "stdout", data))
        sink.handle(HostFinished("big", "bulk", "ok", 0, 9.0))
        sink.handle(finish("big", T0 + 10))
        sink.close()
        sink_store(sink).flush()
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        replayed = hashlib.sha256()
        count = 0
        for stream, data in store.iter_output("big", "bulk"):
            assert stream == "stdout"
            replayed.update(data)
            count += len(data)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 3 * 1024 * 1024, f"writing peaked at {write_peak} bytes"
    assert read_peak < 3 * 1024 * 1024, f"replaying peaked at {read_peak} bytes"
    assert count == total and replayed.hexdigest() == sent.hexdigest()

    on_disk = hashlib.sha256()
    with (store.run_dir("big") / "bulk.out").open("rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            on_disk.update(piece)
    assert on_disk.hexdigest() == sent.hexdigest()
    assert store.host_results("big")[0].bytes_out == total


def test_a_chunk_larger_than_the_read_size_replays_in_pieces(tmp_path: Path, store: RunStore) -> None:
    sink = StoreSink(store)
    sink.handle(start("r", ("h",)))
    big = os.urandom(3 * 1024 * 1024 + 17)
    sink.handle(Output("r", "h", "stderr", b"before"))
    sink.handle(Output("r", "h", "stdout", big))
    sink.handle(Output("r", "h", "stderr", b"after"))
    sink.close()
    sink_store(sink).flush()
    chunks = replay(store, "r", "h")
    assert chunks[0] == ("stderr", b"before") and chunks[-1] == ("stderr", b"after")
    assert all(s == "stdout" for s, _ in chunks[1:-1]) and b"".join(d for _, d in chunks[1:-1]) == big


# -- crashes -------------------------------------------------------------------------------------------------------


def test_a_run_cut_short_is_listed_as_interrupted_with_its_output(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = RunStore(state)
    sink = StoreSink(first)
    sink.handle(start("20240501-120000-dead", ("a", "b", "c")))
    sink.handle(Output("20240501-120000-dead", "a", "stdout", b"a done\n"))
    sink.handle(HostFinished("20240501-120000-dead", "a", "ok", 0, 0.5))
    sink.handle(Output("20240501-120000-dead", "b", "stdout", b"b half\xff"))
    sink.handle(Output("20240501-120000-dead", "b", "stderr", b"b err"))
    first.close()  # no HostFinished for b and c, no RunFinished, the sink is never closed

    with RunStore(state) as second:
        [run] = second.list_runs()
        assert run.status == "interrupted" and run.finished is None and run.to_json()["finished"] is None
        assert [r.host for r in second.host_results("last")] == ["a"]
        assert replay(second, "last", "b") == [("stdout", b"b half\xff"), ("stderr", b"b err")]
        assert replay(second, "last", "c") == []
        assert second.hosts_with_status("last", {UNFINISHED}) == ["b", "c"]
    sink.close()
    sink_store(sink).flush()


def test_a_killed_process_leaves_readable_runs_and_every_byte(tmp_path: Path) -> None:
    state = tmp_path / "state"
    code = dedent(
        f"""
        import os
        from pathlib import Path
        from fleetdeck.core.runner.events import HostFinished, Output, RunStarted
        from fleetdeck.core.store import RunStore, StoreSink

        store = RunStore(Path({str(state)!r}))
        sink = StoreSink(store)
        sink.handle(RunStarted("killed", "deploy", "web*", ("web1", "web2")))
        sink.handle(Output("killed", "web1", "stdout", b"web1 ok\\n"))
        sink.handle(HostFinished("killed", "web1", "ok", 0, 1.0))
        store.flush()  # what a running process would have committed by now
        sink.handle(Output("killed", "web2", "stdout", b"web2 last words\\r\\n"))
        os._exit(9)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    with RunStore(state) as store:
        run = store.get_run("killed")
        assert run.status == "interrupted" and run.task == "deploy"
        assert [(r.host, r.status) for r in store.host_results("killed")] == [("web1", "ok")]
        assert replay(store, "killed", "web2") == [("stdout", b"web2 last words\r\n")]
        assert store.hosts_with_status("killed", {"ok"}) == ["web1"]


def test_bytes_written_without_an_index_record_are_not_lost(tmp_path: Path) -> None:
    stem = tmp_path / "h"
    (tmp_path / "h.out").write_bytes(b"indexed" + b"orphan")
    (tmp_path / "h.err").write_bytes(b"err-orphan")
    (tmp_path / "h.idx").write_bytes(INDEX_RECORD.pack(0, 7, T0) + b"\x01\x00")  # a torn second record
    assert list(iter_chunks(stem)) == [("stdout", b"indexed"), ("stdout", b"orphan"), ("stderr", b"err-orphan")]
    assert list(iter_chunks(tmp_path / "missing")) == []


# -- finding runs ----------------------------------------------------------------------------------------------


def test_get_run_by_id_prefix_last_and_negative_index(store: RunStore) -> None:
    record_run(store, "20240501-120000-aaaa", T0)
    record_run(store, "20240501-120000-aabb", T0 + 1)
    record_run(store, "20240502-090000-cccc", T0 + 86400)
    assert store.get_run("20240501-120000-aaaa").id == "20240501-120000-aaaa"
    assert store.get_run("20240502").id == "20240502-090000-cccc"
    assert store.get_run("20240501-120000-aab").id == "20240501-120000-aabb"
    assert store.get_run("last").id == store.get_run("-1").id == "20240502-090000-cccc"
    assert store.get_run("-2").id == "20240501-120000-aabb"
    assert store.get_run(" -3 ").id == "20240501-120000-aaaa"

    with pytest.raises(UnknownRunError, match=r"'20240501-120000-a' is ambiguous: 2 runs") as ambiguous:
        store.get_run("20240501-120000-a")
    assert set(ambiguous.value.candidates) == {"20240501-120000-aaaa", "20240501-120000-aabb"}
    assert "20240501-120000-aaaa" in str(ambiguous.value) and "20240501-120000-aabb" in str(ambiguous.value)
    with pytest.raises(UnknownRunError, match=r"no run '2023'"):
        store.get_run("2023")
    with pytest.raises(UnknownRunError, match=r"no run '-4': only 3 run"):
        store.get_run("-4")
    with pytest.raises(UnknownRunError, match=r"no run '-0'"):
        store.get_run("-0")
    with pytest.raises(UnknownRunError, match="no run given"):
        store.get_run("")
    with pytest.raises(ValueError):  # callers may catch it as a plain ValueError
        store.get_run("nope")


def test_get_run_on_an_empty_store_says_so(store: RunStore) -> None:
    with pytest.raises(UnknownRunError, match="no runs are recorded yet"):
        store.get_run("last")


def test_unknown_host_names_the_hosts_of_the_run(store: RunStore) -> None:
    record_run(store, "r1", T0, hosts=("web1", "web2"))
    with pytest.raises(UnknownRunHostError, match=r"'db9' is not part of run r1; its hosts are: web1, web2"):
        store.iter_output("r1", "db9")


def test_new_run_ids_are_readable_and_sortable(store: RunStore) -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", new_run_id())
    assert new_run_id(T0).startswith("20240501-120000-")
    assert new_run_id(T0) < new_run_id(T0 + 1)
    ids = {store.new_run_id() for _ in range(50)}
    assert len(ids) == 50


# -- file names and modes ----------------------------------------------------------------------------------------


def test_host_names_are_made_safe_for_file_names(store: RunStore) -> None:
    hosts = ("../evil", "..", ".hidden", "wéb-01", "a/b", "ok-host_1.example.com", "x%41", "xA", "a..b")
    assert safe_name("../evil") == "%2E%2E%2Fevil"
    assert safe_name("..") == "%2E%2E"
    assert safe_name(".hidden") == "%2Ehidden"
    assert safe_name("wéb-01") == "w%C3%A9b-01"
    assert safe_name("ok-host_1.example.com") == "ok-host_1.example.com"
    assert safe_name("a..b") == "a.%2Eb"
    assert safe_name("x%41") != safe_name("xA")
    assert len(safe_name("h" * 300)) <= 200 and safe_name("h" * 300) != safe_name("h" * 301)
    with pytest.raises(ValueError):
        safe_name("")

    sink = StoreSink(store)
    sink.handle(start("r", hosts))
    for host in hosts:
        sink.handle(Output("r", host, "stdout", host.encode()))
        sink.handle(HostFinished("r", host, "ok", 0, 0.1))
    sink.handle(finish("r", T0 + 1))
    sink.close()
    sink_store(sink).flush()

    run_dir = store.run_dir("r")
    assert not (run_dir.parent / "evil.out").exists() and not (store.state_dir / "evil.out").exists()
    names = sorted(p.name for p in run_dir.iterdir())
    assert len(names) == 3 * len(hosts)
    assert all(".." not in n and "/" not in n and not n.startswith(".") for n in names)
    for host in hosts:
        assert replay(store, "r", host) == [("stdout", host.encode())]
    paths = {r.host: r.output_path for r in store.host_results("r")}
    assert paths["wéb-01"] == "runs/r/w%C3%A9b-01"


def test_names_differ_even_on_a_case_insensitive_filesystem() -> None:
    names = assign_file_names(["Web1", "web1", "WEB1", "db"])
    assert names["Web1"] == "Web1" and names["db"] == "db"
    assert len({n.lower() for n in names.values()}) == 4


def test_output_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0)  # even a permissive umask must not widen them
    try:
        with RunStore(tmp_path / "state") as store:
            record_run(store, "r", T0)

            def mode(path: Path) -> int:
                return stat.S_IMODE(path.stat().st_mode)

            assert mode(store.state_dir) == 0o700
            assert mode(store.runs_dir) == 0o700
            assert mode(store.run_dir("r")) == 0o700
            for suffix in (".out", ".err", ".idx"):
                assert mode(store.run_dir("r") / f"h1{suffix}") == 0o600
            assert mode(store.state_dir / DB_NAME) == 0o600
            for extra in ("-wal", "-shm"):
                path = store.state_dir / (DB_NAME + extra)
                if path.exists():
                    assert mode(path) == 0o600
    finally:
        os.umask(old)


# -- the database ------------------------------------------------------------------------------------------------


def test_database_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with RunStore(state) as store:
        record_run(store, "r", T0)
        assert store.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(state / DB_NAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"runs", "host_results", "audit"} <= tables
    finally:
        conn.close()
    with RunStore(state) as again:  # reopening migrates nothing and keeps the data
        assert [r.id for r in again.list_runs()] == ["r"]


def test_a_database_from_a_newer_fleetdeck_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    RunStore(state).close()
    conn = sqlite3.connect(state / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer than this fleetdeck knows"):
        RunStore(state)


def test_readers_see_committed_runs_while_the_writer_works(store: RunStore) -> None:
    errors: list[BaseException] = []
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                runs = store.list_runs(limit=None)
                if runs:
                    seen.append(len(store.host_results(runs[0].id)))
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sink = StoreSink(store)
        hosts = tuple(f"h{i:03d}" for i in range(300))
        sink.handle(start("busy", hosts))
        for i, host in enumerate(hosts):
            sink.handle(Output("busy", host, "stdout", b"x" * 100))
            sink.handle(HostFinished("busy", host, "ok", 0, 0.01))
            if i % 50 == 0:
                store.flush()
        sink.handle(finish("busy", T0 + 5))
        sink.close()
        sink_store(sink).flush()
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen and seen == sorted(seen)  # rows only ever appear, and a reader never sees a torn batch
    assert len(store.host_results("busy")) == 300


def test_prune_keeps_the_newest_runs_and_their_files(store: RunStore) -> None:
    for i in range(5):
        record_run(store, f"run{i}", T0 + i)
    sink = StoreSink(store)
    sink.handle(start("old-but-active", ("h",), T0 - 100))
    store.flush()

    assert store.prune(2) == ["run2", "run1", "run0"]
    assert [r.id for r in store.list_runs()] == ["run4", "run3", "old-but-active"]
    assert not store.run_dir("run0").exists() and store.run_dir("run4").exists()
    with pytest.raises(UnknownRunError):
        store.host_results("run0")
    assert store.audit_entries(limit=1)[0].action == "runs_pruned"
    assert store.audit_entries("run0") != []  # the audit trail outlives the runs
    assert store.prune(10) == []
    with pytest.raises(ValueError):
        store.prune(-1)
    sink.close()
    sink_store(sink).flush()


def test_a_closed_store_refuses_writes_but_keeps_reading(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "state")
    record_run(store, "r", T0)
    store.close()
    store.close()
    with pytest.raises(Exception, match="closed"):
        store.audit("noop")
    assert store.get_run("r").status == "ok"
