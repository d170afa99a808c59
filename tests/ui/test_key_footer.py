"""The key bar rebuilds its keys only when what it shows changes, and then shows the change."""

from __future__ import annotations

import gc

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Input
from textual.widgets._footer import FooterKey

from fleetdeck.ui.widgets.key_footer import KeyFooter


class Keys(App[None]):
    BINDINGS = [Binding("f5", "rerun", "Rerun"), Binding("f6", "drop", "Drop")]

    def __init__(self) -> None:
        super().__init__()
        self.can_drop = True

    def compose(self) -> ComposeResult:
        yield Input(id="search")
        yield Button("go", id="go")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "drop" and not self.can_drop else True

    def action_rerun(self) -> None:
        pass

    def action_drop(self) -> None:
        pass


def shown(app: Keys) -> list[tuple[str, bool]]:
    return [(key.description, key.has_class("-disabled")) for key in app.query(FooterKey)]


async def test_a_refresh_that_changes_nothing_keeps_the_same_keys() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        keys = list(app.query(FooterKey))
        assert [k.description for k in keys][:2] == ["Rerun", "Drop"]
        for _ in range(3):
            app.screen.refresh_bindings()
            await pilot.pause()
        app.set_focus(app.query_one("#go"))  # a focus change that adds no shown binding
        await pilot.pause()
        assert list(app.query(FooterKey)) == keys  # the very same widgets: nothing was rebuilt


async def test_a_binding_turning_off_and_on_again_is_shown_each_time() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert ("Drop", False) in shown(app)
        app.can_drop = False
        app.screen.refresh_bindings()
        await pilot.pause()
        assert ("Drop", True) in shown(app)
        app.can_drop = True
        app.screen.refresh_bindings()
        await pilot.pause()
        assert ("Drop", False) in shown(app)


async def test_focus_on_a_widget_with_its_own_shown_keys_rebuilds() -> None:
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
        assert "Next match" not in [d for d, _ in shown(app)]
        app.set_focus(app.query_one("#search"))
        await pilot.pause()
        assert "Next match" in [d for d, _ in shown(app)]


async def test_rebuilt_keys_are_let_go() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        for turn in range(30):  # each turn changes what is shown, so the keys are rebuilt
            app.can_drop = turn % 2 == 1
            app.screen.refresh_bindings()
            await pilot.pause()
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        watchers = getattr(footer, "__watchers")["compact"]
        assert len(watchers) <= len(app.query(FooterKey))  # only keys on display watch the footer, not 30 builds
        gc.collect()
        live = sum(type(obj) is FooterKey for obj in gc.get_objects())
        assert live <= 2 * len(app.query(FooterKey))  # not 30 builds' worth
