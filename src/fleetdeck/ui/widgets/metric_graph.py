"""A compact history graph of one metric: a label with the current and peak values, then bars over time.

Each column is a clock-aligned bucket of the host's history (its peak), so the graph spans the whole
history window whatever the widget's width, and a finished column never changes. Bars are two rows of
eighth blocks (16 levels) on a fixed scale where the metric has one (percentages 0-100, load per core 0-2
or more), so an idle host reads as idle; byte rates scale to their own peak. Percentages and load are
coloured by the same warn/crit thresholds as the fleet table, through theme variables.
"""

from __future__ import annotations

from collections.abc import Reversible
from typing import Literal

from textual.content import Content
from textual.widget import Widget

from fleetdeck.ui.widgets.health_format import (
    LOAD_CRIT_PER_CORE,
    MISSING,
    Level,
    compact_bytes,
    load_level,
    pct,
    pct_level,
)
from fleetdeck.ui.widgets.sparkline_text import BLOCKS, bucket_peaks

GraphKind = Literal["pct", "load", "rate"]
"""How values are scaled and written: percent, load per core, bytes per second."""

LABEL_WIDTH = 15
"""Columns taken by the name and numbers before the bars."""

_NAME_WIDTH = 9
_VALUE_WIDTH = LABEL_WIDTH - _NAME_WIDTH - 1
_LEVEL_STYLE: dict[Level, str] = {"ok": "$primary", "warn": "$health-warn", "crit": "$health-crit"}
_RATE_FLOOR = 1024.0
"""Smallest full-scale byte rate, so a nearly silent link does not fill the graph with noise."""


class MetricGraph(Widget):
    """History bars of one metric of one host.

    Args:
        label: Short name shown on the left (`cpu`, `mem`, `load/core`, `rx`, `tx`).
        kind: How values are scaled and written.
        window_s: Seconds of history the graph spans.
        id: Widget id.
    """

    DEFAULT_CSS = """
    MetricGraph {
        height: 2;
    }
    """

    def __init__(self, label: str, kind: GraphKind, *, window_s: float, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.kind = kind
        self.window_s = window_s
        self._points: tuple[tuple[float, float], ...] = ()
        self._current: float | None = None

    def show(self, points: Reversible[tuple[float, float]], current: float | None) -> None:
        """Draw new history.

        Args:
            points: `(epoch seconds, value)` pairs, oldest first.
            current: The latest value, written beside the label (`None` when unknown).
        """
        self._points = tuple(points)
        self._current = current
        self.refresh()

    def render(self) -> Content:
        """Two lines: name and current value, then peak, each followed by its row of bars."""
        width = max(0, self.size.width - LABEL_WIDTH)
        peaks = bucket_peaks(self._points, self.window_s / width, width) if width and self._points else []
        known = [value for value in peaks if value is not None]
        peak = max(known) if known else None
        top = self._top(peak)
        name = Content.styled(self.label.ljust(_NAME_WIDTH), "$text-muted")
        value = _rjust(self._judged(self._current), _VALUE_WIDTH)
        high = Content.styled("peak".ljust(_NAME_WIDTH), "$text-muted") + _rjust(self._judged(peak), _VALUE_WIDTH)
        upper, lower = self._bars(peaks, top, width)
        return Content("\n").join([Content.assemble(name, value, " ", upper), Content.assemble(high, " ", lower)])

    def _top(self, peak: float | None) -> float:
        """The value drawn as a full two-row bar."""
        if self.kind == "pct":
            return 100.0
        if self.kind == "load":
            return max(LOAD_CRIT_PER_CORE, peak or 0.0)
        return max(_RATE_FLOOR, peak or 0.0)

    def _judged(self, value: float | None) -> Content:
        """A value written for this kind, coloured by its level where the kind has thresholds."""
        if value is None:
            return Content.styled(MISSING, "$text-muted")
        if self.kind == "rate":
            return Content(compact_bytes(value))
        text = pct(value) if self.kind == "pct" else f"{value:.2f}"
        level = self._level(value)
        return Content(text) if level == "ok" else Content.styled(text, _LEVEL_STYLE[level])

    def _level(self, value: float) -> Level:
        if self.kind == "pct":
            return pct_level(value)
        if self.kind == "load":
            return load_level(value, 1)
        return "ok"

    def _bars(self, peaks: list[float | None], top: float, width: int) -> tuple[Content, Content]:
        """The upper and lower rows of bars, right-aligned, grouped into runs of one style."""
        upper: list[tuple[str, str]] = []
        lower: list[tuple[str, str]] = []
        for value in [None] * (width - len(peaks)) + peaks:
            if value is None:
                _extend(upper, " ", "")
                _extend(lower, " ", "")
                continue
            # 16 levels over two rows; a value above zero always shows at least the lowest eighth.
            level = min(16, max(1, round(min(1.0, max(0.0, value / top)) * 16))) if top > 0 else 1
            style = _LEVEL_STYLE[self._level(value)]
            _extend(lower, BLOCKS[min(level, 8) - 1], style)
            _extend(upper, BLOCKS[level - 9] if level > 8 else " ", style)
        return Content.assemble(*upper), Content.assemble(*lower)


def _extend(runs: list[tuple[str, str]], char: str, style: str) -> None:
    """Append `char` to the last run when the style matches, keeping the number of spans small."""
    if runs and runs[-1][1] == style:
        runs[-1] = (runs[-1][0] + char, style)
    else:
        runs.append((char, style))


def _rjust(content: Content, width: int) -> Content:
    return content.pad_left(max(0, width - content.cell_length))
