"""The automation screen and the history's automatic-run marker, on real core objects.

The console is the real one (`ConsoleContext.from_config` on a copy of the bundled configs plus a
`schedules.toml` and a `remediation.toml` with approval on), with its clock frozen at `NOW` and no health
collector. Requests are queued in a real `ApprovalQueue` in the test's state dir and checked through the
same API after the screen decided them; automatic runs are made by the real daemon parts (`build_daemon`),
so the history reads the reasons the scheduler and the remediator really write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_fakes import make_app as make_fake_app
from dashboard_fakes import make_context, ready
from test_run_support import ScreenHarness
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from fleetdeck.core.automation.daemon import SCHEDULE_STATE, build_daemon
from fleetdeck.core.automation.remediation import QUEUE_DB, ApprovalQueue
from fleetdeck.core.automation.scheduler import ScheduleState
from fleetdeck.core.automation.triggers import RunTrigger, run_trigger
from fleetdeck.core.config import Config, load_config
from fleetdeck.core.paths import bundled_configs_dir
from fleetdeck.core.store import RunRecord, RunStore
from fleetdeck.ui.alerts_feed import operator_name
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.automation_feed import AutomationFeed
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens import automation
from fleetdeck.ui.screens.automation import AutomationScreen
from fleetdeck.ui.screens.help import HelpScreen
from fleetdeck.ui.screens.history import HistoryScreen, RunsTable
from fleetdeck.ui.widgets.confirm import ConfirmModal

NOW = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC: `25 1 * * *` next fires 3h11m40s later."""
SCHEDULES = """
[[schedules]]
name = "disk-report"
description = "Root filesystem usage, nightly"
cron = "25 1 * * *"
task = "disk-usage"
targets = "localhost"
params = { mount = "/" }

[[schedules]]
name = "weekly-memory"
cron = "0 7 * * 1"
timezone = "Europe/Berlin"
task = "top-memory"
missed = "skip"
enabled = false
"""
REMEDIATION = 'allow = ["disk-usage"]\napproval = true\n'
REASON = "remediation for alert RootDiskFull (disk_used_pct > 90) on localhost=95"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so the times on screen can be written down."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The bundled configs plus two schedules and remediation with approval, in a tmp config dir."""
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    config_dir = tmp_path / "cfg"
    shutil.copytree(bundled_configs_dir(), config_dir)
    (config_dir / "schedules.toml").write_text(SCHEDULES)
    (config_dir / "remediation.toml").write_text(REMEDIATION)
    return load_config(config_dir)


def console(config: Config, state: Path) -> FleetdeckApp:
    """The real console on `config`, its clock frozen at `NOW`, without a health collector."""
    context = ConsoleContext.from_config(config, state)
    return FleetdeckApp(dataclasses.replace(context, clock=lambda: NOW, collect=None))


async def until(pilot: Pilot[Any], condition: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def open_automation(pilot: Pilot[Any]) -> AutomationScreen:
    await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "DashboardScreen")
    await pilot.press("J")
    await until(pilot, lambda: isinstance(pilot.app.screen, AutomationScreen) and pilot.app.screen.loaded)
    screen = pilot.app.screen
    assert isinstance(screen, AutomationScreen)
    return screen


def text(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column).plain)


def status_of(queue: ApprovalQueue, request_id: int) -> str:
    return next(r.status for r in queue.list(None) if r.id == request_id)


async def test_schedules_show_the_cores_next_run_and_the_last_result(config: Config, tmp_path: Path) -> None:
    state = tmp_path / "state"
    ScheduleState(state / SCHEDULE_STATE).record(
        "disk-report", last_fire=datetime(2023, 11, 14, 1, 25, tzinfo=UTC), last_run_id="20231114-012500-beef",
        last_exit=0,
    )  # fmt: skip
    disk, weekly = config.schedules
    assert not weekly.enabled
    expected = disk.next_after(datetime.fromtimestamp(NOW, UTC))
    assert expected == datetime(2023, 11, 15, 1, 25, tzinfo=UTC)
    app = console(config, state)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_automation(pilot)
        table = screen.table("schedules")
        assert table.row_count == 2
        assert screen.snapshot.schedules[0].next_run == expected
        assert text(table, "disk-report", "next") == expected.strftime("%m-%d %H:%M") == "11-15 01:25"
        assert text(table, "disk-report", "in") == "in 3h 11m"
        assert text(table, "disk-report", "targets") == "localhost"
        assert text(table, "disk-report", "cron") == "25 1 * * *"
        assert (text(table, "disk-report", "last"), text(table, "disk-report", "result")) == ("11-14 01:25", "ok")
        assert text(table, "disk-report", "missed") == "run-once"
        assert text(table, "disk-report", "enabled") == "on"
        assert text(table, "weekly-memory", "next") == "disabled"
        assert text(table, "weekly-memory", "enabled") == "off"
        assert text(table, "weekly-memory", "targets") == config.tasks["top-memory"].targets
        assert text(table, "weekly-memory", "result") == "—"
        detail = str(screen.query_one("#automation-detail", Static).render())
        assert "disk-report · Root filesystem usage, nightly" in detail
        assert "next 2023-11-15 01:25 UTC" in detail

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        help_table = pilot.app.screen.query_one(DataTable)
        ids = {str(help_table.get_row_at(i)[2]) for i in range(help_table.row_count)}
        assert {"app.automation", "automation.approve", "automation.deny", "automation.back"} <= ids
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, AutomationScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, AutomationScreen))


async def test_approve_and_deny_go_through_the_approval_queue(config: Config, tmp_path: Path) -> None:
    state = tmp_path / "state"
    queue = ApprovalQueue(state)
    first = queue.add("RootDiskFull", "disk-usage", ["localhost"], {"mount": "/"}, REASON)
    second = queue.add("RootDiskFull", "disk-usage", ["localhost"], {"mount": "/var"}, REASON)
    app = console(config, state)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_automation(pilot)
        approvals = screen.table("approvals")
        assert approvals.row_count == 2
        assert text(approvals, str(first), "rule") == "RootDiskFull"
        assert text(approvals, str(first), "task") == "disk-usage"
        assert text(approvals, str(first), "hosts") == "localhost"
        assert screen.focused is approvals  # something waits: the cursor starts there

        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: status_of(queue, first) == "approved")
        decision = queue.decided()[0]
        assert (decision.request.id, decision.by) == (first, operator_name())
        assert status_of(queue, second) == "pending"
        await until(pilot, lambda: screen.table("approvals").row_count == 1)
        await until(pilot, lambda: screen.table("decisions").row_count == 1)
        assert text(screen.table("decisions"), str(first), "status") == "approved"

        await pilot.press("d")  # Esc in the confirmation decides nothing
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, AutomationScreen))
        await pilot.pause(0.1)
        assert status_of(queue, second) == "pending"

        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: status_of(queue, second) == "denied")
        await until(pilot, lambda: "-empty" in screen.query_one("#automation-approvals-section").classes)
        assert queue.list("pending") == []
        await until(pilot, lambda: screen.table("decisions").row_count == 2)
        assert text(screen.table("decisions"), str(second), "status") == "denied"
        assert any("approved: the daemon starts it" in str(n.message) for n in app._notifications)


async def test_a_request_decided_elsewhere_meanwhile_is_not_decided_twice(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(automation, "POLL_S", 3600.0)  # the screen must not notice on its own
    state = tmp_path / "state"
    queue = ApprovalQueue(state)
    request = queue.add("RootDiskFull", "disk-usage", ["localhost"], {}, REASON)
    app = console(config, state)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_automation(pilot)
        queue.decide(request, approve=False, by="someone-else")  # e.g. `fleetdeck remediation deny`
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: any("not approved" in str(n.message) for n in app._notifications))
    assert status_of(queue, request) == "denied"
    assert queue.decided()[0].by == "someone-else"


async def test_history_marks_scheduled_and_remediation_runs(config: Config, tmp_path: Path) -> None:
    state = tmp_path / "state"
    # A daily schedule that last fired two days ago has a missed run within its 24h catch-up window.
    ScheduleState(state / SCHEDULE_STATE).record("disk-report", last_fire=datetime.now(UTC) - timedelta(days=2))
    logged: list[tuple[str, str]] = []
    parts = build_daemon(config, state, lambda level, message: logged.append((level, message)))
    queue = ApprovalQueue(state)
    request = queue.add("RootDiskFull", "disk-usage", ["localhost"], {"mount": "/"}, REASON)
    queue.decide(request, approve=True, by="ops")
    parts.remediator.approved()  # what the daemon does every second: start approved requests
    scheduler = asyncio.ensure_future(parts.scheduler.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len([r for r in parts.engine.store.list_runs() if r.finished is not None]) < 2:
        assert loop.time() < deadline, logged
        await asyncio.sleep(0.05)
    scheduler.cancel()
    await asyncio.gather(scheduler, return_exceptions=True)
    await parts.engine.close()
    runs = {(r.reason or "").split(" ")[0]: r for r in stored_runs(state)}
    scheduled, remediated = runs["schedule"], runs["remediation"]
    assert scheduled.automatic and remediated.automatic

    app = console(config, state)
    manual = app.context.engine
    assert manual is not None
    prepared = manual.prepare_command("true", "localhost", run_id=manual.new_run_id())
    await manual.run(prepared, [])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "DashboardScreen")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.loaded)
        table = pilot.app.screen.query_one(RunsTable)
        assert table.row_count == 3
        assert text(table, scheduled.id, "trigger") == "sched disk-report"
        assert text(table, remediated.id, "trigger") == "auto RootDiskFull"
        assert text(table, prepared.request.run_id, "trigger") == ""


def stored_runs(state: Path) -> list[RunRecord]:
    with RunStore(state) as store:
        return store.list_runs()


def test_run_trigger_reads_the_recorded_reasons() -> None:
    assert run_trigger(False, "schedule nightly (30 2 * * *, due 2024-05-01T02:30:00+00:00)") is None
    assert run_trigger(True, "schedule nightly (30 2 * * *, due 2024-05-01T02:30:00+00:00)") == RunTrigger(
        "schedule", "nightly"
    )
    assert run_trigger(True, REASON) == RunTrigger("remediation", "RootDiskFull")
    assert run_trigger(True, REASON + " (approved #7)") == RunTrigger("remediation", "RootDiskFull", 7)
    assert run_trigger(True, None) == RunTrigger("automatic")


async def test_empty_states_say_what_to_do_and_leave_no_queue_behind(tmp_path: Path) -> None:
    state = tmp_path / "state"
    context = make_context()
    context.automation = AutomationFeed([], state, config_dir=tmp_path / "cfg")
    app = make_fake_app(context)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        screen = await open_automation(pilot)
        for name in ("schedules", "approvals", "decisions"):
            assert "-empty" in screen.query_one(f"#automation-{name}-section").classes
        schedules = str(screen.query_one("#automation-schedules-empty", Static).render())
        assert f"No schedules: add them in schedules.toml in {tmp_path / 'cfg'}" in schedules
        assert "README § Schedules" in schedules
        approvals = str(screen.query_one("#automation-approvals-empty", Static).render())
        assert "Remediation is off: remediation.toml allows no task" in approvals
        assert screen.check_action("approve", ()) is None  # shown dimmed: nothing to approve
    assert not (state / QUEUE_DB).exists()


async def test_automation_key_without_a_feed_says_so() -> None:
    app = make_fake_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("J")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, AutomationScreen)
        assert any("Automation needs a configuration" in str(n.message) for n in pilot.app._notifications)


@pytest.mark.parametrize("theme", ["fleetdeck-dark", "fleetdeck-light", "high-contrast", "ansi", "textual-dark"])
async def test_automation_screen_styles_in_every_theme(theme: str, config: Config, tmp_path: Path) -> None:
    """Every variable automation.tcss uses resolves in each bundled theme, on a tall and a short terminal."""
    state = tmp_path / "state"
    ApprovalQueue(state).add("RootDiskFull", "disk-usage", ["localhost"], {}, REASON)
    feed = AutomationFeed(config.schedules, state, remediation=config.remediation, config_dir=config.dir)
    app = ScreenHarness(lambda: AutomationScreen(feed, clock=lambda: NOW), theme=theme)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, AutomationScreen) and app.screen.loaded)
        assert app.screen.query_one("#automation-decisions-section").display
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.screen.has_class("-short"))
        assert not app.screen.query_one("#automation-decisions-section").display
        assert app.screen.table("schedules").row_count == 2
