"""One-line text sparklines, and the time buckets they are drawn from.

Text rather than Textual's `Sparkline` widget because it has to live inside a `DataTable` cell. The scale
is fixed (0 to `top`) instead of stretching to the values' own range, so an idle host draws a flat low
line instead of magnifying noise into peaks. Points are grouped into buckets aligned to the clock (a
bucket is `[k * bucket_s, (k + 1) * bucket_s)`), so a finished bucket never changes and a line of a few
characters covers minutes without shimmering each time a sample arrives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Reversible

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "
"""Drawn for a bucket without a value (host down, or not watched yet), so an outage shows as a hole."""


def sparkline(values: Iterable[float | None], width: int, top: float = 100.0) -> str:
    """Draw the last `width` values, right-aligned and padded with spaces to exactly `width`.

    Args:
        values: Oldest first; `None` for a bucket without a value.
        width: Characters to produce; only the newest `width` values are drawn.
        top: The value drawn as a full block; larger values are clipped to it.

    Returns:
        A string of exactly `width` characters.
    """
    if width <= 0:
        return ""
    scale = len(BLOCKS) / top if top > 0 else 0.0
    last = len(BLOCKS) - 1
    # Inlined block choice: this runs for every changed host on every drain.
    chars = "".join(
        GAP if value is None or value != value else BLOCKS[min(last, max(0, int(value * scale)))]
        for value in list(values)[-width:]
    )
    return chars.rjust(width)


def bucket_peaks(points: Reversible[tuple[float, float]], bucket_s: float, count: int) -> list[float | None]:
    """The largest value in each of the last `count` clock-aligned buckets, oldest first.

    The newest bucket is the one holding the newest point, so a host that stopped reporting keeps its
    last line instead of scrolling into blanks. Only the points inside the window are read, newest
    first, which keeps this cheap on long histories.

    Args:
        points: `(epoch seconds, value)` pairs, oldest first (a history ring).
        bucket_s: Seconds each bucket covers.
        count: Buckets to return.

    Returns:
        `count` values; `None` where a bucket has no point.
    """
    peaks: list[float | None] = [None] * count
    if count <= 0 or bucket_s <= 0:
        return peaks
    first: int | None = None
    for when, value in reversed(points):
        bucket = math.floor(when / bucket_s)
        if first is None:
            first = bucket - count + 1
        index = bucket - first
        if index < 0:
            break
        if index < count:
            current = peaks[index]
            if current is None or value > current:
                peaks[index] = value
    return peaks


class PeakTrend:
    """`bucket_peaks` of one growing series, kept up to date from only the points added since the last update.

    The fleet table needs every changed host's trend on every drain; reading back through the history
    for each would cost a few dozen points per host, this costs one or two.

    Args:
        bucket_s: Seconds each bucket covers.
        count: Buckets kept.
    """

    __slots__ = ("_last_bucket", "_last_time", "bucket_s", "count", "peaks")

    def __init__(self, bucket_s: float, count: int) -> None:
        self.bucket_s = bucket_s
        self.count = count
        self.peaks: tuple[float | None, ...] = (None,) * count
        """The peaks, oldest first; a new tuple only when something changed, so callers can compare by identity."""
        self._last_bucket: int | None = None
        self._last_time: float | None = None

    def update(self, points: Reversible[tuple[float, float]]) -> tuple[float | None, ...]:
        """Fold in the points newer than the last update and return the peaks.

        Args:
            points: `(epoch seconds, value)` pairs, oldest first; only ever appended to (a history ring).
        """
        if self._last_time is None or self._last_bucket is None:
            newest = next(iter(reversed(points)), None)
            if newest is not None:
                self.peaks = tuple(bucket_peaks(points, self.bucket_s, self.count))
                self._last_time = newest[0]
                self._last_bucket = math.floor(newest[0] / self.bucket_s)
            return self.peaks
        fresh: list[tuple[float, float]] = []
        for when, value in reversed(points):
            if when <= self._last_time:
                break
            fresh.append((when, value))
        if not fresh:
            return self.peaks
        peaks = list(self.peaks)
        for when, value in reversed(fresh):
            bucket = math.floor(when / self.bucket_s)
            if bucket - self._last_bucket >= self.count:
                peaks = [None] * self.count
                self._last_bucket = bucket
            elif bucket > self._last_bucket:
                shift = bucket - self._last_bucket
                peaks = peaks[shift:] + [None] * shift
                self._last_bucket = bucket
            index = self.count - 1 - (self._last_bucket - bucket)
            if index >= 0:
                current = peaks[index]
                if current is None or value > current:
                    peaks[index] = value
        self._last_time = fresh[0][0]
        changed = tuple(peaks)
        if changed != self.peaks:
            self.peaks = changed
        return self.peaks
