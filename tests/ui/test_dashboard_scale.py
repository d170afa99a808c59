"""The dashboard with 1,000 hosts that all change on every drain: drains complete and keys still answer.

No timing assertions (those belong to `bench/console_drain.py`); these tests prove the work gets done and
the console stays interactive while the whole fleet changes under it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from dashboard_fakes import NOW, canned, dashboard, host, inventory_of, make_app, make_context, table, until
from textual.pilot import Pilot

from fleetdeck.core.health.board import HealthBoard
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.widgets.filter_bar import FilterBar

HOSTS = 1000
NAMES = [f"node-{index:04d}" for index in range(HOSTS)]


def context() -> ConsoleContext:
    board = HealthBoard(NAMES, interval_s=2.0)
    inventory = inventory_of(host(name, ["even" if index % 2 == 0 else "odd"]) for index, name in enumerate(NAMES))
    return make_context(board, inventory=inventory)


def feed(board: HealthBoard, tick: int) -> None:
    """Every host gets a new sample with different numbers."""
    for index, name in enumerate(NAMES):
        load = (tick * 7 + index) % 100
        board.add(
            canned(name, time=NOW + 2 * tick, cpu_pct=float(load), mem_used_pct=float(99 - load), uptime_s=60.0 * tick)
        )


@contextlib.asynccontextmanager
async def changing_every_drain(pilot: Pilot[Any], board: HealthBoard) -> Any:
    """Keep giving every host a new sample, about once per drain, while the test drives the keys."""

    async def churn() -> None:
        for tick in _ticks():
            feed(board, tick)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(churn())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _ticks() -> Iterator[int]:
    tick = 1
    while True:
        yield tick
        tick += 1


async def test_a_drain_of_every_host_reaches_every_row() -> None:
    ctx = context()
    async with make_app(ctx).run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: len(table(pilot).shown_hosts) == HOSTS, timeout=30)
        for tick in (1, 2, 3):
            await drained_everywhere(pilot, ctx.board, tick)


async def drained_everywhere(pilot: Pilot[Any], board: HealthBoard, tick: int) -> None:
    """Feed tick `tick` to every host and check it reached every host, and every row once in view."""
    feed(board, tick)
    fleet = table(pilot)
    when = NOW + 2 * tick
    await until(pilot, lambda: (last := fleet.sample_for("node-0999")) is not None and last.time == when)
    assert all(fleet.sample_for(name).time == when for name in NAMES)  # type: ignore[union-attr]
    assert board.drain() == []  # the dashboard took everything
    # Rows in view are repainted at once; the last row is painted with its latest numbers when it scrolls in.
    assert fleet.render_line(1).text.split()[1:3] == [fleet.shown_hosts[0], f"{(tick * 7) % 100}%"]
    await pilot.press("ctrl+end")
    expected = ["node-0999", f"{(tick * 7 + 999) % 100}%"]
    await until(
        pilot, lambda: fleet.render_line(fleet.scrollable_content_region.height - 1).text.split()[1:3] == expected
    )
    await pilot.press("ctrl+home")


async def test_keys_answer_while_every_host_changes() -> None:
    ctx = context()
    async with make_app(ctx).run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: len(table(pilot).shown_hosts) == HOSTS, timeout=30)
        async with changing_every_drain(pilot, ctx.board):
            await pilot.press("slash", "0", "9", "9")
            await until(pilot, lambda: table(pilot).shown_hosts == ["node-0099", "node-0990", "node-0991", "node-0992",
                                                                     "node-0993", "node-0994", "node-0995", "node-0996",
                                                                     "node-0997", "node-0998", "node-0999"])  # fmt: skip
            await pilot.press("escape")
            await until(pilot, lambda: len(table(pilot).shown_hosts) == HOSTS)
            assert not dashboard(pilot).query_one(FilterBar).display

            await pilot.press("s", "s")  # by CPU, busiest first, re-sorted as the numbers move
            assert table(pilot).sort_key == "cpu"
            await pilot.pause(0.3)
            shown = table(pilot).shown_hosts
            cpus = [table(pilot).sample_for(name).cpu_pct for name in shown]  # type: ignore[union-attr]
            assert cpus[0] is not None and cpus[-1] is not None and cpus[0] >= cpus[-1]

            await pilot.press("slash", "@", "e", "v", "e", "n", "enter", "a")
            await until(pilot, lambda: len(dashboard(pilot).marked_hosts()) == HOSTS // 2)
            await pilot.press("escape")
            before = table(pilot).cursor_host
            await pilot.press("down")
            await pilot.pause()
            assert table(pilot).cursor_host not in (None, before)  # the cursor moves; re-sorts keep it on its host


async def test_the_collector_is_told_which_hosts_are_in_sight_and_follows_the_scrolling() -> None:
    ctx = context()
    told: list[set[str]] = []
    ctx.in_sight = lambda hosts: told.append(set(hosts))
    async with make_app(ctx).run_test(size=(120, 35)) as pilot:
        fleet = table(pilot)
        await until(pilot, lambda: len(fleet.shown_hosts) == HOSTS and bool(told), timeout=30)
        rows = fleet.size.height - 1
        first = told[-1]
        assert "node-0000" in first and "node-0999" not in first
        assert rows <= len(first) <= 2 * rows + 2, (rows, len(first))  # the screenful and half of one around it
        assert set(fleet.hosts_in_view()) <= first
        fleet.focus()
        await pilot.press("end")
        await until(pilot, lambda: "node-0999" in told[-1], timeout=5)
        assert "node-0000" not in told[-1] and fleet.cursor_host in told[-1]
