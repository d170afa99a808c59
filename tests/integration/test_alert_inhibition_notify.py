"""Inhibition on the notification path: the daemon's loop, the notifier's outbox and a real HTTP webhook.

The daemon runs as ``fleetdeck daemon`` runs it, except that its health collector is replaced by a script of
samples, so the test decides when CPU is high without loading the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetdeck.core.automation import daemon
from fleetdeck.core.config import load_config
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.notify import Notifier
from integration.test_notify_receiver import Receiver

ALERTS = """
[[rules]]
name = "CpuWarning"
expr = "cpu_pct > 80"
severity = "warning"
annotations = { summary = "{host}: CPU {value:.0f}%" }

[[rules]]
name = "CpuCritical"
expr = "cpu_pct > 90"
severity = "critical"
annotations = { summary = "{host}: CPU {value:.0f}%" }
inhibits = ["CpuWarning"]
"""

NOTIFY = """
[defaults]
channels = ["hook"]
group_wait = "0s"
group_interval = "1s"

[[channels]]
name = "hook"
type = "webhook"
url = "{url}"
"""


class ScriptedCollector:
    """Stands in for the health collector: hands the daemon whatever samples the test puts in the queue."""

    prometheus = None

    def __init__(self, on_sample: Callable[[HealthSample], None], queue: asyncio.Queue[HealthSample]) -> None:
        self.on_sample = on_sample
        self.queue = queue

    async def run(self) -> None:
        while True:
            self.on_sample(await self.queue.get())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def sent(receiver: Receiver) -> list[tuple[str, str]]:
    """(status, alertname) of every alert in every webhook delivery, in order."""
    return [(a["status"], a["labels"]["alertname"]) for r in receiver.requests("/hook") for a in r.json()["alerts"]]


async def test_the_warning_is_not_sent_while_the_critical_fires_and_is_sent_once_it_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "hosts.toml").write_text('[hosts.web01]\ntransport = "local"\n')
    (config_dir / "alerts.toml").write_text(ALERTS)
    (config_dir / "notify.toml").write_text(NOTIFY.format(url=receiver.url("/hook")))
    config = load_config(config_dir)
    state = tmp_path / "state"
    queue: asyncio.Queue[HealthSample] = asyncio.Queue()

    def scripted(inventory: Any, hosts: Any, on_sample: Callable[[HealthSample], None], **_: Any) -> ScriptedCollector:
        return ScriptedCollector(on_sample, queue)

    monkeypatch.setattr(daemon, "build_collector", scripted)
    lines: list[str] = []
    stop = asyncio.Event()
    notifier = Notifier(config.notify, state, tick=0.05)
    running = asyncio.create_task(
        daemon.run_daemon(config, state, lambda _level, text: lines.append(text), stop, notifier=notifier)
    )
    try:
        # Both rules hold in one sample: both fire, but only the critical reaches the webhook.
        queue.put_nowait(HealthSample("web01", 0.0, "up", cpu_pct=97.0))
        await receiver.wait(1, "/hook")
        await asyncio.sleep(1.5)  # with group_wait 0 the warning would have been sent by now
        assert sent(receiver) == [("firing", "CpuCritical")]
        assert "alert CpuWarning@web01 inactive -> firing value=97 inhibited_by=CpuCritical@web01" in lines, (
            "it fires, it is only not told, and the log says why"
        )

        # The critical resolves while the warning's condition still holds: now the warning is told.
        queue.put_nowait(HealthSample("web01", 0.0, "up", cpu_pct=85.0))
        await receiver.wait(3, "/hook")
        assert sorted(sent(receiver)[1:]) == [("firing", "CpuWarning"), ("resolved", "CpuCritical")]
        warning = next(
            r.json() for r in receiver.requests("/hook") if r.json()["commonLabels"]["alertname"] == "CpuWarning"
        )
        assert warning["alerts"][0]["annotations"]["summary"] == "web01: CPU 85%"

        queue.put_nowait(HealthSample("web01", 0.0, "up", cpu_pct=10.0))
        await receiver.wait(4, "/hook")
        assert sent(receiver)[3] == ("resolved", "CpuWarning")
        await asyncio.sleep(1.2)
        assert len(receiver.requests("/hook")) == 4, "nothing else was sent"
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 20) == 0, "\n".join(lines)
