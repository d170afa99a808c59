"""`ConsoleContext.from_config`: the real wiring, with this machine and with the SSH test fleet.

These run the real collector (psutil locally, the SSH probe against loopback sshd), so they prove the
console shows live numbers for every configured host, and that health and runs share one connection.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from pathlib import Path

import pytest
from dashboard_fakes import table, until

from fleet import SshFleet
from fleetdeck.core.config import load_config
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.top import TopError
from fleetdeck.core.paths import bundled_configs_dir
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.context import ConsoleContext


async def test_the_bundled_config_watches_this_machine(tmp_path: Path) -> None:
    context = ConsoleContext.from_config(load_config(bundled_configs_dir()), tmp_path)
    assert context.board.hosts == ["localhost"]
    assert context.engine is not None and context.collect is not None and context.top is not None

    task = asyncio.create_task(context.collect())
    try:
        for _ in range(100):
            if "localhost" in context.board.latest:
                break
            await asyncio.sleep(0.05)
        assert context.board.latest["localhost"].status == "up"
        processes = await context.top("localhost", "mem")
        assert processes and processes[0].mem_pct >= processes[-1].mem_pct
        with pytest.raises(TopError, match='unknown host "nosuch"'):
            await context.top("nosuch", "cpu")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await context.aclose()
    assert not list(tmp_path.iterdir())  # nothing written to the state dir by watching


async def test_console_toml_sets_how_often_hosts_are_sampled(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(bundled_configs_dir(), config_dir)
    (config_dir / "console.toml").write_text('health_interval = "1s"\n', encoding="utf-8")
    context = ConsoleContext.from_config(load_config(config_dir), tmp_path / "state")
    assert context.interval_s == 1.0
    assert context.collect is not None
    arrived: list[float] = []
    board_add = context.board.add

    def add(sample: HealthSample) -> None:
        arrived.append(time.monotonic())
        board_add(sample)

    context.board.add = add  # type: ignore[method-assign]
    task = asyncio.create_task(context.collect())
    try:
        for _ in range(100):
            if len(arrived) >= 4:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await context.aclose()
    gaps = [b - a for a, b in itertools.pairwise(arrived)]
    assert len(gaps) >= 3 and all(0.7 < gap < 1.6 for gap in gaps[1:]), gaps  # the default would be 2 s


@pytest.mark.ssh
async def test_every_ssh_host_shows_live_numbers_over_the_engines_connections(
    ssh_fleet: SshFleet, tmp_path: Path
) -> None:
    context = ConsoleContext.from_config(load_config(ssh_fleet.config_dir), tmp_path, interval_s=1.0)
    names = [name for name, _ in ssh_fleet.hosts]
    assert context.engine is not None
    ssh = context.engine.transports.ssh

    async with FleetdeckApp(context).run_test(size=(120, 35)) as pilot:
        fleet = table(pilot)
        await until(
            pilot,
            # The probe's first frame has no CPU split yet (it is a difference between two frames).
            lambda: all((s := fleet.sample_for(n)) is not None and s.cpu_pct is not None for n in names),
            timeout=30,
        )
        assert all(ssh.is_connected(context.inventory.get(name)) for name in names)  # the engine's own pool
        await pilot.pause()
        assert all(fleet.get_cell(name, "cpu").plain.split()[0].endswith("%") for name in names)
        assert all(fleet.sample_for(name).status == "up" for name in names)  # type: ignore[union-attr]
