"""The fleet table as a line-API widget: what it repaints, the cursor and its keys, the mouse, and its painted lines.

A dashboard over 60 canned hosts (more than fit, so the table scrolls) is driven with Pilot; the tests read the
lines the table paints (`render_line`), count the rows it paints with a spy on `paint_row`, and record the
regions it asks to refresh, so "only the changed rows in view are repainted" is checked directly.
"""

from __future__ import annotations

from typing import Any

import pytest
from dashboard_fakes import NOW, canned, dashboard, host, inventory_of, make_app, make_context, ready, table, until
from rich.style import Style
from textual.geometry import Region
from textual.message import Message
from textual.pilot import Pilot

from fleetdeck.core.health.board import HealthBoard
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.widgets import fleet_rows
from fleetdeck.ui.widgets.host_cells import CELL_PADDING
from fleetdeck.ui.widgets.host_table import FleetTable

NAMES = [f"node-{index:02d}" for index in range(60)]


def many_app() -> FleetdeckApp:
    board = HealthBoard(NAMES, interval_s=2.0)
    for index, name in enumerate(NAMES):
        board.add(canned(name, cpu_pct=float(index), mem_used_pct=float(index % 50)))
    inventory = inventory_of(host(name, ["even" if index % 2 == 0 else "odd"]) for index, name in enumerate(NAMES))
    return make_app(make_context(board, inventory=inventory))


def lines(fleet: FleetTable) -> list[str]:
    """The table's lines as painted now, header first."""
    return [fleet.render_line(y).text for y in range(fleet.scrollable_content_region.height)]


def first_style(fleet: FleetTable, y: int) -> Style:
    style = next(iter(fleet.render_line(y))).style
    assert style is not None
    return style


def painted_line(fleet: FleetTable, name: str) -> str:
    return fleet.render_line(fleet.get_row_index(name) - fleet.scroll_offset.y + 1).text


class Spies:
    """Which hosts' rows get painted, and which regions the table asks to refresh."""

    def __init__(self, fleet: FleetTable, monkeypatch: pytest.MonkeyPatch) -> None:
        self.painted: list[str] = []
        self.refreshed: list[tuple[Region, ...]] = []
        paint_row = fleet_rows.paint_row
        refresh = fleet.refresh

        def paint_spy(columns: Any, cells: Any, *args: Any) -> Any:
            self.painted.append(cells["host"][0][0])
            return paint_row(columns, cells, *args)

        def refresh_spy(*regions: Region, **kwargs: Any) -> Any:
            self.refreshed.append(regions)
            return refresh(*regions, **kwargs)

        monkeypatch.setattr(fleet_rows, "paint_row", paint_spy)
        fleet.refresh = refresh_spy  # type: ignore[method-assign]

    def lines(self) -> list[list[int]]:
        return [[region.y for region in regions] for regions in self.refreshed]

    def clear(self) -> None:
        self.painted.clear()
        self.refreshed.clear()


async def changed(pilot: Pilot[Any], name: str, mem: float) -> None:
    """Give `name` a new memory reading and wait until the table has it and has repainted."""
    app = pilot.app
    assert isinstance(app, FleetdeckApp)
    app.context.board.add(canned(name, time=NOW + 1, cpu_pct=float(NAMES.index(name)), mem_used_pct=mem))
    await until(pilot, lambda: table(pilot).get_cell(name, "mem").plain.strip() == f"{mem:.0f}%")
    await pilot.pause()


async def test_an_unchanged_repaint_paints_no_row_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        spies = Spies(fleet, monkeypatch)
        fleet.refresh()  # every line repainted, every row from its cached strip
        await pilot.pause()
        assert spies.painted == []
        assert "node-00" in lines(fleet)[1]


async def test_a_changed_row_in_view_repaints_only_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        spies = Spies(fleet, monkeypatch)
        await changed(pilot, "node-03", 77.0)
        assert spies.lines() == [[4]]  # row 3 is the fourth line under the header
        assert spies.painted == ["node-03"]
        assert " 77% " in painted_line(fleet, "node-03")


async def test_a_row_out_of_view_is_painted_current_when_it_scrolls_in(monkeypatch: pytest.MonkeyPatch) -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        spies = Spies(fleet, monkeypatch)
        await changed(pilot, "node-59", 12.0)
        assert spies.refreshed == [] and spies.painted == []  # out of view: nothing to repaint

        await pilot.press("end")
        await pilot.pause()
        assert fleet.cursor_host == "node-59"
        assert lines(fleet)[-1].split()[:3] == ["●", "node-59", "59%"]
        assert " 12% " in painted_line(fleet, "node-59")


async def test_sorted_by_a_number_a_row_out_of_view_moves_in_when_its_number_does() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        fleet.sort_by("mem")  # fullest first: node-00 (0%) is far below the fold
        await pilot.press("home")
        await pilot.pause()
        assert fleet.get_row_index("node-00") not in range(fleet.scroll_offset.y, fleet.scroll_offset.y + 30)
        await changed(pilot, "node-00", 99.0)
        await until(pilot, lambda: fleet.shown_hosts[0] == "node-00")
        assert lines(fleet)[1].split()[1] == "node-00" and " 99% " in lines(fleet)[1]


async def test_a_new_host_takes_its_place_by_name_and_its_name_fits() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        app = pilot.app
        assert isinstance(app, FleetdeckApp)
        app.context.board.add(canned("node-05b", time=NOW + 1, cpu_pct=1.0, mem_used_pct=1.0))
        fleet = table(pilot)
        await until(pilot, lambda: "node-05b" in fleet.shown_hosts)
        assert fleet.shown_hosts[5:8] == ["node-05", "node-05b", "node-06"]
        assert lines(fleet)[7].split()[1] == "node-05b"


async def test_cursor_keys_move_and_scroll_and_announce_the_host() -> None:
    posted: list[Message] = []
    async with many_app().run_test(size=(120, 35), message_hook=posted.append) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        page = fleet.scrollable_content_region.height - 1
        assert fleet.cursor_host == "node-00"

        await pilot.press("down", "j", "j")
        assert fleet.cursor_host == "node-03"
        await pilot.press("up", "k")
        assert fleet.cursor_host == "node-01"
        await pilot.press("pagedown")
        assert fleet.cursor_row == 1 + page
        assert fleet.scroll_offset.y <= fleet.cursor_row < fleet.scroll_offset.y + page
        await pilot.press("pageup")
        assert fleet.cursor_row == 1
        for key, row in (("G", 59), ("g", 0), ("ctrl+end", 59), ("ctrl+home", 0), ("end", 59), ("home", 0)):
            await pilot.press(key)
            assert fleet.cursor_row == row, key
            assert fleet.scroll_offset.y <= row < fleet.scroll_offset.y + page, key
        await pilot.press("up")
        assert fleet.cursor_host == "node-00"  # no row above the first
        await pilot.pause()

    # The hook sees a message once per pump it bubbles through; count each announcement once.
    hosts = [m.host for m in posted if isinstance(m, FleetTable.HostHighlighted)]
    announced = [name for index, name in enumerate(hosts) if index == 0 or hosts[index - 1] != name]
    assert announced[:6] == ["node-00", "node-01", "node-02", "node-03", "node-02", "node-01"]
    assert announced[-6:] == ["node-59", "node-00"] * 3


async def test_a_click_selects_the_row_and_the_detail_pane_follows() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        await pilot.click(fleet, offset=(20, 4))  # border, header, then rows 0, 1, 2
        await until(pilot, lambda: dashboard(pilot).query_one("#detail-pane").border_title == "node-02")
        assert fleet.cursor_host == "node-02"

        await pilot.press("pagedown")
        top = fleet.scroll_offset.y
        assert top > 0
        await pilot.click(fleet, offset=(20, 2))  # the first row in view, wherever the table is scrolled
        assert fleet.cursor_row == top


async def test_the_row_under_the_mouse_is_highlighted_until_it_leaves() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        plain = first_style(fleet, 3)
        hover = fleet.get_component_rich_style("fleet-table--hover")

        await pilot.hover(fleet, offset=(20, 4))
        await pilot.pause()
        style = first_style(fleet, 3)
        assert style.bgcolor == hover.bgcolor != plain.bgcolor

        await pilot.press("down")  # keys put the mouse highlight away, as in DataTable
        await pilot.pause()
        assert first_style(fleet, 3) == plain


async def test_the_header_sorts_on_click_and_shows_the_arrow() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        assert lines(fleet)[0].split()[0] == "host▲"
        x = sum(column.width + CELL_PADDING for column in fleet.columns[:3]) + 2  # cpu, inside the border
        await pilot.click(fleet, offset=(x, 1))
        await pilot.pause()
        assert fleet.sort_key == "cpu" and fleet.shown_hosts[0] == "node-59"
        assert lines(fleet)[0].split()[:2] == ["host", "cpu▼"]
        assert fleet.cursor_host == "node-00"  # the cursor keeps its host, now the last row, scrolled into view
        assert lines(fleet)[-1].split()[1] == "node-00"

        await pilot.click(fleet, offset=(x, 1))
        await pilot.pause()
        assert fleet.sort_reverse and fleet.shown_hosts[0] == "node-00"


async def test_marks_and_filters_are_painted() -> None:
    async with many_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)
        await pilot.press("space")
        await pilot.pause()
        assert painted_line(fleet, "node-00").split()[:2] == ["✓", "●"]

        await pilot.press("slash", *"@odd", "enter")
        await until(pilot, lambda: fleet.row_count == 30)
        await pilot.pause()
        shown = [line.split()[1] for line in lines(fleet)[1:] if line.strip()]
        assert shown == [f"node-{index:02d}" for index in range(1, 60, 2)][: len(shown)]
        assert fleet.cursor_host == "node-01"  # the cursor's host was hidden: the first row takes it
        assert fleet.virtual_size.height == 31


async def test_a_theme_change_repaints_in_the_new_colours() -> None:
    async with make_app().run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        fleet = table(pilot)

        def crit_colour() -> str | None:
            strip = fleet.render_line(fleet.get_row_index("db-1") + 1 - fleet.scroll_offset.y)
            disk = next(segment for segment in strip if segment.text.strip() == "95%")
            assert disk.style is not None and disk.style.color is not None
            return disk.style.color.name

        assert crit_colour() == "#ff4f5e"
        pilot.app.theme = "high-contrast"
        await until(pilot, lambda: crit_colour() == "#ff3030")
        assert fleet.get_cell("db-1", "disk").style == fleet.get_component_rich_style("fleet-table--crit", partial=True)
