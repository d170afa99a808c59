"""History on a real store: past runs listed newest first, and opened in the run view from their saved output."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_run_support import NOW, ScreenHarness, finished_run, make_engine, until
from textual.pilot import Pilot

from fleetdeck.core.runner.events import HostFinished, Output, RunEvent, RunFinished, RunStarted
from fleetdeck.core.store import RunStore, StoreSink
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.history import HistoryScreen, RunsTable, replay_stored_run
from fleetdeck.ui.screens.run import RunScreen
from fleetdeck.ui.widgets.run_hosts import RunHostTable


def record(store: RunStore, events: Iterator[RunEvent]) -> None:
    sink = StoreSink(store)
    for event in events:
        sink.handle(event)
    sink.close()
    store.flush()


def big_output_run(run_id: str, lines: int) -> Iterator[RunEvent]:
    yield RunStarted(run_id, "exec", "web1", ("web1",), command="seq 1 N", time=NOW)
    for start in range(0, lines, 1000):
        chunk = "".join(f"{n}\n" for n in range(start + 1, min(lines, start + 1000) + 1))
        yield Output(run_id, "web1", "stdout", chunk.encode(), "exec", time=NOW)
    yield Output(run_id, "web1", "stderr", b"done\n", "exec", time=NOW)
    yield HostFinished(run_id, "web1", "ok", 0, 1.0, step="exec", time=NOW + 1)
    yield RunFinished(run_id, {"ok": 1}, 0, 1.0, time=NOW + 1)


def test_replay_rebuilds_statuses_output_and_groups_with_bounded_memory(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record(store, finished_run("r-small"))
    record(store, big_output_run("r-big", 20_000))
    bridge = RunBridge(max_lines=500, min_lines=100)

    view = replay_stored_run(store, "r-small", bridge)
    assert view.stored and view.done
    assert {name: host.status for name, host in view.hosts.items()} == {
        "web01": "ok",
        "web02": "ok",
        "web03": "failed",
        "db01": "ok",
        "db02": "ok",
        "cache01": "unreachable",
    }
    assert [line.text for line in view.hosts["web03"].lines] == ["df: /: Input/output error"]
    assert view.hosts["web03"].lines[0].kind == "err"
    assert view.hosts["cache01"].error == "connection refused"
    assert next(group.header for group in view.gatherer.groups()) == "db[01-02],web[01-02] (rc=0, 4 hosts)"

    big = replay_stored_run(store, "r-big", bridge)
    host = big.hosts["web1"]
    assert host.total_lines == 20_001
    assert host.line_count == 500  # the ring, not the whole file
    assert [line.text for line in host.lines[-2:]] == ["20000", "done"]
    assert host.bytes_out == sum(len(f"{n}\n") for n in range(1, 20_001))
    store.close()


async def test_history_lists_a_run_and_opens_its_saved_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    prepared = engine.prepare_command("echo from the past; echo to stderr >&2", "localhost", run_id=engine.new_run_id())
    await engine.run(prepared, [])
    run_id = prepared.request.run_id
    app = ScreenHarness(lambda: HistoryScreen(engine))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        table = app.screen.query_one(RunsTable)
        assert table.row_count == 1
        assert table.get_cell(run_id, "status").plain == "ok"
        assert table.get_cell(run_id, "task").plain == "exec echo from the past; echo to stderr >&2"

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        view = screen.view
        assert view is not None and view.stored and view.run_id == run_id
        await until(pilot, lambda: screen.tail.log_view.line_count == 2)
        assert [(line.text, line.kind) for line in screen.tail.log_view.lines] == [
            ("from the past", "out"),
            ("to stderr", "err"),
        ]
        assert screen.query_one(RunHostTable).cell_text("localhost", "status") == "✔"
        assert screen.check_action("cancel_run", ()) is False  # a stored run cannot be cancelled

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
    await engine.close()


async def test_rerun_failed_from_history_starts_a_live_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    prepared = engine.prepare_command("exit 4", "localhost", run_id=engine.new_run_id())
    await engine.run(prepared, [])
    live = RunBridge()
    app = ScreenHarness(lambda: HistoryScreen(engine, bridge=live))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        stored_screen = app.screen
        await pilot.press("R")
        await until(pilot, lambda: app.screen is not stored_screen and isinstance(app.screen, RunScreen))
        assert isinstance(app.screen, RunScreen) and app.screen.bridge is live
        rerun = next(iter(live.runs.values()))
        assert rerun.selector == f"@{prepared.request.run_id}.failed" and rerun.command == "exit 4"
        await until(pilot, lambda: rerun.done)
        assert rerun.hosts["localhost"].exit_status == 4
    await engine.close()


def test_history_snapshot(snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    engine = make_engine(tmp_path, monkeypatch)
    store = RunStore(engine.state)
    record(store, finished_run("20231114-221320-beef"))
    record(store, big_output_run("20231114-230000-c0de", 3000))
    store.close()
    app = ScreenHarness(lambda: HistoryScreen(engine))

    async def settle(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.loaded)
        await pilot.pause()

    run_before: Callable[[Pilot[Any]], Awaitable[None]] = settle
    try:
        assert snap_compare(app, terminal_size=(120, 35), run_before=run_before)
    finally:
        monkeypatch.undo()
        time.tzset()
