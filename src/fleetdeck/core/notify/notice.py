"""What the notifier is asked to deliver: a :class:`Notice`, independent of who produced it.

Alert rules, task runs and remediation all speak to the notifier through this one frozen value, so the
notifier never imports their code. A notice has a kind (an alert firing or resolved, a flapping report, a run
that failed or finished, a remediation report), words for people (title, text), labels for routing and
grouping, and a fingerprint that identifies the thing it is about across notices: the firing and the resolved
notice of one alert share it. Notices round-trip through JSON because the outbox stores them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

NoticeKind = Literal["firing", "resolved", "flapping", "run_failed", "run_finished", "remediation"]
"""What happened: an alert's state, a flapping report, a run's end, a remediation report."""

Status = Literal["firing", "resolved"]
"""The two states an Alertmanager receiver knows."""

NOTICE_KINDS: Final[tuple[NoticeKind, ...]] = get_args(NoticeKind)

ALERT_KINDS: Final[frozenset[NoticeKind]] = frozenset({"firing", "resolved"})
"""Kinds that describe an alert's ongoing state; every other kind is a one-shot report."""

KIND_LABEL: Final = "kind"
"""The pseudo-label routes can match on (``match = { kind = "run_*" }``); it is not sent as a label."""

ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` for an alert that has not ended."""


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in mapping.items()})


def rfc3339(epoch: float | None) -> str:
    """Epoch seconds as RFC 3339 UTC (``2024-05-01T12:00:00.123Z``); ``None`` is Alertmanager's zero time."""
    if epoch is None:
        return ZERO_TIME
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell people about; the notifier routes, groups and delivers it.

    Attributes:
        kind: What happened (see :data:`NoticeKind`).
        title: One line for people (``High CPU on web01``).
        text: More detail; may span lines.
        severity: ``info``, ``warning`` or ``critical`` (free text; routes may match it).
        labels: Identifying labels; routes match them and groups are formed from them.
        annotations: Descriptive extras (``summary``, ``runbook_url``); never used for routing.
        host: The host concerned, if one.
        rule: The alert rule or task name.
        started: When the condition began (epoch seconds).
        ended: When it ended (resolved alerts, finished runs).
        key: The fingerprint of the thing this is about; derived from rule, host and labels when empty.
        url: A link for people (the console, a runbook, Prometheus).
        time: When the notice was made.
    """

    kind: NoticeKind
    title: str
    text: str = ""
    severity: str = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    host: str = ""
    rule: str = ""
    started: float | None = None
    ended: float | None = None
    key: str = ""
    url: str = ""
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"unknown notice kind {self.kind!r}; expected one of {', '.join(NOTICE_KINDS)}")
        # Copies, so a caller mutating its dict later cannot change a notice already queued.
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "annotations", _frozen(self.annotations))

    @property
    def fingerprint(self) -> str:
        """The stable identity of what this notice is about (``key``, else a hash of rule, host, labels)."""
        if self.key:
            return self.key
        ident = json.dumps([self.rule, self.host, sorted(self.labels.items())], ensure_ascii=False)
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    @property
    def status(self) -> Status:
        """``resolved`` for a resolved alert or a finished run, ``firing`` for everything that wants attention."""
        return "resolved" if self.kind in ("resolved", "run_finished") else "firing"

    @property
    def one_shot(self) -> bool:
        """Reports (flapping, runs, remediation) are told once; alert states are re-sent while they last."""
        return self.kind not in ALERT_KINDS

    def all_labels(self) -> dict[str, str]:
        """The labels as receivers see them: ``alertname``, ``host`` and ``severity`` filled in when not given.

        One-shot reports also carry their ``kind``, since their status alone does not say what they are.
        """
        out: dict[str, str] = {}
        for name, value in (("alertname", self.rule or self.title), ("host", self.host), ("severity", self.severity)):
            if value:
                out[name] = value
        if self.one_shot:
            out[KIND_LABEL] = self.kind
        out.update(self.labels)
        return out

    def match_labels(self) -> dict[str, str]:
        """What routes match against: :meth:`all_labels` plus the ``kind`` pseudo-label."""
        return {KIND_LABEL: self.kind, **self.all_labels()}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the outbox)."""
        return {
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "host": self.host,
            "rule": self.rule,
            "started": self.started,
            "ended": self.ended,
            "key": self.key,
            "url": self.url,
            "time": self.time,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notice:
        """The inverse of :meth:`to_json`."""
        return cls(
            kind=data["kind"],
            title=str(data.get("title", "")),
            text=str(data.get("text", "")),
            severity=str(data.get("severity", "warning")),
            labels=dict(data.get("labels") or {}),
            annotations=dict(data.get("annotations") or {}),
            host=str(data.get("host", "")),
            rule=str(data.get("rule", "")),
            started=data.get("started"),
            ended=data.get("ended"),
            key=str(data.get("key", "")),
            url=str(data.get("url", "")),
            time=float(data.get("time") or 0.0),
        )
