"""Keeps Textual's `Strip` from caching itself, so a rendered line is freed as soon as its frame is done with it.

`Strip.divide` with a single cut at the strip's end stores `[self]` in the strip's own cache, and
`Strip.crop_extend` stores `self` when nothing needs cropping or padding. Either makes the strip, its seven
caches and their dicts a reference cycle, which reference counting cannot free: only the cyclic garbage
collector can. Whole-width lines take both paths on every frame, so every line of every frame became work for
the collector: about 12,000 objects a second while a run streams output, reclaimed by full passes of
40-190 ms every second or so, each one a keypress that waited.

The replacements return what the originals return (a one-element list holding the strip, or the strip
itself) without storing it; every other call goes to Textual's own method and its cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_INSTALLED = "_fleetdeck_no_self_cache"


def install() -> None:
    """Patch `Strip` once per process; later calls do nothing."""
    if getattr(Strip, _INSTALLED, False):
        return
    divide: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
    crop_extend: Callable[[Strip, int, int, Style | None], Strip] = Strip.crop_extend

    def divide_uncached_whole(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        cell_length = self.cell_length
        kept = [cut for cut in cuts if cut <= cell_length]
        if kept == [cell_length]:
            return [self]
        return divide(self, kept)

    def crop_extend_uncached_whole(self: Strip, start: int, end: int, style: Style | None) -> Strip:
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    divide_uncached_whole.__doc__ = divide.__doc__
    crop_extend_uncached_whole.__doc__ = crop_extend.__doc__
    Strip.divide = divide_uncached_whole  # type: ignore[method-assign]
    Strip.crop_extend = crop_extend_uncached_whole  # type: ignore[method-assign]
    setattr(Strip, _INSTALLED, True)
