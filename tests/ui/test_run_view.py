"""The run view: live runs on a real engine (localhost, no SSH), and canned runs for layout, keys and snapshots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from test_run_support import NOW, ScreenHarness, canned_run, feed, finished_run, make_engine, no_blink, until
from textual.pilot import Pilot

from fleetdeck.core.runner.events import HostRunning, Output
from fleetdeck.core.runner.service import Engine
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.run import RunScreen, open_run
from fleetdeck.ui.widgets.confirm import ConfirmModal
from fleetdeck.ui.widgets.run_hosts import RunHostTable
from fleetdeck.ui.widgets.run_summary import summary_text


def run_screen(pilot: Pilot[Any]) -> RunScreen:
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen)
    return screen


def tail_text(screen: RunScreen) -> list[str]:
    return [line.text for line in screen.tail.log_view.lines]


class Blank(ScreenHarness):
    """A harness that starts on an empty screen, so tests open runs the way the app will."""

    def __init__(self) -> None:
        from textual.screen import Screen

        super().__init__(Screen)


async def test_a_task_run_on_localhost_goes_ok_and_its_output_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = Blank()
    async with app.run_test(size=(120, 35)) as pilot:
        prepared = engine.prepare_task("disk-usage", None, {"mount": "/"}, run_id=engine.new_run_id())
        open_run(app, engine, bridge, prepared)
        screen = run_screen(pilot)
        view = bridge.run(prepared.request.run_id)
        await until(pilot, lambda: view.done and screen.tail.seen == view.hosts["localhost"].total_lines)
        await pilot.pause()
        assert view.hosts["localhost"].status == "ok"
        assert screen.selected_host == "localhost"
        assert tail_text(screen)[0].startswith("Filesystem")
        table = screen.query_one(RunHostTable)
        assert table.cell_text("localhost", "status") == "✔"
        assert table.cell_text("localhost", "rc") == "0"
        assert summary_text(view).startswith("ok 1 · failed 0 · timeout 0 · unreachable 0 · running 0 · queued 0")
        assert str(screen.tail.border_title) == "localhost · ok rc=0"
    await engine.close()


async def test_cancel_asks_first_then_kills_a_sleeping_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = Blank()
    async with app.run_test(size=(120, 35)) as pilot:
        prepared = engine.prepare_command("echo started; sleep 30", "localhost", run_id=engine.new_run_id())
        open_run(app, engine, bridge, prepared)
        view = bridge.run(prepared.request.run_id)
        host = view.hosts["localhost"]
        await until(pilot, lambda: host.status == "running" and host.total_lines > 0)

        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")  # "no" is the default: nothing happens
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.2)
        assert not view.done and host.status == "running"

        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: view.done)
        assert view.finished is not None and view.finished.cancelled
        assert bridge.run(view.run_id).hosts["localhost"].status == "cancelled"
        await until(pilot, lambda: "cancelled" in summary_text(view))
    await engine.close()


async def test_rerun_failed_starts_a_new_run_on_the_failed_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    marker = tmp_path / "second-time"
    command = f"if [ -e {marker} ]; then echo second try; else touch {marker}; echo first try >&2; exit 3; fi"
    app = Blank()
    async with app.run_test(size=(120, 35)) as pilot:
        prepared = engine.prepare_command(command, "localhost", timeout=30, run_id=engine.new_run_id())
        open_run(app, engine, bridge, prepared)
        screen = run_screen(pilot)
        first = bridge.run(prepared.request.run_id)
        await until(pilot, lambda: first.done)
        assert first.hosts["localhost"].status == "failed"
        await until(pilot, lambda: screen.tail.log_view.line_count == 1)
        assert screen.tail.log_view.lines[0].kind == "err"

        await pilot.press("R")
        await until(pilot, lambda: len(bridge.runs) == 2)
        second_id = list(bridge.runs)[1]
        second = bridge.run(second_id)
        assert second.selector == f"@{first.run_id}.failed"
        assert second.command == command
        await until(pilot, lambda: second.done)
        assert second.hosts["localhost"].status == "ok"
        await until(pilot, lambda: screen.run_id == second_id and tail_text(screen) == ["second try"])

        await pilot.press("left_square_bracket")
        await until(pilot, lambda: screen.run_id == first.run_id)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.run_id == second_id)
    await engine.close()


async def test_rerun_with_nothing_failed_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = Blank()
    async with app.run_test(size=(120, 35)) as pilot:
        prepared = engine.prepare_command("true", "localhost", run_id=engine.new_run_id())
        open_run(app, engine, bridge, prepared)
        await until(pilot, lambda: bridge.run(prepared.request.run_id).done)
        await pilot.press("R")
        await pilot.pause(0.2)
        assert len(bridge.runs) == 1
    await engine.close()


def canned_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bridge: RunBridge) -> tuple[ScreenHarness, Engine]:
    engine = make_engine(tmp_path, monkeypatch)
    app = ScreenHarness(lambda: RunScreen(engine, bridge, clock=lambda: NOW))
    return app, engine


async def test_failures_sort_first_and_the_gathered_view_groups_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = RunBridge()
    feed(bridge, finished_run("r1"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        table = screen.query_one(RunHostTable)
        order = table.order
        assert order == ["cache01", "web03", "db01", "db02", "web01", "web02"]
        assert screen.selected_host == "cache01"

        await pilot.press("v")
        await pilot.pause()
        lines = [line.text for line in screen.gathered.log_view.lines]
        assert lines[0] == "── db[01-02],web[01-02] (rc=0, 4 hosts) ──"
        assert "── web03 (rc=1, 1 host) ──" in lines
        assert "df: /: Input/output error" in lines
        assert any(line.startswith("── cache01 (unreachable: connection refused") for line in lines)
        await pilot.press("escape")
        assert not screen.gathered.display
    await engine.close()


async def test_search_highlights_and_jumps_and_escape_clears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    for chunk in range(20):
        text = "".join(f"line {chunk * 10 + i}{' ERROR here' if i == 5 else ''}\n" for i in range(10))
        bridge.handle(Output("r1", "db02", "stdout", text.encode(), "main"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        table = screen.query_one(RunHostTable)
        table.select("db02")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count == 201)
        log = screen.tail.log_view

        await pilot.press("slash")
        assert screen.tail.searching and screen.tail.search_input.has_focus
        await pilot.press(*"error")
        await pilot.press("enter")
        assert not screen.tail.searching and log.searching
        assert str(screen.tail.border_subtitle) == "match 20/20"
        assert not log.following  # looking at a match pauses follow mode
        await pilot.press("N")
        assert str(screen.tail.border_subtitle) == "match 19/20"
        await pilot.press("n", "n")
        assert str(screen.tail.border_subtitle) == "match 1/20"  # wraps around

        await pilot.press("escape")
        assert not log.searching and not screen.tail.searching
        await pilot.press("G")
        assert log.following
    await engine.close()


async def test_typed_search_shows_each_letter_at_once_and_highlights_once_typing_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    text = "".join(f"line {i}{' ERROR here' if i % 10 == 5 else ''}\n" for i in range(200))
    bridge.handle(Output("r1", "db02", "stdout", text.encode(), "main"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        screen.query_one(RunHostTable).select("db02")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count == 201)
        log = screen.tail.log_view
        searched: list[str] = []
        search = log.search

        def counting(query: str) -> int:
            searched.append(query)
            return search(query)

        monkeypatch.setattr(log, "search", counting)
        monkeypatch.setattr("fleetdeck.ui.widgets.host_tail.SEARCH_WAIT_S", 30.0)
        await pilot.press("slash", *"error")
        assert screen.tail.search_input.value == "error"
        assert searched == [] and not log.searching  # the letters show; the log is not searched per key

        screen.tail.apply_search()  # what the timer does once typing pauses
        assert searched == ["error"] and log.searching
        assert str(screen.tail.border_subtitle) == "20 matching lines"

        monkeypatch.setattr("fleetdeck.ui.widgets.host_tail.SEARCH_WAIT_S", 0.05)
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", *"line 1")
        await until(pilot, lambda: str(screen.tail.border_subtitle) == "111 matching lines")
        assert searched[-1] == "line 1"

        monkeypatch.setattr("fleetdeck.ui.widgets.host_tail.SEARCH_WAIT_S", 30.0)
        await pilot.press("backspace", "enter")  # Enter searches what is typed without waiting
        assert searched[-1] == "line " and not screen.tail.searching
        assert str(screen.tail.border_subtitle) == "match 200/200"
    await engine.close()


async def test_follow_pauses_on_scroll_up_counts_new_lines_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    bridge.handle(Output("r1", "db02", "stdout", "".join(f"old {i}\n" for i in range(100)).encode(), "main"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        table = screen.query_one(RunHostTable)
        table.select("db02")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count == 101)
        log = screen.tail.log_view
        assert log.following and log.scroll_y == log.max_scroll_y

        log.focus()
        await pilot.press("pageup")
        assert not log.following
        paused_at = log.scroll_y
        bridge.handle(Output("r1", "db02", "stdout", b"new 1\nnew 2\nnew 3\n", "main"))
        await until(pilot, lambda: log.unseen == 3)
        assert log.scroll_y == paused_at
        notice = screen.tail.query_one(".tail-paused")
        assert notice.display and "3 new lines" in str(notice.render())

        await pilot.click(".tail-paused")  # a click on the notice resumes
        assert log.following and log.unseen == 0
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y and not notice.display)

        await pilot.press("home")
        assert not log.following and log.scroll_y == 0
        await pilot.press("end")  # and so does End
        assert log.following
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y and not notice.display)
    await engine.close()


async def test_wrap_toggle_reflows_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    bridge.handle(Output("r1", "db02", "stdout", b"x" * 500 + b"\n", "main"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        table = screen.query_one(RunHostTable)
        table.select("db02")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count == 2)
        log = screen.tail.log_view
        assert log.virtual_size.height == 2 and log.virtual_size.width == 500
        await pilot.press("w")
        assert log.wrap
        width = log.scrollable_content_region.width
        assert log.virtual_size.height == 1 + -(-500 // width)
        await pilot.press("w")
        assert log.virtual_size.height == 2
    await engine.close()


async def test_narrow_terminals_get_tabs_instead_of_a_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = RunBridge()
    feed(bridge, finished_run("r1"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        await until(pilot, lambda: screen.narrow)
        assert screen.query_one("#run-tabs").display
        assert not screen.query_one("#run-output-pane").display
        await pilot.press("enter")  # open the host's output
        await until(pilot, lambda: screen.query_one("#run-output-pane").display)
        assert not screen.query_one("#run-hosts-pane").display
        assert tail_text(screen) == []  # cache01 never printed
        await pilot.press("escape")
        assert screen.query_one("#run-hosts-pane").display
        await pilot.press("o")
        assert screen.output_visible

    app, engine2 = canned_app(tmp_path / "wide", monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        await pilot.pause()
        assert not screen.narrow and not screen.query_one("#run-tabs").display
        assert screen.query_one("#run-output-pane").display and screen.query_one("#run-hosts-pane").display
    await engine.close()
    await engine2.close()


async def test_live_updates_reach_the_table_on_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    app, engine = canned_app(tmp_path, monkeypatch, bridge)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        table = run_screen(pilot).query_one(RunHostTable)
        assert table.cell_text("cache01", "status") == "·"
        bridge.handle(HostRunning("r1", "cache01", "main", 1, time=NOW))
        await until(pilot, lambda: table.cell_text("cache01", "status") == "●")
        assert table.cell_text("cache01", "step") == "main"
    await engine.close()


def test_run_view_snapshot(snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("20231114-221320-beef"))
    app, _engine = canned_app(tmp_path, monkeypatch, bridge)

    async def settle(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, RunScreen))
        screen = run_screen(pilot)
        await until(pilot, lambda: screen.tail.source is not None)
        await pilot.press("down")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count == 1)
        no_blink(pilot)
        await pilot.pause()

    run_before: Callable[[Pilot[Any]], Awaitable[None]] = settle
    assert snap_compare(app, terminal_size=(120, 35), run_before=run_before)
