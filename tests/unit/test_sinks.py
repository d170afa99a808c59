"""Unit tests for the output sinks: live printer, gathered printer, NDJSON and the progress line."""

from __future__ import annotations

import base64
import io
import json

import pytest

from fleetdeck.core.runner.events import (
    BatchFinished,
    FinalStatus,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
    Stream,
)
from fleetdeck.core.runner.sinks import (
    LINE_CAP,
    GatherPrinterSink,
    NdjsonSink,
    PrinterSink,
    ProgressLine,
    describe_finish,
    summary_text,
    use_color,
)

RUN = "r7"
CLEAR = "\r\x1b[K"


class Tty(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started(*hosts: str) -> RunStarted:
    return RunStarted(RUN, "uptime", "@web", hosts, time=1700000000.5)


def out(host: str, data: bytes, stream: Stream = "stdout") -> Output:
    return Output(RUN, host, stream, data, step="main")


def done(
    host: str,
    status: FinalStatus = "ok",
    rc: int | None = 0,
    *,
    error: str | None = None,
    step: str | None = None,
    duration: float = 1.0,
    kill_confirmed: bool | None = None,
) -> HostFinished:
    return HostFinished(RUN, host, status, rc, duration, error, step, kill_confirmed)


def finished(duration: float = 12.34, **counts: int) -> RunFinished:
    return RunFinished(RUN, counts, 0 if set(counts) <= {"ok"} else 2, duration)


def feed(sink: PrinterSink | GatherPrinterSink | NdjsonSink | ProgressLine, events: list[RunEvent]) -> None:
    for event in events:
        sink.handle(event)
    sink.close()


# --- PrinterSink ----------------------------------------------------------------------------------


def test_printer_prints_aligned_lines_and_summary() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    feed(
        PrinterSink(stdout, stderr),
        [
            started("web1", "web10"),
            HostQueued(RUN, "web1"),
            HostRunning(RUN, "web1", "main", 1),
            out("web1", b"up 3 days\n"),
            out("web10", b"up 1 "),
            out("web10", b"min\r\nload 0.1"),
            out("web1", b"warn: disk\n", "stderr"),
            done("web1"),
            done("web10", "failed", 2, step="main"),
            finished(ok=1, failed=1),
        ],
    )
    assert stdout.getvalue() == ("web1  | up 3 days\nweb10 | up 1 min\nweb1  ! warn: disk\nweb10 | load 0.1\n")
    assert stderr.getvalue() == (
        "web10: failed rc=2 (step main)\nok 1 · failed 1 · 12.3s\nrerun the failed hosts with -t @last.failed\n"
    )


def test_printer_in_colour() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    feed(
        PrinterSink(stdout, stderr, color=True),
        [
            started("web1", "web10"),
            out("web1", b"hello\n"),
            out("web10", b"oops\n", "stderr"),
            done("web1"),
            done("web10", "timeout", None, step="restart", duration=30.04),
            finished(duration=30.5, ok=1, timeout=1),
        ],
    )
    assert stdout.getvalue() == ("\x1b[94mweb1\x1b[0m  | hello\n\x1b[36mweb10\x1b[0m \x1b[33m! oops\x1b[0m\n")
    assert stderr.getvalue() == (
        "\x1b[36mweb10\x1b[0m: \x1b[33mtimeout after 30.0s\x1b[0m (step restart)\n"
        "\x1b[32mok 1\x1b[0m · \x1b[33mtimeout 1\x1b[0m · 30.5s\n"
        "rerun the failed hosts with -t @last.failed\n"
    )


def test_colour_follows_the_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(Tty()) is True
    assert use_color(io.StringIO()) is False
    assert use_color(io.StringIO(), True) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    assert use_color(Tty(), True) is True
    stdout = Tty()
    feed(PrinterSink(stdout, io.StringIO()), [started("a"), out("a", b"x\n")])
    assert stdout.getvalue() == "a | x\n"


def test_partial_lines_wait_for_their_newline_per_host_and_stream() -> None:
    stdout = io.StringIO()
    sink = PrinterSink(stdout, io.StringIO())
    sink.handle(started("a", "b"))
    sink.handle(out("a", b"one "))
    sink.handle(out("a", b"err ", "stderr"))
    sink.handle(out("b", b"two "))
    assert stdout.getvalue() == ""
    sink.handle(out("a", b"done\nnext"))
    sink.handle(out("a", b"line\n", "stderr"))
    assert stdout.getvalue() == "a | one done\na ! err line\n"
    sink.handle(done("a"))
    assert stdout.getvalue().endswith("a | next\n")
    sink.handle(finished(ok=2))
    assert stdout.getvalue() == "a | one done\na ! err line\na | next\nb | two \n"


def test_a_200_kb_line_is_printed_in_pieces_without_losing_bytes() -> None:
    stdout = io.StringIO()
    sink = PrinterSink(stdout, io.StringIO())
    sink.handle(started("h"))
    line = bytes(ord("a") + i % 26 for i in range(200_000))
    for start in range(0, len(line), 10_000):
        sink.handle(out("h", line[start : start + 10_000]))
    assert stdout.getvalue() != ""
    sink.handle(out("h", b"\nnext\n"))
    sink.close()
    pieces = stdout.getvalue().splitlines()
    assert pieces[-1] == "h | next"
    assert all(piece.startswith("h | ") for piece in pieces)
    assert all(len(piece) <= LINE_CAP + 10_000 + 4 for piece in pieces)
    assert "".join(piece[4:] for piece in pieces[:-1]) == line.decode()
    assert len(pieces) > 2


def test_a_long_line_is_not_cut_inside_a_character() -> None:
    stdout = io.StringIO()
    sink = PrinterSink(stdout, io.StringIO())
    text = "é" * 50_000
    data = text.encode()
    for start in range(0, len(data), 4_095):
        sink.handle(out("h", data[start : start + 4_095]))
    sink.close()
    printed = stdout.getvalue()
    assert "\ufffd" not in printed
    assert "".join(piece[4:] for piece in printed.splitlines()) == text


def test_a_whole_200_kb_line_in_one_chunk_is_one_line() -> None:
    stdout = io.StringIO()
    feed(PrinterSink(stdout, io.StringIO()), [out("h", b"z" * 200_000 + b"\n")])
    assert stdout.getvalue() == "h | " + "z" * 200_000 + "\n"


def test_invalid_utf8_is_replaced() -> None:
    stdout = io.StringIO()
    feed(PrinterSink(stdout, io.StringIO()), [out("h", b"bad \xff\xfe byte\n")])
    assert stdout.getvalue() == "h | bad \ufffd\ufffd byte\n"


def test_diagnostics_for_each_kind_of_failure() -> None:
    assert describe_finish(done("web03", "timeout", None, step="restart", duration=30.0)) == (
        "web03: timeout after 30.0s (step restart)"
    )
    assert describe_finish(done("web04", "unreachable", None, error="web04: Connection refused")) == (
        "web04: unreachable: Connection refused"
    )
    assert (
        describe_finish(
            done("web05", "timeout", None, error="step restart ran longer than 30s (killed on host)", step="restart")
        )
        == "web05: timeout: step restart ran longer than 30s (killed on host)"
    )
    assert describe_finish(done("web06", "cancelled", None, step="restart", kill_confirmed=False)) == (
        "web06: cancelled (step restart); the remote process may still be running"
    )
    assert describe_finish(done("web07", "timeout", None, duration=5, kill_confirmed=True)) == (
        "web07: timeout after 5.0s; killed on host"
    )
    assert describe_finish(done("web08", "error", None, error="ValueError: boom\ntraceback")) == (
        "web08: error: ValueError: boom; traceback"
    )


def test_batches_are_reported_only_for_rolling_runs() -> None:
    stderr = io.StringIO()
    feed(
        PrinterSink(io.StringIO(), stderr),
        [
            BatchFinished(RUN, 1, 1, ("a",), 0),
            BatchFinished(RUN, 1, 3, ("a", "b"), 1),
            BatchFinished(RUN, 2, 3, ("c",), 1, halted=True),
        ],
    )
    assert stderr.getvalue() == (
        "batch 1/3 done: 2 hosts, 1 failed\n"
        "batch 2/3 done: 1 hosts, 1 failed; failure budget exceeded, remaining batches skipped\n"
    )


# --- summary ------------------------------------------------------------------------------------


def test_summary_lists_non_zero_counts_in_a_fixed_order() -> None:
    event = finished(
        duration=12.34,
        error=1,
        unreachable=2,
        ok=412,
        cancelled=0,
        timeout=1,
        failed=3,
        host_key_failed=1,
        auth_failed=4,
    )
    assert summary_text(event) == (
        "ok 412 · failed 3 · timeout 1 · unreachable 2 · auth_failed 4 · host_key_failed 1 · error 1 · 12.3s"
    )


def test_summary_of_special_runs() -> None:
    assert summary_text(finished(duration=0.0)) == "no hosts · 0.0s"
    halted = RunFinished(RUN, {"ok": 2, "failed": 1, "skipped": 5}, 18, 3.0, halted=True)
    assert summary_text(halted) == "ok 2 · failed 1 · skipped 5 · 3.0s · halted by the failure budget"
    cancelled = RunFinished(RUN, {"ok": 1, "cancelled": 3}, 1, 3.0, cancelled=True)
    assert summary_text(cancelled) == "ok 1 · cancelled 3 · 3.0s · run cancelled"


def test_no_rerun_hint_when_everything_went_well_or_was_cancelled() -> None:
    for event in (finished(ok=3), RunFinished(RUN, {"ok": 1, "cancelled": 2}, 1, 1.0, cancelled=True)):
        stderr = io.StringIO()
        feed(PrinterSink(io.StringIO(), stderr), [event])
        assert "rerun" not in stderr.getvalue()


# --- GatherPrinterSink --------------------------------------------------------------------------


def test_gather_printer_prints_groups_at_the_end() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    sink = GatherPrinterSink(stdout, stderr)
    hosts = [f"web{i:02d}" for i in range(1, 6)]
    sink.handle(started(*hosts))
    for host in hosts[:3]:
        sink.handle(out(host, b"up 3 days\n"))
        sink.handle(done(host))
    sink.handle(out("web04", b"no newline"))
    sink.handle(done("web04", "failed", 1, error="step main exited with status 1"))
    sink.handle(done("web05", "unreachable", None, error="web05: Connection refused"))
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == (
        "web04: failed: step main exited with status 1\nweb05: unreachable: Connection refused\n"
    )
    sink.handle(finished(duration=2.0, ok=3, failed=1, unreachable=1))
    sink.close()
    assert stdout.getvalue() == (
        "---------------\n"
        "web[01-03] (rc=0, 3 hosts)\n"
        "---------------\n"
        "up 3 days\n"
        "---------------\n"
        "web04 (rc=1, 1 host)\n"
        "---------------\n"
        "no newline\n"
        "---------------\n"
        "web05 (unreachable: Connection refused, 1 host)\n"
        "---------------\n"
    )
    assert stderr.getvalue().endswith(
        "ok 3 · failed 1 · unreachable 1 · 2.0s\nrerun the failed hosts with -t @last.failed\n"
    )


def test_gather_printer_in_colour() -> None:
    stdout = io.StringIO()
    feed(
        GatherPrinterSink(stdout, io.StringIO(), color=True),
        [out("db1", b"x\n"), done("db1", "timeout", None), finished(timeout=1)],
    )
    assert stdout.getvalue() == (
        "---------------\n\x1b[1mdb1\x1b[0m (\x1b[33mtimeout, 1 host\x1b[0m)\n---------------\nx\n"
    )


def test_gather_printer_prints_on_close_without_run_finished() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    feed(GatherPrinterSink(stdout, stderr), [started("a", "b"), out("a", b"x\n"), done("a")])
    assert stdout.getvalue() == "---------------\na (rc=0, 1 host)\n---------------\nx\n"
    assert stderr.getvalue() == "no result from b\n"


def test_gather_printer_notes_truncation() -> None:
    stdout = io.StringIO()
    feed(
        GatherPrinterSink(stdout, io.StringIO(), head_bytes=4),
        [started("a"), out("a", b"123456789\n"), done("a"), finished(ok=1)],
    )
    assert stdout.getvalue().endswith("1234\n… 6 more bytes: fleetdeck history r7 --host a\n")


# --- NdjsonSink ---------------------------------------------------------------------------------


def test_ndjson_writes_one_parsable_object_per_event() -> None:
    stdout = io.StringIO()
    events: list[RunEvent] = [
        RunStarted(RUN, "restart", "@web", ("web1",), {"svc": "nginx"}, "systemctl restart nginx", "ops", time=1.5),
        HostQueued(RUN, "web1", time=2.0),
        HostConnecting(RUN, "web1", time=2.5),
        HostRunning(RUN, "web1", "restart", 1, attempt=2, time=3.0),
        Output(RUN, "web1", "stdout", "ok ✓\n".encode(), "restart", time=3.5),
        HostFinished(RUN, "web1", "ok", 0, 1.23456, None, "restart", None, time=4.0),
        BatchFinished(RUN, 1, 1, ("web1",), 0, time=4.5),
        RunFinished(RUN, {"ok": 1}, 0, 2.71828, time=5.0),
    ]
    feed(NdjsonSink(stdout), events)
    lines = stdout.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["event"] for record in records] == [
        "run_started",
        "host_queued",
        "host_connecting",
        "host_started",
        "output",
        "host_finished",
        "batch_finished",
        "run_finished",
    ]
    assert records[0] == {
        "event": "run_started",
        "run_id": RUN,
        "task": "restart",
        "selector": "@web",
        "hosts": ["web1"],
        "params": {"svc": "nginx"},
        "command": "systemctl restart nginx",
        "user": "ops",
        "automatic": False,
        "reason": None,
        "time": 1.5,
    }
    assert records[1] == {"event": "host_queued", "run_id": RUN, "host": "web1", "time": 2.0}
    assert records[2] == {"event": "host_connecting", "run_id": RUN, "host": "web1", "time": 2.5}
    assert records[3] == {
        "event": "host_started",
        "run_id": RUN,
        "host": "web1",
        "step": "restart",
        "step_index": 1,
        "attempt": 2,
        "time": 3.0,
    }
    assert records[4] == {
        "event": "output",
        "run_id": RUN,
        "host": "web1",
        "stream": "stdout",
        "step": "restart",
        "data": "ok ✓\n",
        "time": 3.5,
    }
    assert records[5] == {
        "event": "host_finished",
        "run_id": RUN,
        "host": "web1",
        "status": "ok",
        "exit_status": 0,
        "duration_s": 1.235,
        "error": None,
        "step": "restart",
        "kill_confirmed": None,
        "time": 4.0,
    }
    assert records[6] == {
        "event": "batch_finished",
        "run_id": RUN,
        "index": 1,
        "total": 1,
        "hosts": ["web1"],
        "failed": 0,
        "halted": False,
        "time": 4.5,
    }
    assert records[7] == {
        "event": "run_finished",
        "run_id": RUN,
        "counts": {"ok": 1},
        "exit_code": 0,
        "duration_s": 2.718,
        "halted": False,
        "cancelled": False,
        "time": 5.0,
    }
    assert all(line.isascii() for line in lines)


def test_ndjson_keeps_invalid_utf8_recoverable() -> None:
    stdout = io.StringIO()
    data = b"bin\xff\xfe\x00 \xe2\x82"
    feed(NdjsonSink(stdout), [out("h", data)])
    record = json.loads(stdout.getvalue())
    assert record["data"] == data.decode("utf-8", "replace")
    assert base64.b64decode(record["data_b64"]) == data


def test_ndjson_flushes_every_line() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stdout = Counting()
    sink = NdjsonSink(stdout)
    sink.handle(HostQueued(RUN, "a"))
    sink.handle(HostQueued(RUN, "b"))
    assert stdout.flushes == 2


def test_ndjson_serialises_odd_params_as_text() -> None:
    stdout = io.StringIO()
    feed(NdjsonSink(stdout), [RunStarted(RUN, "t", "a", ("a",), {"when": object, "n": 3})])
    params = json.loads(stdout.getvalue())["params"]
    assert params == {"when": "<class 'object'>", "n": 3}


# --- ProgressLine -------------------------------------------------------------------------------


def test_progress_line_is_drawn_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    plain = io.StringIO()
    progress = ProgressLine(plain)
    feed(progress, [started("a"), done("a"), finished(ok=1)])
    assert not progress.enabled
    assert plain.getvalue() == ""
    assert ProgressLine(Tty()).enabled
    monkeypatch.setenv("TERM", "dumb")
    assert not ProgressLine(Tty()).enabled


def test_progress_line_counts_and_throttles() -> None:
    stderr, clock = Tty(), Clock()
    progress = ProgressLine(stderr, clock=clock)
    progress.handle(started("a", "b", "c"))
    assert stderr.getvalue() == CLEAR + "0/3 · ok 0 · failed 0 · running 0 · 0.0s"
    clock.now += 0.05
    progress.handle(HostConnecting(RUN, "a"))
    progress.handle(HostRunning(RUN, "b", "main", 1))
    assert stderr.getvalue().count(CLEAR) == 1
    clock.now += 0.06
    progress.handle(done("a"))
    assert stderr.getvalue().endswith(CLEAR + "1/3 · ok 1 · failed 0 · running 1 · 0.1s")
    clock.now += 3.1
    progress.handle(done("b", "failed", 1))
    assert stderr.getvalue().endswith(CLEAR + "2/3 · ok 1 · failed 1 · running 0 · 3.2s")
    progress.handle(finished(ok=1, failed=1))
    assert stderr.getvalue().endswith(CLEAR)
    clock.now += 1
    progress.handle(done("c"))
    progress.close()
    assert stderr.getvalue().endswith("3.2s" + CLEAR)


def test_printers_erase_the_progress_line_before_writing() -> None:
    terminal, clock = Tty(), Clock()
    progress = ProgressLine(terminal, clock=clock)
    printer = PrinterSink(terminal, terminal, color=False, progress=progress)
    events: list[RunEvent] = [started("a"), out("a", b"hello\n"), done("a", "failed", 1), finished(ok=0, failed=1)]
    for event in events:
        printer.handle(event)
        progress.handle(event)
        clock.now += 1
    printer.close()
    progress.close()
    assert terminal.getvalue() == (
        f"{CLEAR}0/1 · ok 0 · failed 0 · running 0 · 0.0s"
        f"{CLEAR}a | hello\n"
        f"{CLEAR}0/1 · ok 0 · failed 0 · running 0 · 1.0s"
        f"{CLEAR}a: failed rc=1\n"
        f"{CLEAR}1/1 · ok 0 · failed 1 · running 0 · 2.0s"
        f"{CLEAR}failed 1 · 12.3s\nrerun the failed hosts with -t @last.failed\n"
    )
