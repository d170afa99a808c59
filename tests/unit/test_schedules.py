"""Schedules: validation, next-run arithmetic, missed-run policy, firing on time without overlap."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetdeck.core.automation.scheduler import Scheduler
from fleetdeck.core.automation.schedules import Schedule
from fleetdeck.core.config import load_config
from fleetdeck.core.errors import ConfigError
from fleetdeck.core.runner.service import Engine

CONFIGS = Path(__file__).parents[2] / "configs"


def config_with(tmp_path: Path, schedules: str) -> Path:
    root = tmp_path / "cfg"
    shutil.copytree(CONFIGS, root)
    (root / "schedules.toml").write_text(schedules)
    return root


def test_bundled_schedules_load() -> None:
    names = [s.name for s in load_config(CONFIGS).schedules]
    assert names == ["nightly-etc-backup", "weekly-updates-report"]


def test_schedule_errors_name_the_key(tmp_path: Path) -> None:
    root = config_with(
        tmp_path,
        """
[[schedules]]
name = "a"
cron = "61 * * * *"
task = "nope"
timezone = "Mars/Olympus"

[[schedules]]
name = "b"
cron = "@daily"
task = "disk-usage"
params = { mount = "relative" }
catch_up_within = "soon"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(root)
    msgs = [str(i) for i in info.value.issues]
    assert 'schedules.toml: schedules[0].cron: invalid cron expression "61 * * * *": Bad minute' in msgs
    assert any(m.startswith('schedules.toml: schedules[0].task: unknown task "nope"') for m in msgs)
    assert any(m.startswith('schedules.toml: schedules[0].timezone: unknown time zone "Mars/Olympus"') for m in msgs)
    assert 'schedules.toml: schedules[1].params: param "mount": "relative" does not match pattern ^/' in msgs
    assert 'schedules.toml: schedules[1].catch_up_within: expected a duration such as "24h", got "soon"' in msgs


def test_next_after_respects_time_zone() -> None:
    s = Schedule("x", "30 2 * * *", "t", None, timezone="Europe/Berlin")
    nxt = s.next_after(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert nxt.astimezone(UTC) == datetime(2026, 7, 2, 0, 30, tzinfo=UTC)  # 02:30 CEST


def make_scheduler(tmp_path: Path, schedules: str, clock) -> tuple[Scheduler, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    config = load_config(config_with(tmp_path, schedules))
    engine = Engine(config, state=tmp_path / "state")
    logs: list[tuple[str, str]] = []
    sched = Scheduler(
        config.schedules,
        engine,
        state_file=tmp_path / "state" / "sched.toml",
        log=lambda lvl, msg: logs.append((lvl, msg)),
        clock=clock,
    )
    return sched, logs


ONE = """
[[schedules]]
name = "every-minute"
cron = "* * * * *"
task = "top-memory"
params = { count = 2 }
"""


def test_missed_runs_policy(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)
    sched, logs = make_scheduler(tmp_path, ONE, lambda: now)
    assert sched.catch_up() == []  # never fired: baseline, no invented past run
    sched.state.record("every-minute", last_fire=now - timedelta(minutes=10))
    due = sched.catch_up()
    assert [(s.name, when) for s, when in due] == [("every-minute", datetime(2026, 11, 27, 12, 0, tzinfo=UTC))]
    skip, logs = make_scheduler(tmp_path / "b", ONE.replace("params", 'missed = "skip"\nparams'), lambda: now)
    skip.state.record("every-minute", last_fire=now - timedelta(minutes=10))
    assert skip.catch_up() == []
    assert any("skipping the run due" in m and "policy skip" in m for _, m in logs)


async def test_fires_on_time_and_records_an_automatic_run(tmp_path: Path) -> None:
    # Shift the clock so the next minute boundary is about 1.5 s away.
    real_start = datetime.now(UTC)
    fake_start = real_start.replace(second=58, microsecond=500_000)
    offset = fake_start - real_start

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    sched, logs = make_scheduler(tmp_path, ONE, clock)
    task = asyncio.ensure_future(sched.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.1)
            if any("finished with exit code 0" in m for _, m in logs):
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sched.engine.close()
    assert any("finished with exit code 0" in m for _, m in logs), logs
    fire = sched.state.last_fire("every-minute")
    assert fire is not None and fire.second == 0
    from fleetdeck.core.store import RunStore

    with RunStore(tmp_path / "state") as store:
        [run] = store.list_runs()
        assert run.task == "top-memory" and run.automatic and "schedule every-minute" in (run.reason or "")


async def test_a_schedule_never_overlaps_itself(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    sched, logs = make_scheduler(tmp_path, ONE, lambda: now)
    blocker = asyncio.ensure_future(asyncio.sleep(10))
    sched.running["every-minute"] = blocker  # type: ignore[assignment]
    sched._fire(sched.schedules[0], now)
    assert any("previous run still going" in m for _, m in logs)
    blocker.cancel()
    await sched.engine.close()
