"""Grouping timers (group wait, group interval, repeat interval), resolved notices and one-shot reports."""

from __future__ import annotations

import json
import tomllib

from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.notify import Notice, NotifyConfig, RunNotifySink, load_notify
from fleetdeck.core.notify.grouping import Aggregator, Group
from fleetdeck.core.notify.message import Message
from fleetdeck.core.runner.events import HostFinished, Output, RunFinished, RunStarted

T0 = 1_700_000_000.0


def config(extra: str = "", defaults: str = "") -> NotifyConfig:
    text = (
        f'[defaults]\nchannels = ["a"]\ngroup_by = ["alertname"]\n{defaults}'
        '[[channels]]\nname = "a"\ntype = "webhook"\nurl = "http://h/a"\n'
        '[[channels]]\nname = "b"\ntype = "webhook"\nurl = "http://h/b"\nsend_resolved = false\n' + extra
    )
    issues: list[ConfigIssue] = []
    loaded = load_notify(tomllib.loads(text), issues)
    assert issues == []
    return loaded


def alert(kind: str = "firing", host: str = "web01", rule: str = "HighCPU", t: float = T0) -> Notice:
    return Notice(kind=kind, title=f"{rule} on {host}", host=host, rule=rule, time=t)  # type: ignore[arg-type]


def flush_due(agg: Aggregator, now: float) -> list[tuple[str, Message]]:
    out: list[tuple[str, Message]] = []
    for group in agg.due(now):
        out += agg.flush(group, now, agg.config.channels)
    return out


def hosts(message: Message) -> list[tuple[str, str]]:
    return [(n.host, n.kind) for n in message.notices]


def test_group_wait_then_interval_then_repeat() -> None:
    agg = Aggregator(config())
    agg.add(alert(host="web01"), T0)
    agg.add(alert(host="web02"), T0 + 10)
    assert agg.next_due() == T0 + 30
    assert flush_due(agg, T0 + 29) == []
    [(channel, message)] = flush_due(agg, T0 + 30)
    assert channel == "a" and message.reason == "new"
    assert hosts(message) == [("web01", "firing"), ("web02", "firing")]
    assert message.group_key == 'default:{alertname="HighCPU"}'

    # A change is told no sooner than group_interval after the last message.
    agg.add(alert(host="web03"), T0 + 60)
    assert agg.next_due() == T0 + 330
    assert flush_due(agg, T0 + 329) == []
    [(_, update)] = flush_due(agg, T0 + 330)
    assert update.reason == "update" and len(update.notices) == 3

    # The same state again is not news; nothing is sent until the repeat interval.
    agg.add(alert(host="web01", t=T0 + 400), T0 + 400)
    assert agg.next_due() == T0 + 330 + 4 * 3600
    [(_, repeat)] = flush_due(agg, T0 + 330 + 4 * 3600)
    assert repeat.reason == "repeat" and len(repeat.notices) == 3


def test_resolved_is_told_once_and_leaves_the_group() -> None:
    agg = Aggregator(config())
    agg.add(alert(), T0)
    agg.add(alert(host="web02"), T0)
    flush_due(agg, T0 + 30)
    agg.add(alert("resolved", t=T0 + 100), T0 + 100)
    [(_, message)] = flush_due(agg, T0 + 330)
    assert hosts(message) == [("web02", "firing"), ("web01", "resolved")]
    assert message.status == "firing"
    agg.add(alert("resolved", host="web02"), T0 + 400)
    [(_, last)] = flush_due(agg, T0 + 630)
    assert hosts(last) == [("web02", "resolved")] and last.status == "resolved"
    assert agg.groups == {} and agg.next_due() is None


def test_send_resolved_false_per_channel() -> None:
    agg = Aggregator(config('[[routes]]\nmatch = { host = "*" }\nchannels = ["a", "b"]\n'))
    agg.add(alert(), T0)
    assert sorted(c for c, _ in flush_due(agg, T0 + 30)) == ["a", "b"]
    agg.add(alert("resolved"), T0 + 40)
    assert [c for c, _ in flush_due(agg, T0 + 330)] == ["a"]


def test_fired_and_resolved_before_the_first_message_is_dropped() -> None:
    agg = Aggregator(config())
    agg.add(alert(), T0)
    agg.add(alert("resolved"), T0 + 5)
    assert flush_due(agg, T0 + 30) == []
    assert agg.groups == {}


def test_resolved_without_a_known_firing_is_ignored() -> None:
    agg = Aggregator(config())
    assert agg.add(alert("resolved"), T0) == []
    assert agg.groups == {}


def test_one_shot_reports_are_told_once_beside_the_alert_state() -> None:
    agg = Aggregator(config())
    agg.add(alert(), T0)
    flush_due(agg, T0 + 30)
    agg.add(alert("flapping"), T0 + 40)
    [(_, message)] = flush_due(agg, T0 + 330)
    assert hosts(message) == [("web01", "firing"), ("web01", "flapping")]
    # The flapping report is gone; the alert itself still resolves normally.
    assert [e.notice.kind for e in next(iter(agg.groups.values())).entries.values()] == ["firing"]
    agg.add(alert("resolved"), T0 + 400)
    [(_, resolved)] = flush_due(agg, T0 + 630)
    assert hosts(resolved) == [("web01", "resolved")]


def test_group_by_every_label_and_routes_with_their_own_timers() -> None:
    agg = Aggregator(
        config('[[routes]]\nmatch = { kind = "run_*" }\nchannels = ["b"]\ngroup_by = ["..."]\ngroup_wait = 0\n')
    )
    agg.add(Notice(kind="run_failed", title="backup failed", rule="backup", key="run:1"), T0)
    agg.add(Notice(kind="run_failed", title="backup failed", rule="backup", key="run:2", host="db1"), T0)
    sent = flush_due(agg, T0)
    assert [c for c, _ in sent] == ["b", "b"]
    assert agg.groups == {}


def test_groups_survive_json_round_trip() -> None:
    agg = Aggregator(config())
    agg.add(alert(), T0)
    flush_due(agg, T0 + 30)
    agg.add(alert(host="web02"), T0 + 40)
    saved = [json.loads(json.dumps(g.to_json())) for g in agg.groups.values()]
    again = Aggregator(config())
    again.restore(Group.from_json(g) for g in saved)
    assert again.next_due() == agg.next_due() == T0 + 330
    [(_, message)] = flush_due(again, T0 + 330)
    assert message.reason == "update" and hosts(message) == [("web01", "firing"), ("web02", "firing")]


def test_notice_json_round_trip_and_fingerprint() -> None:
    n = Notice(kind="firing", title="t", labels={"mount": "/"}, host="h", rule="Disk", started=T0, url="u", time=T0)
    assert Notice.from_json(json.loads(json.dumps(n.to_json()))) == n
    assert (
        n.fingerprint
        == Notice(kind="resolved", title="other", labels={"mount": "/"}, host="h", rule="Disk").fingerprint
    )
    assert (
        n.fingerprint != Notice(kind="firing", title="t", labels={"mount": "/var"}, host="h", rule="Disk").fingerprint
    )
    assert n.all_labels() == {"alertname": "Disk", "host": "h", "severity": "warning", "mount": "/"}
    assert n.match_labels()["kind"] == "firing"


def run_events(exit_code: int) -> list[object]:
    return [
        RunStarted("r1", "backup", "db*", ("db1", "db2"), time=T0),
        Output("r1", "db1", "stdout", b"x"),
        HostFinished("r1", "db1", "ok", 0, 1.0),
        HostFinished("r1", "db2", "failed", 2, 1.0, error="exit status 2")
        if exit_code
        else Output("r1", "db2", "stdout", b""),
        RunFinished("r1", {"ok": 2 - bool(exit_code), "failed": int(bool(exit_code))}, exit_code, 3.5, time=T0 + 4),
    ]


def test_run_sink_reports_failures_and_optionally_every_finish() -> None:
    got: list[Notice] = []
    sink = RunNotifySink(got.append)
    for event in run_events(0):
        sink.handle(event)  # type: ignore[arg-type]
    assert got == []
    for event in run_events(1):
        sink.handle(event)  # type: ignore[arg-type]
    [failed] = got
    assert failed.kind == "run_failed" and failed.title == "backup failed on 2 hosts"
    assert "db2: failed: exit status 2" in failed.text and failed.key == "run:r1"
    assert failed.labels["task"] == "backup" and failed.labels["outcome"] == "failed"

    every: list[Notice] = []
    sink = RunNotifySink(every.append, on="finish")
    for event in run_events(0):
        sink.handle(event)  # type: ignore[arg-type]
    assert [n.kind for n in every] == ["run_finished"] and every[0].status == "resolved"

    fixes: list[Notice] = []
    sink = RunNotifySink(fixes.append, remediation=True, labels={"alertname": "DiskFull", "host": "db1"})
    for event in run_events(0):
        sink.handle(event)  # type: ignore[arg-type]
    assert fixes[0].kind == "remediation" and fixes[0].all_labels()["alertname"] == "DiskFull"
