"""`AlertsFeed`: the console's view of the alerts, evaluated locally from the samples the board receives.

The console evaluates the alert rules for display only: an in-memory `AlertEngine` is fed every health
sample the console collects, and nothing is saved and nobody is notified (the daemon owns the stored
states and the notifications). Acknowledgements and silences are read from the `AlertStore` every
`STORE_REFRESH_S` seconds, so those made elsewhere (`fleetdeck alerts ack`, `fleetdeck silence add`, another
console) show here; the ones made here are written to the store at once. No Textual here.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from fleetdeck.core.alerts import (
    AlertEngine,
    AlertRecord,
    AlertsConfig,
    AlertStore,
    Severity,
    Silence,
    parse_matchers,
)
from fleetdeck.core.alerts.silences import is_silenced
from fleetdeck.core.alerts.state import SEVERITY_ORDER, match_labels
from fleetdeck.core.alerts.store import DB_NAME
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.inventory import Inventory

STORE_REFRESH_S = 3.0
"""Seconds between reads of the store's acknowledgements and silences."""

Badge = tuple[int, Severity | None]
"""How many alerts of a host are firing, and the worst severity among them (`None` when none)."""


def operator_name() -> str:
    """Who acknowledges or silences from this console (the login name)."""
    try:
        return getpass.getuser() or "console"
    except (KeyError, OSError):
        return "console"


class AlertsFeed:
    """Alert rules evaluated over the console's samples, with acks and silences shared through the store.

    Args:
        config: The alert rules.
        store: Where acknowledgements and silences are read from and written to, or the state dir holding
            it; from a state dir the store is opened only once it exists or something is written, so a
            console that never acknowledges or silences leaves no file behind.
        inventory: Hosts for rules with selectors.
        clock: Epoch-seconds clock.
    """

    def __init__(
        self,
        config: AlertsConfig,
        store: AlertStore | Path,
        inventory: Inventory | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = AlertEngine(config, inventory)
        self._store = store if isinstance(store, AlertStore) else None
        self._state_dir = store.state_dir if isinstance(store, AlertStore) else Path(store)
        self._clock = clock
        self._silences: list[Silence] = []
        self._stored: dict[str, AlertRecord] = {}
        self._read_at = float("-inf")
        self._version = 0
        """Bumped when an alert changes state or the store's silences and acks change: badges are cached on it."""
        self._badges: tuple[int, dict[str, Badge]] | None = None

    @property
    def store(self) -> AlertStore:
        """The store, opened (and created) on first use."""
        if self._store is None:
            self._store = AlertStore(self._state_dir)
        return self._store

    # -- input ----------------------------------------------------------------------------------

    def observe(self, sample: HealthSample) -> None:
        """Evaluate the rules on one sample (events are dropped: the daemon notifies, not the console)."""
        if self.engine.evaluate(sample, self._clock()):
            self._version += 1

    def refresh(self, *, force: bool = False) -> None:
        """Re-read silences and acknowledgements from the store if the last read is `STORE_REFRESH_S` old."""
        now = self._clock()
        if not force and now - self._read_at < STORE_REFRESH_S and now >= self._read_at:
            return
        self._read_at = now
        if self._store is None and not (self._state_dir / DB_NAME).exists():
            return  # nothing acknowledged or silenced yet, anywhere
        silences = self.store.silences(now)
        stored = {record.key: record for record in self.store.active(now)}
        if silences != self._silences or stored != self._stored:
            self._version += 1
        self._silences, self._stored = silences, stored
        self.engine.silences = list(self._silences)

    # -- output ---------------------------------------------------------------------------------

    def records(self) -> list[AlertRecord]:
        """Pending and firing alerts, firing and critical first, with silences and acks as the store says."""
        self.refresh()
        now = self._clock()
        shown: list[AlertRecord] = []
        for record in self.engine.records():
            silenced = is_silenced(match_labels(record.labels), self._silences, now)
            stored = self._stored.get(record.key)
            acked_by, acked_at = record.acknowledged_by, record.acknowledged_at
            if acked_by is None and stored is not None and stored.state == "firing" and record.state == "firing":
                acked_by, acked_at = stored.acknowledged_by, stored.acknowledged_at
            shown.append(replace(record, silenced=silenced, acknowledged_by=acked_by, acknowledged_at=acked_at))
        return sorted(shown, key=AlertRecord.sort_key)

    def badges(self) -> dict[str, Badge]:
        """`badge` of every host with a firing alert that is neither silenced nor inhibited by a worse one.

        The dashboard asks on every drain; the answer is rebuilt only when something changed, because rebuilding
        renders every alert's annotations.
        """
        self.refresh()
        if self._badges is not None and self._badges[0] == self._version:
            return self._badges[1]
        version = self._version
        found: dict[str, Badge] = {}
        for record in self.records():
            if record.state != "firing" or record.silenced or record.inhibited_by:
                continue
            count, worst = found.get(record.host, (0, None))
            if worst is None or SEVERITY_ORDER[record.severity] < SEVERITY_ORDER[worst]:
                worst = record.severity
            found[record.host] = (count + 1, worst)
        self._badges = (version, found)
        return found

    def badge(self, host: str) -> Badge:
        """How many unsilenced alerts of `host` are firing and the worst severity among them."""
        return self.badges().get(host, (0, None))

    # -- writes ---------------------------------------------------------------------------------

    def acknowledge(self, key: str, by: str | None = None) -> AlertRecord:
        """Acknowledge a firing alert in the store (the daemon picks it up) and here.

        Raises:
            UnknownAlertError: when the store holds no firing alert with that key (no daemon owns it yet).
        """
        who = by or operator_name()
        now = self._clock()
        stored = self.store.acknowledge(key, who, now)
        self._stored[key] = stored
        local = self.engine.get(key)
        if local is not None and local.state == "firing":
            self.engine.acknowledge(key, who, now)
        return stored

    def silence(
        self, matchers_text: str | Sequence[str], duration_s: float, reason: str, by: str | None = None
    ) -> Silence:
        """Store a silence (e.g. `"rule=HighCPU host=web-1"`) for `duration_s` seconds.

        Raises:
            MatcherError: when the matchers do not parse or would silence everything.
            UsageError: without a reason or with a duration that is not positive.
        """
        words = matchers_text.split() if isinstance(matchers_text, str) else list(matchers_text)
        matchers = parse_matchers(words)
        silence = self.store.add_silence(
            matchers, duration_s=duration_s, reason=reason, creator=by or operator_name(), now=self._clock()
        )
        self.refresh(force=True)
        return silence

    def close(self) -> None:
        """Close the store's connection, if it was opened."""
        if self._store is not None:
            self._store.close()
