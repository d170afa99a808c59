"""The fleet table's lines as strips, built straight from segments: a host's row from its cell runs, and the header.

Each `(text, style name)` run of a cell (see `host_cells`) becomes one segment, padded or cropped to its column
with `cell_len` and `set_cell_size`; there is no Rich console render per cell, which is what made the
`DataTable` this replaced cost milliseconds per repaint. `RowPainter` keeps one strip per host and paints it
again only when what it shows changed. The look is DataTable's: `CELL_PADDING` (one space each side of every
cell), numbers right-aligned, a one-run cell's padding in that run's style (so a reversed critical number under
`NO_COLOR` fills its column as before), the row's style carried to the right edge, and on the cursor row the
cursor's colour over every run's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from fleetdeck.ui.widgets.host_cells import CELL_PADDING, Column, Justify, Spec

StyleOf = Callable[[str], Style]
"""A run's full style from its style name (the empty name is the row's own style)."""


class RowPainter:
    """A widget's table lines, each painted once per change, in styles from its component classes.

    A host's strip is kept with what it was painted from (the row's runs, compared by identity, the width, and
    whether the cursor or the mouse is on it) and reused while those are the same. Component classes are named
    `<prefix>--<name>`: one per run style name, plus `header`, `cursor` and `hover`.

    Args:
        widget: The table, whose styles are resolved.
        prefix: Its component class prefix.
    """

    def __init__(self, widget: Widget, prefix: str) -> None:
        self._widget = widget
        self._prefix = prefix
        self._rows: dict[str, tuple[Mapping[str, Spec], int, bool, bool, Strip]] = {}
        self._header: tuple[Sequence[Column], Mapping[str, str], int, Strip] | None = None
        self._styles: dict[tuple[str, str], Style] = {}

    def row(
        self, host: str, columns: Sequence[Column], cells: Mapping[str, Spec], width: int, *, cursor: bool, hover: bool
    ) -> Strip:
        """`host`'s line, painted again only if its runs, the width, or the cursor or mouse on it changed."""
        hover = hover and not cursor
        cached = self._rows.get(host)
        if cached is not None and cached[0] is cells and cached[1] == width and cached[2:4] == (cursor, hover):
            return cached[4]
        kind = "cursor" if cursor else "hover" if hover else ""
        strip = paint_row(columns, cells, width, self.row_style(kind), partial(self.run_style, kind))
        self._rows[host] = (cells, width, cursor, hover, strip)
        return strip

    def header(self, columns: Sequence[Column], labels: Mapping[str, str], width: int) -> Strip:
        """The header line (`labels` is compared by identity: pass a new mapping when they change)."""
        cached = self._header
        if cached is None or cached[0] is not columns or cached[1] is not labels or cached[2] != width:
            cached = self._header = (columns, labels, width, paint_header(columns, labels, width, self.row_style("h")))
        return cached[3]

    def blank(self, width: int) -> Strip:
        """A line under the last row."""
        return Strip.blank(width, self.row_style(""))

    def text(self, spec: Spec, justify: Justify) -> Text:
        """A cell as Rich text in its runs' own styles (not the row's)."""
        return cell_text(spec, justify, self.style)

    def forget(self) -> None:
        """Drop every resolved style and painted line (the theme or the widget's CSS state changed)."""
        self._styles.clear()
        self._rows.clear()
        self._header = None

    def style(self, name: str) -> Style:
        """The style a run's name adds on its own (its component class, partial); nothing for the empty name."""
        key = ("part", name)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = (
                self._widget.get_component_rich_style(f"{self._prefix}--{name}", partial=True) if name else Style()
            )
        return style

    def row_style(self, kind: str) -> Style:
        """The full style of a plain row (`""`), the `cursor` or `hover` row, or the header (`h`)."""
        key = ("row", kind)
        style = self._styles.get(key)
        if style is None:
            widget = self._widget
            if kind == "h":
                style = widget.get_component_rich_style(f"{self._prefix}--header")
            elif kind:
                style = self.row_style("") + widget.get_component_rich_style(f"{self._prefix}--{kind}")
            else:
                style = widget.rich_style
            self._styles[key] = style
        return style

    def run_style(self, kind: str, name: str) -> Style:
        """A run's full style in a row of `kind`; one `Style` object per pair, so `paint_row` can merge runs."""
        key = (kind, name)
        style = self._styles.get(key)
        if style is None:
            row = self.row_style(kind)
            style = row
            if name:
                style = row + self.style(name)
                if kind == "cursor":  # the cursor's colour wins over the run's, as in DataTable
                    style += Style.from_color(row.color)
            self._styles[key] = style
        return style


def paint_row(columns: Sequence[Column], cells: Mapping[str, Spec], width: int, row: Style, style_of: StyleOf) -> Strip:
    """One table line `width` cells wide: every column's cell between its padding, then the row style to the edge.

    Args:
        columns: The layout, left to right.
        cells: The row's runs by column key; a missing key is an empty cell.
        width: Cells of the whole line.
        row: The row's style (plain, cursor or hover), for padding and unstyled runs.
        style_of: Full style of a run by its style name; the same name must give the same `Style` object, which
            is how neighbouring runs of one style are merged into one segment.
    """
    line = _Line(row)
    pad = " " * (CELL_PADDING // 2)
    used = 0
    for column in columns:
        line.add(pad, row)
        _fit(line, cells.get(column.key, ()), column.width, column.justify, row, style_of)
        line.add(pad, row)
        used += column.width + CELL_PADDING
    return line.finish(used, width)


def paint_header(columns: Sequence[Column], labels: Mapping[str, str], width: int, style: Style) -> Strip:
    """The header line: each column's label (from `labels`, else its own) aligned like its cells."""
    pad = " " * (CELL_PADDING // 2)
    text = "".join(
        pad + _aligned(labels.get(column.key, column.label), column.width, column.justify) + pad for column in columns
    )
    line = _Line(style)
    line.add(text, style)
    return line.finish(cell_len(text), width)


def cell_text(spec: Spec, justify: Justify, style_of: StyleOf) -> Text:
    """A cell as Rich text, each run in its style (what tests and copying read; rows are painted from runs)."""
    if len(spec) == 1:
        text, name = spec[0]
        return Text(text, style=style_of(name), justify=justify)
    return Text.assemble(*((text, style_of(name)) for text, name in spec), justify=justify)


class _Line:
    """Segments of one line, a run appended to the previous one when it has the very same style object."""

    __slots__ = ("row", "segments", "style", "text")

    def __init__(self, row: Style) -> None:
        self.row = row
        self.segments: list[Segment] = []
        self.text = ""
        self.style = row

    def add(self, text: str, style: Style) -> None:
        if style is self.style:
            self.text += text
            return
        if self.text:
            self.segments.append(Segment(self.text, self.style))
        self.text, self.style = text, style

    def finish(self, used: int, width: int) -> Strip:
        """The strip, `used` cells so far, cropped or extended in the row style to `width`."""
        if used < width:
            self.add(" " * (width - used), self.row)
        if self.text:
            self.segments.append(Segment(self.text, self.style))
        strip = Strip(self.segments, max(used, width))
        return strip.crop(0, width) if used > width else strip


def _fit(line: _Line, runs: Spec, width: int, justify: Justify, row: Style, style_of: StyleOf) -> None:
    """Add `runs` cropped or padded to exactly `width` cells."""
    if width <= 0:
        return
    used = sum(cell_len(text) for text, _ in runs)
    gap = width - used
    if gap > 0:
        fill = " " * gap
        fill_style = style_of(runs[0][1]) if len(runs) == 1 else row
        if justify == "right":
            line.add(fill, fill_style)
        for text, name in runs:
            line.add(text, style_of(name))
        if justify != "right":
            line.add(fill, fill_style)
        return
    room = width
    for text, name in runs:
        if room <= 0:
            break
        length = cell_len(text)
        if length > room:
            text, length = set_cell_size(text, room), room
        line.add(text, style_of(name))
        room -= length


def _aligned(text: str, width: int, justify: Justify) -> str:
    if width <= 0:
        return ""
    if justify == "right" and cell_len(text) < width:
        text = " " * (width - cell_len(text)) + text
    return set_cell_size(text, width)
