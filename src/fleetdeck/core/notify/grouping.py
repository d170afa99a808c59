"""Routing and grouping, Alertmanager's dispatcher in small: which channels hear about a notice, and when.

Each notice is routed by its labels; on each route it joins the group named by the route's ``group_by`` label
values. A new group is told after ``group_wait`` (so a burst of alerts arrives as one message), changes to a
group already told wait for ``group_interval``, and an unchanged group whose alerts still fire is told again
every ``repeat_interval``. A resolved alert is told once (when ``send_resolved``) and leaves the group; one-shot
reports (flapping, runs, remediation) are told once; an alert that fired and resolved before its group was ever
told is dropped silently, as Alertmanager does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetdeck.core.notify.config import ChannelConfig, NotifyConfig, Route
from fleetdeck.core.notify.message import Message, Reason
from fleetdeck.core.notify.notice import Notice

ALL_LABELS = "..."
"""A ``group_by`` entry meaning every label, so each distinct alert is a group of its own."""


def entry_key(notice: Notice) -> str:
    """Where a notice lives in its group: alert states by fingerprint; each kind of report separately."""
    return notice.fingerprint if not notice.one_shot else f"{notice.fingerprint}#{notice.kind}"


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The label values the route groups by (every label for ``...``)."""
    if ALL_LABELS in route.group_by:
        return dict(sorted(labels.items()))
    return {name: labels.get(name, "") for name in route.group_by}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """A readable, stable key: ``route:{alertname="HighCPU", host="web01"}``."""
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels.items())
    return f"{route.id}:{{{inner}}}"


@dataclass(slots=True)
class Entry:
    """The newest notice about one thing in a group, and what has been told about it."""

    notice: Notice
    notified: bool = False
    firing_notified: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"notice": self.notice.to_json(), "notified": self.notified, "firing_notified": self.firing_notified}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """The inverse of :meth:`to_json`."""
        return cls(Notice.from_json(data["notice"]), bool(data["notified"]), bool(data["firing_notified"]))


@dataclass(slots=True)
class Group:
    """The notices one route gathers under one set of group label values, with the group's timers.

    The route's channels and timings are copied in when the group starts, so a group outlives a config
    reload as it was begun.
    """

    key: str
    route_id: str
    channels: tuple[str, ...]
    labels: dict[str, str]
    group_wait: float
    group_interval: float
    repeat_interval: float
    send_resolved: bool
    created: float
    next_flush: float | None
    last_notified: float | None = None
    entries: dict[str, Entry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the outbox database)."""
        return {
            "key": self.key,
            "route_id": self.route_id,
            "channels": list(self.channels),
            "labels": self.labels,
            "group_wait": self.group_wait,
            "group_interval": self.group_interval,
            "repeat_interval": self.repeat_interval,
            "send_resolved": self.send_resolved,
            "created": self.created,
            "next_flush": self.next_flush,
            "last_notified": self.last_notified,
            "entries": {k: e.to_json() for k, e in self.entries.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Group:
        """The inverse of :meth:`to_json`."""
        return cls(
            key=data["key"],
            route_id=data["route_id"],
            channels=tuple(data["channels"]),
            labels=dict(data["labels"]),
            group_wait=float(data["group_wait"]),
            group_interval=float(data["group_interval"]),
            repeat_interval=float(data["repeat_interval"]),
            send_resolved=bool(data["send_resolved"]),
            created=float(data["created"]),
            next_flush=data["next_flush"],
            last_notified=data["last_notified"],
            entries={k: Entry.from_json(e) for k, e in data["entries"].items()},
        )

    def has_news(self) -> bool:
        """Whether some notice in the group has not been told yet."""
        return any(not e.notified for e in self.entries.values())

    def message_for(self, send_resolved: bool, now: float) -> Message | None:
        """What to tell one channel now, or ``None`` when it has nothing new and no repeat is due."""
        included: list[Notice] = []
        changed = firing = False
        for entry in self.entries.values():
            notice = entry.notice
            if notice.kind == "firing":
                included.append(notice)
                changed = changed or not entry.notified
                firing = True
            elif notice.kind == "resolved":
                if send_resolved and entry.firing_notified and not entry.notified:
                    included.append(notice)
                    changed = True
            elif not entry.notified:
                included.append(notice)
                changed = True
        repeat = (
            not changed
            and firing
            and self.last_notified is not None
            and now >= self.last_notified + self.repeat_interval
        )
        if not (changed or repeat):
            return None
        reason: Reason = "new" if self.last_notified is None else ("update" if changed else "repeat")
        included.sort(key=lambda n: n.time)
        return Message(self.key, dict(self.labels), tuple(included), reason, now)


class Aggregator:
    """Every live group, keyed by group key.

    Pure bookkeeping: the caller supplies the time and persists the groups each call touches, so the timers
    are tested without sleeping and a restart resumes them where they were.
    """

    def __init__(self, config: NotifyConfig) -> None:
        self.config = config
        self.groups: dict[str, Group] = {}

    def restore(self, groups: Iterable[Group]) -> None:
        """Take back groups saved before a restart."""
        for group in groups:
            self.groups[group.key] = group

    def add(self, notice: Notice, now: float) -> list[Group]:
        """Route a notice into its groups; returns the groups it changed (to persist)."""
        touched: list[Group] = []
        all_labels = notice.all_labels()
        for route in self.config.select_routes(notice.match_labels()):
            if not route.channels:
                continue
            labels = group_labels(route, all_labels)
            key = group_key(route, labels)
            group = self.groups.get(key)
            entry = group.entries.get(entry_key(notice)) if group is not None else None
            if notice.kind == "resolved" and entry is None:
                continue  # never told as firing here: nothing to resolve
            if group is None:
                group = Group(
                    key=key,
                    route_id=route.id,
                    channels=route.channels,
                    labels=labels,
                    group_wait=route.group_wait,
                    group_interval=route.group_interval,
                    repeat_interval=route.repeat_interval,
                    send_resolved=route.send_resolved,
                    created=now,
                    next_flush=now + route.group_wait,
                )
                self.groups[key] = group
            if entry is None:
                group.entries[entry_key(notice)] = Entry(notice)
            else:
                if entry.notice.kind != notice.kind:
                    entry.notified = False
                entry.notice = notice
            if group.last_notified is not None and group.has_news():
                soon = max(now, group.last_notified + group.group_interval)
                group.next_flush = soon if group.next_flush is None else min(group.next_flush, soon)
            touched.append(group)
        return touched

    def due(self, now: float) -> list[Group]:
        """Groups whose timer has come, oldest timer first."""
        ready = [g for g in self.groups.values() if g.next_flush is not None and g.next_flush <= now]
        return sorted(ready, key=lambda g: (g.next_flush or 0.0, g.key))

    def next_due(self) -> float | None:
        """When the next group timer fires, if any."""
        times = [g.next_flush for g in self.groups.values() if g.next_flush is not None]
        return min(times) if times else None

    def flush(self, group: Group, now: float, channels: Mapping[str, ChannelConfig]) -> list[tuple[str, Message]]:
        """Make the group's messages (one per channel with something to say) and advance its state.

        Afterwards the group either is gone from :attr:`groups` (nothing left firing) or waits for its
        repeat; the caller saves or deletes it together with the returned outbox items.
        """
        items: list[tuple[str, Message]] = []
        for name in group.channels:
            channel = channels.get(name)
            send_resolved = group.send_resolved
            if channel is not None and channel.send_resolved is not None:
                send_resolved = channel.send_resolved
            message = group.message_for(send_resolved, now)
            if message is not None:
                items.append((name, message))
        if items:
            group.last_notified = now
        for key, entry in list(group.entries.items()):
            if entry.notice.kind == "firing":
                entry.notified = True
                entry.firing_notified = entry.firing_notified or bool(items)
            else:
                del group.entries[key]
        if not group.entries:
            del self.groups[group.key]
            group.next_flush = None
        else:
            group.next_flush = (group.last_notified or now) + group.repeat_interval
        return items
