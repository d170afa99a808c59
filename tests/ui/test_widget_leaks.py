"""Widgets that are gone are let go: their watchers dropped, the style cache that holds them emptied."""

from __future__ import annotations

import gc

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Header, Static

from fleetdeck.ui.widget_leaks import drop_closed_watchers, trim_style_caches


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


async def test_trimming_the_style_cache_lets_removed_widgets_render_caches_go() -> None:
    app: App[None] = App()
    async with app.run_test() as pilot:
        for round_no in range(5):
            widgets = [Static(f"line {round_no}.{i}", classes="gone") for i in range(20)]
            await app.screen.mount_all(widgets)
            await pilot.pause()
            await app.query(".gone").remove()
            await pilot.pause()
        del widgets
        gc.collect()
        live_widgets = len(list(app.screen.walk_children())) + 1

        def style_caches() -> int:
            return sum(type(obj) is StylesCache for obj in gc.get_objects())

        assert style_caches() > live_widgets + 50  # removed widgets' caches, kept by the lru_cache
        assert trim_style_caches(keep=10_000) is False  # under the limit: left alone
        assert trim_style_caches(keep=0) is True
        gc.collect()
        assert style_caches() <= live_widgets + 20 + 5  # the last 20 removed wait for the screen's next layout
