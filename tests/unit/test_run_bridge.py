"""The console's run bridge without Textual: state per host, bounded rings, drains, gathering, cleaning."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleetdeck.core.runner.events import (
    BatchFinished,
    FinalStatus,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunFinished,
    RunStarted,
    Stream,
)
from fleetdeck.ui.run_bridge import MAX_LINE_CHARS, RunBridge, TailLine, clean_line

RUN = "20240501-120000-ab12"


def out(host: str, data: bytes, stream: Stream = "stdout", run: str = RUN) -> Output:
    return Output(run, host, stream, data, step="main")


def finished(host: str, status: FinalStatus = "ok", rc: int | None = 0, error: str | None = None) -> HostFinished:
    return HostFinished(RUN, host, status, rc, 1.5, error=error, step="main")


def started(hosts: list[str], run: str = RUN) -> RunStarted:
    return RunStarted(run, "disk-usage", "all", tuple(hosts), time=100.0)


def test_the_bridge_module_does_not_load_textual() -> None:
    code = "import sys, fleetdeck.ui.run_bridge; print(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_host_lifecycle_status_step_exit_status_duration_bytes() -> None:
    bridge = RunBridge()
    bridge.handle(started(["web1", "web2"]))
    view = bridge.run(RUN)
    assert [h.status for h in view.hosts.values()] == ["queued", "queued"]

    bridge.handle(HostQueued(RUN, "web1"))
    bridge.handle(HostConnecting(RUN, "web1", time=101.0))
    bridge.handle(HostRunning(RUN, "web1", "main", 1, time=101.5))
    web1 = view.hosts["web1"]
    assert (web1.status, web1.step, web1.started) == ("running", "main", 101.0)
    assert web1.duration(104.0) == 3.0

    bridge.handle(out("web1", b"hello\nwor"))
    bridge.handle(out("web1", b"ld\n", "stderr"))
    bridge.handle(out("web1", b"ld\n"))
    assert list(web1.lines) == [TailLine("hello"), TailLine("ld", "err"), TailLine("world")]
    assert (web1.bytes_out, web1.bytes_err, web1.last_line) == (12, 3, "world")

    bridge.handle(finished("web1"))
    bridge.handle(finished("web2", "unreachable", None, "web2: connection refused"))
    assert (web1.status, web1.exit_status, web1.duration(999.0)) == ("ok", 0, 1.5)
    assert view.hosts["web2"].error == "connection refused"  # the host name is already on the row
    counts = view.counts()
    assert (counts.ok, counts.unreachable, counts.running, counts.queued) == (1, 1, 0, 0)
    assert view.failed_hosts() == ["web2"]


def test_partial_lines_show_live_and_are_flushed_when_the_host_ends() -> None:
    bridge = RunBridge()
    bridge.handle(started(["h"]))
    host = bridge.run(RUN).hosts["h"]
    bridge.handle(out("h", b"Password: "))
    assert host.pending() == [TailLine("Password: ")]
    assert host.shown_line() == "Password:"
    assert host.total_lines == 0
    bridge.handle(finished("h"))
    assert list(host.lines) == [TailLine("Password: ")]
    assert host.pending() == []


def test_utf8_split_across_chunks_and_invalid_bytes() -> None:
    bridge = RunBridge()
    data = "naïve ✓\n".encode()
    bridge.handle(out("h", data[:3]))
    bridge.handle(out("h", data[3:]))
    bridge.handle(out("h", b"bad \xff byte\n"))
    assert [line.text for line in bridge.run(RUN).hosts["h"].lines] == ["naïve ✓", "bad \ufffd byte"]


def test_control_characters_escapes_and_carriage_returns_are_made_safe() -> None:
    assert clean_line("\x1b[31mred\x1b[0m text") == "red text"
    assert clean_line("10%\r50%\r100%") == "100%"
    assert clean_line("crlf\r") == "crlf"
    assert clean_line("a\tb") == "a       b"
    assert clean_line("bell\x07") == "bell\ufffd"
    bridge = RunBridge()
    bridge.handle(out("h", b"\x1b[1mbold\x1b[0m\r\n"))
    assert [line.text for line in bridge.run(RUN).hosts["h"].lines] == ["bold"]


def test_every_control_character_is_found_whichever_chunk_brings_it() -> None:
    """Chunks are checked for control bytes before decoding; a line begun in an earlier chunk counts too."""
    for code in [*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F]:
        bridge = RunBridge()
        char = chr(code).encode()
        bridge.handle(out("h", "é plain ✓\n".encode()))
        bridge.handle(out("h", b"x" + char + "ü".encode()[:1]))  # the control char, then half a character
        bridge.handle(out("h", "ü".encode()[1:] + b" end\n"))  # no control byte in this chunk
        bridge.handle(out("h", b"y" + char + b"z\n"))  # a whole line in one chunk
        lines = [line.text for line in bridge.run(RUN).hosts["h"].lines]
        assert lines[0] == "é plain ✓"
        assert lines[1:] == [clean_line("x" + chr(code) + "ü end"), clean_line("y" + chr(code) + "z")], hex(code)
        assert all(ch >= " " and ch != "\x7f" for line in lines for ch in line), hex(code)


def test_the_ring_is_bounded_and_counts_what_it_dropped() -> None:
    bridge = RunBridge(max_lines=100, min_lines=10)
    bridge.handle(started(["h"]))
    host = bridge.run(RUN).hosts["h"]
    for chunk in range(50):
        bridge.handle(out("h", b"".join(b"line %d-%d\n" % (chunk, i) for i in range(40))))
    assert host.line_count == 100
    assert host.total_lines == 2000
    assert host.lines[-1].text == "line 49-39"
    lines, skipped = host.lines_after(1850)
    assert (len(lines), skipped) == (100, 50)  # the reader fell 150 behind; the ring only has 100
    assert host.lines_after(2000) == ([], 0)
    lines, skipped = host.lines_after(1990)
    assert (next(line.text for line in lines), skipped) == ("line 49-30", 0)


def test_ring_size_shares_a_line_budget_across_a_big_run() -> None:
    bridge = RunBridge(max_lines=5000, min_lines=200, line_budget=100_000)
    assert bridge.lines_per_host(1) == 5000
    assert bridge.lines_per_host(50) == 2000
    assert bridge.lines_per_host(10_000) == 200
    bridge.handle(started([f"web{i}" for i in range(500)]))
    assert bridge.run(RUN).hosts["web7"].max_lines == 200


def test_a_line_that_never_ends_is_cut_into_ring_lines() -> None:
    bridge = RunBridge()
    bridge.handle(out("h", b"x" * (MAX_LINE_CHARS * 2 + 5)))
    host = bridge.run(RUN).hosts["h"]
    assert [len(line.text) for line in host.lines] == [MAX_LINE_CHARS, MAX_LINE_CHARS]
    assert host.pending() == [TailLine("x" * 5)]
    bridge.handle(out("h", b"y" * (MAX_LINE_CHARS + 1) + b"\n"))
    assert [len(line.text) for line in host.lines][-2:] == [MAX_LINE_CHARS, 6]


def test_drain_reports_dirty_hosts_and_new_line_counts_once() -> None:
    bridge = RunBridge()
    bridge.handle(started(["a", "b", "c"]))
    first = bridge.drain(RUN)
    assert first.hosts == {"a", "b", "c"} and first.run_changed
    bridge.handle(out("a", b"1\n2\n3\n"))
    bridge.handle(HostRunning(RUN, "b", "main", 1))
    drained = bridge.drain(RUN)
    assert drained.hosts == {"a", "b"}
    assert dict(drained.new_lines) == {"a": 3}
    assert not drained.run_changed
    again = bridge.drain(RUN)
    assert not again.hosts and not again.new_lines
    assert bridge.run(RUN).hosts["a"].new_lines == 0
    assert bridge.drain("no-such-run").hosts == frozenset()


def test_batches_and_run_end() -> None:
    bridge = RunBridge()
    bridge.handle(started(["a", "b", "c"]))
    view = bridge.run(RUN)
    view.batches_total = 3
    assert view.current_batch == 1
    bridge.handle(BatchFinished(RUN, 1, 3, ("a",), 0))
    assert view.current_batch == 2
    bridge.handle(RunFinished(RUN, {"ok": 1, "cancelled": 2}, 0, 2.0, cancelled=True))
    assert view.done and view.current_batch == 1  # cancelled during batch 2: only batch 1 ran to its end


def test_runs_are_kept_apart_and_listeners_hear_of_new_ones() -> None:
    bridge = RunBridge()
    heard: list[str] = []
    bridge.listeners.append(heard.append)
    bridge.handle(started(["a"], run="r1"))
    bridge.handle(started(["b"], run="r2"))
    bridge.handle(out("a", b"one\n", run="r1"))
    bridge.handle(out("b", b"two\n", run="r2"))
    assert heard == ["r1", "r2"]
    assert [line.text for line in bridge.run("r1").hosts["a"].lines] == ["one"]
    assert "b" not in bridge.run("r1").hosts
    bridge.forget("r1")
    assert list(bridge.runs) == ["r2"]


def test_gatherer_groups_identical_output() -> None:
    bridge = RunBridge()
    bridge.handle(started(["web1", "web2", "web3"]))
    for host in ("web1", "web2"):
        bridge.handle(out(host, b"same\n"))
        bridge.handle(finished(host))
    bridge.handle(out("web3", b"other\n"))
    groups = bridge.run(RUN).gatherer.groups()
    assert [group.header for group in groups] == ["web[1-2] (rc=0, 2 hosts)"]
    assert bridge.run(RUN).gatherer.pending() == ["web3"]


def test_bad_ring_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="min_lines"):
        RunBridge(max_lines=10, min_lines=20)


def test_abort_ends_a_run_whose_runner_died() -> None:
    bridge = RunBridge()
    bridge.handle(started(["a", "b"]))
    bridge.handle(HostRunning(RUN, "a", "main", 1))
    bridge.handle(finished("b"))
    bridge.abort(RUN, "the run stopped: RuntimeError: boom")
    view = bridge.run(RUN)
    assert view.done and view.finished is not None and view.finished.exit_code == 1
    assert (view.hosts["a"].status, view.hosts["a"].error) == ("error", "the run stopped: RuntimeError: boom")
    assert view.hosts["b"].status == "ok"
    bridge.abort(RUN, "again")  # a finished run is left alone
    assert view.hosts["a"].error == "the run stopped: RuntimeError: boom"


def test_only_the_newest_runs_are_kept_and_running_ones_never_dropped() -> None:
    bridge = RunBridge(max_runs=2)
    bridge.handle(started(["a"], run="r1"))  # still running
    for run in ("r2", "r3", "r4"):
        bridge.handle(started(["a"], run=run))
        bridge.handle(RunFinished(run, {"ok": 1}, 0, 1.0))
    assert list(bridge.runs) == ["r1", "r4"]
