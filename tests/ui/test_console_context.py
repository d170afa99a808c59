"""`ConsoleContext.from_config`: the real wiring, with this machine and with the SSH test fleet.

These run the real collector (psutil locally, the SSH probe against loopback sshd), so they prove the
console shows live numbers for every configured host, and that health and runs share one connection.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from dashboard_fakes import table, until

from fleet import SshFleet
from fleetdeck.core.config import load_config
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
