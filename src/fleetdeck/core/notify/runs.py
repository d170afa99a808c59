"""Task runs as notices: a run sink that tells the notifier when a run fails or finishes.

:class:`RunNotifySink` is an ordinary run sink (see :mod:`fleetdeck.core.runner.events`): it remembers the
run's start and which hosts did not end ``ok``, and on ``RunFinished`` hands one :class:`Notice` to a callback
(normally :meth:`Notifier.submit`). ``on="failure"`` reports only failed, halted or cancelled runs;
``on="finish"`` reports every run. A remediation run is reported as ``remediation`` whatever its outcome,
carrying the alert's labels so it is routed to the alert's channels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from fleetdeck.core.notify.notice import Notice, NoticeKind
from fleetdeck.core.runner.events import HostFinished, RunEvent, RunFinished, RunStarted

NotifyOn = Literal["failure", "finish"]

_MAX_HOSTS_NAMED = 10


def run_failed(finished: RunFinished) -> bool:
    """A run counts as failed when its exit code is not 0 or it was halted or cancelled."""
    return finished.exit_code != 0 or finished.halted or finished.cancelled


def run_notice(
    started: RunStarted,
    finished: RunFinished,
    *,
    failed_hosts: Mapping[str, str] | None = None,
    remediation: bool = False,
    labels: Mapping[str, str] | None = None,
    url: str = "",
) -> Notice:
    """The notice for a finished run: what ran where, the per-status counts, and which hosts failed how."""
    failed = run_failed(finished)
    kind: NoticeKind = "remediation" if remediation else ("run_failed" if failed else "run_finished")
    outcome = "cancelled" if finished.cancelled else "halted" if finished.halted else "failed" if failed else "ok"
    hosts = started.hosts
    where = hosts[0] if len(hosts) == 1 else f"{len(hosts)} hosts"
    verb = {"ok": "finished", "failed": "failed", "halted": "halted", "cancelled": "was cancelled"}[outcome]
    title = f"{'Remediation ' if remediation else ''}{started.task} {verb} on {where}"
    counts = ", ".join(f"{status} {n}" for status, n in sorted(finished.counts.items()) if n)
    lines = [f"run {started.run_id}: {counts or 'no hosts'} in {finished.duration_s:.1f}s (exit {finished.exit_code})"]
    if started.reason:
        lines.append(f"reason: {started.reason}")
    for host, why in list((failed_hosts or {}).items())[:_MAX_HOSTS_NAMED]:
        lines.append(f"{host}: {why}")
    more = len(failed_hosts or {}) - _MAX_HOSTS_NAMED
    if more > 0:
        lines.append(f"... and {more} more hosts")
    run_labels = {
        "task": started.task,
        "run_id": started.run_id,
        "outcome": outcome,
        "automatic": "true" if started.automatic else "false",
        **(labels or {}),
    }
    return Notice(
        kind=kind,
        title=title,
        text="\n".join(lines),
        severity="warning" if failed else "info",
        labels=run_labels,
        host=hosts[0] if len(hosts) == 1 else "",
        rule=started.task,
        started=started.time,
        ended=finished.time,
        key=f"run:{started.run_id}",
        url=url,
        time=finished.time,
    )


class RunNotifySink:
    """A run sink that submits a notice when the run ends, per ``on``; cheap for every other event."""

    def __init__(
        self,
        submit: Callable[[Notice], None],
        *,
        on: NotifyOn = "failure",
        remediation: bool = False,
        labels: Mapping[str, str] | None = None,
        url: str = "",
    ) -> None:
        self._submit = submit
        self._on = on
        self._remediation = remediation
        self._labels = dict(labels or {})
        self._url = url
        self._started: dict[str, RunStarted] = {}
        self._failed: dict[str, dict[str, str]] = {}

    def handle(self, event: RunEvent) -> None:
        """Take one run event."""
        if isinstance(event, RunStarted):
            self._started[event.run_id] = event
            self._failed[event.run_id] = {}
        elif isinstance(event, HostFinished) and event.status != "ok":
            why = event.status if not event.error else f"{event.status}: {event.error}"
            self._failed.setdefault(event.run_id, {})[event.host] = why
        elif isinstance(event, RunFinished):
            started = self._started.pop(event.run_id, None)
            failed_hosts = self._failed.pop(event.run_id, {})
            if started is None:
                return
            if self._remediation or self._on == "finish" or run_failed(event):
                self._submit(
                    run_notice(
                        started,
                        event,
                        failed_hosts=failed_hosts,
                        remediation=self._remediation,
                        labels=self._labels,
                        url=self._url,
                    )
                )

    def close(self) -> None:
        """Nothing is buffered."""
