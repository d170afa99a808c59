"""The clock of every SSH probe: hosts asked for their next frame in a few groups per interval.

The probes do not sleep; each answers a request line with a frame (see `fleetdeck.core.health.probe`). This
ticker writes those requests. The interval is cut into slots of about `SLOT_S` (`MAX_SLOTS` at most) and each
host belongs to one slot, the emptiest when it joins, so a slot's hosts are asked at the same moment and their
frames come back together. Measured with 200 loopback hosts at 2 s, client CPU for receiving and parsing the
frames was 7.1 % with each probe on its own sleep (a hundred wakeups a second, each finding the caches cold)
against 3.9 % with groups of 20 (and 6.9 % with groups of 5, which come back too spread out to share a
wakeup). Slots rather than one burst per interval keep each burst short, so a key pressed meanwhile waits for
a few milliseconds of parsing, not for the whole fleet's. In the console with 200 hosts at 2 s, idle CPU went
from 12.2 % to 8.3 % of a core, and the hosts' side of health (the probes and their sshds) from 22 % to 8 %.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection

from fleetdeck.core.health.probe_session import ProbeReader

SLOT_S = 0.25
"""About how long one slot lasts: an interval of 2 s has 8 slots, so 200 hosts are asked 25 at a time."""

MAX_SLOTS = 8
"""Most slots an interval starts with, so a long interval (a minute, ten) still asks its hosts in groups."""

SLOT_HOSTS = 25
"""Hosts a slot takes before the ticker opens another one: with 500 hosts at 2 s, 20 slots of 25 rather than
8 of 62, so the frames that come back together (and a key pressed meanwhile waits behind) stay a group of the
size measured best above."""

MIN_SLOT_S = 0.05
"""Slots opened for more hosts are never closer together than this."""

JOIN_GAP = 0.5
"""A host that joined (and sent its first frame unasked) waits this fraction of an interval before its
first request, so its first rate is not taken over a sliver of time."""


class ProbeTicker:
    """Asks each registered probe for a frame once per interval, hosts grouped into slots.

    Args:
        interval_s: Seconds between a host's frames.
        again_after_s: A request unanswered for this long is repeated (once per this period).
        slot_s: About how long one slot lasts (longer when the interval would need more than `MAX_SLOTS`).
        on_fired: Called with the time after each slot is fired: the collector's one check of every host's
            silence, instead of a timer per host.
    """

    def __init__(
        self,
        interval_s: float,
        again_after_s: float,
        slot_s: float = SLOT_S,
        *,
        on_fired: Callable[[float], None] | None = None,
    ) -> None:
        if interval_s <= 0 or slot_s <= 0:
            raise ValueError(f"interval and slot must be positive, got {interval_s} and {slot_s}")
        self.interval_s = interval_s
        self.again_after_s = again_after_s
        count = max(1, min(MAX_SLOTS, round(interval_s / slot_s)))
        self.slots: list[dict[ProbeReader, None]] = [{} for _ in range(count)]
        """The readers of each slot, in the order they joined."""
        self._max_slots = max(count, math.floor(interval_s / MIN_SLOT_S))
        self._slot_of: dict[ProbeReader, int] = {}
        self._on_fired = on_fired
        self._close: frozenset[str] | None = None
        self._every = 1
        self._rounds_left: dict[ProbeReader, int] = {}

    def watch_closely(self, hosts: Collection[str] | None, every: int = 1) -> None:
        """Ask only `hosts` every interval and the others every `every` intervals; `None`: everyone every interval.

        An operator sees a screenful of hosts; the rest only feed sorting, counts and alerts, which a sample
        every few intervals serves. A host that comes into sight is asked again at its next slot.
        """
        self._close = None if hosts is None else frozenset(hosts)
        self._every = max(1, every)

    def _sits_out(self, reader: ProbeReader) -> bool:
        """Whether `reader`, out of sight, skips this round (it is asked every `every` rounds)."""
        if self._close is None or self._every == 1 or reader.host in self._close or reader.waiting_since is not None:
            self._rounds_left.pop(reader, None)
            return False
        left = self._rounds_left.get(reader)
        if left is None:
            left = len(self._rounds_left) % self._every  # spread over the rounds, not all in the same one
        self._rounds_left[reader] = left - 1 if left > 0 else self._every - 1
        return left > 0

    def add(self, reader: ProbeReader) -> None:
        """Start asking `reader`, in the slot with the fewest hosts (the earliest of equals).

        When every slot already has `SLOT_HOSTS`, a new slot is opened for it instead (while slots stay at
        least `MIN_SLOT_S` apart); the running ticker spreads its grid over the new count from its next slot.
        """
        if reader in self._slot_of:
            return
        index = min(range(len(self.slots)), key=lambda i: len(self.slots[i]))
        if len(self.slots[index]) >= SLOT_HOSTS and len(self.slots) < self._max_slots:
            index = len(self.slots)
            self.slots.append({})
        self.slots[index][reader] = None
        self._slot_of[reader] = index

    def remove(self, reader: ProbeReader) -> None:
        """Stop asking `reader` (its channel ended); unknown readers are ignored."""
        index = self._slot_of.pop(reader, None)
        self._rounds_left.pop(reader, None)
        if index is not None:
            del self.slots[index][reader]

    def __len__(self) -> int:
        return len(self._slot_of)

    def fire(self, index: int, now: float | None = None) -> int:
        """Ask every host of slot `index` for its next frame.

        Returns:
            How many requests were written.
        """
        now = time.monotonic() if now is None else now
        gap = self.interval_s * JOIN_GAP
        return sum(
            reader.ask(now, gap_s=gap, again_after_s=self.again_after_s)
            for reader in list(self.slots[index])
            if not self._sits_out(reader)
        )

    async def run(self) -> None:
        """Fire the slots in turn, on a fixed grid, until cancelled.

        Slots missed while the event loop was busy are not made up: the next one due is fired, so a stall
        never turns into a burst of requests.
        """
        count = len(self.slots)
        slot_s = self.interval_s / count
        start = time.monotonic()
        step = 0
        while True:
            if len(self.slots) != count:
                # Slots were opened for more hosts: a finer grid from the same origin, so the existing slots
                # move a little earlier in the interval (less than half of it: nobody is skipped as asked too soon).
                count = len(self.slots)
                slot_s = self.interval_s / count
                step = math.ceil((time.monotonic() - start) / slot_s)
            delay = start + step * slot_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -slot_s:
                step = math.floor((time.monotonic() - start) / slot_s)
            now = time.monotonic()
            self.fire(step % count, now)
            if self._on_fired is not None:
                self._on_fired(now)
            step += 1
