"""A one-line text sparkline: recent values drawn with the eight block characters.

Text rather than Textual's `Sparkline` widget because it has to live inside a `DataTable` cell. The scale
is fixed (0 to `top`) instead of stretching to the values' own range, so an idle host draws a flat low
line instead of magnifying noise into peaks.
"""

from __future__ import annotations

from collections.abc import Iterable

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "
"""Drawn for a missing value (host down), so an outage shows as a hole in the line."""


def sparkline(values: Iterable[float | None], width: int, top: float = 100.0) -> str:
    """Draw the last `width` values, right-aligned and padded with spaces to exactly `width`.

    Args:
        values: Oldest first; `None` for a poll without a value.
        width: Characters to produce; only the newest `width` values are drawn.
        top: The value drawn as a full block; larger values are clipped to it.

    Returns:
        A string of exactly `width` characters.
    """
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    chars = [GAP if value is None else _block(value, top) for value in tail]
    return "".join(chars).rjust(width)


def _block(value: float, top: float) -> str:
    """The block whose height is `value`'s share of `top`."""
    if top <= 0:
        return BLOCKS[0]
    share = min(1.0, max(0.0, value / top))
    return BLOCKS[min(len(BLOCKS) - 1, int(share * len(BLOCKS)))]
