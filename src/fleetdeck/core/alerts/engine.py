"""The alert engine: every rule evaluated against each new health sample, one state machine per alert.

Feed it samples (:meth:`AlertEngine.evaluate`) and it returns the events they caused. Inhibition: while
a host is not ``up`` (stale or down) its metric alerts make no transitions at all, so a dead host pages
once, through ``host_down``, not once per metric; a pending alert restarts its ``for`` clock when fresh
numbers return. A firing alert also inhibits the alerts of the rules its rule ``inhibits`` on the same
host and mount (a critical rule names the warning rule about the same problem): those go on changing
state, marked ``inhibited_by`` it, and their start of firing is not notified; once nothing inhibits a
firing alert whose start was not told, a ``firing -> firing`` change announces it. A missing value (a
source's first sample has no rates, a host without swap) is no evidence either way and changes nothing
either. Flapping: once an alert has started or stopped firing ``changes`` times within the window it is
marked flapping, one :class:`AlertFlapping` notice goes out and its transitions are flagged not to be
notified, until a whole window passes without a change. Silences and acknowledgements only mark alerts;
time comes from the caller so tests use a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fleetdeck.core.alerts.rules import AlertsConfig, Rule
from fleetdeck.core.alerts.silences import Silence, is_silenced
from fleetdeck.core.alerts.state import (
    AlertChanged,
    AlertEvent,
    AlertFlapping,
    AlertRecord,
    AlertState,
    FlapTracker,
    Instance,
    UnknownAlertError,
    alert_key,
    match_labels,
)
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.selector import SelectorError, select

if TYPE_CHECKING:
    from fleetdeck.core.inventory import Inventory


@dataclass(frozen=True, slots=True)
class _Named:
    """A host known only by name, for rules with selectors when no inventory is at hand."""

    name: str
    groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class AlertEngine:
    """Evaluates rules on samples and keeps every pending and firing alert.

    Not thread-safe: call it from one thread (the event loop that receives samples).
    """

    def __init__(self, config: AlertsConfig, inventory: Inventory | None = None) -> None:
        """Start with no alerts; use :meth:`restore` to continue from stored ones."""
        self.config = config
        self.inventory = inventory
        self.silences: list[Silence] = []
        self._instances: dict[str, Instance] = {}
        self._groups: dict[tuple[str, str], dict[str | None, Instance]] = {}
        self._alerting: dict[str, int] = {}
        """How many alerts each host has; a host without any takes the quick way through `evaluate`."""
        self._flaps: dict[str, FlapTracker] = {}
        self._host_rules: dict[str, tuple[Rule, ...]] = {}
        self._selected: dict[str, frozenset[str]] = {}
        self._last: dict[str, HealthSample] = {}

    # -- evaluation ----------------------------------------------------------------------------------------------

    def evaluate(self, sample: HealthSample, now: float | None = None) -> list[AlertEvent]:
        """Run every rule that applies to the sample's host; returns the transitions and flapping notices."""
        now = time.time() if now is None else now
        events: list[AlertEvent] = []
        host = sample.host
        self._last[host] = sample
        if not self._alerting.get(host) and not _any_holds(self.rules_for(host), sample):
            # A healthy host, the common case: no alert to move, none to start, nothing to inhibit.
            return self._settle(host, now) if self._flaps else events
        active = False  # whether any of the host's alerts exists or was looked at: with none, nothing to inhibit
        for rule in self.rules_for(host):
            condition = rule.condition
            group = self._groups.get((rule.name, host), {})
            if condition.is_host_down:
                down = sample.status == "down"
                if group or down:  # with no alert yet and nothing holding, `_observe` would do nothing
                    active = True
                    self._observe(rule, host, None, None, now, events, holds=down)
                continue
            if sample.status != "up":
                for inst in group.values():
                    inst.inhibited = inst.resume = True
                    inst.updated = now
                active = active or bool(group)
                continue
            for inst in group.values():
                inst.inhibited = inst.inhibited_by is not None
            if not condition.is_filesystem:
                value = condition.host_value(sample)
                # The common case on a healthy fleet, decided without building the alert's key: no alert yet and
                # the condition does not hold (what `_observe` would find, the long way).
                if value is not None and (group or rule.holds(value, False)):
                    active = True
                    self._observe(rule, host, None, value, now, events)
                continue
            if not sample.filesystems:
                active = active or bool(group)
                continue  # no filesystem report yet: nothing is known
            covered = condition.filesystems(sample)
            for fs in covered:
                value = condition.fs_value(fs)
                if value is not None and (fs.mount in group or rule.holds(value, False)):
                    active = True
                    self._observe(rule, host, fs.mount, value, now, events)
            if group:
                active = True
                mounts = {fs.mount for fs in covered}
                for mount in [m for m in group if m not in mounts]:
                    # The filesystem was unmounted (or no longer matches): its alert has nothing left to hold on to.
                    self._observe(rule, host, mount, None, now, events, holds=False)
        if active:
            self._inhibit(host, sample.status != "up", now, events)
        if self._flaps:
            events.extend(self._settle(host, now))
        return events

    def _inhibit(self, host: str, held: bool, now: float, events: list[AlertEvent]) -> None:
        """Mark the host's alerts that a firing alert inhibits, once every rule has seen the sample.

        Doing it last means alerts that start firing in one sample inhibit each other whatever the order of
        their rules. This sample's changes are given the final marks; an alert whose start of firing was not
        told and that nothing inhibits any more is announced with a ``firing -> firing`` change.
        """
        alerts = [inst for rule in self.rules_for(host) for inst in self._groups.get((rule.name, host), {}).values()]
        sources: dict[tuple[str, str | None], str] = {}
        for inst in alerts:
            if inst.state == "firing":
                for target in inst.rule.inhibits:
                    sources.setdefault((target, inst.mount), inst.key)
        if not sources and not any(inst.inhibited_by or inst.unannounced for inst in alerts):
            return  # the common case: no inhibiting rule fires on this host, and none did
        changed = {e.key: i for i, e in enumerate(events) if isinstance(e, AlertChanged)}
        for inst in alerts:
            inst.inhibited_by = sources.get((inst.rule.name, inst.mount))
            inst.inhibited = inst.inhibited_by is not None or (held and not inst.rule.condition.is_host_down)
            at = changed.get(inst.key)
            if at is not None:
                event = events[at]
                assert isinstance(event, AlertChanged)
                events[at] = replace(event, inhibited=inst.inhibited, inhibited_by=inst.inhibited_by)
                if event.new_state == "firing":
                    inst.unannounced = inst.inhibited
            elif inst.unannounced and inst.state == "firing" and not inst.inhibited:
                inst.unannounced = False
                inst.silenced = is_silenced(match_labels(inst.labels()), self.silences, now)
                events.append(replace(self._changed(inst, "firing", "firing", now), since=inst.since))

    def tick(self, now: float | None = None) -> list[AlertEvent]:
        """Re-evaluate the last sample of every host that is not up, so their clocks advance between samples.

        A down host is only re-reported at its reconnect backoff (up to a minute apart), so without this a
        ``host_down`` rule's ``for`` would be measured in reconnect attempts; call it every few seconds.
        """
        now = time.time() if now is None else now
        events: list[AlertEvent] = []
        for last in [s for s in self._last.values() if s.status != "up"]:
            events.extend(self.evaluate(last, now))
        return events

    def _observe(
        self,
        rule: Rule,
        host: str,
        mount: str | None,
        value: float | None,
        now: float,
        events: list[AlertEvent],
        *,
        holds: bool | None = None,
    ) -> None:
        """Feed one observation to one alert's state machine, creating the instance when the condition starts."""
        key = alert_key(rule.name, host, mount)
        inst = self._instances.get(key)
        firing = inst is not None and inst.state == "firing"
        if holds is None:
            holds = value is not None and rule.holds(value, firing)
        if inst is None:
            if not holds:
                return
            inst = Instance(rule, host, mount, key, active_since=now, since=now)
            self._add(inst)
        if inst.resume:
            inst.resume = False
            if inst.state == "pending" and holds:
                inst.active_since = now
        inst.value = value
        inst.updated = now
        inst.silenced = is_silenced(match_labels(inst.labels()), self.silences, now)
        change = inst.step(holds, now)
        if change is None:
            return
        old, new = change
        started = False
        if new in ("firing", "resolved"):
            tracker = self._flaps.get(key)
            if tracker is None:
                tracker = self._flaps[key] = FlapTracker(rule.name, host, mount)
            flap = self.config.flapping
            started = tracker.note(now, flap.window_s, flap.changes)
            inst.flapping = tracker.flapping
        events.append(self._changed(inst, old, new, now))
        if started:
            events.append(self._flapping(inst, "inactive" if new == "resolved" else new, True, now))
        if new in ("inactive", "resolved"):
            self._remove(inst)

    def _settle(self, host: str, now: float) -> list[AlertEvent]:
        """Flapping notices for the host's alerts that have been quiet for a whole window."""
        window = self.config.flapping.window_s
        events: list[AlertEvent] = []
        for key, tracker in list(self._flaps.items()):
            if tracker.host != host:
                continue
            if tracker.settles(now, window):
                inst = self._instances.get(key)
                if inst is not None:
                    inst.flapping = False
                    events.append(self._flapping(inst, inst.state, False, now))
                else:
                    rule = self.config.rule(tracker.rule)
                    if rule is not None:
                        ghost = Instance(rule, host, tracker.mount, key, active_since=now, since=now)
                        events.append(self._flapping(ghost, "inactive", False, now))
            elif tracker.idle(now, window):
                del self._flaps[key]
        return events

    def _changed(self, inst: Instance, old: AlertState, new: AlertState, now: float) -> AlertChanged:
        return AlertChanged(
            rule=inst.rule.name,
            host=inst.host,
            key=inst.key,
            mount=inst.mount,
            old_state=old,
            new_state=new,
            value=inst.value,
            severity=inst.rule.severity,
            labels=inst.labels(),
            annotations=inst.annotations(),
            since=now,
            active_since=inst.active_since,
            fired_at=inst.fired_at,
            silenced=inst.silenced,
            acknowledged_by=inst.acknowledged_by,
            flapping=inst.flapping,
            inhibited=inst.inhibited,
            inhibited_by=inst.inhibited_by,
        )

    def _flapping(self, inst: Instance, state: AlertState, flapping: bool, now: float) -> AlertFlapping:
        tracker = self._flaps.get(inst.key)
        labels = inst.labels()
        return AlertFlapping(
            rule=inst.rule.name,
            host=inst.host,
            key=inst.key,
            mount=inst.mount,
            state=state,
            severity=inst.rule.severity,
            labels=labels,
            annotations=inst.annotations(),
            flapping=flapping,
            changes=len(tracker.changes) if tracker is not None else 0,
            window_s=self.config.flapping.window_s,
            since=now,
            silenced=is_silenced(match_labels(labels), self.silences, now),
        )

    # -- bookkeeping ---------------------------------------------------------------------------------------------

    def _add(self, inst: Instance) -> None:
        if inst.key not in self._instances:
            self._alerting[inst.host] = self._alerting.get(inst.host, 0) + 1
        self._instances[inst.key] = inst
        self._groups.setdefault((inst.rule.name, inst.host), {})[inst.mount] = inst

    def _remove(self, inst: Instance) -> None:
        if self._instances.pop(inst.key, None) is not None:
            left = self._alerting[inst.host] - 1
            if left:
                self._alerting[inst.host] = left
            else:
                del self._alerting[inst.host]
        group = self._groups.get((inst.rule.name, inst.host))
        if group is not None:
            group.pop(inst.mount, None)
            if not group:
                del self._groups[(inst.rule.name, inst.host)]

    def rules_for(self, host: str) -> tuple[Rule, ...]:
        """The rules whose ``hosts`` selector covers ``host`` (cached until :meth:`reload`)."""
        rules = self._host_rules.get(host)
        if rules is None:
            rules = self._host_rules[host] = tuple(r for r in self.config.rules if self._applies(r, host))
        return rules

    def _applies(self, rule: Rule, host: str) -> bool:
        if rule.hosts is None:
            return True
        if self.inventory is None:
            try:
                return bool(select(rule.hosts, [_Named(host)], ()))
            except SelectorError:
                return False
        selected = self._selected.get(rule.name)
        if selected is None:
            try:
                selected = frozenset(h.name for h in self.inventory.select(rule.hosts))
            except SelectorError:
                selected = frozenset()
            self._selected[rule.name] = selected
        return host in selected

    # -- reading and steering ------------------------------------------------------------------------------------

    def records(self) -> list[AlertRecord]:
        """Every pending and firing alert, firing and critical first."""
        return sorted((inst.record() for inst in self._instances.values()), key=AlertRecord.sort_key)

    def get(self, key: str) -> AlertRecord | None:
        """The alert with ``key`` if it is pending or firing."""
        inst = self._instances.get(key)
        return inst.record() if inst is not None else None

    def acknowledge(self, key: str, by: str, now: float | None = None) -> AlertRecord:
        """Mark a firing alert as acknowledged by ``by`` (until it resolves).

        Raises:
            UnknownAlertError: when no firing alert has that key.
        """
        inst = self._instances.get(key)
        if inst is None or inst.state != "firing":
            raise UnknownAlertError(key, [i.key for i in self._instances.values() if i.state == "firing"])
        inst.acknowledged_by = by
        inst.acknowledged_at = time.time() if now is None else now
        return inst.record()

    def sync(self, silences: Sequence[Silence], records: Iterable[AlertRecord] = ()) -> None:
        """Take silences and acknowledgements made elsewhere (another process, via the store).

        An acknowledgement applies only to the same firing episode (same ``fired_at``), so one given to an
        earlier episode never carries over to a new one.
        """
        self.silences = list(silences)
        for rec in records:
            inst = self._instances.get(rec.key)
            if inst is not None and inst.state == "firing" and rec.acknowledged_by and rec.fired_at == inst.fired_at:
                inst.acknowledged_by = rec.acknowledged_by
                inst.acknowledged_at = rec.acknowledged_at

    def restore(self, records: Iterable[AlertRecord], now: float | None = None) -> list[AlertEvent]:
        """Continue from stored alerts (after a restart).

        Pending alerts restart their ``for`` clock on the next sample; nobody watched in between. Stored
        alerts whose rule is gone or no longer covers the host are dropped, and the firing ones among them
        are returned as ``resolved`` events so receivers hear the end of them.
        """
        now = time.time() if now is None else now
        events: list[AlertEvent] = []
        for rec in records:
            rule = self.config.rule(rec.rule)
            if rule is None or not self._fits(rule, rec.host, rec.mount):
                if rec.state == "firing":
                    events.append(_resolved_from_record(rec, now, self.silences))
                continue
            inst = Instance(
                rule,
                rec.host,
                rec.mount,
                rec.key,
                active_since=rec.active_since,
                since=rec.since,
                state=rec.state,
                value=rec.value,
                fired_at=rec.fired_at,
                acknowledged_by=rec.acknowledged_by,
                acknowledged_at=rec.acknowledged_at,
                inhibited=rec.inhibited,
                inhibited_by=rec.inhibited_by,
                # Whether its start was told is not stored: owe it, a notifier does not repeat what it sent.
                unannounced=rec.state == "firing" and rec.inhibited_by is not None,
                resume=True,
                updated=rec.updated,
            )
            self._add(inst)
        return events

    def reload(
        self, config: AlertsConfig, inventory: Inventory | None = None, now: float | None = None
    ) -> list[AlertEvent]:
        """Switch to new rules (a config reload); alerts keep their state when their rule keeps its name.

        Alerts whose rule is gone or no longer covers the host end here: firing ones as ``resolved``,
        pending ones as ``inactive``. The others follow the new rule from the next sample on.
        """
        now = time.time() if now is None else now
        self.config = config
        if inventory is not None:
            self.inventory = inventory
        self._host_rules.clear()
        self._selected.clear()
        events: list[AlertEvent] = []
        for inst in list(self._instances.values()):
            rule = config.rule(inst.rule.name)
            if rule is not None and self._fits(rule, inst.host, inst.mount):
                inst.rule = rule
                continue
            old = inst.state
            new: AlertState = "resolved" if old == "firing" else "inactive"
            inst.state = new
            events.append(self._changed(inst, old, new, now))
            self._remove(inst)
        return events

    def _fits(self, rule: Rule, host: str, mount: str | None) -> bool:
        """Whether an alert of ``host``/``mount`` still belongs to ``rule``."""
        return (mount is not None) == rule.condition.is_filesystem and self._applies(rule, host)


def _resolved_from_record(rec: AlertRecord, now: float, silences: Sequence[Silence]) -> AlertChanged:
    return AlertChanged(
        rule=rec.rule,
        host=rec.host,
        key=rec.key,
        mount=rec.mount,
        old_state="firing",
        new_state="resolved",
        value=rec.value,
        severity=rec.severity,
        labels=rec.labels,
        annotations=rec.annotations,
        since=now,
        active_since=rec.active_since,
        fired_at=rec.fired_at,
        silenced=is_silenced(match_labels(rec.labels), silences, now),
        acknowledged_by=rec.acknowledged_by,
        inhibited=rec.inhibited,
        inhibited_by=rec.inhibited_by,
    )


def _any_holds(rules: Sequence[Rule], sample: HealthSample) -> bool:
    """Whether any rule's condition holds on ``sample`` for an alert that does not exist yet."""
    up = sample.status == "up"
    for rule in rules:
        condition = rule.condition
        if condition.is_host_down:
            if sample.status == "down":
                return True
        elif not up:
            continue  # a stale or down host's metrics start nothing
        elif not condition.is_filesystem:
            value = condition.host_value(sample)
            if value is not None and rule.holds(value, False):
                return True
        else:
            for fs in condition.filesystems(sample):
                value = condition.fs_value(fs)
                if value is not None and rule.holds(value, False):
                    return True
    return False
