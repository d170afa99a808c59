"""Severity inhibition: a firing alert mutes the alerts of the rules it ``inhibits`` on the same host and mount."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest

from fleetdeck import cli
from fleetdeck.core.alerts import (
    DEFAULT_RULES,
    AlertChanged,
    AlertEngine,
    AlertEvent,
    AlertsConfig,
    AlertStore,
    Silence,
    load_alerts,
    parse_matchers,
)
from fleetdeck.core.alerts.state import AlertRecord
from fleetdeck.core.alerts.store import _MIGRATIONS
from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.health.sample import FsUsage, HealthSample, HostStatus

DISK = """
[[rules]]
name = "RootDiskFull"
expr = 'disk_used_pct{mount="/"} > 90'
for = "5m"
clear_below = 88
[[rules]]
name = "RootDiskCritical"
expr = 'disk_used_pct{mount="/"} > 95'
for = "2m"
clear_below = 93
severity = "critical"
inhibits = ["RootDiskFull"]
"""

PER_MOUNT = """
[[rules]]
name = "DiskWarning"
expr = "disk_used_pct > 90"
[[rules]]
name = "DiskCritical"
expr = "disk_used_pct > 95"
severity = "critical"
inhibits = ["DiskWarning"]
"""


def config(toml: str) -> AlertsConfig:
    issues: list[ConfigIssue] = []
    loaded = load_alerts(tomllib.loads(toml), None, issues)
    assert issues == []
    return loaded


def errors(toml: str) -> list[str]:
    issues: list[ConfigIssue] = []
    load_alerts(tomllib.loads(toml), None, issues)
    return [str(i) for i in issues]


def disk(pct: float, host: str = "web01", status: HostStatus = "up", **mounts: float) -> HealthSample:
    others = (FsUsage(f"/{name}", "ext4", 100, int(used), used, 1.0) for name, used in mounts.items())
    filesystems = (FsUsage("/", "ext4", 100, int(pct), pct, 1.0), *others)
    return HealthSample(host, 0.0, status, filesystems=filesystems)


def changes(events: list[AlertEvent]) -> list[tuple[str, str, str, str | None, bool]]:
    """(key, old, new, inhibited_by, notifies) of every change."""
    return [
        (e.key, e.old_state, e.new_state, e.inhibited_by, e.notifies) for e in events if isinstance(e, AlertChanged)
    ]


def marks(engine: AlertEngine) -> dict[str, tuple[str, bool, str | None]]:
    return {r.key: (r.state, r.inhibited, r.inhibited_by) for r in engine.records()}


WARN, CRIT = "RootDiskFull@web01:/", "RootDiskCritical@web01:/"


# -- the state machine ---------------------------------------------------------------------------------------


def test_a_firing_critical_inhibits_the_warning_which_keeps_its_state_and_is_not_notified() -> None:
    engine = AlertEngine(config(DISK))
    assert changes(engine.evaluate(disk(96), now=0)) == [
        (WARN, "inactive", "pending", None, False),
        (CRIT, "inactive", "pending", None, False),
    ], "a pending critical inhibits nothing"
    assert changes(engine.evaluate(disk(96), now=120)) == [(CRIT, "pending", "firing", None, True)]
    assert marks(engine) == {CRIT: ("firing", False, None), WARN: ("pending", True, CRIT)}

    # The warning's own clock runs on: it fires after its 5m, inhibited, and that is not notified.
    (fired,) = engine.evaluate(disk(96), now=300)
    assert isinstance(fired, AlertChanged)
    assert (fired.key, fired.new_state, fired.inhibited, fired.inhibited_by) == (WARN, "firing", True, CRIT)
    assert not fired.notifies and not fired.silenced
    assert marks(engine) == {CRIT: ("firing", False, None), WARN: ("firing", True, CRIT)}
    assert engine.get(WARN) is not None and engine.get(WARN).to_json()["inhibited_by"] == CRIT  # type: ignore[union-attr]


def test_when_the_critical_resolves_a_warning_still_firing_is_announced_then_resolves_normally() -> None:
    engine = AlertEngine(config(DISK))
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    assert engine.evaluate(disk(94), now=400) == [], "inside the critical's hysteresis band: nothing changes"

    events = engine.evaluate(disk(92), now=500)
    assert changes(events) == [(CRIT, "firing", "resolved", None, True), (WARN, "firing", "firing", None, True)]
    announced = events[1]
    assert isinstance(announced, AlertChanged)
    assert (announced.since, announced.fired_at, announced.value) == (300, 300, 92), "it fired at 300, not now"
    assert marks(engine) == {WARN: ("firing", False, None)}

    assert engine.evaluate(disk(91), now=600) == [], "announced once"
    assert changes(engine.evaluate(disk(50), now=700)) == [(WARN, "firing", "resolved", None, True)]


def test_a_warning_told_before_the_critical_started_is_not_told_again_but_its_end_is() -> None:
    engine = AlertEngine(config(DISK))
    engine.evaluate(disk(92), now=0)
    assert changes(engine.evaluate(disk(92), now=300)) == [(WARN, "pending", "firing", None, True)]
    engine.evaluate(disk(97), now=310)
    assert changes(engine.evaluate(disk(97), now=430)) == [(CRIT, "pending", "firing", None, True)]
    assert marks(engine)[WARN] == ("firing", True, CRIT)

    assert changes(engine.evaluate(disk(92), now=500)) == [(CRIT, "firing", "resolved", None, True)]
    assert marks(engine)[WARN] == ("firing", False, None), "let go, and not announced a second time"

    # Inhibited again (past the flapping window), then resolved while inhibited: the end is still passed
    # on, since its start was told.
    engine.evaluate(disk(97), now=1200)
    engine.evaluate(disk(97), now=1320)
    events = engine.evaluate(disk(10), now=1400)
    assert changes(events) == [(WARN, "firing", "resolved", CRIT, True), (CRIT, "firing", "resolved", None, True)]


def test_alerts_that_fire_in_one_sample_inhibit_whatever_the_order_of_their_rules() -> None:
    warning, critical = PER_MOUNT.split("[[rules]]")[1:]
    for toml in (PER_MOUNT, f"[[rules]]{critical}[[rules]]{warning}"):
        engine = AlertEngine(config(toml))
        found = changes(engine.evaluate(disk(97), now=0))
        assert sorted(found) == [
            ("DiskCritical@web01:/", "inactive", "firing", None, True),
            ("DiskWarning@web01:/", "inactive", "firing", "DiskCritical@web01:/", False),
        ]


def test_inhibition_needs_the_same_host_and_mount() -> None:
    engine = AlertEngine(config(PER_MOUNT))
    engine.evaluate(disk(97, var=92), now=0)
    found = changes(engine.evaluate(disk(50, host="db01", var=92), now=0))
    assert found == [("DiskWarning@db01:/var", "inactive", "firing", None, True)], "another host: not inhibited"
    assert marks(engine) == {
        "DiskCritical@web01:/": ("firing", False, None),
        "DiskWarning@web01:/": ("firing", True, "DiskCritical@web01:/"),
        "DiskWarning@web01:/var": ("firing", False, None),
        "DiskWarning@db01:/var": ("firing", False, None),
    }


HOST_DOWN = '[[rules]]\nname = "HostDown"\nexpr = "host_down"\nfor = "1m"\n'


def test_while_the_host_is_down_both_are_held_and_the_warning_waits_for_fresh_numbers() -> None:
    engine = AlertEngine(config(DISK + HOST_DOWN))
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    engine.evaluate(HealthSample("web01", 0.0, "down"), now=310)
    assert marks(engine)[WARN] == ("firing", True, CRIT)
    assert marks(engine)[CRIT] == ("firing", True, None), "held by the host being down"
    engine.reload(config(DISK.replace('inhibits = ["RootDiskFull"]', "") + HOST_DOWN))
    assert changes(engine.evaluate(HealthSample("web01", 0.0, "down"), now=320)) == []
    assert marks(engine)[WARN] == ("firing", True, None), "nothing inhibits it now, but the host is still down"
    events = engine.evaluate(disk(94), now=400)
    assert sorted(changes(events)) == [
        ("HostDown@web01", "pending", "inactive", None, False),
        (WARN, "firing", "firing", None, True),
    ]
    assert marks(engine)[CRIT] == ("firing", False, None)


def test_a_silenced_warning_is_let_go_without_a_notice() -> None:
    engine = AlertEngine(config(DISK))
    engine.silences = [Silence(1, parse_matchers(["rule=RootDiskFull"]), 0, 10_000, "disk swap", "ann")]
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    events = engine.evaluate(disk(92), now=500)
    assert changes(events) == [(CRIT, "firing", "resolved", None, True), (WARN, "firing", "firing", None, False)]


def test_restore_keeps_the_marks_and_owes_the_announcement(tmp_path: Path) -> None:
    engine = AlertEngine(config(DISK))
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    with AlertStore(tmp_path) as store:
        store.save(engine.records())
    with AlertStore(tmp_path) as store:
        records = store.active(now=310)
    assert [(r.key, r.inhibited, r.inhibited_by) for r in records] == [(CRIT, False, None), (WARN, True, CRIT)]

    again = AlertEngine(config(DISK))
    assert again.restore(records, now=320) == []
    assert marks(again)[WARN] == ("firing", True, CRIT)
    again.evaluate(disk(96), now=330)
    assert changes(again.evaluate(disk(92), now=400)) == [
        (CRIT, "firing", "resolved", None, True),
        (WARN, "firing", "firing", None, True),
    ]


def test_the_store_migrates_a_version_1_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "alerts.db")
    for statement in _MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    record = AlertRecord(WARN, "RootDiskFull", "web01", "/", "firing", "warning", 96.0, {}, {}, 1.0, 1.0)
    with AlertStore(tmp_path) as store:
        store.save([record])
        assert store.active(now=2.0) == [record]


def test_the_built_in_critical_rules_inhibit_their_warnings() -> None:
    assert {r.name: r.inhibits for r in DEFAULT_RULES if r.inhibits} == {
        "CPUCritical": ("HighCPU",),
        "RootDiskCritical": ("RootDiskFull",),
    }
    engine = AlertEngine(AlertsConfig())
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    assert marks(engine) == {CRIT: ("firing", False, None), WARN: ("firing", True, CRIT)}


def test_fleetdeck_alerts_shows_the_warning_inhibited_in_the_table_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path))
    engine = AlertEngine(config(DISK))
    for now in (0, 120, 300):
        engine.evaluate(disk(96), now=now)
    with AlertStore(tmp_path) as store:
        store.save(engine.records())

    assert cli.main(["alerts"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [[CRIT, "firing"], [WARN, "firing"]]
    assert rows[1][2:6] == ["(inhibited", "by", f"{CRIT})", "warning"]

    assert cli.main(["alerts", "--json"]) == 0
    docs = {d["key"]: d for d in json.loads(capsys.readouterr().out)}
    assert (docs[WARN]["inhibited"], docs[WARN]["inhibited_by"]) == (True, CRIT)
    assert (docs[CRIT]["inhibited"], docs[CRIT]["inhibited_by"]) == (False, None)


# -- alerts.toml -----------------------------------------------------------------------------------------------

RULE = '[[rules]]\nname = "X"\nexpr = "cpu_pct > 99"\n'


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            RULE + 'inhibits = "HighCPU"\n',
            ['alerts.toml: rules[0].inhibits: rule "X": expected an array of rule names such as ["HighCPU"], '
             'got "HighCPU"'],
        ),
        (RULE + "inhibits = [1]\n", ['alerts.toml: rules[0].inhibits[0]: rule "X": expected a string, got 1']),
        (
            "include_defaults = true\n" + RULE + 'inhibits = ["HighCPUU", "X", "HighCPU", "HighCPU"]\n',
            [
                'alerts.toml: rules[0].inhibits[0]: rule "X": no rule named "HighCPUU" (did you mean "HighCPU"?)',
                'alerts.toml: rules[0].inhibits[1]: rule "X": a rule cannot inhibit itself',
                'alerts.toml: rules[0].inhibits[3]: rule "X": "HighCPU" is listed twice',
            ],
        ),
        (
            RULE + 'inhibits = ["HighCPU"]\n',
            ['alerts.toml: rules[0].inhibits[0]: rule "X": no rule named "HighCPU"; rules: X'],
        ),
        (
            "include_defaults = true\n" + RULE + 'inhibits = ["RootDiskFull"]\n',
            [
                'alerts.toml: rules[0].inhibits[0]: rule "X": "RootDiskFull" alerts per filesystem and "X" per host; '
                "a rule inhibits only alerts of the same host and mount, so both must be per filesystem or both "
                "per host"
            ],
        ),
        (
            "include_defaults = true\n"
            '[[rules]]\nname = "HighCPU"\nexpr = "cpu_pct > 80"\ninhibits = ["CPUCritical"]\n',
            [
                'alerts.toml: rules[0].inhibits: rule "HighCPU": inhibition cycle HighCPU -> CPUCritical -> HighCPU: '
                "these alerts would mute each other"
            ],
        ),
        (
            '[[rules]]\nname = "A"\nexpr = "cpu_pct > 1"\ninhibits = ["B"]\n'
            '[[rules]]\nname = "B"\nexpr = "cpu_pct > 2"\ninhibits = ["C"]\n'
            '[[rules]]\nname = "C"\nexpr = "cpu_pct > 3"\ninhibits = ["A"]\n',
            ['alerts.toml: rules[0].inhibits: rule "A": inhibition cycle A -> B -> C -> A: '
             "these alerts would mute each other"],
        ),
        (
            '[[rules]]\nname = "A"\nexpr = "cpu_pct > 1"\ninhibits = ["B"]\n[[rules]]\nname = "B"\nexpr = "cpu >> 2"\n',
            ['alerts.toml: rules[1].expr: rule "B": expected a number at column 6, got ">"'],
        ),
    ],
)  # fmt: skip
def test_inhibits_mistakes_are_reported_with_path_and_rule(toml: str, expected: list[str]) -> None:
    assert errors(toml) == expected


def test_chains_are_fine_and_resolve() -> None:
    loaded = config(
        '[[rules]]\nname = "Warn"\nexpr = "cpu_pct > 80"\n'
        '[[rules]]\nname = "Crit"\nexpr = "cpu_pct > 90"\nseverity = "critical"\ninhibits = ["Warn"]\n'
        '[[rules]]\nname = "Page"\nexpr = "cpu_pct > 99"\nseverity = "critical"\ninhibits = ["Crit", "Warn"]\n'
    )
    assert [r.inhibits for r in loaded.rules] == [(), ("Warn",), ("Crit", "Warn")]
    engine = AlertEngine(loaded)
    engine.evaluate(HealthSample("web01", 0.0, "up", cpu_pct=100.0), now=0)
    assert marks(engine) == {
        "Page@web01": ("firing", False, None),
        "Crit@web01": ("firing", True, "Page@web01"),
        "Warn@web01": ("firing", True, "Crit@web01"),
    }
