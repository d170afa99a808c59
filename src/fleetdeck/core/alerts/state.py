"""The per-alert state machine and what it reports: events for transitions, records for the store.

One :class:`Instance` exists per rule and host (and mount, for filesystem rules) while its alert is pending
or firing. :meth:`Instance.step` is the whole machine: inactive → pending when the condition starts to
hold; pending → firing once it held for ``for`` (straight to firing when ``for`` is 0); pending →
inactive on a blip shorter than that; firing → resolved once the condition (widened by hysteresis) has
not held for ``keep_firing_for``. ``resolved`` is only an event: the instance is then dropped, i.e. back
to inactive. Events and records are frozen dataclasses so consumers (console, notifier, store) can
keep them without copying.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from fleetdeck.core.alerts.rules import Rule
from fleetdeck.core.alerts.schema import Severity
from fleetdeck.core.alerts.templates import render
from fleetdeck.core.errors import UsageError

AlertState = Literal["inactive", "pending", "firing", "resolved"]
ActiveState = Literal["pending", "firing"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1}


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds, for JSON output."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_key(rule: str, host: str, mount: str | None = None) -> str:
    """The stable identity of one alert: ``HighCPU@web01`` or ``RootDiskFull@web01:/``."""
    return f"{rule}@{host}" + (f":{mount}" if mount is not None else "")


def alert_labels(rule: Rule, host: str, mount: str | None) -> dict[str, str]:
    """Every label of an alert: ``alertname``, ``host``, ``severity``, ``mount`` if any, and the rule's own."""
    labels = {"alertname": rule.name, "host": host, "severity": rule.severity}
    if mount is not None:
        labels["mount"] = mount
    labels.update(rule.labels)
    return labels


def match_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels as silence matchers see them: ``rule`` is another name for ``alertname``."""
    return {**labels, "rule": labels.get("alertname", "")}


class UnknownAlertError(UsageError, KeyError):
    """No firing alert has the given key; the message lists the keys that are firing."""

    def __init__(self, key: str, firing: list[str]) -> None:
        self.key = key
        shown = ", ".join(firing[:10]) + (f" and {len(firing) - 10} more" if len(firing) > 10 else "")
        super().__init__(f'no firing alert "{key}"; firing now: {shown or "none"}')

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class AlertChanged:
    """An alert moved from ``old_state`` to ``new_state``.

    Attributes:
        rule: Rule name.
        host: Host name.
        key: :func:`alert_key` of the alert.
        mount: The filesystem for filesystem rules, else ``None``.
        old_state: State before.
        new_state: State after; ``resolved`` means it was firing and now is not (it is inactive again).
        value: The metric value that caused the change (``None`` for ``host_down`` or a vanished mount).
        severity: The rule's severity.
        labels: Every label (:func:`alert_labels`).
        annotations: The rule's annotations rendered for this host and value.
        since: When the new state was entered.
        active_since: When the condition started to hold (Alertmanager's ``startsAt`` is ``fired_at``).
        fired_at: When it started firing, if it did.
        silenced: A silence matched: the change must not be notified.
        acknowledged_by: Who acknowledged the firing alert, if anyone.
        flapping: The alert is flapping: this change must not be notified on its own.
        inhibited: The alert is inhibited (its host is not up, or ``inhibited_by`` fires): a start of firing
            is not notified.
        inhibited_by: The key of the firing alert that inhibits this one, if one does.

    ``old_state == new_state == "firing"`` is no transition: the alert was firing while inhibited, the alert
    that inhibited it is gone, and it is announced now as if it had just started firing.
    """

    rule: str
    host: str
    key: str
    mount: str | None
    old_state: AlertState
    new_state: AlertState
    value: float | None
    severity: Severity
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    since: float
    active_since: float
    fired_at: float | None
    silenced: bool = False
    acknowledged_by: str | None = None
    flapping: bool = False
    inhibited: bool = False
    inhibited_by: str | None = None

    @property
    def acknowledged(self) -> bool:
        """Whether someone acknowledged the alert."""
        return self.acknowledged_by is not None

    @property
    def notifies(self) -> bool:
        """Whether a notifier should send this: a start or end of firing, neither silenced nor flapping.

        A start of firing is not sent while the alert is inhibited. An end of firing is sent even then: a
        warning told before its critical started must still be closed, and a notifier drops the end of an
        alert whose start it never sent.
        """
        if self.silenced or self.flapping:
            return False
        if self.new_state == "firing":
            return not self.inhibited
        return self.old_state == "firing" and self.new_state == "resolved"


@dataclass(frozen=True, slots=True)
class AlertFlapping:
    """An alert started flapping (``flapping`` true) or settled (false); sent once each, instead of every flip.

    ``state`` is the alert's state at that moment (``inactive`` when it settled while not active).
    """

    rule: str
    host: str
    key: str
    mount: str | None
    state: AlertState
    severity: Severity
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    flapping: bool
    changes: int
    window_s: float
    since: float
    silenced: bool = False

    @property
    def notifies(self) -> bool:
        """Whether a notifier should send this notice."""
        return not self.silenced


AlertEvent = AlertChanged | AlertFlapping


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A pending or firing alert as stored and listed (``fleetdeck alerts``, the console's alert view)."""

    key: str
    rule: str
    host: str
    mount: str | None
    state: ActiveState
    severity: Severity
    value: float | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    since: float
    active_since: float
    fired_at: float | None = None
    silenced: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    flapping: bool = False
    inhibited: bool = False
    updated: float = 0.0
    inhibited_by: str | None = None

    @property
    def summary(self) -> str:
        """The ``summary`` annotation, else ``description``, else the rule name."""
        return self.annotations.get("summary") or self.annotations.get("description") or self.rule

    def sort_key(self) -> tuple[int, int, float, str]:
        """Firing before pending, critical before warning, oldest first."""
        return (0 if self.state == "firing" else 1, SEVERITY_ORDER.get(self.severity, 9), self.since, self.key)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601 UTC) for ``fleetdeck alerts --json``."""
        return {
            "key": self.key,
            "rule": self.rule,
            "host": self.host,
            "mount": self.mount,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "summary": self.summary,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "since": iso_time(self.since),
            "active_since": iso_time(self.active_since),
            "fired_at": iso_time(self.fired_at),
            "silenced": self.silenced,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": iso_time(self.acknowledged_at),
            "flapping": self.flapping,
            "inhibited": self.inhibited,
            "inhibited_by": self.inhibited_by,
        }


@dataclass(slots=True)
class Instance:
    """The live state of one alert; created when its condition first holds, dropped when it is inactive again.

    ``resume`` is set while the host is not up (the alert is inhibited): a pending alert then restarts its
    ``for`` clock on the first fresh sample, since nobody saw the condition hold in between.
    ``inhibited_by`` is the key of a firing alert whose rule ``inhibits`` this one's on the same host and
    mount; the alert then goes on changing state but is ``inhibited`` too, so its firing is not notified.
    ``unannounced`` says it started firing while inhibited: it is announced once nothing inhibits it.
    """

    rule: Rule
    host: str
    mount: str | None
    key: str
    active_since: float
    since: float
    state: AlertState = "inactive"
    value: float | None = None
    fired_at: float | None = None
    clear_since: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    silenced: bool = False
    flapping: bool = False
    inhibited: bool = False
    inhibited_by: str | None = None
    unannounced: bool = False
    resume: bool = False
    updated: float = 0.0

    def step(self, holds: bool, now: float) -> tuple[AlertState, AlertState] | None:
        """Advance the machine with whether the condition holds at ``now``; returns ``(old, new)`` on a change."""
        rule = self.rule
        if self.state == "inactive":
            if not holds:
                return None
            self.active_since = now
            return self._enter("firing" if rule.for_s <= 0 else "pending", now)
        if self.state == "pending":
            if not holds:
                return self._enter("inactive", now)
            if now - self.active_since >= rule.for_s:
                return self._enter("firing", now)
            return None
        if holds:
            self.clear_since = None
            return None
        if self.clear_since is None:
            self.clear_since = now
        if now - self.clear_since >= rule.keep_firing_for_s:
            return self._enter("resolved", now)
        return None

    def _enter(self, state: AlertState, now: float) -> tuple[AlertState, AlertState]:
        old = self.state
        self.state = state
        self.since = now
        self.clear_since = None
        if state == "firing":
            self.fired_at = now
        return old, state

    def labels(self) -> dict[str, str]:
        """Every label of this alert."""
        return alert_labels(self.rule, self.host, self.mount)

    def annotations(self) -> dict[str, str]:
        """The rule's annotations rendered with this alert's host, mount and value."""
        rule = self.rule
        return {
            key: render(
                text,
                host=self.host,
                value=self.value,
                rule=rule.name,
                mount=self.mount,
                severity=rule.severity,
                labels=rule.labels,
            )
            for key, text in rule.annotations.items()
        }

    def record(self) -> AlertRecord:
        """A frozen snapshot; only meaningful while pending or firing."""
        state: ActiveState = "firing" if self.state == "firing" else "pending"
        return AlertRecord(
            key=self.key,
            rule=self.rule.name,
            host=self.host,
            mount=self.mount,
            state=state,
            severity=self.rule.severity,
            value=self.value,
            labels=self.labels(),
            annotations=self.annotations(),
            since=self.since,
            active_since=self.active_since,
            fired_at=self.fired_at,
            silenced=self.silenced,
            acknowledged_by=self.acknowledged_by,
            acknowledged_at=self.acknowledged_at,
            flapping=self.flapping,
            inhibited=self.inhibited,
            updated=self.updated,
            inhibited_by=self.inhibited_by,
        )


@dataclass(slots=True)
class FlapTracker:
    """Recent firing/resolved changes of one alert key; outlives the instance so re-fires are counted."""

    rule: str
    host: str
    mount: str | None
    changes: deque[float] = field(default_factory=deque)
    flapping: bool = False

    def note(self, now: float, window_s: float, threshold: int) -> bool:
        """Count a change; returns True when this change starts flapping."""
        self.changes.append(now)
        self.prune(now, window_s)
        if not self.flapping and len(self.changes) >= threshold:
            self.flapping = True
            return True
        return False

    def prune(self, now: float, window_s: float) -> None:
        """Forget changes older than the window."""
        while self.changes and now - self.changes[0] > window_s:
            self.changes.popleft()

    def settles(self, now: float, window_s: float) -> bool:
        """True (once) when a flapping alert has had no change for a whole window."""
        if self.flapping and (not self.changes or now - self.changes[-1] >= window_s):
            self.flapping = False
            self.prune(now, window_s)
            return True
        return False

    def idle(self, now: float, window_s: float) -> bool:
        """Whether the tracker holds nothing worth keeping."""
        self.prune(now, window_s)
        return not self.flapping and not self.changes
