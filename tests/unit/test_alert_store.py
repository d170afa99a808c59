"""alerts.db: alert states, silences and acknowledgements survive a new store instance (another process)."""

from __future__ import annotations

import sqlite3
import stat
import time
import tomllib
from pathlib import Path

import pytest

from fleetdeck.core.alerts import (
    AlertChanged,
    AlertEngine,
    AlertsConfig,
    AlertService,
    AlertStore,
    UnknownAlertError,
    UnknownSilenceError,
    load_alerts,
    parse_matchers,
)
from fleetdeck.core.alerts.state import iso_time
from fleetdeck.core.alerts.store import AlertStoreError
from fleetdeck.core.errors import ConfigIssue, UsageError
from fleetdeck.core.health.sample import FsUsage, HealthSample

RULES = """
[[rules]]
name = "HighCPU"
expr = "cpu_pct > 85"
labels = { team = "ops" }
annotations = { summary = "{host}: CPU {value:.0f}%" }
[[rules]]
name = "Disk"
expr = "disk_used_pct > 90"
for = "1m"
severity = "critical"
"""


def config(toml: str = RULES) -> AlertsConfig:
    issues: list[ConfigIssue] = []
    loaded = load_alerts(tomllib.loads(toml), None, issues)
    assert issues == []
    return loaded


def busy(host: str = "web01", cpu: float = 90.0, disk: float = 95.0) -> HealthSample:
    return HealthSample(host, 0.0, "up", cpu_pct=cpu, filesystems=(FsUsage("/", "ext4", 100, 95, disk, None),))


def test_states_survive_a_new_store_instance(tmp_path: Path) -> None:
    engine = AlertEngine(config())
    engine.evaluate(busy(), now=100)
    engine.evaluate(busy("db01", cpu=10), now=100)
    with AlertStore(tmp_path) as store:
        store.save(engine.records())
    with AlertStore(tmp_path) as other:
        records = other.active(now=110)
    assert records == engine.records()
    assert [(r.key, r.state) for r in records] == [
        ("HighCPU@web01", "firing"),
        ("Disk@db01:/", "pending"),
        ("Disk@web01:/", "pending"),
    ]
    assert records[0].labels == {"alertname": "HighCPU", "host": "web01", "severity": "warning", "team": "ops"}
    assert records[0].to_json()["summary"] == "web01: CPU 90%"
    assert records[0].to_json()["since"] == "1970-01-01T00:01:40.000Z"

    engine.evaluate(busy(cpu=10), now=120)
    with AlertStore(tmp_path) as store:
        store.save(engine.records())
        assert [r.key for r in store.active()] == ["Disk@db01:/", "Disk@web01:/"], "resolved ones are gone"


def test_files_are_private_and_in_wal_mode(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with AlertStore(state):
        pass
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "alerts.db").stat().st_mode) == 0o600
    conn = sqlite3.connect(state / "alerts.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(AlertStoreError, match="schema version 99, newer than this fleetdeck knows"):
        AlertStore(state)


def test_silences_add_list_expire_across_instances(tmp_path: Path) -> None:
    t = float(int(time.time()))
    with AlertStore(tmp_path) as store:
        first = store.add_silence(
            parse_matchers(["rule=HighCPU", "host=web*"]), duration_s=3600, reason="deploy", creator="ann", now=t
        )
        second = store.add_silence(parse_matchers(["team=ops"]), duration_s=60, reason="x", creator="bob", now=t)
    assert (first.id, second.id) == (1, 2)
    with AlertStore(tmp_path) as other:
        assert other.silences(now=t + 30) == [first, second]
        assert other.silences(now=t + 100) == [first], "the second one ended after 60s"
        assert other.silences(now=t + 100, include_expired=True) == [first, second]
        ended = other.expire_silence(1, now=t + 200)
        assert ended.ends == t + 200 and not ended.active(t + 200)
        assert other.expire_silence(1, now=t + 300).ends == t + 200, "expiring twice changes nothing"
        with pytest.raises(UnknownSilenceError, match="no silence 9; silences in force: none"):
            other.expire_silence(9, now=t + 300)
        with pytest.raises(UsageError, match="needs a reason"):
            other.add_silence(parse_matchers(["host=a"]), duration_s=60, reason=" ", creator="ann")
    assert first.to_json(t + 100) == {
        "id": 1,
        "matchers": ["rule=HighCPU", "host=web*"],
        "starts": iso_time(t),
        "ends": iso_time(t + 3600),
        "active": True,
        "reason": "deploy",
        "creator": "ann",
    }


def test_silences_expired_long_ago_are_pruned(tmp_path: Path) -> None:
    old = time.time() - 31 * 86400
    with AlertStore(tmp_path) as store:
        store.add_silence(parse_matchers(["host=a"]), duration_s=60, reason="r", creator="c", now=old)
        store.add_silence(parse_matchers(["host=b"]), duration_s=60, reason="r", creator="c", now=old + 2 * 86400)
    with AlertStore(tmp_path) as store:
        assert [str(s.matchers[0]) for s in store.silences(include_expired=True)] == ["host=b"]


def test_reads_mark_alerts_silenced_as_of_now(tmp_path: Path) -> None:
    engine = AlertEngine(config())
    engine.evaluate(busy(), now=0)
    with AlertStore(tmp_path) as store:
        store.save(engine.records())
        store.add_silence(parse_matchers(["rule=HighCPU"]), duration_s=100, reason="r", creator="c", now=10)
        assert [r.key for r in store.active(now=50) if r.silenced] == ["HighCPU@web01"]
        assert not any(r.silenced for r in store.active(now=200))


def test_acknowledgements_persist_and_survive_the_owners_saves(tmp_path: Path) -> None:
    engine = AlertEngine(config())
    engine.evaluate(busy(), now=0)
    owner = AlertStore(tmp_path)
    owner.save(engine.records())
    with AlertStore(tmp_path) as cli:
        acked = cli.acknowledge("HighCPU@web01", "ann", now=5)
        assert (acked.acknowledged_by, acked.acknowledged_at) == ("ann", 5)
        with pytest.raises(UnknownAlertError, match='no firing alert "Disk@web01:/"; firing now: HighCPU@web01'):
            cli.acknowledge("Disk@web01:/", "ann")
    engine.evaluate(busy(), now=10)
    owner.save(engine.records())  # the owner's engine does not know about the ack yet
    assert owner.get("HighCPU@web01").acknowledged_by == "ann"  # type: ignore[union-attr]

    engine.evaluate(busy(cpu=10), now=20)
    engine.evaluate(busy(), now=30)  # resolved and fired again between two saves: a new episode
    owner.save(engine.records())
    assert owner.get("HighCPU@web01").acknowledged_by is None  # type: ignore[union-attr]
    owner.close()


def test_changed_notices_other_processes_only(tmp_path: Path) -> None:
    with AlertStore(tmp_path) as owner, AlertStore(tmp_path) as other:
        assert not owner.changed()
        owner.save([])
        assert not owner.changed(), "own commits are not news"
        other.add_silence(parse_matchers(["host=a"]), duration_s=60, reason="r", creator="c")
        assert owner.changed()
        assert not owner.changed()


def test_service_restores_saves_and_picks_up_silences_and_acks(tmp_path: Path) -> None:
    owner = AlertService(config(), AlertStore(tmp_path), save_every_s=1000)
    assert owner.start(now=0) == []
    events = owner.evaluate(busy(), now=0)
    assert [e.key for e in events] == ["HighCPU@web01", "Disk@web01:/"]
    with AlertStore(tmp_path) as cli:
        assert [r.key for r in cli.active()] == ["HighCPU@web01", "Disk@web01:/"]
        cli.add_silence(parse_matchers(["rule=Disk"]), duration_s=600, reason="r", creator="c", now=1)
        cli.acknowledge("HighCPU@web01", "ann", now=2)
    (fired,) = owner.evaluate(busy(), now=60)
    assert isinstance(fired, AlertChanged) and fired.key == "Disk@web01:/" and fired.silenced and not fired.notifies
    assert {r.key: r.acknowledged_by for r in owner.records()} == {"Disk@web01:/": None, "HighCPU@web01": "ann"}

    # A restart: a new service on the same state dir continues where the old one stopped.
    owner.store.close()
    restarted = AlertService(config(RULES.replace('name = "Disk"', 'name = "Disk2"')), AlertStore(tmp_path))
    (ended,) = restarted.start(now=100)
    assert isinstance(ended, AlertChanged) and (ended.key, ended.new_state) == ("Disk@web01:/", "resolved")
    assert [(r.key, r.state, r.acknowledged_by) for r in restarted.records()] == [("HighCPU@web01", "firing", "ann")]
    assert [r.key for r in restarted.store.active()] == ["HighCPU@web01"]
    (resolved,) = [e for e in restarted.evaluate(busy(cpu=10, disk=5), now=110) if e.key == "HighCPU@web01"]
    assert isinstance(resolved, AlertChanged) and resolved.new_state == "resolved"
    restarted.store.close()


def test_service_saves_changes_at_most_once_per_gap_and_flushes_on_demand(tmp_path: Path) -> None:
    service = AlertService(config(), AlertStore(tmp_path), save_every_s=30, min_save_gap_s=1)
    service.start(now=0)
    service.evaluate(busy(), now=10)
    service.evaluate(busy("db01"), now=10.5)  # changed, but saved half a second ago
    with AlertStore(tmp_path) as reader:
        assert {r.host for r in reader.active()} == {"web01"}
        service.evaluate(busy("db01"), now=11)  # no change of its own, but unsaved changes and the gap passed
        assert {r.host for r in reader.active()} == {"web01", "db01"}
        service.evaluate(busy("app01"), now=11.2)
        service.flush()
        assert {r.host for r in reader.active()} == {"web01", "db01", "app01"}
    service.store.close()
