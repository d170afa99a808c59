"""The output log view on its own: bursts larger than it holds, widths, the gap note, and paused counting."""

from __future__ import annotations

from collections import deque

import pytest
from test_run_support import count_layouts
from textual.app import App, ComposeResult

from fleetdeck.ui.host_run import HostRun, LineKind, TailLine
from fleetdeck.ui.themes import variable_defaults
from fleetdeck.ui.widgets.tail_log import TailLog, compile_search, count_matching


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TailLog(max_lines=100)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)


async def test_a_burst_larger_than_the_log_keeps_the_newest_lines_and_counts_them_all() -> None:
    async with LogApp().run_test(size=(60, 12)) as pilot:
        log = pilot.app.query_one(TailLog)
        log.extend([f"old {i}" for i in range(50)], ["out"] * 50)
        log.pause()
        texts = [f"line {i}" for i in range(1000)]
        kinds: list[LineKind] = ["err" if i % 2 else "out" for i in range(1000)]
        log.extend(texts, kinds)
        await pilot.pause()
        assert log.line_count == 100
        assert [line.text for line in log.lines[:2]] == ["line 900", "line 901"]
        assert log.lines[-1].text == "line 999" and log.lines[-1].kind == "err"
        assert log.unseen == 1000


async def test_width_is_measured_in_cells_and_a_gap_becomes_one_note() -> None:
    async with LogApp().run_test(size=(60, 12)) as pilot:
        log = pilot.app.query_one(TailLog)
        log.extend(["abc", "宽字符宽字符"], ["out", "out"], skipped=7)
        await pilot.pause()
        assert log.lines[0].kind == "note" and "7 lines not shown" in log.lines[0].text
        assert log.virtual_size.width >= 12  # six double-width characters, not six cells
        log.extend(["x" * 80], ["out"])
        await pilot.pause()
        assert log.virtual_size.width >= 80


async def test_the_ring_hands_over_only_what_the_reader_has_not_seen() -> None:
    host = HostRun("web1", deque(maxlen=10), deque(maxlen=10))
    host.add_output("stdout", b"".join(b"%d\n" % i for i in range(25)))
    texts, kinds, dropped = host.texts_after(12)
    assert (texts, dropped) == ([str(i) for i in range(15, 25)], 3)
    assert set(kinds) == {"out"}
    assert host.texts_after(25) == ([], [], 0)
    assert host.lines_after(20)[0][0].text == "20"


class CountingLog(TailLog):
    """Counts how often its style is worked out (it walks every ancestor to blend their backgrounds)."""

    asked = 0

    @property
    def rich_style(self):  # type: ignore[no-untyped-def]
        CountingLog.asked += 1
        return super().rich_style


class CountingApp(LogApp):
    def compose(self) -> ComposeResult:
        yield CountingLog(max_lines=100)


async def test_a_repaint_works_out_the_style_once_not_per_row_and_rows_keep_their_kind() -> None:
    async with CountingApp().run_test(size=(60, 12)) as pilot:
        log = pilot.app.query_one(CountingLog)
        log.extend([f"line {i}" for i in range(40)], ["err" if i % 2 else "out" for i in range(40)])
        await pilot.pause()
        CountingLog.asked = 0
        log.refresh()  # every row drawn again
        content = log.scrollable_content_region.reset_offset  # the rows left of and above the scrollbars
        strips = log.render_lines(content)
        assert CountingLog.asked == 1
        rows = [strip.text.rstrip() for strip in strips]
        assert rows[-1] == "line 39" and len(rows) == content.height == log.size.height - 1
        err, out = (next(iter(strips[-k])).style for k in (1, 2))
        assert err is not None and out is not None and err != out
        assert log.render_line(0).text.startswith(rows[0])  # a row drawn on its own still works


async def test_lines_and_partial_lines_arriving_lay_out_nothing_once_the_scrollbar_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with LogApp().run_test(size=(60, 12)) as pilot:
        log = pilot.app.query_one(TailLog)
        log.extend([f"line {i}" for i in range(30)], ["out"] * 30)
        await pilot.pause()
        assert log.show_vertical_scrollbar and log.scroll_y == log.max_scroll_y

        layouts = count_layouts(monkeypatch)
        for chunk in range(20):  # a partial last line that comes and goes, and a log that grows to its cap
            pending = [TailLine(f"partial {chunk}", "out")] if chunk % 2 else []
            log.extend([f"more {chunk}.{i}" for i in range(5)], ["out"] * 5, pending=pending)
            await pilot.pause()
            assert log.scroll_y == log.max_scroll_y  # still following the end
        assert layouts == [0]
        assert log.virtual_size.height == 100 + 1  # the cap, and the last chunk's partial line
        assert log.vertical_scrollbar.window_virtual_size == 101
        assert log.lines[-1].text == "more 19.4" and log.visible_lines()[-1].text == "partial 19"


async def test_emptying_and_refilling_the_log_lays_out_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another host or run shown: the log is emptied, then fills again; its scrollbars stay where they are."""
    async with LogApp().run_test(size=(60, 12)) as pilot:
        log = pilot.app.query_one(TailLog)
        log.extend([f"line {i} " + "x" * 80 for i in range(30)], ["out"] * 30)
        await pilot.pause()
        layouts = count_layouts(monkeypatch)
        for _switch in range(3):
            log.load([])
            await pilot.pause()
            assert log.show_vertical_scrollbar and log.show_horizontal_scrollbar
            log.extend([f"new {i} " + "y" * 80 for i in range(30)], ["out"] * 30)
            await pilot.pause()
            assert log.scroll_y == log.max_scroll_y > 0
        assert layouts == [0]
        log.wrap = True  # wrapped rows need no sideways scrolling
        await pilot.pause()
        assert not log.show_horizontal_scrollbar and log.show_vertical_scrollbar
        assert log.visible_lines()[-1].text.startswith("new 29")


def test_counting_plain_text_matches_agrees_with_the_regex_that_draws_the_highlights() -> None:
    texts = [
        "ERROR disk full",
        "error: disk full",
        "Errors: 0",
        "no problem here",
        "İstanbul mirror ERROR",  # not ASCII: the regex decides
        "Kelvin \u212a error",
        "mi\u017fsing",  # a long s: the regex folds it to "s", lowering does not
        "a(b) and a.b",
        "tab\tseparated error",
        "",
    ] * 50
    for query in (
        "error",
        "Error",
        "ERROR",
        "disk full",
        "err.r",
        "a(b",
        "a.b",
        "^no",
        "i",
        "İ",
        "\u212a",
        "r:",
        "mis",
    ):
        pattern = compile_search(query)
        assert pattern is not None
        expected = sum(1 for text in texts if pattern.search(text))
        assert count_matching(query, pattern, texts) == expected, query
