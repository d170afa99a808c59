"""Alerts end to end on the real SSH fleet: collector → rules → store → ``fleetdeck alerts``, and back to resolved.

Thresholds are chosen so the outcome does not depend on the machine's load: a root filesystem is never
0% used and CPU busy is never above 100%, so ``> 0`` holds and ``> 100`` cannot. Resolution comes from
swapping the rule set (a config reload), and from the hosts themselves going down and coming back.
"""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet import FleetFactory
from fleetdeck import cli
from fleetdeck.cli import alerts_cmd
from fleetdeck.core.alerts import AlertChanged, AlertEvent, AlertsConfig, AlertService, AlertStore, load_alerts
from fleetdeck.core.config import load_config
from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.health.collector import CollectorSettings, HealthCollector
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.transport import SshTransport
from fleetdeck.core.transport.hostkeys import KnownHosts

pytestmark = pytest.mark.ssh

FAST = CollectorSettings(
    interval_s=1.0, fs_interval_s=1.0, stale_after_s=2.0, down_after_s=5.0, backoff_initial_s=0.3, backoff_max_s=1.0
)


def rules(toml: str) -> AlertsConfig:
    issues: list[ConfigIssue] = []
    loaded = load_alerts(tomllib.loads(toml), None, issues)
    assert issues == []
    return loaded


async def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.1)
    return pred()


def firing(service: AlertService) -> set[str]:
    return {r.key for r in service.records() if r.state == "firing"}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command line in-process (through ``fleetdeck.cli.main`` once it registers these commands)."""
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


HOLDS = """
[[rules]]
name = "RootUsed"
expr = 'disk_used_pct{mount="/"} > 0'
for = "2s"
annotations = { summary = "{host}: / {value:.1f}% used" }
[[rules]]
name = "CpuSeen"
expr = "cpu_pct >= 0"
for = "2s"
severity = "critical"
"""


async def test_rules_fire_through_a_real_collector_and_resolve_when_swapped(
    make_fleet: FleetFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(2)
    inventory = load_config(fleet.config_dir).inventory
    state = tmp_path / "state"
    monkeypatch.setenv("FLEETDECK_STATE", str(state))
    service = AlertService(rules(HOLDS), AlertStore(state), inventory)
    assert service.start() == []
    events: list[AlertEvent] = []

    def on_sample(sample: HealthSample) -> None:
        events.extend(service.evaluate(sample))

    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inventory.get)
    collector = HealthCollector(inventory.hosts, on_sample, ssh=ssh, settings=FAST)
    task = asyncio.ensure_future(collector.run())
    keys = {
        f"{rule}@{host}" + (":/" if rule == "RootUsed" else "")
        for rule in ("RootUsed", "CpuSeen")
        for host, _ in fleet.hosts
    }
    try:
        assert await wait_until(lambda: firing(service) == keys, 30), (service.records(), events)
        for key in keys:
            mine = [e for e in events if isinstance(e, AlertChanged) and e.key == key]
            assert [(e.old_state, e.new_state) for e in mine] == [("inactive", "pending"), ("pending", "firing")]
            assert mine[1].since - mine[1].active_since >= 2.0
            assert mine[1].notifies and mine[1].value is not None
        root = next(e for e in events if isinstance(e, AlertChanged) and e.key == "RootUsed@h01:/")
        assert root.annotations["summary"].startswith("h01: / ") and root.labels["mount"] == "/"

        # Another process sees them (saves are at most a second apart): a fresh store, and the command line.
        with AlertStore(state) as other:
            assert await wait_until(lambda: {r.key for r in other.active() if r.state == "firing"} == keys, 5)
        code, out, _ = run_cli(capsys, "alerts", "--json")
        assert code == 0 and {d["key"] for d in json.loads(out)} == keys
        code, out, _ = run_cli(capsys, "alerts", "ack", "CpuSeen@h02", "--by", "ann")
        assert code == 0, out
        assert await wait_until(lambda: any(r.acknowledged_by == "ann" for r in service.records()), 5)

        # Thresholds nobody can cross: every alert resolves on the next samples.
        events.clear()
        service.reload(rules(HOLDS.replace("> 0", "> 100").replace(">= 0", "> 100")))
        assert await wait_until(lambda: not service.records(), 15), service.records()
        resolved = {e.key: e for e in events if isinstance(e, AlertChanged) and e.new_state == "resolved"}
        assert set(resolved) == keys
        assert resolved["CpuSeen@h02"].acknowledged_by == "ann" and resolved["CpuSeen@h02"].notifies
        with AlertStore(state) as other:
            assert await wait_until(lambda: not other.active(), 5)
        assert json.loads(run_cli(capsys, "alerts", "--json")[1]) == []
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ssh.close()
        service.store.close()


DOWN = """
[[rules]]
name = "HostDown"
expr = "host_down"
for = "1s"
severity = "critical"
annotations = { summary = "{host} is down" }
[[rules]]
name = "CpuSeen"
expr = "cpu_pct >= 0"
"""


async def test_a_host_going_down_fires_host_down_and_holds_its_metric_alerts(
    make_fleet: FleetFactory, tmp_path: Path
) -> None:
    fleet = make_fleet(1)
    inventory = load_config(fleet.config_dir).inventory
    service = AlertService(rules(DOWN), AlertStore(tmp_path / "state"), inventory)
    service.start()
    events: list[AlertEvent] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inventory.get)
    collector = HealthCollector(inventory.hosts, lambda s: events.extend(service.evaluate(s)), ssh=ssh, settings=FAST)
    task = asyncio.ensure_future(collector.run())
    try:
        assert await wait_until(lambda: firing(service) == {"CpuSeen@h01"}, 20), events
        fleet.stop_sshd()
        assert await wait_until(lambda: "HostDown@h01" in firing(service), 20), events
        cpu = next(r for r in service.records() if r.key == "CpuSeen@h01")
        assert cpu.state == "firing" and cpu.inhibited
        assert not [
            e for e in events if isinstance(e, AlertChanged) and e.key == "CpuSeen@h01" and e.new_state != "firing"
        ]
        fired = next(
            e for e in events if isinstance(e, AlertChanged) and e.key == "HostDown@h01" and e.new_state == "firing"
        )
        assert fired.annotations["summary"] == "h01 is down" and fired.since - fired.active_since >= 1.0

        fleet.start_sshd()
        assert await wait_until(lambda: firing(service) == {"CpuSeen@h01"}, 30), events
        assert any(
            isinstance(e, AlertChanged) and e.key == "HostDown@h01" and e.new_state == "resolved" for e in events
        )
        assert not next(r for r in service.records() if r.key == "CpuSeen@h01").inhibited
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ssh.close()
        service.store.close()


def test_eval_on_the_fleet_shows_pending_and_firing(
    make_fleet: FleetFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(2)
    (fleet.config_dir / "alerts.toml").write_text(
        '[[rules]]\nname = "RootUsed"\nexpr = \'disk_used_pct{mount="/"} > 0\'\n'
        '[[rules]]\nname = "CpuSeen"\nexpr = "cpu_pct >= 0"\nfor = "1h"\n'
        '[[rules]]\nname = "HostDown"\nexpr = "host_down"\nfor = "1m"\n'
    )
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    code, out, err = run_cli(capsys, "--config", str(fleet.config_dir), "alerts", "--eval", "--json", "-t", "h02")
    assert code == 1, err
    docs = json.loads(out)
    assert [(d["key"], d["state"]) for d in docs] == [("RootUsed@h02:/", "firing"), ("CpuSeen@h02", "pending")]
    assert all(d["value"] is not None for d in docs)

    fleet.stop_sshd()
    code, out, err = run_cli(capsys, "--config", str(fleet.config_dir), "alerts", "--eval")
    assert code == 1, err
    rows = [line.split()[:2] for line in out.splitlines()[1:]]
    assert rows == [["HostDown@h01", "pending"], ["HostDown@h02", "pending"]]
    assert err == alerts_cmd.EVAL_NOTE + "\n"
