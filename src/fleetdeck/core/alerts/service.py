"""The engine wired to the store: what the daemon and the console use to own the alert states.

:class:`AlertService` restores stored alerts on :meth:`~AlertService.start`, evaluates each sample,
picks up silences and acknowledgements other processes wrote (``fleetdeck silence add``,
``fleetdeck alerts ack``) and saves the alert states when something changed (at most every
``min_save_gap_s``, so an alert storm on a big fleet is one write a second, not one per sample) and at
least every ``save_every_s`` so listed values stay fresh; :meth:`~AlertService.flush` saves at once
(call it on shutdown). Only one process should own the states of a state dir.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fleetdeck.core.alerts.engine import AlertEngine
from fleetdeck.core.alerts.rules import AlertsConfig
from fleetdeck.core.alerts.silences import Matcher, Silence
from fleetdeck.core.alerts.state import AlertEvent, AlertRecord
from fleetdeck.core.alerts.store import AlertStore
from fleetdeck.core.health.sample import HealthSample

if TYPE_CHECKING:
    from fleetdeck.core.inventory import Inventory


class AlertService:
    """An :class:`AlertEngine` whose states, silences and acknowledgements live in an :class:`AlertStore`."""

    def __init__(
        self,
        config: AlertsConfig,
        store: AlertStore,
        inventory: Inventory | None = None,
        *,
        save_every_s: float = 5.0,
        min_save_gap_s: float = 1.0,
    ) -> None:
        """Wire the parts; nothing is read until :meth:`start`."""
        self.engine = AlertEngine(config, inventory)
        self.store = store
        self.save_every_s = save_every_s
        self.min_save_gap_s = min_save_gap_s
        self._saved_at = float("-inf")
        self._dirty = False

    def start(self, now: float | None = None) -> list[AlertEvent]:
        """Restore the stored alerts and silences; returns ``resolved`` events for alerts whose rule is gone."""
        now = time.time() if now is None else now
        self.store.changed()  # the baseline: what is read next is already taken into account
        records = self.store.active(now)
        events = self.engine.restore(records, now)
        self.engine.sync(self.store.silences(now), records)
        if events:
            self._save(now)
        return events

    def evaluate(self, sample: HealthSample, now: float | None = None) -> list[AlertEvent]:
        """Evaluate one sample; saves when alerts changed or the last save is ``save_every_s`` old."""
        now = time.time() if now is None else now
        self.refresh(now)
        events = self.engine.evaluate(sample, now)
        self._maybe_save(events, now)
        return events

    def tick(self, now: float | None = None) -> list[AlertEvent]:
        """Advance the clocks of hosts that send nothing (see :meth:`AlertEngine.tick`); call every few seconds."""
        now = time.time() if now is None else now
        self.refresh(now)
        events = self.engine.tick(now)
        self._maybe_save(events, now)
        return events

    def refresh(self, now: float | None = None) -> bool:
        """Re-read silences and acknowledgements if another process changed them; returns whether it did."""
        if not self.store.changed():
            return False
        now = time.time() if now is None else now
        self.engine.sync(self.store.silences(now), self.store.active(now))
        self._dirty = True
        return True

    def acknowledge(self, key: str, by: str, now: float | None = None) -> AlertRecord:
        """Acknowledge a firing alert here and in the store."""
        record = self.engine.acknowledge(key, by, now)
        self._save(time.time() if now is None else now)
        return record

    def add_silence(
        self, matchers: Sequence[Matcher], *, duration_s: float, reason: str, creator: str, now: float | None = None
    ) -> Silence:
        """Create a silence in the store and apply it from the next sample."""
        now = time.time() if now is None else now
        silence = self.store.add_silence(matchers, duration_s=duration_s, reason=reason, creator=creator, now=now)
        self.engine.silences.append(silence)
        return silence

    def expire_silence(self, silence_id: int, now: float | None = None) -> Silence:
        """End a silence in the store and here."""
        silence = self.store.expire_silence(silence_id, now)
        self.engine.silences = [s for s in self.engine.silences if s.id != silence_id] + [silence]
        return silence

    def reload(self, config: AlertsConfig, inventory: Inventory | None = None) -> list[AlertEvent]:
        """Switch to new rules (see :meth:`AlertEngine.reload`) and save the result."""
        events = self.engine.reload(config, inventory)
        self._save(time.time())
        return events

    def records(self) -> list[AlertRecord]:
        """The current pending and firing alerts."""
        return self.engine.records()

    def flush(self, now: float | None = None) -> None:
        """Save the alert states now (on shutdown, or before another process must see them)."""
        self._save(time.time() if now is None else now)

    def _maybe_save(self, events: Sequence[AlertEvent], now: float) -> None:
        self._dirty = self._dirty or bool(events)
        since = now - self._saved_at
        if (self._dirty and since >= self.min_save_gap_s) or since >= self.save_every_s:
            self._save(now)

    def _save(self, now: float) -> None:
        self.store.save(self.engine.records())  # own commits do not move data_version, so changed() stays quiet
        self._saved_at = now
        self._dirty = False
