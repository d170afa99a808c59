"""Rendering leaves no reference cycles behind: lines are freed by reference counting, not by full collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

from fleetdeck.ui.strip_cycles import install
from fleetdeck.ui.widgets.tail_log import _StripCache

RED = Style(color="red")


@pytest.fixture
def collector_paused() -> Iterator[None]:
    """Automatic collections off, so `gc.collect()` counts exactly the cycles the test left."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _line(text: str = "0123456789") -> Strip:
    return Strip([Segment(text, RED)], len(text))


def test_a_whole_line_divided_or_cropped_to_itself_is_freed_at_once(collector_paused: None) -> None:
    install()
    strip = _line()
    assert strip.divide([10]) == [strip]
    assert strip.crop_extend(0, 10, None) is strip
    del strip
    assert gc.collect() == 0


def test_the_other_cuts_and_crops_still_work_and_stay_cached() -> None:
    install()
    strip = _line()
    halves = strip.divide([4, 10])
    assert [part.text for part in halves] == ["0123", "456789"]
    assert strip.divide([4, 10]) is halves  # Textual's cache still serves repeats
    assert [part.text for part in strip.divide([4, 99])] == ["0123"]  # cuts past the end are dropped first
    assert strip.crop_extend(2, 5, None).text == "234"
    padded = strip.crop_extend(0, 12, None)
    assert (padded.text, padded.cell_length) == ("0123456789  ", 12)
    assert strip.crop_extend(-3, 10, None) is strip


def test_install_is_idempotent() -> None:
    install()
    patched = Strip.divide
    install()
    assert Strip.divide is patched


def test_textual_lru_cache_cleared_is_cyclic_garbage(collector_paused: None) -> None:
    """Why the log keeps its own cache: a cleared `LRUCache` leaves its linked ring for the collector."""
    cache: LRUCache[tuple[int, int], Strip] = LRUCache(16)
    for index in range(16):
        cache[(index, 0)] = _line(str(index))
    cache.clear()
    assert gc.collect() > 0


def test_the_log_strip_cache_cleared_is_freed_at_once(collector_paused: None) -> None:
    install()
    cache = _StripCache(16)
    for index in range(40):
        cache[(index, 0)] = _line(str(index))
    assert len(cache) == 16
    assert cache.get((39, 0)) is not None and cache.get((23, 0)) is None  # the oldest went first
    cache.clear()
    assert len(cache) == 0
    assert gc.collect() == 0
