"""The key bar: the shown bindings on one line, repainted only when they change, clickable like Textual's footer."""

from __future__ import annotations

import gc

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Button, Input

from fleetdeck.ui.widgets.key_footer import KeyFooter


class Keys(App[None]):
    BINDINGS = [
        Binding("f5", "rerun", "Rerun"),
        Binding("f6", "drop", "Drop"),
        Binding("f7", "rerun", "Rerun again"),  # a second key for an action: the first one is shown
        Binding("f8", "hidden", "Hidden", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.can_drop: bool | None = True
        self.reruns = 0

    def compose(self) -> ComposeResult:
        yield Input(id="search")
        yield Button("go", id="go")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_drop if action == "drop" else True

    def action_rerun(self) -> None:
        self.reruns += 1

    def action_drop(self) -> None:
        pass

    def action_hidden(self) -> None:
        pass


def bar_text(app: App[None]) -> str:
    footer = app.query_one(KeyFooter)
    return "".join(segment.text for segment in footer.render_line(0))


def descriptions(app: App[None]) -> list[tuple[str, bool]]:
    footer = app.query_one(KeyFooter)
    keys, _ = footer.keys()
    return [(key.description, key.enabled) for key in keys]


async def test_the_bar_shows_each_action_once_with_its_key_and_the_palette_on_the_right() -> None:
    app = Keys()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        text = bar_text(app)
        assert text.startswith(" f5 Rerun  f6 Drop ")
        assert "Rerun again" not in text and "Hidden" not in text
        assert text.rstrip().endswith("▏^p palette") and len(text) == 80


async def test_a_refresh_that_changes_nothing_repaints_nothing() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        renders = 0
        render = footer.render

        def counting() -> object:
            nonlocal renders
            renders += 1
            return render()

        footer.render = counting  # type: ignore[method-assign]
        for _ in range(3):
            app.screen.refresh_bindings()
            await pilot.pause()
        app.set_focus(app.query_one("#go"))  # a focus change that adds no shown binding
        await pilot.pause()
        assert renders == 0

        app.can_drop = None
        app.screen.refresh_bindings()
        await pilot.pause()
        assert renders == 1


async def test_a_binding_turning_off_hidden_and_on_again_is_shown_each_time() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert ("Drop", True) in descriptions(app)
        app.can_drop = None  # disabled: shown dimmed
        app.screen.refresh_bindings()
        await pilot.pause()
        assert ("Drop", False) in descriptions(app)
        dimmed = [segment for segment in app.query_one(KeyFooter).render_line(0) if "Drop" in segment.text]
        assert dimmed and all(segment.style is not None and segment.style.dim for segment in dimmed)
        app.can_drop = False  # not available: not shown
        app.screen.refresh_bindings()
        await pilot.pause()
        assert "Drop" not in bar_text(app)
        app.can_drop = True
        app.screen.refresh_bindings()
        await pilot.pause()
        assert ("Drop", True) in descriptions(app) and " f6 Drop " in bar_text(app)


async def test_focus_on_a_widget_with_its_own_shown_keys_repaints() -> None:
    class Search(Input):
        BINDINGS = [Binding("ctrl+n", "next_match", "Next match")]

    class WithSearch(Keys):
        def compose(self) -> ComposeResult:
            yield Search(id="search")
            yield Button("go", id="go")
            yield KeyFooter()

    app = WithSearch()
    async with app.run_test() as pilot:
        app.set_focus(app.query_one("#go"))
        await pilot.pause()
        assert "Next match" not in bar_text(app)
        app.set_focus(app.query_one("#search"))
        await pilot.pause()
        assert "Next match" in bar_text(app)


async def test_keys_that_do_not_fit_are_left_out_whole() -> None:
    app = Keys()
    async with app.run_test(size=(30, 10)) as pilot:
        await pilot.pause()
        text = bar_text(app)
        assert text.startswith(" f5 Rerun ") and "Drop" not in text and "Dr" not in text
        assert text.rstrip().endswith("▏^p palette") and len(text) == 30


async def test_a_click_on_a_key_presses_it_and_a_disabled_one_does_nothing() -> None:
    app = Keys()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        await pilot.click(KeyFooter, offset=(2, 0))  # on " f5 Rerun "
        await pilot.pause()
        assert app.reruns == 1
        app.can_drop = None
        app.screen.refresh_bindings()
        await pilot.pause()
        text = bar_text(app)
        await pilot.click(KeyFooter, offset=(text.index("Drop"), 0))
        await pilot.pause()
        assert app.reruns == 1


async def test_changing_keys_builds_no_widgets() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        before = len(list(app.query(Widget)))
        for turn in range(30):
            app.can_drop = turn % 2 == 1
            app.screen.refresh_bindings()
            await pilot.pause()
        assert len(list(app.query(Widget))) == before
        gc.collect()
        assert not any(type(obj).__name__ == "FooterKey" for obj in gc.get_objects())
