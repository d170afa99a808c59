"""``fleetdeck daemon``: collection, alert rules, notifications, schedules and remediation, unattended.

Everything runs on one event loop: the health collector feeds the board and the alert service; alert
changes become notices (through the persistent outbox) and, for rules that name a task, guarded
remediation runs; schedules fire saved tasks. SIGTERM (or SIGINT) stops it cleanly: runs in flight are
cancelled (their remote commands killed), alert states are saved, and undelivered notices stay in the
outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetdeck.core.alerts.service import AlertService
from fleetdeck.core.alerts.state import AlertChanged, AlertEvent, AlertFlapping
from fleetdeck.core.alerts.store import AlertStore
from fleetdeck.core.automation.remediation import ApprovalQueue, Remediator, replace_reason
from fleetdeck.core.automation.scheduler import Scheduler
from fleetdeck.core.config import Config
from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.health.collector import CollectorSettings
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.watch import build_collector
from fleetdeck.core.notify.notice import Notice
from fleetdeck.core.runner.events import Sink
from fleetdeck.core.runner.service import Engine

Log = Callable[[str, str], None]
SCHEDULE_STATE = "schedules-state.toml"
SHUTDOWN_LIMIT_S = 15.0


def alert_notice(event: AlertChanged) -> Notice:
    """The notice for an alert that started firing or resolved."""
    summary = event.annotations.get("summary") or f"{event.rule} on {event.host}"
    resolved = event.new_state == "resolved"
    return Notice(
        kind="resolved" if resolved else "firing",
        title=summary,
        text=event.annotations.get("description", ""),
        severity=event.severity,
        labels=dict(event.labels),
        annotations=dict(event.annotations),
        host=event.host,
        rule=event.rule,
        started=event.fired_at or event.active_since,
        ended=event.since if resolved else None,
        key=event.key,
    )


def flapping_notice(event: AlertFlapping) -> Notice:
    """One notice when an alert starts flapping (or settles), instead of one per flip."""
    what = "is flapping" if event.flapping else "stopped flapping"
    return Notice(
        kind="flapping",
        title=f"{event.rule} on {event.host} {what} ({event.changes} changes in {event.window_s / 60:.0f}m)",
        severity=event.severity,
        labels=dict(event.labels),
        annotations=dict(event.annotations),
        host=event.host,
        rule=event.rule,
        key=event.key,
    )


@dataclass
class DaemonParts:
    """What a running daemon is made of (exposed for tests and the console's status line)."""

    engine: Engine
    board: HealthBoard
    alerts: AlertService
    remediator: Remediator
    scheduler: Scheduler
    notify: Callable[[Notice], None]
    notifier: Any = None
    events: list[AlertEvent] = field(default_factory=list)


def build_daemon(
    config: Config, state: Path, log: Log, *, notifier: Any = None, run_sinks: Callable[[], list[Sink]] = list
) -> DaemonParts:
    """Wire the daemon's parts without starting anything."""
    engine = Engine(config, state=state)
    hosts = [h for h in config.inventory if h.health != "off"]
    board = HealthBoard([h.name for h in hosts])
    alerts = AlertService(config.alerts, AlertStore(state), config.inventory)

    def notify(notice: Notice) -> None:
        if notifier is not None:
            notifier.submit(notice)

    async def run_task(task: str, hosts_: Sequence[str], params: Mapping[str, str], reason: str) -> int:
        prepared = engine.prepare_task(task, ",".join(hosts_), params, env=dict(os.environ),
                                       run_id=engine.new_run_id())  # fmt: skip
        summary = await engine.run(replace_reason(prepared, reason), run_sinks())
        return summary.exit_code

    reports = [0]

    def report(title: str, text: str, labels: Mapping[str, str]) -> None:
        reports[0] += 1
        notify(Notice(kind="remediation", title=title, text=text, severity="info", labels=dict(labels),
                      key=f"remediation-{time.time():.0f}-{reports[0]}"))  # fmt: skip

    remediator = Remediator(
        config.remediation,
        {r.name: r for r in config.alerts.rules},
        run_task,
        queue=ApprovalQueue(state),
        log=log,
        report=report,
    )
    scheduler = Scheduler(config.schedules, engine, state_file=state / SCHEDULE_STATE, log=log, sinks=run_sinks)
    return DaemonParts(engine, board, alerts, remediator, scheduler, notify, notifier)


async def run_daemon(
    config: Config,
    state: Path,
    log: Log,
    stop: asyncio.Event,
    *,
    settings: CollectorSettings | None = None,
    notifier: Any = None,
    run_sinks: Callable[[], list[Sink]] = list,
    parts_ready: Callable[[DaemonParts], None] | None = None,
) -> int:
    """Run until ``stop`` is set; returns the process exit code."""
    parts = build_daemon(config, state, log, notifier=notifier, run_sinks=run_sinks)
    if parts_ready is not None:
        parts_ready(parts)

    def handle(events: Sequence[AlertEvent]) -> None:
        for event in events:
            parts.events.append(event)
            del parts.events[:-1000]
            if isinstance(event, AlertFlapping):
                log("warning", f"alert {event.key} {'is flapping' if event.flapping else 'settled'}")
                if not event.silenced:
                    parts.notify(flapping_notice(event))
                continue
            value = "" if event.value is None else f" value={event.value:g}"
            tags = (" silenced" if event.silenced else "") + (
                f" inhibited_by={event.inhibited_by}" if event.inhibited_by else " inhibited" if event.inhibited else ""
            )
            level = "warning" if event.new_state == "firing" else "info"
            log(level, f"alert {event.key} {event.old_state} -> {event.new_state}{value}{tags}")
            if event.notifies:
                parts.notify(alert_notice(event))
            parts.remediator.on_alert(event)

    def on_sample(sample: HealthSample) -> None:
        parts.board.add(sample)
        handle(parts.alerts.evaluate(sample))

    async def ticker() -> None:
        while True:
            await asyncio.sleep(2.0)
            handle(parts.alerts.tick())

    if notifier is not None:
        for problem in config.notify.missing_env(os.environ):
            log("warning", f"notifications: {problem} is not set in the environment; that channel waits")
    handle(parts.alerts.start())
    interval = settings or CollectorSettings()
    collector = build_collector(config.inventory, list(config.inventory), on_sample, state=state,
                                settings=interval, ssh=parts.engine.transports.ssh)  # fmt: skip
    log("info", f"fleetdeck daemon: watching {len(parts.board.hosts)} hosts every {interval.interval_s:g}s, "
                f"{len(config.alerts.rules)} alert rules, {len(config.schedules)} schedules, "
                f"notifications {'on' if notifier is not None else 'off (no notify.toml)'}")  # fmt: skip
    jobs = [
        asyncio.ensure_future(collector.run()),
        asyncio.ensure_future(ticker()),
        asyncio.ensure_future(parts.scheduler.run()),
        asyncio.ensure_future(parts.remediator.run()),
    ]
    if notifier is not None:
        jobs.append(asyncio.ensure_future(notifier.run()))
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([stopper, *jobs], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for job in jobs:
        if job in done and not job.cancelled() and job.exception() is not None:
            log("error", f"fleetdeck daemon: a component failed: {job.exception()!r}")
            code = 1
    log("info", "fleetdeck daemon: stopping")

    async def shutdown() -> None:
        for job in jobs:
            job.cancel()
        stopper.cancel()
        await asyncio.gather(*jobs, stopper, return_exceptions=True)
        with contextlib.suppress(Exception):
            parts.alerts.flush()
        await parts.engine.close()
        if collector.prometheus is not None:
            await collector.prometheus.aclose()

    try:
        # A service manager waits for us: never hang on the way out, whatever a component does.
        await asyncio.wait_for(shutdown(), SHUTDOWN_LIMIT_S)
    except TimeoutError:
        log("error", f"fleetdeck daemon: shutdown took longer than {SHUTDOWN_LIMIT_S:g}s; exiting anyway")
        return 1
    log("info", "fleetdeck daemon: stopped")
    return code
