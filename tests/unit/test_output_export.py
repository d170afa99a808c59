"""Saving a host's full output from the store: byte for byte, never replacing a file unasked, clear errors."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetdeck.core.runner.events import HostFinished, Output, RunEvent, RunFinished, RunStarted, Stream
from fleetdeck.core.store import RunStore, StoreSink, UnknownRunHostError
from fleetdeck.core.store.export import (
    OutputExistsError,
    OutputSaveError,
    default_output_name,
    resolve_destination,
    save_host_output,
    write_output,
)

T0 = 1_714_564_800.0
CHUNKS: list[tuple[Stream, bytes]] = [
    ("stdout", b"first line\n"),
    ("stderr", b"warning: \xff\xfe not utf-8\n"),
    ("stdout", b"\x1b[31mred\x1b[0m\r\npartial"),
    ("stderr", b""),
    ("stdout", b" line without newline"),
]
EXPECTED = b"".join(data for _, data in CHUNKS)


def run_events(run_id: str) -> Iterator[RunEvent]:
    yield RunStarted(run_id, "exec", "web01", ("web01", "db/01"), command="x", time=T0)
    for stream, data in CHUNKS:
        yield Output(run_id, "web01", stream, data, "exec", time=T0)
    yield Output(run_id, "db/01", "stdout", b"db\n", "exec", time=T0)
    yield HostFinished(run_id, "web01", "ok", 0, 1.0, step="exec", time=T0 + 1)
    yield HostFinished(run_id, "db/01", "ok", 0, 1.0, step="exec", time=T0 + 1)
    yield RunFinished(run_id, {"ok": 2}, 0, 1.0, time=T0 + 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "state") as s:
        sink = StoreSink(s)
        for event in run_events("r1"):
            sink.handle(event)
        sink.close()
        s.flush()
        yield s


def test_saves_stdout_and_stderr_interleaved_byte_for_byte_as_0600(store: RunStore, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "web01.log"
    dest.parent.mkdir()
    saved = save_host_output(store, "r1", "web01", dest)
    assert dest.read_bytes() == EXPECTED
    assert saved.path == dest
    assert saved.size == len(EXPECTED) == dest.stat().st_size
    assert saved.bytes_err == len(b"warning: \xff\xfe not utf-8\n")
    assert saved.bytes_out == len(EXPECTED) - saved.bytes_err
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_an_existing_file_is_refused_then_replaced_when_asked(store: RunStore, tmp_path: Path) -> None:
    dest = tmp_path / "web01.log"
    dest.write_bytes(b"precious")
    with pytest.raises(OutputExistsError) as caught:
        save_host_output(store, "r1", "web01", dest)
    assert caught.value.path == dest
    assert dest.read_bytes() == b"precious"
    save_host_output(store, "r1", "web01", dest, overwrite=True)
    assert dest.read_bytes() == EXPECTED
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_missing_directory_and_permission_errors_say_what_to_do(store: RunStore, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "web01.log"
    with pytest.raises(OutputSaveError, match=r"the directory .*no-such-dir does not exist; create it"):
        save_host_output(store, "r1", "web01", missing)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(OutputSaveError, match=r"permission denied.*choose a directory you can write to"):
            save_host_output(store, "r1", "web01", locked / "web01.log")
        with pytest.raises(OutputSaveError, match="permission denied"):
            save_host_output(store, "r1", "web01", locked / "web01.log", overwrite=True)
    finally:
        locked.chmod(0o700)
    assert list(locked.iterdir()) == []


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(OutputSaveError, match="it is a directory"):
        write_output(iter([]), tmp_path)


def test_a_failure_while_reading_leaves_no_partial_file(tmp_path: Path) -> None:
    def broken() -> Iterator[tuple[Stream, bytes]]:
        yield "stdout", b"some"
        raise OSError(5, "Input/output error")

    dest = tmp_path / "x.log"
    with pytest.raises(OutputSaveError, match="Input/output error"):
        write_output(broken(), dest)
    assert not dest.exists()


def test_unknown_host_names_the_run_hosts(store: RunStore, tmp_path: Path) -> None:
    with pytest.raises(UnknownRunHostError, match="web01"):
        save_host_output(store, "r1", "nope", tmp_path / "x.log")
    assert not (tmp_path / "x.log").exists()


def test_default_name_is_safe_for_any_host_name() -> None:
    assert default_output_name("20240501-120000-beef", "web01") == "20240501-120000-beef-web01.log"
    assert "/" not in default_output_name("r1", "db/01")


def test_destinations_resolve_like_cp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    name = "r1-web01.log"
    assert resolve_destination(f"./{name}", name, tmp_path) == tmp_path / name
    assert resolve_destination("logs/", name, tmp_path) == tmp_path / "logs" / name
    assert resolve_destination(str(tmp_path), name, Path("/")) == tmp_path / name  # an existing directory
    assert resolve_destination("~/x.log", name, Path("/")) == tmp_path / "home" / "x.log"
    assert resolve_destination("a/../b.log", name, tmp_path) == tmp_path / "b.log"
    with pytest.raises(OutputSaveError, match="no file given"):
        resolve_destination("  ", name, tmp_path)


def test_permission_denied_is_explained_even_when_running_as_root(
    store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fleetdeck.core.store.export as export

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export.os, "open", denied)
    monkeypatch.setattr(export.tempfile, "mkstemp", denied)
    for overwrite in (False, True):
        with pytest.raises(OutputSaveError, match=r"cannot save to .*x\.log: permission denied \(Permission denied\)"):
            save_host_output(store, "r1", "web01", tmp_path / "x.log", overwrite=overwrite)
