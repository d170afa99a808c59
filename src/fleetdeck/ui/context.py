"""`ConsoleContext`: everything the console's screens need from the engine, handed to the app in one piece.

The app never builds engine objects itself; it is given a context (memray's injected reader), so the CLI
passes one wired to the real engine and the tests pass one with a canned `HealthBoard`, no collector and a
fake `top`. `ConsoleContext.from_config` is the real wiring: one `Engine` (which owns the SSH connection
pool), a `HealthBoard` with every inventory host whose health is not `off`, and a health collector that
reuses the engine's `SshTransport`, so runs and health share one pooled connection per host.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fleetdeck.core.config import Config
from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.health.collector import CollectorSettings
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.top import ProcessInfo, SortKey, TopError, top_processes
from fleetdeck.core.health.watch import build_collector
from fleetdeck.core.inventory import Inventory
from fleetdeck.core.runner.service import Engine
from fleetdeck.ui.alerts_feed import AlertsFeed
from fleetdeck.ui.automation_feed import AutomationFeed
from fleetdeck.ui.console_settings import OFFSCREEN_FACTOR, load_settings

HEALTH_INTERVAL_S = 2.0
"""Seconds between health samples of one host."""
HISTORY_WINDOW_S = 600.0
"""How far back the dashboard's graphs reach."""
TOP_PROCESSES = 15
"""Rows fetched when the operator asks for a host's top processes."""

Collect = Callable[[], Awaitable[None]]
"""Starts collecting health into the board and returns only when cancelled."""
TopFetch = Callable[[str, SortKey], Awaitable[list[ProcessInfo]]]
"""The top processes of a host by name, ordered by `"cpu"` or `"mem"`."""
Closer = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class ConsoleContext:
    """What the console reads and calls; every engine dependency of the UI goes through here.

    Attributes:
        inventory: The configured hosts; the dashboard's selector filter is evaluated against it.
        board: Latest sample and history of every watched host, fed by `collect`.
        engine: Runs tasks and commands; `None` where nothing may be run (tests, read-only views).
        collect: The health collector's run coroutine factory; the app runs it in a worker. `None` when the
            board is fed some other way.
        top: Fetches a host's top processes on demand; `None` hides the feature.
        config_dir: The config directory in use, shown in the header.
        clock: Epoch-seconds clock, injected so snapshots are deterministic.
        closers: Extra clean-ups run when the console exits (e.g. the Prometheus client).
        alerts: The alert rules evaluated over the collected samples, for display; `None` hides alerts.
        automation: Schedules and the remediation approval queue as the daemon records them; `None` hides
            the automation screen.
        in_sight: Told the hosts the operator can see (the dashboard's rows in view, and around them), so the
            collector samples the others less often; `None` where nothing is collected.
    """

    inventory: Inventory
    board: HealthBoard
    engine: Engine | None = None
    collect: Collect | None = None
    top: TopFetch | None = None
    config_dir: Path | None = None
    clock: Callable[[], float] = time.time
    closers: Sequence[Closer] = field(default_factory=tuple)
    alerts: AlertsFeed | None = None
    automation: AutomationFeed | None = None
    interval_s: float = HEALTH_INTERVAL_S
    """Seconds between health samples of one host."""
    in_sight: Callable[[Collection[str]], None] | None = None

    @classmethod
    def from_config(cls, config: Config, state_dir: Path, *, interval_s: float | None = None) -> ConsoleContext:
        """Wire the real engine, health board and collector for `config`.

        Args:
            config: The loaded configuration.
            state_dir: Where the engine keeps runs, output files and its own known_hosts.
            interval_s: Seconds between health samples of one host; `None`: ``health_interval`` from the
                config dir's ``console.toml``, else `HEALTH_INTERVAL_S`.
        """
        settings = load_settings(config.dir)
        if interval_s is None:
            interval_s = settings.health_interval_s or HEALTH_INTERVAL_S
        offscreen_s = max(interval_s, settings.health_offscreen_interval_s or OFFSCREEN_FACTOR * interval_s)
        engine = Engine(config, state=state_dir)
        watched = [host for host in config.inventory if host.health != "off"]
        board = HealthBoard([host.name for host in watched], interval_s=interval_s, window_s=HISTORY_WINDOW_S)
        alerts = AlertsFeed(config.alerts, state_dir, config.inventory)
        automation = AutomationFeed(
            config.schedules,
            state_dir,
            remediation=config.remediation,
            task_targets={name: task.targets for name, task in config.tasks.items()},
            config_dir=config.dir,
        )

        def received(sample: HealthSample) -> None:
            board.add(sample)
            alerts.observe(sample)

        collector = build_collector(
            config.inventory,
            watched,
            received,
            state=state_dir,
            settings=dataclasses.replace(CollectorSettings.for_interval(interval_s), offscreen_interval_s=offscreen_s),
            ssh=engine.transports.ssh,
        )
        inventory = config.inventory

        async def top(name: str, key: SortKey) -> list[ProcessInfo]:
            try:
                host = inventory.get(name)
            except KeyError as error:
                raise TopError(str(error.args[0])) from None
            return await top_processes(host, engine.transports, n=TOP_PROCESSES, key=key)

        async def close_alerts() -> None:
            alerts.close()

        closers: list[Closer] = [close_alerts]
        if collector.prometheus is not None:
            closers.append(collector.prometheus.aclose)
        return cls(
            inventory=inventory,
            board=board,
            engine=engine,
            collect=collector.run,
            top=top,
            config_dir=config.dir,
            closers=tuple(closers),
            alerts=alerts,
            automation=automation,
            interval_s=interval_s,
            in_sight=collector.watch_closely,
        )

    async def aclose(self) -> None:
        """Close the engine (its pooled connections and store) and anything else opened for the console."""
        for closer in self.closers:
            await closer()
        if self.engine is not None:
            await self.engine.close()
