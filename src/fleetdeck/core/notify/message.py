"""One notification for one channel, before it is shaped for that channel's API.

A :class:`Message` is what the outbox stores: a group's notices at the moment the group was flushed (or a
digest folding several such messages while a channel was throttled), with no URL, token or signature in it.
Channels render it into their own payload at send time, so a message written by one version of a channel's
format is still deliverable after the format or the secrets change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetdeck.core.notify.notice import Notice, Status

Reason = Literal["new", "update", "repeat", "digest"]
"""Why a message was made: a new group, a change in a group, a repeat of an unchanged group, a digest."""


def common_items(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The key/value pairs every mapping shares (Alertmanager's ``commonLabels``)."""
    if not maps:
        return {}
    first, rest = maps[0], maps[1:]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


@dataclass(frozen=True, slots=True)
class Message:
    """The notices of one group (or a digest of several groups) to send to one channel.

    Attributes:
        group_key: Identifies the group across notifications (Alertmanager's ``groupKey``).
        group_labels: The label values the group was formed from.
        notices: What to tell, oldest first.
        reason: Why the message exists.
        created: When it was made (epoch seconds).
        parts: For a digest, the messages it folds, in the order they were queued.
    """

    group_key: str
    group_labels: Mapping[str, str]
    notices: tuple[Notice, ...]
    reason: Reason
    created: float
    parts: tuple[Message, ...] = field(default=())

    @property
    def status(self) -> Status:
        """``firing`` when any notice wants attention, else ``resolved``."""
        return "firing" if any(n.status == "firing" for n in self.notices) else "resolved"

    @property
    def is_digest(self) -> bool:
        """Whether this message folds several queued messages into one."""
        return bool(self.parts)

    def common_labels(self) -> dict[str, str]:
        """Labels every notice shares."""
        return common_items([n.all_labels() for n in self.notices])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the outbox); a digest nests its parts."""
        return {
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "notices": [n.to_json() for n in self.notices],
            "reason": self.reason,
            "created": self.created,
            "parts": [p.to_json() for p in self.parts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """The inverse of :meth:`to_json`."""
        return cls(
            group_key=str(data["group_key"]),
            group_labels={str(k): str(v) for k, v in (data.get("group_labels") or {}).items()},
            notices=tuple(Notice.from_json(n) for n in data.get("notices") or ()),
            reason=data.get("reason", "new"),
            created=float(data.get("created") or 0.0),
            parts=tuple(cls.from_json(p) for p in data.get("parts") or ()),
        )


def fold(messages: Iterable[Message], now: float) -> Message:
    """One digest of several queued messages; digests among them are flattened into their parts.

    The digest's notices are every part's notices, the newest state of each fingerprint winning, so a
    receiver that reads only ``notices`` (the generic webhook) still sees each alert once and current.
    """
    parts: list[Message] = []
    for message in messages:
        parts.extend(message.parts if message.is_digest else (message,))
    latest: dict[tuple[str, str], Notice] = {}
    for part in parts:
        for notice in part.notices:
            ident = (notice.fingerprint, "alert" if not notice.one_shot else notice.kind)
            previous = latest.get(ident)
            if previous is None or notice.time >= previous.time:
                latest.pop(ident, None)  # re-insert so the order follows the newest state
                latest[ident] = notice
    keys = sorted({p.group_key for p in parts})
    return Message(
        group_key="digest:" + ",".join(keys),
        group_labels=common_items([p.group_labels for p in parts]),
        notices=tuple(latest.values()),
        reason="digest",
        created=now,
        parts=tuple(parts),
    )
