"""The dashboard against a canned health board, a frozen clock and a fake `top`.

The board is filled before the app starts (and changed by the tests), the dashboard drains it on its own
clock, and the tests assert exact cell texts, row orders, filter results, marks, the detail pane and the
process listing, plus two deterministic snapshots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from dashboard_fakes import (
    NOW,
    FakeTop,
    canned,
    cell,
    dashboard,
    fleet_board,
    make_app,
    make_context,
    ready,
    table,
    until,
)
from rich.color import Color
from rich.style import Style
from textual.color import Color as TextualColor
from textual.geometry import Region
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.health.top import TopError
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.widgets import fleet_rows
from fleetdeck.ui.widgets.filter_bar import FilterBar
from fleetdeck.ui.widgets.health_detail import HealthDetail
from fleetdeck.ui.widgets.host_cells import CELL_PADDING
from fleetdeck.ui.widgets.metric_graph import MetricGraph
from fleetdeck.ui.widgets.top_panel import TopPanel


def order(pilot: Pilot[Any]) -> list[str]:
    return table(pilot).shown_hosts


async def select(pilot: Pilot[Any], name: str) -> None:
    fleet = table(pilot)
    fleet.move_cursor(row=fleet.get_row_index(name))
    await until(
        pilot, lambda: fleet.cursor_host == name and dashboard(pilot).query_one("#detail-pane").border_title == name
    )


def detail_text(pilot: Pilot[Any]) -> str:
    return str(dashboard(pilot).query_one(HealthDetail).render())


async def type_filter(pilot: Pilot[Any], text: str, error: str | None = None) -> FilterBar:
    """Put `text` in the filter and wait until the rows obey it (or, with `error`, until that is shown)."""
    bar = dashboard(pilot).query_one(FilterBar)
    if not bar.input.has_focus:
        await pilot.press("slash")
    bar.input.value = text

    def settled() -> bool:
        if error is not None:
            return error in filter_message(pilot)
        wanted = bar.host_filter
        return wanted is not None and wanted.text == text and dashboard(pilot).applied_filter == wanted

    await until(pilot, settled)
    await pilot.pause()
    return bar


def filter_message(pilot: Pilot[Any]) -> str:
    return str(dashboard(pilot).query_one("#filter-message").render())


# -- rows ---------------------------------------------------------------------------------------


async def test_each_host_gets_a_keyed_row_with_its_numbers() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)

        assert sorted(table(pilot).shown_hosts) == ["cache-1", "db-1", "db-2", "web-1", "web-2"]
        assert [cell(pilot, "web-1", key) for key in ("status", "host", "mem", "disk", "load", "rx", "tx")] == [
            "●", "web-1", "45%", "60%", "1.25/8", "1.4M", "2.0K",
        ]  # fmt: skip
        assert cell(pilot, "web-1", "uptime") == "3d 4h"
        assert cell(pilot, "web-1", "alert") == "—"
        assert cell(pilot, "web-1", "cpu").startswith("37% ")
        assert cell(pilot, "web-2", "load") == "17.5/8"
        assert cell(pilot, "web-2", "rx") == "—"
        assert cell(pilot, "db-1", "disk") == "95%"


async def test_down_and_stale_rows_say_why() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)

        assert [cell(pilot, "db-2", key) for key in ("status", "cpu", "mem", "uptime")] == ["✗", "down", "—", "—"]
        assert cell(pilot, "db-2", "alert") == "connection refused"  # the host's own name is not repeated
        assert cell(pilot, "cache-1", "status") == "◌"
        assert cell(pilot, "cache-1", "alert") == "no health data for 9s"
        assert cell(pilot, "cache-1", "mem") == "45%"  # old numbers stay, dimmed and not judged

        muted = fleet.get_component_rich_style("fleet-table--muted", partial=True)
        down = fleet.get_component_rich_style("fleet-table--down", partial=True)
        assert all(fleet.get_cell("cache-1", key).style == muted for key in ("host", "mem", "disk", "uptime"))
        assert fleet.get_cell("db-2", "host").style == down

        await select(pilot, "cache-1")
        assert "stale: no health data for 9s" in detail_text(pilot)
        assert "sampled 9s ago" in detail_text(pilot)
        await select(pilot, "db-2")
        assert "down: connection refused" in detail_text(pilot)
        assert "sampled 30s ago" in detail_text(pilot)


async def test_the_cpu_trend_shows_recent_peaks_one_bucket_per_character() -> None:
    board = HealthBoard(["web-1"], interval_s=2.0)
    for step in range(10):  # one sample per 12 s bucket, 0% rising to 90%
        board.add(canned("web-1", time=NOW - 12 * (9 - step), cpu_pct=10.0 * step))
    async with make_app(make_context(board)).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        assert cell(pilot, "web-1", "cpu") == "90% ▁▁▂▃▄▅▅▆▇█"


async def test_a_drain_repaints_only_the_rows_whose_text_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    context = make_context()
    async with make_app(context).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        painted: list[str] = []
        refreshed: list[tuple[Region, ...]] = []
        paint_row = fleet_rows.paint_row
        refresh = fleet.refresh

        def paint_spy(columns: Any, cells: Any, *args: Any) -> Any:
            painted.append(cells["host"][0][0])
            return paint_row(columns, cells, *args)

        def refresh_spy(*regions: Region, **kwargs: Any) -> Any:
            refreshed.append(regions)
            return refresh(*regions, **kwargs)

        monkeypatch.setattr(fleet_rows, "paint_row", paint_spy)
        fleet.refresh = refresh_spy  # type: ignore[method-assign]
        context.board.add(canned("web-1", mem_used_pct=12.0))
        context.board.add(canned("web-2", cpu_pct=93.0, mem_used_pct=74.0, load1=17.5, net_rx_bps=None))

        await until(pilot, lambda: cell(pilot, "web-1", "mem") == "12%")
        await pilot.pause()
        # web-2 was drained too, but nothing in its row changed: only web-1's line is refreshed and painted.
        assert [[region.y for region in regions] for regions in refreshed] == [[fleet.get_row_index("web-1") + 1]]
        assert painted == ["web-1"]


async def test_a_new_host_on_the_board_gets_a_row() -> None:
    context = make_context()
    async with make_app(context).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        context.board.add(canned("web-3", cpu_pct=5.0))
        await until(pilot, lambda: "web-3" in order(pilot))
        assert cell(pilot, "web-3", "cpu").startswith("5%")
        assert order(pilot)[-1] == "web-3"


# -- sorting ------------------------------------------------------------------------------------


async def test_sort_keys_cycle_columns_and_reverse_keeping_the_cursor_on_its_host() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        assert order(pilot) == ["cache-1", "db-1", "db-2", "web-1", "web-2"]
        await select(pilot, "db-2")

        await pilot.press("s")
        assert fleet.sort_key == "status"
        assert order(pilot) == ["db-2", "cache-1", "db-1", "web-2", "web-1"]  # down, stale, crit, ok
        await pilot.press("s")
        assert order(pilot) == ["web-2", "cache-1", "web-1", "db-1", "db-2"]  # busiest first, no number last
        assert fleet.header_label("cpu") == "cpu▼"
        await pilot.press("S")
        assert order(pilot) == ["db-1", "cache-1", "web-1", "web-2", "db-2"]  # still last: it has no number
        assert fleet.cursor_host == "db-2"


async def test_clicking_a_header_sorts_by_it_and_again_reverses() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        x = sum(column.width + CELL_PADDING for column in fleet.columns[:4]) + 2  # mem, inside the border
        await pilot.click(fleet, offset=(x, 1))
        await pilot.pause()
        assert fleet.sort_key == "mem" and not fleet.sort_reverse
        assert order(pilot) == ["web-2", "cache-1", "db-1", "web-1", "db-2"]
        assert fleet.header_label("mem") == "mem▼"

        await pilot.click(fleet, offset=(x, 1))
        await pilot.pause()
        assert fleet.sort_reverse
        assert order(pilot) == ["cache-1", "db-1", "web-1", "web-2", "db-2"]
        assert fleet.header_label("mem") == "mem▲"

        await pilot.click(fleet, offset=(2, 1))  # the mark column does not sort
        await pilot.pause()
        assert fleet.sort_key == "mem" and fleet.sort_reverse


# -- filter -------------------------------------------------------------------------------------


async def test_filter_by_text_regex_inverted_and_selector() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)

        await pilot.press("slash", "w", "e", "b")
        await until(pilot, lambda: filter_message(pilot) == "text · 2 of 5 hosts")
        assert order(pilot) == ["web-1", "web-2"]
        assert "2 shown" in str(table(pilot).border_title)

        cases = {
            "WEB-2": ["web-2"],  # substrings ignore case
            r"~^db-\d$": ["db-1", "db-2"],
            "!web": ["cache-1", "db-1", "db-2"],
            "@db": ["db-1", "db-2"],
            "tag:dc=fra1": ["cache-1", "web-1", "web-2"],
            "web-[1-2]": ["web-1", "web-2"],
            "!@web": ["cache-1", "db-1", "db-2"],
            "*-1": ["cache-1", "db-1", "web-1"],
        }
        for text, expected in cases.items():
            await type_filter(pilot, text)
            assert order(pilot) == expected, text
        assert filter_message(pilot) == "selector · 3 of 5 hosts"

        await pilot.press("escape")  # the rows follow a moment later, like typed filters
        await until(pilot, lambda: order(pilot) == ["cache-1", "db-1", "db-2", "web-1", "web-2"])
        bar = dashboard(pilot).query_one(FilterBar)
        assert not bar.display and bar.host_filter is None and table(pilot).has_focus


async def test_a_bad_regex_or_selector_is_explained_and_the_rows_stay() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        bar = await type_filter(pilot, "@db")
        assert order(pilot) == ["db-1", "db-2"]

        await type_filter(pilot, "~web[", error="bad regex 'web[': unterminated character set")
        assert filter_message(pilot).startswith("bad regex 'web[': unterminated character set")
        assert order(pilot) == ["db-1", "db-2"]
        await type_filter(pilot, "@nosuch", error='unknown group "nosuch"')
        assert order(pilot) == ["db-1", "db-2"]

        await pilot.press("enter")  # the message stays readable; the keyboard goes back to the table
        await pilot.pause()
        assert bar.display and table(pilot).has_focus
        await pilot.press("escape")  # Esc from the table drops the filter too
        await until(pilot, lambda: len(order(pilot)) == 5)
        assert not bar.display


async def test_enter_keeps_the_filter_and_returns_to_the_table() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        await type_filter(pilot, "db")
        await pilot.press("enter", "down")
        await pilot.pause()
        assert dashboard(pilot).query_one(FilterBar).display
        assert table(pilot).cursor_host == "db-2"


# -- marks --------------------------------------------------------------------------------------


async def test_space_marks_a_marks_everything_shown_u_clears() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        screen = dashboard(pilot)

        await select(pilot, "db-1")
        await pilot.press("space")
        assert cell(pilot, "db-1", "mark") == "✓"
        assert screen.marked_hosts() == ["db-1"]
        await pilot.press("space")
        assert cell(pilot, "db-1", "mark") == ""
        assert screen.marked_hosts() == []

        await select(pilot, "db-2")
        await pilot.press("space")
        await type_filter(pilot, "@web")
        await pilot.press("enter", "a")
        await pilot.pause()
        assert screen.marked_hosts() == ["web-1", "web-2", "db-2"]  # the board's order; hidden db-2 kept
        assert "3 marked" in str(table(pilot).border_title)

        await pilot.press("escape", "u")
        await pilot.pause()
        assert screen.marked_hosts() == []
        assert all(cell(pilot, name, "mark") == "" for name in order(pilot))


# -- detail pane --------------------------------------------------------------------------------


async def test_the_detail_pane_follows_the_cursor() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        await select(pilot, "web-2")
        pane = dashboard(pilot).query_one("#detail-pane")
        text = detail_text(pilot)

        assert pane.border_title == "web-2" and pane.border_subtitle == "web-2.example.net · @web"
        assert "state up · uptime 3d 4h · 212 procs\n" in text, "a fresh sample's age is not shown"
        assert "os    Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-18-amd64" in text
        assert "cpu    93%   user 25%  system 10%  iowait 2%  steal 0%" in text
        assert "cores ▁▃▅▄▆██▁  busiest 93%" in text
        assert "load  17.50 0.90 0.50  on 8 cores" in text
        assert "fs    /    ext4  40%  40.0 GiB of 100.0 GiB  inodes 12%" in text
        assert "      /var xfs   60%  300.0 GiB of 500.0 GiB  inodes —" in text

        cpu = str(dashboard(pilot).query_one("#graph-cpu-pct", MetricGraph).render())
        first, second = cpu.splitlines()
        assert first.startswith("cpu        93% ") and second.startswith("peak       93% ")
        assert set(second[15:]) - {" "} <= set("▁▂▃▄▅▆▇█") and second.rstrip()[-1] == "█"

        await select(pilot, "db-1")
        assert "fs    / ext4  95%" in detail_text(pilot)


# -- top processes ------------------------------------------------------------------------------


async def test_p_and_m_list_the_hosts_top_processes_and_esc_closes_them() -> None:
    top = FakeTop()
    async with make_app(make_context(top=top)).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        screen = dashboard(pilot)
        pane = screen.query_one("#detail-pane")
        panel = screen.query_one(TopPanel)
        rows = panel.query_one("#top-table", DataTable)
        await select(pilot, "db-1")

        await pilot.press("p")
        await until(pilot, lambda: rows.row_count == 2)
        assert top.calls == [("db-1", "cpu")]
        assert pane.has_class("-top") and panel.display
        assert str(panel.query_one("#top-status").render()).startswith("top by CPU on db-1 · 2 processes")
        assert rows.get_row_at(0) == ["4242", "postgres", "81.5", "12.0", "2.0G", "postgres: checkpointer"]

        await pilot.press("m")
        await until(pilot, lambda: rows.row_count == 2 and rows.get_row_at(0)[0] == "1337")
        assert top.calls[-1] == ("db-1", "mem")

        await pilot.press("escape")
        await pilot.pause()
        assert not pane.has_class("-top")

        await pilot.press("p")
        await until(pilot, lambda: rows.row_count == 2)
        await select(pilot, "web-1")  # another host's listing would be wrong here, so it goes away
        assert not pane.has_class("-top")


async def test_a_failing_top_is_reported_in_the_panel() -> None:
    top = FakeTop(failing=TopError("db-1: cannot list processes: ps: not found (needs procps ps)"))
    async with make_app(make_context(top=top)).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        await select(pilot, "db-1")
        await pilot.press("p")
        status = dashboard(pilot).query_one("#top-status")
        await until(pilot, lambda: "failed" in str(status.render()))
        assert (
            str(status.render())
            == "top by CPU on db-1 failed: db-1: cannot list processes: ps: not found (needs procps ps)"
        )


async def test_without_top_the_key_says_so() -> None:
    posted: list[Message] = []
    async with make_app().run_test(size=(120, 35), message_hook=posted.append) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await pilot.pause()
    notes = [m.notification.message for m in posted if isinstance(m, Notify)]
    assert notes == ["Process listings are not available in this console."]


# -- collector and lifecycle --------------------------------------------------------------------


async def test_the_collector_runs_in_a_worker_and_is_cancelled_and_closed_on_exit() -> None:
    board = fleet_board()
    events: list[str] = []

    async def collect() -> None:
        events.append("started")
        board.add(canned("web-1", cpu_pct=66.0))
        try:
            await asyncio.Event().wait()
        finally:
            events.append("cancelled")

    async def close() -> None:
        events.append("closed")

    context = make_context(board, collect=collect)
    context.closers = (close,)
    app = make_app(context)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: cell(pilot, "web-1", "cpu").startswith("66%"))
        await pilot.press("q")
        await pilot.pause()
    assert events == ["started", "cancelled", "closed"]
    assert app.return_code == 0


async def test_a_crashing_collector_is_reported_and_the_console_stays_up() -> None:
    async def collect() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("probe table corrupted")

    posted: list[Message] = []
    context = make_context(collect=collect)
    async with make_app(context).run_test(size=(120, 35), message_hook=posted.append) as pilot:
        await ready(pilot)
        await until(pilot, lambda: any(isinstance(m, Notify) for m in posted))
        note = next(m.notification for m in posted if isinstance(m, Notify))
        assert note.severity == "error"
        assert note.message.startswith("Health collection stopped: probe table corrupted.")
        context.board.add(canned("web-1", mem_used_pct=3.0))  # the dashboard itself still works
        await until(pilot, lambda: cell(pilot, "web-1", "mem") == "3%")


async def test_switching_theme_recolours_the_cells() -> None:
    async with make_app().run_test() as pilot:
        await ready(pilot)

        def crit_colour() -> Color | None:
            style = table(pilot).get_cell("web-2", "cpu").spans[0].style
            assert isinstance(style, Style)
            return style.color

        assert crit_colour() == TextualColor.parse("#ff4f5e").rich_color
        pilot.app.theme = "high-contrast"
        await until(pilot, lambda: crit_colour() == TextualColor.parse("#ff3030").rich_color)


async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
    assert not app.is_running


async def test_a_covered_dashboard_leaves_hosts_dirty_until_it_is_back() -> None:
    context = make_context()
    async with make_app(context).run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        screen = dashboard(pilot)
        await pilot.app.push_screen(Screen())
        context.board.add(canned("web-1", mem_used_pct=1.0))
        await pilot.pause(0.3)
        assert screen.table.get_cell("web-1", "mem").plain.strip() == "45%"
        pilot.app.pop_screen()
        await until(pilot, lambda: cell(pilot, "web-1", "mem") == "1%")


async def test_an_idle_dashboard_drains_once_a_second_and_a_filter_still_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks: list[float] = []
    real = DashboardScreen.drain

    def counting(self: DashboardScreen) -> int:
        ticks.append(asyncio.get_running_loop().time())
        return real(self)

    monkeypatch.setattr(DashboardScreen, "drain", counting)
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        ticks.clear()
        await pilot.pause(2.5)
        assert 1 <= len(ticks) <= 3, f"{len(ticks)} drains in 2.5 s"  # at 10 Hz: 25
        await type_filter(pilot, "web")
        assert order(pilot) == ["web-1", "web-2"]


# -- snapshots ----------------------------------------------------------------------------------


def snapshot_context() -> ConsoleContext:
    return make_context(top=FakeTop())


async def mark_and_select(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await select(pilot, "db-1")
    await pilot.press("space")
    await select(pilot, "web-2")
    await pilot.pause()


def test_dashboard_snapshot_120x35(snap_compare: Callable[..., bool]) -> None:
    run_before: Callable[[Pilot[Any]], Awaitable[None]] = mark_and_select
    assert snap_compare(make_app(snapshot_context()), terminal_size=(120, 35), run_before=run_before)


def test_dashboard_snapshot_80x24(snap_compare: Callable[..., bool]) -> None:
    run_before: Callable[[Pilot[Any]], Awaitable[None]] = mark_and_select
    assert snap_compare(make_app(snapshot_context()), terminal_size=(80, 24), run_before=run_before)
