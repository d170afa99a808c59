"""Pacing Python's cyclic garbage collector so its pauses stay short while the operator types.

Textual's rendering leaves reference cycles behind on every frame (a `Strip` keeps itself in its own caches),
so the collector runs often, and each full (generation 2) pass walks every long-lived object. With 500 hosts
connected that is about 240,000 objects and 200-350 ms per pass on a busy two-core machine: during an output
flood a full pass came every 1-2 s, and each one was a key that did not answer. So the long-lived objects are
moved out of the collector's sight (`gc.freeze`, which costs nothing) every `FREEZE_EVERY_S`, and a full pass
then walks only what was allocated since. Frozen objects are never collected, so garbage cycles frozen with them,
or a cycle among them that becomes garbage later (a closed connection's objects), would stay; every
`FULL_EVERY_S`, once no key has been pressed for `IDLE_S`, everything is unfrozen, collected once and frozen
again; sooner, at a shorter lull, when the frozen heap has grown a lot (`FROZEN_GROWTH`). No Textual here: the
app feeds it the time of the last input.

CPython also starts a full pass on its own after ten young ones whenever a quarter as many objects have been
promoted as the last full pass kept. Live objects that last a few seconds (each host's latest sample, the
visible lines) are promoted all the time, so with the frozen heap out of the count that rule fired about once a
second during a flood, 40-190 ms each, and found nothing: the rendering cycles are gone (`strip_cycles`, the log's
own line cache). While the console runs, that count is raised to `OLDEST_THRESHOLD`; the freezes and the
periodic collection of everything stay the bound on memory.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Literal

FREEZE_EVERY_S = 20.0
"""Seconds between moving the survivors of young collections out of the full passes."""
FULL_EVERY_S = 300.0
"""Seconds between full collections of everything, frozen objects included (the one pause left)."""
IDLE_S = 3.0
"""Seconds without input before a full collection may run."""
OLDEST_THRESHOLD = 1000
"""Young-generation collections between two automatic full passes while the console runs (CPython's: 10)."""
FORCE_AFTER = 3.0
"""A full collection runs anyway after this many `FULL_EVERY_S` without an idle moment (bounds memory)."""
FROZEN_GROWTH = 150_000
"""Objects the frozen heap may gain since the last full collection before a short lull (`LULL_S`) is pause enough
for the next one. Output floods restyle widgets, and Textual builds cyclic virtual nodes for every restyle: with
floods back to back and the keyboard never idle for `IDLE_S`, the frozen heap kept about 8 MB of them per
50 MB flood (RSS 166 to 200 MB over six floods; collecting everything took 188 MB back to 137 MB)."""
LULL_S = 0.5
"""Input-free seconds a full collection waits for once the frozen heap has grown by `FROZEN_GROWTH`."""

Action = Literal["freeze", "full"]


class GcPacer:
    """Decides, on each tick, whether to freeze the heap, collect everything, or do nothing.

    Args:
        freeze_every_s: Seconds between freezes.
        full_every_s: Seconds between full collections.
        idle_s: Input-free seconds a full collection waits for.
        frozen_growth: Objects the frozen heap may gain before a short lull is pause enough for a full collection.
        clock: Monotonic clock.
    """

    def __init__(
        self,
        *,
        freeze_every_s: float = FREEZE_EVERY_S,
        full_every_s: float = FULL_EVERY_S,
        idle_s: float = IDLE_S,
        frozen_growth: int = FROZEN_GROWTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._freeze_every = freeze_every_s
        self._full_every = full_every_s
        self._idle = idle_s
        self._frozen_growth = frozen_growth
        self._frozen_after_full: int | None = None
        """The frozen heap's size after the last full collection, or after the first freeze (start-up's live
        objects are no reason to collect)."""
        self._clock = clock
        now = clock()
        self._frozen_at = float("-inf")
        self._full_at = now
        self.last_input = now
        """When the operator last pressed a key or clicked (the app sets it)."""
        self._thresholds: tuple[int, int, int] | None = None

    def engage(self) -> None:
        """Make CPython's own full passes rare (see the module's docstring) until `release`."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, _ = self._thresholds
            gc.set_threshold(young, middle, OLDEST_THRESHOLD)

    def tick(self) -> Action | None:
        """Freeze or collect if it is time; returns what was done."""
        now = self._clock()
        since_full = now - self._full_at
        quiet = now - self.last_input
        due = since_full >= self._full_every and (quiet >= self._idle or since_full >= self._full_every * FORCE_AFTER)
        baseline = self._frozen_after_full
        swollen = baseline is not None and gc.get_freeze_count() - baseline > self._frozen_growth and quiet >= LULL_S
        if due or swollen:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._full_at = self._frozen_at = now
            self._frozen_after_full = gc.get_freeze_count()
            return "full"
        if now - self._frozen_at >= self._freeze_every:
            # Young garbage is dropped first. Not the oldest generation's: collecting it here is a full pass over
            # everything that survived since the last freeze, which during an output flood is itself the stall
            # this avoids (p99 key latency 530-760 ms against 290-440 ms). Cycles frozen with it wait for the
            # collection of everything below.
            gc.collect(1)
            gc.freeze()
            self._frozen_at = now
            if self._frozen_after_full is None:
                self._frozen_after_full = gc.get_freeze_count()
            return "freeze"
        return None

    def release(self) -> None:
        """Give every frozen object back to the collector and restore its thresholds (on exit, or for tests)."""
        gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
