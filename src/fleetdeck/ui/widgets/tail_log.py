"""The output log view: a line-API view over a bounded ring of lines, with follow mode, search and wrap.

:class:`TailLog` renders only the rows on screen (`render_line`), from its own bounded deque of
:class:`~fleetdeck.ui.host_run.TailLine` values that the run screen appends to on its clock, so a host
printing megabytes a second costs a few list operations per tick and a repaint of the visible rows. Follow
mode is toolong's: the view sticks to the end until the user scrolls up, then counts the lines that arrive
("N new lines") until `End`/`G`, a scroll back to the bottom, or a click on the notice resumes it. Stderr,
search matches and gathered-group headers are styled through component classes, so the theme decides the
colours; with ``NO_COLOR`` set, stderr lines are bold, since colour alone would no longer set them apart.
"""

from __future__ import annotations

import operator
import re
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import repeat

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollTo, ScrollUp
from textual.strip import Strip
from textual.widget import Widget

from fleetdeck.ui.host_run import LineKind, TailLine
from fleetdeck.ui.run_bridge import DEFAULT_MAX_LINES

STRIP_CACHE_SIZE = 256
"""Styled lines kept: a few screens' worth."""


class _StripCache:
    """Styled lines by key, the oldest dropped first when full.

    Not Textual's `LRUCache`: its entries are linked in a ring, and `clear()` (here on every search keystroke
    and every content reset) turns the whole ring, with each line's strip, into cyclic garbage that only a
    full collection reclaims. A plain dict frees its values as soon as it is cleared.
    """

    __slots__ = ("_lines", "_size")

    def __init__(self, size: int) -> None:
        self._lines: dict[tuple[int, int], Strip] = {}
        self._size = size

    def get(self, key: tuple[int, int]) -> Strip | None:
        return self._lines.get(key)

    def __setitem__(self, key: tuple[int, int], strip: Strip) -> None:
        lines = self._lines
        if len(lines) >= self._size and key not in lines:
            del lines[next(iter(lines))]
        lines[key] = strip

    def __len__(self) -> int:
        return len(self._lines)

    def clear(self) -> None:
        self._lines.clear()


_RenderPass = tuple[Style, Offset, int, dict[LineKind, Style]]
"""The widget's style, scroll offset, content width and line styles by kind, fixed for one repaint."""

_KIND_CLASSES: dict[LineKind, str] = {
    "out": "",
    "err": "tail-log--stderr",
    "head": "tail-log--header",
    "head-bad": "tail-log--header-bad",
    "note": "tail-log--note",
}


def compile_search(query: str) -> re.Pattern[str] | None:
    """A search pattern: a regex when the query is one, else the literal text; smart case like `less -i`.

    Args:
        query: What the user typed.

    Returns:
        The pattern, or `None` for an empty query.
    """
    if not query:
        return None
    flags = 0 if any(ch.isupper() for ch in query) else re.IGNORECASE
    try:
        return re.compile(query, flags)
    except re.error:
        return re.compile(re.escape(query), flags)


_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")


def count_matching(query: str, pattern: re.Pattern[str], texts: Iterable[str]) -> int:
    """Lines of `texts` holding a match of `pattern`, compiled from `query` by :func:`compile_search`.

    A query that is plain text (the usual search) is counted with `in` rather than the regex engine, on
    lowered lines when case is ignored: a case-insensitive regex scan of 5,000 lines took 7.7 ms, as
    long as a letter typed over a flood should take in all; lowering and `in` take about 1.5 ms.
    """
    plain = query if not _REGEX_SYNTAX.intersection(query) or pattern.pattern != query else None
    if plain is None or not plain.isascii():
        return sum(map(bool, map(pattern.search, texts)))
    if not pattern.flags & re.IGNORECASE:
        return sum(map(operator.contains, texts, repeat(plain)))
    needle = plain.lower()
    search = pattern.search
    # Lowering is the regex's case folding for ASCII text only; other lines ask the regex.
    return sum(needle in text.lower() if text.isascii() else search(text) is not None for text in texts)


def _widest(texts: list[str]) -> int:
    """Cells of the widest text: `len` when every text is ASCII (the usual case), else `cell_len` per text."""
    if all(map(str.isascii, texts)):
        return max(map(len, texts))
    return max(map(cell_len, texts))


class TailLog(ScrollView, can_focus=True):
    """Lines of output, newest at the bottom, drawn one visible row at a time.

    Its scrollbars are always there (the horizontal one not while wrapping): a scrollbar that comes or goes
    lays out the whole screen, and following another host or run empties the log and fills it again, which
    took two layouts just as the operator starts typing.

    Args:
        max_lines: Most lines kept; older ones drop off the top.
        follow: Start in follow mode.
        id: Widget id.
        classes: CSS classes.
    """

    COMPONENT_CLASSES = {
        "tail-log--stderr",
        "tail-log--match",
        "tail-log--match-current",
        "tail-log--header",
        "tail-log--header-bad",
        "tail-log--note",
    }

    DEFAULT_CSS = """
    TailLog {
        background: $surface;
        scrollbar-size-horizontal: 1;
        overflow-x: scroll;
        overflow-y: scroll;
    }
    TailLog.-wrap { overflow-x: hidden; }
    TailLog > .tail-log--stderr { color: $stream-stderr; }
    TailLog:nocolor > .tail-log--stderr { text-style: bold; }
    TailLog > .tail-log--match { background: $accent 45%; }
    TailLog > .tail-log--match-current { background: $accent; color: $background; text-style: bold; }
    TailLog > .tail-log--header { color: $health-ok; text-style: bold; }
    TailLog > .tail-log--header-bad { color: $health-crit; text-style: bold; }
    TailLog > .tail-log--note { color: $muted; text-style: italic; }
    """

    following: reactive[bool] = reactive(True)
    """Whether new lines scroll the view to the end."""
    unseen: reactive[int] = reactive(0)
    """Lines that arrived while follow mode was paused."""
    wrap: reactive[bool] = reactive(False)
    """Wrap long lines instead of scrolling sideways."""

    class SearchMoved(Message):
        """The current search match changed; `index` is 1-based, 0 when there is none."""

        def __init__(self, tail: TailLog, index: int, total: int) -> None:
            super().__init__()
            self.tail = tail
            self.index = index
            self.total = total

        @property
        def control(self) -> TailLog:
            """The log the match is in."""
            return self.tail

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        follow: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        # Texts and kinds in two deques rather than one of tuples: strings are not tracked by the garbage
        # collector, so thousands of lines a second add nothing to its full collections.
        self._texts: deque[str] = deque(maxlen=max_lines)
        self._kinds: deque[LineKind] = deque(maxlen=max_lines)
        self._pending: list[TailLine] = []
        self._first = 0  # absolute index of the oldest line: cache keys survive lines dropping off
        self._width = 0
        self._rows: list[tuple[int, int]] = []  # wrap mode: (line index, part) per row
        self._pattern: re.Pattern[str] | None = None
        self._query = ""
        self._current: int | None = None  # line index of the current match
        self._cache = _StripCache(STRIP_CACHE_SIZE)
        self._styles: dict[str, Style] = {}
        self._programmatic = False
        self._pass: _RenderPass | None = None
        self._repainting = False
        self.set_reactive(TailLog.following, follow)

    # -- content ---------------------------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        """Lines held (pending partial lines not included)."""
        return len(self._texts)

    @property
    def lines(self) -> Sequence[TailLine]:
        """The lines held, oldest first (read-only view)."""
        return tuple(TailLine(text, kind) for text, kind in zip(self._texts, self._kinds, strict=True))

    @property
    def current_match(self) -> TailLine | None:
        """The line of the current search match (after `n`/`N` or Enter in the search bar), if any."""
        if self._pattern is None or self._current is None or self._current >= len(self._texts):
            return None
        return self._line(self._current)

    def visible_lines(self) -> list[TailLine]:
        """The lines with at least one row on screen, partial lines included, oldest first."""
        top = int(self.scroll_y)
        height = self.scrollable_content_region.height
        if self.wrap:
            indexes = dict.fromkeys(index for index, _part in self._rows[top : top + height])
        else:
            indexes = dict.fromkeys(range(top, min(top + height, self._total_rows_unwrapped())))
        return [self._line(index) for index in indexes]

    def load(self, lines: Iterable[TailLine], pending: Sequence[TailLine] = (), *, keep_scroll: bool = False) -> None:
        """Replace the content, e.g. when another host is selected; keeps follow mode as it was.

        Args:
            lines: The new content, oldest first (only the newest `max_lines` are kept).
            pending: Partial lines to show below the last line.
            keep_scroll: Stay at the same row (a refresh of the same content) instead of the top or end.
        """
        self._texts.clear()
        self._kinds.clear()
        self._first = 0
        self._width = 0
        self._cache.clear()
        self._current = None
        self.unseen = 0
        self._pending = list(pending)
        for line in lines:
            self._texts.append(line.text)
            self._kinds.append(line.kind)
        self._width = max((cell_len(text) for text in self._texts), default=0)
        self._changed(reset_scroll=not keep_scroll)

    def append(self, lines: Sequence[TailLine], *, skipped: int = 0, pending: Sequence[TailLine] = ()) -> None:
        """Add lines at the end; `skipped` lines the caller could not fetch in time become one note line.

        Args:
            lines: New lines, oldest first.
            skipped: Lines produced before `lines` that are gone from the source's ring.
            pending: Partial lines (no newline yet) to show below the last line.
        """
        self.extend([line.text for line in lines], [line.kind for line in lines], skipped=skipped, pending=pending)

    def extend(
        self, texts: list[str], kinds: list[LineKind], *, skipped: int = 0, pending: Sequence[TailLine] = ()
    ) -> None:
        """:meth:`append` from parallel lists of texts and kinds, as a flooding host's ring hands them over.

        Only the newest `max_lines` of a batch are kept and measured, so a burst larger than the view holds
        costs list slicing, not work per line.
        """
        if skipped:
            texts = [f"… {skipped} lines not shown here (they are in the run's output files)", *texts]
            kinds = ["note", *kinds]
        if not texts and list(pending) == self._pending:
            return
        maxlen = self._texts.maxlen or len(texts)
        arriving = len(texts)
        if arriving > maxlen:
            texts, kinds = texts[-maxlen:], kinds[-maxlen:]
        overflow = max(0, len(self._texts) + arriving - maxlen)
        shift = self._rows_of(min(overflow, len(self._texts)))
        if texts:
            self._width = max(self._width, _widest(texts))
        self._texts.extend(texts)
        self._kinds.extend(kinds)
        self._first += overflow
        if self._current is not None:
            self._current = self._current - overflow if self._current >= overflow else None
        self._pending = list(pending)
        if not self.following:
            self.unseen += arriving
        self._changed(shift=shift)

    # -- follow mode -----------------------------------------------------------------------------------------

    def resume(self) -> None:
        """Follow the end again and forget the unseen count."""
        self.following = True
        self.unseen = 0
        self._scroll_programmatically()

    def pause(self) -> None:
        """Stop following (the user is reading something above)."""
        self.following = False

    def action_scroll_end(self) -> None:
        """`End` resumes following rather than only scrolling."""
        self.resume()

    # Follow mode pauses on what the user does (keys, wheel, scrollbar), never on a change of scroll offset
    # alone: a layout change (the notice or search bar appearing) also moves the offset.

    def action_scroll_up(self) -> None:
        """Up: pause, then scroll."""
        self.pause()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        """Page up: pause, then scroll."""
        self.pause()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        """Home: pause, then go to the oldest line."""
        self.pause()
        super().action_scroll_home()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up means "stop following", even at the top where the offset cannot change."""
        self.pause()

    def on_scroll_up(self, event: ScrollUp) -> None:
        """A click on the scrollbar above the thumb."""
        self.pause()

    def on_scroll_to(self, event: ScrollTo) -> None:
        """The scrollbar thumb dragged upwards."""
        if event.y is not None and event.y < self.scroll_y:
            self.pause()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling back down to the last line resumes follow mode."""
        super().watch_scroll_y(old_value, new_value)
        if self._programmatic or self.following:
            return
        if new_value > old_value and new_value >= self.max_scroll_y:
            self.following = True
            self.unseen = 0

    def on_resize(self, event: events.Resize) -> None:
        """Stay at the end when the size changes while following; wrapped rows depend on the width."""
        if self.wrap:
            self._cache.clear()
            self._changed()
        elif self.following:
            self._scroll_programmatically()

    # -- wrap and search -------------------------------------------------------------------------------------

    def watch_wrap(self, wrap: bool) -> None:
        """Re-flow rows for the new mode (wrapped rows never need the horizontal scrollbar)."""
        self.set_class(wrap, "-wrap")
        self._cache.clear()
        self._changed(reset_scroll=self.following)

    def search(self, query: str) -> int:
        """Highlight matches of `query` (regex or text, smart case); returns how many lines match."""
        self._pattern = compile_search(query)
        self._query = query
        self._current = None
        self._cache.clear()
        self.refresh()
        return self.match_count()

    @property
    def searching(self) -> bool:
        """Whether a search is active."""
        return self._pattern is not None

    def match_count(self) -> int:
        """Lines holding at least one match of the active search."""
        pattern = self._pattern
        if pattern is None:
            return 0
        return count_matching(self._query, pattern, self._texts)

    def jump(self, forward: bool = True) -> bool:
        """Move to the next (or previous) line with a match and stop following; False when there is none.

        The first jump starts from the end of the view: with follow mode on, that is the newest output.
        """
        pattern = self._pattern
        if pattern is None or not self._texts:
            return False
        count = len(self._texts)
        if self._current is not None:
            start = self._current
        else:
            top = int(self.scroll_y)
            start = (
                self._line_at_row(top) - 1
                if forward
                else self._line_at_row(top + self.scrollable_content_region.height - 1) + 1
            )
        step = 1 if forward else -1
        for offset in range(1, count + 1):
            index = (start + step * offset) % count
            if pattern.search(self._texts[index]):
                self._current = index
                break
        else:
            return False
        self._cache.clear()
        self.following = False
        row = self._row_of_line(index)
        self._scroll_programmatically(y=max(0, row - self.scrollable_content_region.height // 2))
        self.refresh()
        matches = [i for i, text in enumerate(self._texts) if pattern.search(text)]
        self.post_message(self.SearchMoved(self, matches.index(index) + 1, len(matches)))
        return True

    # -- rendering -------------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Theme or CSS changed: resolved styles and cached strips are stale."""
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rows in `crop`, with the widget's style and geometry worked out once for all of them.

        `rich_style` walks the ancestors to blend their backgrounds: asked once per row (and again per new
        line's strip) it was half the cost of repainting a flooding host's tail.
        """
        self._repainting = True
        try:
            return super().render_lines(crop)
        finally:
            self._repainting = False
            self._pass = None

    def render_line(self, y: int) -> Strip:
        """One visible row."""
        base, (scroll_x, scroll_y), width, _ = self._pass or self._new_pass()
        row = scroll_y + y
        if self.wrap:
            if row >= len(self._rows):
                return Strip.blank(width, base)
            index, part = self._rows[row]
            strip = self._strip(index)
            return strip.crop_extend(part * width, (part + 1) * width, base)
        if row >= self._total_rows_unwrapped():
            return Strip.blank(width, base)
        return self._strip(row).crop_extend(scroll_x, scroll_x + width, base)

    def _line(self, index: int) -> TailLine:
        count = len(self._texts)
        if index < count:
            return TailLine(self._texts[index], self._kinds[index])
        return self._pending[index - count]

    def _strip(self, index: int) -> Strip:
        """The whole of one line, styled; cached by absolute index while content and search stay put."""
        is_pending = index >= len(self._texts)
        key = (self._first + index, 1 if is_pending else 0)
        cached = None if is_pending else self._cache.get(key)
        if cached is not None:
            return cached
        line = self._line(index)
        base, _, _, styles = self._pass or self._new_pass()
        style = styles.get(line.kind)
        if style is None:
            style = styles[line.kind] = base + self._kind_style(line.kind)
        pattern = self._pattern
        spans = list(pattern.finditer(line.text)) if pattern is not None and line.text else []
        if not spans:
            strip = Strip([Segment(line.text, style)], cell_len(line.text))
        else:
            text = Text(line.text, style=style, no_wrap=True, end="")
            mark = self._component("tail-log--match-current" if index == self._current else "tail-log--match")
            for match in spans:
                if match.end() > match.start():
                    text.stylize(mark, match.start(), match.end())
            strip = Strip(list(text.render(self.app.console, end="")), cell_len(line.text))
        if not is_pending:
            self._cache[key] = strip
        return strip

    def _new_pass(self) -> _RenderPass:
        """What a repaint works out once, at its first row that is drawn (a repaint from Textual's line cache
        draws none); kept until `render_lines` ends. A row drawn outside a repaint works it out for itself."""
        made: _RenderPass = (self.rich_style, self.scroll_offset, self.scrollable_content_region.width, {})
        if self._repainting:
            self._pass = made
        return made

    def _kind_style(self, kind: LineKind) -> Style:
        name = _KIND_CLASSES[kind]
        return self._component(name) if name else Style()

    def _component(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=True)
        return style

    # -- geometry --------------------------------------------------------------------------------------------

    def _total_rows_unwrapped(self) -> int:
        return len(self._texts) + len(self._pending)

    @staticmethod
    def _line_rows(line: TailLine, width: int) -> int:
        if width <= 0:
            return 1  # not laid out yet: one row per line until the width is known
        return max(1, -(-cell_len(line.text) // width))

    def _rows_of(self, lines: int) -> int:
        """Rows the first `lines` lines take (they are about to drop off the top)."""
        if not self.wrap:
            return lines
        width = self.scrollable_content_region.width
        return sum(self._line_rows(self._line(i), width) for i in range(lines))

    def _reflow(self) -> None:
        width = self.scrollable_content_region.width
        rows: list[tuple[int, int]] = []
        for index in range(self._total_rows_unwrapped()):
            rows.extend((index, part) for part in range(self._line_rows(self._line(index), width)))
        self._rows = rows

    def _line_at_row(self, row: int) -> int:
        if self.wrap and self._rows:
            return self._rows[max(0, min(row, len(self._rows) - 1))][0]
        return max(0, min(row, len(self._texts) - 1))

    def _row_of_line(self, index: int) -> int:
        if not self.wrap:
            return index
        for row, (line, part) in enumerate(self._rows):
            if line == index and part == 0:
                return row
        return 0

    def on_mount(self) -> None:
        """Size the virtual area for content loaded before the widget was mounted."""
        self._changed()

    def _changed(self, *, shift: int = 0, reset_scroll: bool = False) -> None:
        """Content changed: resize the virtual area, then stick to the end or keep the rows in place."""
        if not self.is_mounted:
            return
        if self.wrap:
            self._reflow()
            size = Size(self.scrollable_content_region.width, len(self._rows))
        else:
            size = Size(self._width, self._total_rows_unwrapped())
        if size != self.virtual_size:
            # Stored without the layout the reactive asks for: the log's box does not depend on its content, so
            # only its scrollbars follow (`_scroll_update` lays out the screen only if one appears or goes). A
            # flooding host's partial last line comes and goes with each chunk, and every such row laid out the
            # whole run screen again (10-35 ms each, several a second).
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
        if self.following:
            self._scroll_programmatically()
        elif reset_scroll:
            self._scroll_programmatically(y=0)
        elif shift:
            self._scroll_programmatically(y=max(0, self.scroll_y - shift))
        self.refresh()

    def _scroll_programmatically(self, *, y: float | None = None) -> None:
        """Scroll without it counting as the user's doing; `None` means the end.

        Forced, because right after a change the scrollbars may not be laid out yet; and for the end, once
        more after the next refresh, when the layout has caught up with the new size.
        """

        def scroll() -> None:
            self._programmatic = True
            try:
                target = self.max_scroll_y if y is None else y
                self.scroll_to(y=target, animate=False, immediate=True, force=True)
            finally:
                self._programmatic = False

        scroll()
        if y is None:
            self.call_after_refresh(lambda: scroll() if self.following else None)
