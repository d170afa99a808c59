"""The alert state machine, driven by hand-made samples and a fake clock (the ``now`` of every call)."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from fleetdeck.core.alerts import (
    AlertChanged,
    AlertEngine,
    AlertEvent,
    AlertFlapping,
    AlertsConfig,
    Silence,
    UnknownAlertError,
    load_alerts,
    parse_matchers,
)
from fleetdeck.core.config.schema import HostEntry, HostsFile
from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.health.sample import FsUsage, HealthSample, HostStatus
from fleetdeck.core.inventory import build_inventory


def config(toml: str) -> AlertsConfig:
    issues: list[ConfigIssue] = []
    loaded = load_alerts(tomllib.loads(toml), None, issues)
    assert issues == []
    return loaded


def sample(host: str = "web01", status: HostStatus = "up", **values: Any) -> HealthSample:
    return HealthSample(host, 0.0, status, **values)


def fs(mount: str, used: float, inodes: float | None = 10.0) -> FsUsage:
    return FsUsage(mount, "ext4", 100, int(used), used, inodes)


def changes(events: list[AlertEvent]) -> list[tuple[str, str, str]]:
    return [(e.key, e.old_state, e.new_state) for e in events if isinstance(e, AlertChanged)]


def states(engine: AlertEngine) -> dict[str, str]:
    return {r.key: r.state for r in engine.records()}


CPU = """
[[rules]]
name = "HighCPU"
expr = "cpu_pct > 85"
for = "5m"
severity = "critical"
labels = { team = "ops" }
annotations = { summary = "{host}: CPU {value:.0f}% ({team})", rule = "{rule}/{severity}" }
"""


def test_a_blip_shorter_than_for_never_fires() -> None:
    engine = AlertEngine(config(CPU))
    assert changes(engine.evaluate(sample(cpu_pct=90), now=0)) == [("HighCPU@web01", "inactive", "pending")]
    assert states(engine) == {"HighCPU@web01": "pending"}
    assert engine.evaluate(sample(cpu_pct=95), now=299) == []
    assert changes(engine.evaluate(sample(cpu_pct=50), now=299.5)) == [("HighCPU@web01", "pending", "inactive")]
    assert engine.records() == []
    assert engine.evaluate(sample(cpu_pct=90), now=600)[0].new_state == "pending"  # type: ignore[union-attr]
    assert engine.evaluate(sample(cpu_pct=90), now=800) == [], "the for clock restarted at 600"


def test_for_elapsed_fires_with_value_labels_and_rendered_annotations() -> None:
    engine = AlertEngine(config(CPU))
    engine.evaluate(sample(cpu_pct=90), now=100)
    (event,) = engine.evaluate(sample(cpu_pct=91.6), now=400)
    assert isinstance(event, AlertChanged)
    assert (event.rule, event.host, event.key, event.mount) == ("HighCPU", "web01", "HighCPU@web01", None)
    assert (event.old_state, event.new_state, event.value, event.severity) == ("pending", "firing", 91.6, "critical")
    assert dict(event.labels) == {"alertname": "HighCPU", "host": "web01", "severity": "critical", "team": "ops"}
    assert dict(event.annotations) == {"summary": "web01: CPU 92% (ops)", "rule": "HighCPU/critical"}
    assert (event.since, event.active_since, event.fired_at) == (400, 100, 400)
    assert event.notifies and not event.silenced and not event.flapping and not event.acknowledged
    (record,) = engine.records()
    assert (record.state, record.since, record.summary) == ("firing", 400, "web01: CPU 92% (ops)")


def test_for_zero_fires_at_once_and_resolves_at_once() -> None:
    engine = AlertEngine(config('[[rules]]\nname = "Swap"\nexpr = "swap_used_pct > 50"\n'))
    assert changes(engine.evaluate(sample(swap_used_pct=60), now=0)) == [("Swap@web01", "inactive", "firing")]
    (resolved,) = engine.evaluate(sample(swap_used_pct=10), now=2)
    assert isinstance(resolved, AlertChanged)
    assert (resolved.old_state, resolved.new_state, resolved.value, resolved.fired_at) == ("firing", "resolved", 10, 0)
    assert resolved.notifies and engine.records() == []


def test_keep_firing_for_holds_the_alert_through_short_dips() -> None:
    engine = AlertEngine(config('[[rules]]\nname = "C"\nexpr = "cpu_pct > 85"\nkeep_firing_for = "2m"\n'))
    engine.evaluate(sample(cpu_pct=90), now=0)
    assert engine.evaluate(sample(cpu_pct=10), now=10) == []
    assert engine.evaluate(sample(cpu_pct=10), now=100) == []
    assert engine.evaluate(sample(cpu_pct=95), now=110) == [], "true again: the keep clock resets"
    assert engine.evaluate(sample(cpu_pct=10), now=120) == []
    assert engine.evaluate(sample(cpu_pct=10), now=239) == []
    assert states(engine) == {"C@web01": "firing"}
    assert changes(engine.evaluate(sample(cpu_pct=10), now=240)) == [("C@web01", "firing", "resolved")]


def test_hysteresis_resolves_only_below_clear_below_and_never_helps_a_pending_alert() -> None:
    engine = AlertEngine(config('[[rules]]\nname = "C"\nexpr = "cpu_pct > 85"\nfor = "10s"\nclear_below = 75\n'))
    engine.evaluate(sample(cpu_pct=90), now=0)
    assert changes(engine.evaluate(sample(cpu_pct=80), now=5)) == [("C@web01", "pending", "inactive")]
    engine.evaluate(sample(cpu_pct=90), now=10)
    assert changes(engine.evaluate(sample(cpu_pct=90), now=20)) == [("C@web01", "pending", "firing")]
    assert engine.evaluate(sample(cpu_pct=80), now=30) == []
    assert engine.evaluate(sample(cpu_pct=75), now=40) == [], "75 is not below 75"
    assert changes(engine.evaluate(sample(cpu_pct=74.9), now=50)) == [("C@web01", "firing", "resolved")]


def test_clear_above_for_rules_about_too_low_values() -> None:
    engine = AlertEngine(config('[[rules]]\nname = "Quiet"\nexpr = "net_rx_bps < 1000"\nclear_above = 5000\n'))
    engine.evaluate(sample(net_rx_bps=10.0), now=0)
    assert engine.evaluate(sample(net_rx_bps=4000.0), now=1) == []
    assert changes(engine.evaluate(sample(net_rx_bps=6000.0), now=2)) == [("Quiet@web01", "firing", "resolved")]


FLAPPY = """
[flapping]
changes = 4
window = "10m"
[[rules]]
name = "C"
expr = "cpu_pct > 85"
"""


def test_flapping_is_reported_once_and_mutes_transitions_until_it_settles() -> None:
    engine = AlertEngine(config(FLAPPY))
    events: list[AlertEvent] = []
    for step in range(10):
        events += engine.evaluate(sample(cpu_pct=90 if step % 2 == 0 else 10), now=step * 10)
    flaps = [e for e in events if isinstance(e, AlertFlapping)]
    assert len(flaps) == 1
    assert (flaps[0].flapping, flaps[0].changes, flaps[0].state, flaps[0].window_s) == (True, 4, "inactive", 600)
    assert flaps[0].notifies
    moved = [e for e in events if isinstance(e, AlertChanged)]
    assert len(moved) == 10
    assert [e.notifies for e in moved] == [True, True, True, False, False, False, False, False, False, False]
    assert events.index(flaps[0]) == 4, "the notice follows the change that tripped it"

    events = engine.evaluate(sample(cpu_pct=90), now=100)
    assert changes(events) == [("C@web01", "inactive", "firing")] and not events[0].notifies
    assert engine.records()[0].flapping
    assert engine.evaluate(sample(cpu_pct=90), now=699) == [], "not quiet for a whole window yet"
    (settled,) = engine.evaluate(sample(cpu_pct=90), now=700)
    assert isinstance(settled, AlertFlapping)
    assert (settled.flapping, settled.state) == (False, "firing")
    assert not engine.records()[0].flapping
    assert engine.evaluate(sample(cpu_pct=90), now=2000) == [], "settling is reported once"
    (resolved,) = engine.evaluate(sample(cpu_pct=10), now=2010)
    assert resolved.notifies


def test_flapping_that_settles_while_inactive_says_so() -> None:
    engine = AlertEngine(config(FLAPPY))
    for step in range(4):
        engine.evaluate(sample(cpu_pct=90 if step % 2 == 0 else 10), now=step)
    (settled,) = engine.evaluate(sample(cpu_pct=10), now=603)
    assert isinstance(settled, AlertFlapping) and (settled.flapping, settled.state) == (False, "inactive")


DOWN = """
[[rules]]
name = "C"
expr = "cpu_pct > 85"
for = "5m"
[[rules]]
name = "Disk"
expr = "disk_used_pct > 90"
[[rules]]
name = "HostDown"
expr = "host_down"
for = "1m"
annotations = { summary = "{host} is down ({value})" }
"""


def test_a_down_host_inhibits_its_metric_alerts_and_host_down_speaks_for_it() -> None:
    engine = AlertEngine(config(DOWN))
    engine.evaluate(sample(cpu_pct=90, filesystems=(fs("/", 95),)), now=0)
    engine.evaluate(sample(cpu_pct=90, filesystems=(fs("/", 95),)), now=300)
    assert states(engine) == {"C@web01": "firing", "Disk@web01:/": "firing"}

    # Stale numbers (the collector keeps the last values) and then nothing at all: no metric transitions.
    assert engine.evaluate(sample(status="stale", cpu_pct=10.0, filesystems=(fs("/", 5),)), now=310) == []
    events = engine.evaluate(sample(status="down"), now=320)
    assert changes(events) == [("HostDown@web01", "inactive", "pending")]
    assert all(r.inhibited for r in engine.records() if r.rule != "HostDown")
    (fired,) = engine.evaluate(sample(status="down"), now=380)
    assert isinstance(fired, AlertChanged) and fired.new_state == "firing" and fired.value is None
    assert fired.annotations["summary"] == "web01 is down (-)"
    assert states(engine) == {"C@web01": "firing", "Disk@web01:/": "firing", "HostDown@web01": "firing"}

    events = engine.evaluate(sample(cpu_pct=10, filesystems=(fs("/", 5),)), now=400)
    assert sorted(changes(events)) == [
        ("C@web01", "firing", "resolved"),
        ("Disk@web01:/", "firing", "resolved"),
        ("HostDown@web01", "firing", "resolved"),
    ]


def test_a_pending_alert_restarts_its_clock_after_the_host_comes_back() -> None:
    engine = AlertEngine(config(DOWN))
    engine.evaluate(sample(cpu_pct=90), now=0)
    engine.evaluate(sample(status="down"), now=100)
    assert states(engine) == {"C@web01": "pending", "HostDown@web01": "pending"}
    events = engine.evaluate(sample(cpu_pct=90), now=400)
    assert changes(events) == [("HostDown@web01", "pending", "inactive")], "no down sample came after its 1m"
    assert engine.evaluate(sample(cpu_pct=90), now=699) == []
    assert changes(engine.evaluate(sample(cpu_pct=90), now=700)) == [("C@web01", "pending", "firing")]


def test_host_down_needs_down_status_for_its_whole_for() -> None:
    engine = AlertEngine(config(DOWN))
    assert engine.evaluate(sample(status="stale"), now=0) == []
    engine.evaluate(sample(status="down"), now=10)
    assert changes(engine.evaluate(sample(status="up"), now=60)) == [("HostDown@web01", "pending", "inactive")]
    assert engine.records() == []


def test_missing_values_change_nothing() -> None:
    engine = AlertEngine(config(DOWN))
    engine.evaluate(sample(cpu_pct=90), now=0)
    engine.evaluate(sample(cpu_pct=90), now=300)
    assert engine.evaluate(sample(), now=310) == [], "no cpu number (a first sample) is no evidence"
    assert engine.evaluate(sample(filesystems=()), now=320) == []
    assert states(engine) == {"C@web01": "firing"}


def test_filesystem_rules_make_one_alert_per_mount() -> None:
    engine = AlertEngine(
        config(
            '[[rules]]\nname = "Full"\nexpr = "disk_used_pct > 90"\nannotations = { summary = "{host}:{mount} {value}%" }\n'
            '[[rules]]\nname = "Root"\nexpr = \'disk_used_pct{mount="/"} > 90\'\n'
            '[[rules]]\nname = "Inodes"\nexpr = \'inodes_used_pct{fstype!="tmpfs"} > 50\'\n'
        )
    )
    disks = (fs("/", 95, inodes=60), fs("/var", 50, inodes=None), fs("/data", 92.5))
    events = engine.evaluate(sample(filesystems=disks), now=0)
    assert changes(events) == [
        ("Full@web01:/", "inactive", "firing"),
        ("Full@web01:/data", "inactive", "firing"),
        ("Root@web01:/", "inactive", "firing"),
        ("Inodes@web01:/", "inactive", "firing"),
    ]
    full = {e.mount: e.annotations["summary"] for e in events if isinstance(e, AlertChanged) and e.rule == "Full"}
    assert full == {"/": "web01:/ 95%", "/data": "web01:/data 92.5%"}
    # /data unmounted: its alert resolves; / keeps firing; no report at all would change nothing.
    assert engine.evaluate(sample(filesystems=()), now=5) == []
    events = engine.evaluate(sample(filesystems=(fs("/", 95, inodes=60), fs("/var", 50))), now=10)
    (gone,) = [e for e in events if isinstance(e, AlertChanged)]
    assert (gone.key, gone.new_state, gone.value) == ("Full@web01:/data", "resolved", None)
    assert set(states(engine)) == {"Full@web01:/", "Root@web01:/", "Inodes@web01:/"}


def test_a_host_is_followed_until_its_last_alert_ends_and_then_starts_afresh() -> None:
    """Hosts without alerts are judged the short way; the count behind that must follow adds and removes."""
    engine = AlertEngine(
        config(
            '[[rules]]\nname = "Full"\nexpr = "disk_used_pct > 90"\nfor = "1m"\n'
            '[[rules]]\nname = "Hot"\nexpr = "cpu_pct > 85"\nclear_below = 70\n'
        )
    )
    both = sample(cpu_pct=90, filesystems=(fs("/", 95), fs("/data", 95)))
    assert len(changes(engine.evaluate(both, now=0))) == 3
    assert changes(engine.evaluate(sample("db01", cpu_pct=95), now=0)) == [("Hot@db01", "inactive", "firing")]
    # One mount recovers, then the other; the CPU alert holds inside its hysteresis band until it drops below 70.
    one = sample(cpu_pct=75, filesystems=(fs("/", 95), fs("/data", 10)))
    assert changes(engine.evaluate(one, now=10)) == [("Full@web01:/data", "pending", "inactive")]
    calm = sample(cpu_pct=75, filesystems=(fs("/", 10), fs("/data", 10)))
    assert changes(engine.evaluate(calm, now=20)) == [("Full@web01:/", "pending", "inactive")]
    assert states(engine) == {"Hot@web01": "firing", "Hot@db01": "firing"}
    assert changes(engine.evaluate(sample(cpu_pct=60, filesystems=calm.filesystems), now=30)) == [
        ("Hot@web01", "firing", "resolved")
    ]
    assert states(engine) == {"Hot@db01": "firing"}
    assert engine.evaluate(sample(cpu_pct=60, filesystems=calm.filesystems), now=40) == []
    # With nothing left on the host, a new breach starts a new alert with its own clock.
    assert changes(engine.evaluate(sample(filesystems=(fs("/data", 99),)), now=50)) == [
        ("Full@web01:/data", "inactive", "pending")
    ]
    assert changes(engine.evaluate(sample(filesystems=(fs("/data", 99),)), now=110)) == [
        ("Full@web01:/data", "pending", "firing")
    ]
    assert changes(engine.evaluate(sample("db01", cpu_pct=10), now=110)) == [("Hot@db01", "firing", "resolved")]
    assert engine.evaluate(sample("db01", "down"), now=120) == []


def test_silences_mark_alerts_and_stop_notifications_until_they_expire() -> None:
    engine = AlertEngine(config(CPU))
    engine.silences = [
        Silence(1, parse_matchers(["rule=HighCPU", "host=web*", "team=ops"]), 0, 1000, "deploy", "ann"),
        Silence(2, parse_matchers(["host=db*"]), 0, 10_000, "other hosts", "ann"),
    ]
    engine.evaluate(sample(cpu_pct=90), now=0)
    (fired,) = engine.evaluate(sample(cpu_pct=90), now=300)
    assert isinstance(fired, AlertChanged)
    assert fired.new_state == "firing" and fired.silenced and not fired.notifies
    assert engine.records()[0].silenced
    engine.evaluate(sample(cpu_pct=90), now=1000)
    assert not engine.records()[0].silenced, "the silence ended at 1000"
    (resolved,) = engine.evaluate(sample(cpu_pct=10), now=1001)
    assert not resolved.silenced and resolved.notifies


@pytest.mark.parametrize(
    ("matchers", "silenced"),
    [
        (["alertname=HighCPU"], True),
        (["rule=High*", "severity=critical"], True),
        (["rule=HighCPU", "host!=web01"], False),
        (["team=dev"], False),
        (["mount=/"], False),
        (["rule=HighCPU", "mount="], True),
    ],
)
def test_silence_matchers(matchers: list[str], silenced: bool) -> None:
    engine = AlertEngine(config(CPU.replace('for = "5m"', "")))
    engine.silences = [Silence(1, parse_matchers(matchers), 0, 100, "r", "me")]
    (event,) = engine.evaluate(sample(cpu_pct=90), now=1)
    assert event.silenced is silenced


def test_acknowledge_marks_the_firing_episode_only() -> None:
    engine = AlertEngine(config(CPU.replace('for = "5m"', "")))
    engine.evaluate(sample(cpu_pct=90), now=0)
    record = engine.acknowledge("HighCPU@web01", "ann", now=5)
    assert (record.acknowledged_by, record.acknowledged_at) == ("ann", 5)
    with pytest.raises(UnknownAlertError, match=r'no firing alert "HighCPU@db01"; firing now: HighCPU@web01'):
        engine.acknowledge("HighCPU@db01", "ann")
    (resolved,) = engine.evaluate(sample(cpu_pct=10), now=10)
    assert isinstance(resolved, AlertChanged) and resolved.acknowledged and resolved.acknowledged_by == "ann"
    (again,) = engine.evaluate(sample(cpu_pct=90), now=20)
    assert not again.acknowledged  # type: ignore[union-attr]


def test_pending_alerts_cannot_be_acknowledged() -> None:
    engine = AlertEngine(config(CPU))
    engine.evaluate(sample(cpu_pct=90), now=0)
    with pytest.raises(UnknownAlertError, match="firing now: none"):
        engine.acknowledge("HighCPU@web01", "ann")


def test_rules_apply_to_the_hosts_their_selector_names() -> None:
    inventory, _ = build_inventory(
        HostsFile(hosts={"web01": HostEntry(groups=["web"]), "db01": HostEntry(groups=["db"])})
    )
    rules = config(
        '[[rules]]\nname = "Web"\nexpr = "cpu_pct > 1"\nhosts = "@web"\n[[rules]]\nname = "All"\nexpr = "cpu_pct > 1"\n'
    )
    engine = AlertEngine(rules, inventory)
    assert [r.name for r in engine.rules_for("web01")] == ["Web", "All"]
    assert [r.name for r in engine.rules_for("db01")] == ["All"]
    assert [r.name for r in engine.rules_for("stranger")] == ["All"]
    bare = AlertEngine(config('[[rules]]\nname = "W"\nexpr = "cpu_pct > 1"\nhosts = "web*"\n'))
    assert [r.name for r in bare.rules_for("web07")] == ["W"] and bare.rules_for("db01") == ()


def test_reload_keeps_alerts_of_kept_rules_and_ends_the_others() -> None:
    engine = AlertEngine(
        config(CPU.replace('for = "5m"', "") + '[[rules]]\nname = "Swap"\nexpr = "swap_used_pct > 1"\n')
    )
    engine.evaluate(sample(cpu_pct=90, swap_used_pct=5), now=0)
    events = engine.reload(config('[[rules]]\nname = "HighCPU"\nexpr = "cpu_pct > 95"\n'), now=1)
    assert changes(events) == [("Swap@web01", "firing", "resolved")]
    assert states(engine) == {"HighCPU@web01": "firing"}
    assert changes(engine.evaluate(sample(cpu_pct=90), now=2)) == [("HighCPU@web01", "firing", "resolved")]


def test_restore_continues_stored_alerts() -> None:
    first = AlertEngine(config(CPU + '[[rules]]\nname = "Gone"\nexpr = "load1 > 1"\n'))
    first.evaluate(sample(cpu_pct=90, load1=5.0), now=0)
    first.evaluate(sample(cpu_pct=90, load1=5.0), now=300)
    first.acknowledge("HighCPU@web01", "ann", now=301)
    records = first.records()

    second = AlertEngine(config(CPU))
    (ended,) = second.restore(records, now=400)
    assert isinstance(ended, AlertChanged)
    assert (ended.key, ended.new_state, ended.since) == ("Gone@web01", "resolved", 400)
    (restored,) = second.records()
    assert (restored.state, restored.fired_at, restored.acknowledged_by) == ("firing", 300, "ann")
    assert second.evaluate(sample(cpu_pct=90), now=410) == []
    (resolved,) = second.evaluate(sample(cpu_pct=10), now=420)
    assert isinstance(resolved, AlertChanged) and (resolved.old_state, resolved.new_state) == ("firing", "resolved")


def test_tick_advances_the_clocks_of_hosts_that_send_nothing() -> None:
    engine = AlertEngine(config(DOWN))
    engine.evaluate(sample(cpu_pct=90), now=0)
    engine.evaluate(sample("db01", cpu_pct=10), now=0)
    engine.evaluate(sample(status="down"), now=10)
    assert engine.tick(now=40) == []
    events = engine.tick(now=70)
    assert changes(events) == [("HostDown@web01", "pending", "firing")]
    assert states(engine) == {"C@web01": "pending", "HostDown@web01": "firing"}, "up hosts are not re-fed"
