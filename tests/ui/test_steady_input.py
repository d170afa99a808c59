"""Typing into a fixed-size field repaints the field; it does not lay out the screen, and the field still scrolls."""

from __future__ import annotations

import pytest
from test_run_support import count_layouts
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from fleetdeck.ui.widgets.steady_input import SteadyInput

TYPED = "abcdefghijklmnopqrstuvwxyz0123456789"


class FieldApp(App[None]):
    CSS = "Input { width: 20; } Input.auto { width: auto; }"

    def __init__(self, field: Input) -> None:
        super().__init__()
        self.field = field

    def compose(self) -> ComposeResult:
        yield Static("above")
        yield self.field


async def _layouts_while_typing(field: Input, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times the screen is laid out while `TYPED` is typed into `field`, one key at a time."""
    async with FieldApp(field).run_test(size=(60, 6)) as pilot:
        field.focus()
        await pilot.pause()
        layouts = count_layouts(monkeypatch)
        for key in TYPED:
            await pilot.press(key)
            await pilot.pause()
        assert field.value == TYPED
        # The field shows the end of the text: scrolled to the cursor, or grown to fit.
        assert field.render_line(0).text.strip().endswith(TYPED[-8:])
        assert field.scroll_x > 0 or field.size.width > len(TYPED)
    return layouts[0]


async def test_typing_lays_out_the_screen_for_a_plain_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason `SteadyInput` exists; if Textual stops doing this, the subclass can go."""
    assert await _layouts_while_typing(Input(), monkeypatch) >= len(TYPED) // 2


async def test_typing_into_a_steady_input_never_lays_out_the_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await _layouts_while_typing(SteadyInput(), monkeypatch) == 0


async def test_a_field_sized_by_its_text_still_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    field = SteadyInput(classes="auto")
    assert await _layouts_while_typing(field, monkeypatch) > 0


async def test_a_text_wider_than_the_field_never_switches_its_scrollbar_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scrollbar is zero cells high; switching it on and off cost a layout of the screen each time."""
    field = SteadyInput()
    async with FieldApp(field).run_test(size=(60, 6)) as pilot:
        field.focus()
        await pilot.pause()
        await pilot.press(*TYPED)
        await pilot.pause()
        assert field.render_line(0).text.strip().endswith(TYPED[-8:]) and field.scroll_x > 0
        layouts = count_layouts(monkeypatch)
        pilot.app.screen.refresh(layout=True)  # a layout for another reason
        await pilot.pause()
        field.value = ""  # and the text shrinking back
        await pilot.pause()
        pilot.app.screen.refresh(layout=True)
        await pilot.pause()
        assert not field.show_horizontal_scrollbar
        assert layouts[0] == 2  # the two asked for, none of the field's own
