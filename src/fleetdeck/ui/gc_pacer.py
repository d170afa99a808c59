"""Pacing Python's cyclic garbage collector so its pauses stay short while the operator types.

Textual's rendering leaves reference cycles behind on every frame (a `Strip` keeps itself in its own caches),
so the collector runs often, and each full (generation 2) pass walks every long-lived object. With 500 hosts
connected that is about 240,000 objects and 200-350 ms per pass on a busy two-core machine: during an output
flood a full pass came every 1-2 s, and each one was a key that did not answer. So the long-lived objects are
moved out of the collector's sight (`gc.freeze`, which costs nothing) every `FREEZE_EVERY_S`, and a full pass
then walks only what was allocated since. Frozen objects are never collected, so garbage cycles frozen with them,
or a cycle among them that becomes garbage later (a closed connection's objects), would stay; every
`FULL_EVERY_S`, once no key has been pressed for `IDLE_S`, everything is unfrozen, collected once and frozen
again; sooner, at a shorter lull, when resident memory has grown a lot (`RSS_GROWTH`). No Textual here: the app
feeds it the time of the last input.

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

import psutil

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
RSS_GROWTH = 16 << 20
"""Resident bytes the console may gain since the last full collection (or the first freeze, a moment after start,
so the hosts' connections coming up can count as growth once) before a short lull
(`LULL_S`) is pause enough for the next one. Output floods restyle widgets, and Textual builds cyclic virtual
nodes for every restyle: with floods back to back and the keyboard never idle for `IDLE_S`, about 8 MB of them
per 50 MB flood waited for the collector (RSS 166 to 211 MB over eight floods; collecting everything took
188 MB back to 137 MB). Freed memory is reused, so the console then stays about this far above its size."""
GARBAGE_PER_MB = 256
"""Unreachable objects per MB of growth below which a full collection found the growth to be live data (hosts
connecting, history filling, output in flight), not garbage: the next one then waits for twice the growth, up to
`MAX_GROWTH_FACTOR` times `RSS_GROWTH`. Otherwise a 500-host console filling its history, or in the middle of a
flood, paid a full pass (80-135 ms there) that found about a thousand objects, or none, for every `RSS_GROWTH`."""
MAX_GROWTH_FACTOR = 2
"""The most growth a full collection waits for after finding live data, in `RSS_GROWTH`s (one finding garbage
resets it to one)."""
LULL_S = 0.5
"""Input-free seconds a full collection waits for once resident memory has grown by the allowance (`RSS_GROWTH`,
up to `MAX_GROWTH_FACTOR` times it); at twice the allowance a breath between keys (`BREATH_S`) is pause enough,
and at `SWOLLEN_FACTOR` times it the collection waits for nothing, so memory stays bounded however the operator
types."""
BREATH_S = 0.15
"""Input-free seconds that count as a breath between keys: a short pause, but not the middle of a burst."""
SWOLLEN_FACTOR = 3
"""Growth, in allowances, past which a full collection runs even mid-burst. At two, the first output flood of a
500-host console paid a 150 ms pass while keys were typed: it grows resident memory by about 70 MB (the run's
first buffers, and the allocator keeping its high-water mark; the pass found 6,847 objects, live data), and the
same floods after it grow 1-2 MB each. At three the pass waits for the pause after the flood; the most a
console that is typed into without a break can grow is three times `MAX_GROWTH_FACTOR` times `RSS_GROWTH`."""
TICK_S = 0.25
"""How often the app calls `tick`: often enough to find a lull of `LULL_S` between two bursts of typing."""

Action = Literal["freeze", "full"]


class GcPacer:
    """Decides, on each tick, whether to freeze the heap, collect everything, or do nothing.

    Args:
        freeze_every_s: Seconds between freezes.
        full_every_s: Seconds between full collections.
        idle_s: Input-free seconds a full collection waits for.
        rss_growth: Resident bytes gained before a short lull is pause enough for a full collection.
        rss: The process's resident bytes (psutil by default).
        clock: Monotonic clock.
        collect: A full collection returning the unreachable objects found (`gc.collect`; tests count).
    """

    def __init__(
        self,
        *,
        freeze_every_s: float = FREEZE_EVERY_S,
        full_every_s: float = FULL_EVERY_S,
        idle_s: float = IDLE_S,
        rss_growth: int = RSS_GROWTH,
        rss: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], int] = gc.collect,
    ) -> None:
        self._freeze_every = freeze_every_s
        self._full_every = full_every_s
        self._idle = idle_s
        self._rss_growth = rss_growth
        self._allowance = rss_growth
        """Growth the next full collection waits for: `rss_growth`, doubled after each one that found live data."""
        self._collect = collect
        self._rss = rss or _resident_bytes
        self._rss_after_full: int | None = None
        """Resident bytes after the last full collection, or at the first freeze (the app's first tick)."""
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
        baseline = self._rss_after_full
        grown = self._rss() - baseline if baseline is not None else 0
        # The allowance at a lull, twice it at a breath between keys, three times it mid-burst (memory wins).
        factor = 1 if quiet >= LULL_S else 2 if quiet >= BREATH_S else SWOLLEN_FACTOR
        swollen = grown > self._allowance * factor
        if due or swollen:
            gc.unfreeze()
            found = self._collect()
            gc.freeze()
            if found < GARBAGE_PER_MB * grown / (1 << 20):
                self._allowance = min(2 * self._allowance, MAX_GROWTH_FACTOR * self._rss_growth)
            else:
                self._allowance = self._rss_growth
            self._full_at = self._frozen_at = now
            self._rss_after_full = self._rss()
            return "full"
        if now - self._frozen_at >= self._freeze_every:
            # Young garbage is dropped first. Not the oldest generation's: collecting it here is a full pass over
            # everything that survived since the last freeze, which during an output flood is itself the stall
            # this avoids (p99 key latency 530-760 ms against 290-440 ms). Cycles frozen with it wait for the
            # collection of everything below.
            gc.collect(1)
            gc.freeze()
            self._frozen_at = now
            if self._rss_after_full is None:
                self._rss_after_full = self._rss()
            return "freeze"
        return None

    def release(self) -> None:
        """Give every frozen object back to the collector and restore its thresholds (on exit, or for tests)."""
        gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None


_PROCESS: psutil.Process | None = None


def _resident_bytes() -> int:
    """This process's resident set size (the `Process` handle is made once: the pacer asks four times a second)."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = psutil.Process()
    return int(_PROCESS.memory_info().rss)
