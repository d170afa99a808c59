"""Never freezes: 500 hosts in a run, one of them printing 50 MB as fast as it can, and keys still answer.

The flood runs as a background asyncio task on the app's loop, feeding `Output` events straight into the
bridge the way the runner does, yielding between chunks as a transport would. While it runs, the test
switches hosts, opens and closes search; each key must be handled before the flood ends. Memory stays
bounded: every ring and the tail view hold at most their cap, however much was printed. No timing
assertions: only the order of events.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_run_support import ScreenHarness, make_engine, until
from textual.pilot import Pilot

from fleetdeck.core.runner.events import HostConnecting, HostRunning, Output, RunStarted
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.run import RunScreen

RUN = "20240501-120000-f100"
HOSTS = [f"web{i:03d}" for i in range(500)]
FLOOD_HOST = "web000"
FLOOD_BYTES = 50 * 1024 * 1024
CHUNK = (b"y" * 99 + b"\n") * 655  # about 64 KiB, the size of an SSH channel read


async def flood_host_shown(app: ScreenHarness, pilot: Pilot[None]) -> RunScreen:
    """The run screen once it is up with the flooding host selected."""
    await until(pilot, lambda: isinstance(app.screen, RunScreen))
    screen = app.screen
    assert isinstance(screen, RunScreen)
    await until(pilot, lambda: screen.selected_host == FLOOD_HOST)
    return screen


async def test_keys_answer_while_one_of_500_hosts_floods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    bridge.handle(RunStarted(RUN, "exec", "all", tuple(HOSTS), command="yes"))
    for host in HOSTS:
        bridge.handle(HostConnecting(RUN, host))
        bridge.handle(HostRunning(RUN, host, "exec", 1))
    view = bridge.run(RUN)
    sent = 0
    stop = asyncio.Event()

    async def flood() -> None:
        nonlocal sent
        while not stop.is_set():
            bridge.handle(Output(RUN, FLOOD_HOST, "stdout", CHUNK, "exec"))
            sent += len(CHUNK)
            await asyncio.sleep(0)

    app = ScreenHarness(lambda: RunScreen(engine, bridge, run_id=RUN))
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await flood_host_shown(app, pilot)
        flooding = asyncio.create_task(flood())
        try:
            await until(pilot, lambda: sent > 5 * 1024 * 1024 and screen.tail.log_view.line_count > 0)

            await pilot.press("down")
            assert screen.selected_host == "web001"
            assert not flooding.done()
            await pilot.press("up")
            assert screen.selected_host == FLOOD_HOST
            await pilot.press("slash")
            assert screen.tail.searching
            await pilot.press(*"yyy")
            await pilot.press("escape")
            assert not screen.tail.searching
            await pilot.press("v")
            assert screen.gathered.display
            await pilot.press("escape")
            assert screen.tail.display and not screen.gathered.display
            assert not flooding.done()

            while sent < FLOOD_BYTES:  # plain sleeps: a Pilot pause would force a full repaint each time
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await flooding
        # Once the host goes quiet the tail catches up with every line it produced.
        await until(pilot, lambda: screen.tail.seen == view.hosts[FLOOD_HOST].total_lines)

        host = view.hosts[FLOOD_HOST]
        ring = bridge.lines_per_host(len(HOSTS))
        assert host.max_lines == ring
        assert host.line_count == ring
        assert host.total_lines >= FLOOD_BYTES // 100  # every line was counted, few were kept
        assert screen.tail.log_view.line_count <= bridge.max_lines
        assert all(other.line_count == 0 for other in view.hosts.values() if other.name != FLOOD_HOST)
        assert host.bytes_out == sent
    await engine.close()


async def test_new_output_is_drawn_on_the_tick_after_a_key_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the console holds the intake for a key, the screen's clock leaves new lines for its next tick."""
    engine = make_engine(tmp_path, monkeypatch)
    engine.intake.max_hold_s = 60
    bridge = RunBridge()
    bridge.handle(RunStarted(RUN, "exec", "all", (FLOOD_HOST,), command="yes"))
    bridge.handle(HostRunning(RUN, FLOOD_HOST, "exec", 1))
    app = ScreenHarness(lambda: RunScreen(engine, bridge, run_id=RUN))
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await flood_host_shown(app, pilot)
        release = engine.intake.hold()
        bridge.handle(Output(RUN, FLOOD_HOST, "stdout", b"first\nsecond\n", "exec"))
        await pilot.pause(0.3)  # three ticks of the screen's clock
        assert screen.tail.seen == 0
        release()
        await until(pilot, lambda: screen.tail.seen == 2)
        assert [line.text for line in screen.tail.log_view.lines] == ["first", "second"]
