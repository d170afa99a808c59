"""The console's garbage-collection pacing: freezes on its clock, collects everything only in a pause."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fleetdeck.ui.gc_pacer import (
    BREATH_S,
    FORCE_AFTER,
    GARBAGE_PER_MB,
    LULL_S,
    MAX_GROWTH_FACTOR,
    OLDEST_THRESHOLD,
    SWOLLEN_FACTOR,
    GcPacer,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()
    gc.unfreeze()


def test_freezes_on_its_clock_and_the_frozen_objects_leave_the_collector(clock: Clock) -> None:
    pacer = GcPacer(freeze_every_s=20, full_every_s=300, idle_s=3, clock=clock)
    keep = [{"n": i} for i in range(1000)]  # tracked containers that survive
    assert pacer.tick() == "freeze"
    frozen = gc.get_freeze_count()
    assert frozen >= len(keep)
    assert len(gc.get_objects(generation=2)) < frozen
    clock.now += 19
    assert pacer.tick() is None
    clock.now += 1
    assert pacer.tick() == "freeze"
    del keep


def test_a_full_collection_waits_for_a_pause_in_the_typing(clock: Clock) -> None:
    pacer = GcPacer(freeze_every_s=20, full_every_s=300, idle_s=3, clock=clock)
    pacer.tick()
    clock.now += 300
    pacer.last_input = clock.now - 1  # typing right now
    assert pacer.tick() == "freeze"
    clock.now += 2
    pacer.last_input = clock.now - 3.5
    assert pacer.tick() == "full"
    clock.now += 1
    assert pacer.tick() is None


def test_a_full_collection_reclaims_frozen_cycles(clock: Clock) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    pacer = GcPacer(freeze_every_s=20, full_every_s=300, idle_s=3, clock=clock)
    node = Node()
    gc.collect()  # the cycle reaches the oldest generation
    pacer.tick()  # ...and is frozen
    del node
    assert sum(1 for obj in _frozen_and_tracked() if type(obj) is Node) == 1
    clock.now += 300
    pacer.last_input = clock.now - 10
    assert pacer.tick() == "full"
    assert sum(1 for obj in _frozen_and_tracked() if type(obj) is Node) == 0


def test_constant_typing_cannot_postpone_the_full_collection_for_ever(clock: Clock) -> None:
    pacer = GcPacer(freeze_every_s=20, full_every_s=300, idle_s=3, clock=clock)
    actions = []
    for _ in range(int(300 * FORCE_AFTER) + 1):
        clock.now += 1
        pacer.last_input = clock.now
        actions.append(pacer.tick())
    assert actions.count("full") == 1
    assert actions.index("full") + 1 == 300 * FORCE_AFTER  # seconds after the last full collection


def _frozen_and_tracked() -> list[object]:
    """Every object the collector knows, frozen ones included (unfreezing is the only way to list those)."""
    count = gc.get_freeze_count()
    gc.unfreeze()
    try:
        return gc.get_objects()
    finally:
        if count:
            gc.freeze()


def test_engage_makes_automatic_full_passes_rare_until_release(clock: Clock) -> None:
    before = gc.get_threshold()
    pacer = GcPacer(clock=clock)
    pacer.engage()
    pacer.engage()  # twice is once: release still restores the original
    assert gc.get_threshold() == (before[0], before[1], OLDEST_THRESHOLD)
    pacer.release()
    assert gc.get_threshold() == before


def test_grown_memory_is_collected_at_a_short_lull_not_while_typing(clock: Clock) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    resident = [400 << 20]  # start-up's size, whatever it is, is not growth
    pacer = GcPacer(
        freeze_every_s=20, full_every_s=300, idle_s=3, rss_growth=16 << 20, rss=lambda: resident[0], clock=clock
    )
    pacer.last_input = clock.now
    assert pacer.tick() == "freeze"
    clock.now += 1
    assert pacer.tick() is None
    nodes = [Node() for _ in range(5000)]  # 10,000 objects: garbage enough for 17 MB (GARBAGE_PER_MB)
    gc.collect()
    clock.now += 20
    pacer.last_input = clock.now  # typing
    assert pacer.tick() == "freeze"  # the cycles are frozen with everything else
    del nodes
    resident[0] += 17 << 20
    clock.now += 0.25
    pacer.last_input = clock.now - 0.2
    assert pacer.tick() is None, "still typing: no pause for a full collection"
    clock.now += 0.25
    pacer.last_input = clock.now - LULL_S
    assert pacer.tick() == "full", "long before full_every_s, since memory grew by more than rss_growth"
    assert sum(1 for obj in _frozen_and_tracked() if type(obj) is Node) == 0
    clock.now += 1
    pacer.last_input = clock.now - 10
    assert pacer.tick() is None, "the size after the collection is the new baseline"
    resident[0] += 15 << 20
    clock.now += 1
    assert pacer.tick() is None, "less than rss_growth since then"
    resident[0] += 18 << 20
    clock.now += 1
    pacer.last_input = clock.now  # typing, in the middle of a burst
    assert pacer.tick() is None, "twice rss_growth mid-burst: still waiting for a breath"
    clock.now += 0.25
    pacer.last_input = clock.now - BREATH_S
    assert pacer.tick() == "full", "twice rss_growth: a breath between keys is pause enough"
    # That collection found live data, so the allowance doubled: mid-burst, the limit is three of those.
    resident[0] += (SWOLLEN_FACTOR * MAX_GROWTH_FACTOR * 16 - 1) << 20
    clock.now += 1
    pacer.last_input = clock.now
    assert pacer.tick() is None
    resident[0] += 2 << 20
    clock.now += 0.25
    pacer.last_input = clock.now  # typing without a break
    assert pacer.tick() == "full", "SWOLLEN_FACTOR times rss_growth: memory wins over the typing"


def test_growth_found_to_be_live_data_doubles_the_wait_for_the_next_collection(clock: Clock) -> None:
    mb = 1 << 20
    resident = [100 * mb]
    found = [0]
    collections: list[int] = []

    def collect() -> int:
        collections.append(resident[0])
        return found[0]

    pacer = GcPacer(
        freeze_every_s=20,
        full_every_s=300,
        idle_s=3,
        rss_growth=16 * mb,
        rss=lambda: resident[0],
        clock=clock,
        collect=collect,
    )
    assert pacer.tick() == "freeze"  # the baseline

    def grow_and_pause(by_mb: int) -> str | None:
        resident[0] += by_mb * mb
        clock.now += 1
        pacer.last_input = clock.now - LULL_S
        return pacer.tick()

    found[0] = 17 * GARBAGE_PER_MB - 1  # a little less garbage than 17 MB of growth would be
    assert grow_and_pause(17) == "full"
    assert grow_and_pause(17) is None, "the growth was live data: the next collection waits for twice as much"
    assert grow_and_pause(16) == "full"  # 33 MB
    found[0] = 0
    assert grow_and_pause(16 * MAX_GROWTH_FACTOR - 1) is None
    assert grow_and_pause(2) == "full", "never more than MAX_GROWTH_FACTOR times rss_growth"
    found[0] = 10**6  # this time it was garbage: back to rss_growth
    assert grow_and_pause(33) == "full"
    assert grow_and_pause(17) == "full"
    assert len(collections) == 5
