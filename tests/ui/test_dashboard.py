"""The dashboard against a scripted in-test `HealthSource` and a frozen clock.

The fake returns canned samples (and can be told to change them or to fail for a host), so the tests
can assert exact cell texts, drive refreshes, and take a deterministic snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.color import Color
from rich.style import Style
from textual.color import Color as TextualColor
from textual.pilot import Pilot

from fleetdeck.core.health import FsUsage, HealthSample
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.widgets.health_detail import HealthDetail
from fleetdeck.ui.widgets.host_table import FleetTable

NOW = 1_700_000_000.0
GIB = 1024**3
CONFIG_DIR = Path("/home/ops/.config/fleetdeck")
NEVER = 3600.0
"""A refresh interval long enough that only the test decides when a poll happens."""


def canned(host: str, **changes: Any) -> HealthSample:
    """A plausible healthy sample; `changes` override single fields."""
    sample = HealthSample(
        host=host,
        time=NOW,
        status="up",
        cpu_pct=37.0,
        cpu_user_pct=25.0,
        cpu_system_pct=10.0,
        cpu_iowait_pct=2.0,
        cpu_steal_pct=0.0,
        load1=1.25,
        load5=0.9,
        load15=0.5,
        cores=8,
        mem_used_pct=45.0,
        mem_total_bytes=16 * GIB,
        mem_available_bytes=int(8.8 * GIB),
        swap_used_pct=None,
        filesystems=(
            FsUsage("/", "ext4", 100 * GIB, 40 * GIB, 40.0, 12.5),
            FsUsage("/var", "xfs", 500 * GIB, 300 * GIB, 60.0, None),
        ),
        net_rx_bps=1_500_000.0,
        net_tx_bps=2048.0,
        disk_read_bps=0.0,
        disk_write_bps=4096.0,
        uptime_s=3 * 86_400 + 4 * 3_600 + 120,
        procs=212,
        kernel="6.1.0-18-amd64",
        os_name="Debian GNU/Linux 12 (bookworm)",
    )
    return replace(sample, **changes)


class FakeSource:
    """A `HealthSource` serving whatever `samples` holds; hosts in `failing` raise instead."""

    def __init__(self, samples: Sequence[HealthSample], failing: dict[str, Exception] | None = None) -> None:
        self.samples = {sample.host: sample for sample in samples}
        self.failing = dict(failing or {})
        self.calls = 0
        self._hosts = [*self.samples, *self.failing]

    @property
    def hosts(self) -> Sequence[str]:
        return self._hosts

    async def sample(self, host: str) -> HealthSample:
        self.calls += 1
        await asyncio.sleep(0)
        if host in self.failing:
            raise self.failing[host]
        return self.samples[host]


def fleet_source() -> FakeSource:
    return FakeSource(
        [
            canned("web-1"),
            canned("web-2", cpu_pct=93.0, mem_used_pct=74.0, load1=17.5, net_rx_bps=None),
            canned("db-1", filesystems=(FsUsage("/", "ext4", 100 * GIB, 95 * GIB, 95.0, 3.0),)),
            canned("cache-1", time=NOW - 4 * NEVER),
        ],
        failing={"db-2": ConnectionRefusedError("connection refused")},
    )


def make_app(source: FakeSource, refresh_s: float = NEVER) -> FleetdeckApp:
    return FleetdeckApp(source, refresh_s=refresh_s, config_dir=CONFIG_DIR, clock=lambda: NOW)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until `condition` holds, failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.01)


def table(pilot: Pilot[Any]) -> FleetTable:
    return pilot.app.screen.query_one(FleetTable)


def cell(pilot: Pilot[Any], host: str, column: str) -> str:
    """A cell's text with padding collapsed, e.g. `37% ▃` for a CPU cell with a one-sample trend."""
    return " ".join(table(pilot).get_cell(host, column).plain.split())


async def polled(pilot: Pilot[Any], source: FakeSource, polls: int = 1) -> None:
    """Wait until `polls` full polls of every host have been applied."""
    expected = polls * len(source.hosts)
    await until(pilot, lambda: source.calls >= expected and isinstance(pilot.app.screen, DashboardScreen))
    await until(pilot, lambda: all(table(pilot).sample_for(h) for h in source.hosts))
    await pilot.pause()


async def test_rows_are_keyed_by_host_with_the_right_cells() -> None:
    source = fleet_source()
    async with make_app(source).run_test(size=(120, 35)) as pilot:
        await polled(pilot, source)
        fleet = table(pilot)

        assert sorted(row.value or "" for row in fleet.rows) == sorted(source.hosts)
        assert cell(pilot, "web-1", "host") == "web-1"
        assert cell(pilot, "web-1", "cpu") == "37% ▃"
        assert cell(pilot, "web-1", "mem") == "45%"
        assert cell(pilot, "web-1", "disk") == "60%"
        assert cell(pilot, "web-1", "load") == "1.25/8"
        assert cell(pilot, "web-1", "rx") == "1.4M"
        assert cell(pilot, "web-1", "tx") == "2.0K"
        assert cell(pilot, "web-1", "uptime") == "3d 4h"
        assert cell(pilot, "web-2", "cpu") == "93% █"
        assert cell(pilot, "web-2", "load") == "17.5/8"
        assert cell(pilot, "web-2", "rx") == "—"
        assert cell(pilot, "db-1", "disk") == "95%"
        assert cell(pilot, "db-2", "cpu") == "—"
        assert fleet.sample_for("db-2") == HealthSample(
            "db-2", NOW, "down", reason="ConnectionRefusedError: connection refused"
        )
        cache = fleet.sample_for("cache-1")
        assert cache is not None and cache.status == "stale" and cache.reason == "no fresh sample"


async def test_refresh_updates_changed_cells() -> None:
    source = fleet_source()
    async with make_app(source, refresh_s=0.05).run_test(size=(120, 35)) as pilot:
        await polled(pilot, source)
        source.samples["web-1"] = canned("web-1", cpu_pct=81.0, mem_used_pct=12.0, uptime_s=59.0)

        await until(pilot, lambda: cell(pilot, "web-1", "mem") == "12%")

        assert cell(pilot, "web-1", "cpu").startswith("81% ▃")
        assert cell(pilot, "web-1", "cpu").endswith("▇")
        assert cell(pilot, "web-1", "uptime") == "59s"
        assert cell(pilot, "web-2", "cpu").startswith("93%")


async def test_a_poll_waits_for_the_previous_one() -> None:
    started: list[float] = []
    release = asyncio.Event()

    class SlowSource(FakeSource):
        async def sample(self, host: str) -> HealthSample:
            started.append(asyncio.get_running_loop().time())
            await release.wait()
            return await super().sample(host)

    source = SlowSource([canned("web-1")])
    async with make_app(source, refresh_s=0.01).run_test() as pilot:
        await pilot.pause(0.2)
        assert len(started) == 1  # the timer is not armed while the first poll is still out
        assert [cell(pilot, "web-1", key) for key in ("status", "host", "cpu", "uptime")] == ["○", "web-1", "—", "—"]
        release.set()
        await until(pilot, lambda: len(started) >= 3)


async def test_cursor_drives_the_detail_pane_and_s_cycles_sort() -> None:
    source = fleet_source()
    async with make_app(source).run_test(size=(120, 35)) as pilot:
        await polled(pilot, source)
        fleet = table(pilot)
        detail = pilot.app.screen.query_one(HealthDetail)

        assert fleet.cursor_host == "cache-1"  # sorted by host name
        await pilot.press("down", "down")
        assert fleet.cursor_host == "db-2"
        assert "ConnectionRefusedError: connection refused" in str(detail.render())

        await pilot.press("s")
        assert fleet.sort_key == "cpu"
        order = [row.key.value for row in fleet.ordered_rows]
        assert order == ["web-2", "cache-1", "db-1", "web-1", "db-2"]  # worst first, missing last
        assert fleet.cursor_host == "db-2"  # the cursor stays on its host


async def test_switching_theme_recolours_the_cells() -> None:
    source = fleet_source()
    async with make_app(source).run_test() as pilot:
        await polled(pilot, source)

        def crit_colour() -> Color | None:
            style = table(pilot).get_cell("web-2", "cpu").spans[0].style
            assert isinstance(style, Style)
            return style.color

        assert crit_colour() == TextualColor.parse("#ff4f5e").rich_color
        pilot.app.theme = "high-contrast"
        await until(pilot, lambda: crit_colour() == TextualColor.parse("#ff3030").rich_color)


async def test_q_quits() -> None:
    source = fleet_source()
    app = make_app(source)
    async with app.run_test() as pilot:
        await polled(pilot, source)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
    assert not app.is_running


def test_dashboard_snapshot(snap_compare: Callable[..., bool]) -> None:
    source = fleet_source()
    trend = [12.0, 30.0, 55.0, 41.0, 68.0, 88.0, 93.0]

    async def build_trend(pilot: Pilot[Any]) -> None:
        await polled(pilot, source)
        for polls, cpu in enumerate(trend, start=2):
            source.samples["web-2"] = replace(source.samples["web-2"], cpu_pct=cpu)
            await pilot.press("r")
            await polled(pilot, source, polls)

    run_before: Callable[[Pilot[Any]], Awaitable[None]] = build_trend
    assert snap_compare(make_app(source), terminal_size=(100, 30), run_before=run_before)
