"""Watchers of widgets that are gone are dropped, so the widgets can be collected."""

from __future__ import annotations

import gc

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Header, Static

from fleetdeck.ui.closed_watchers import drop_closed_watchers


class Titled(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("body")


async def test_headers_of_closed_screens_stop_watching_the_app_title() -> None:
    app: App[None] = App()
    async with app.run_test() as pilot:
        for _ in range(10):
            await app.push_screen(Titled())
            await pilot.pause()
            app.pop_screen()
            await pilot.pause()
        watchers = getattr(app, "__watchers")
        assert len(watchers["title"]) >= 10  # Textual keeps them while the title does not change

        assert drop_closed_watchers(app) >= 20  # title and sub_title of ten closed screens
        assert watchers["title"] == [] and watchers["sub_title"] == []
        gc.collect()
        assert not any(type(obj) is Header for obj in gc.get_objects())

        await app.push_screen(Titled())  # an open screen's header keeps watching
        await pilot.pause()
        assert drop_closed_watchers(app) == 0 and len(watchers["title"]) == 1


def test_an_object_nobody_watches_is_left_alone() -> None:
    assert drop_closed_watchers(object()) == 0
