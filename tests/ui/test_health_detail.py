"""The detail pane redraws only when its content changes, and lays the screen out only when its height does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboard_fakes import NOW, canned
from textual.app import App, ComposeResult

from fleetdeck.core.health.sample import FsUsage
from fleetdeck.ui.themes import variable_defaults
from fleetdeck.ui.widgets.health_detail import HealthDetail


class DetailApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HealthDetail()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)


async def test_same_content_is_not_redrawn_and_a_new_age_keeps_the_layout() -> None:
    async with DetailApp().run_test(size=(80, 20)) as pilot:
        detail = pilot.app.query_one(HealthDetail)
        updates: list[bool] = []
        original = detail.update

        def spy(content: Any = "", *, layout: bool = True) -> None:
            updates.append(layout)
            original(content, layout=layout)

        detail.update = spy  # type: ignore[method-assign]
        sample = canned("web-1")
        detail.show(sample, NOW + 5)
        detail.show(sample, NOW + 5)  # nothing changed
        detail.show(sample, NOW + 6)  # a fresh sample's age is not shown: still nothing
        stale = replace(sample, status="stale", reason="no health data for 6s")
        detail.show(stale, NOW + 6)  # the state line says so, and how old the numbers are
        detail.show(stale, NOW + 7)  # only the age
        more_disks = replace(stale, filesystems=(*sample.filesystems, FsUsage("/srv", "ext4", 10, 5, 50.0, None)))
        detail.show(more_disks, NOW + 7)  # one more line
        await pilot.pause()
        assert updates == [True, False, False, True]
        text = str(detail.render())
        assert "/srv" in text and "sampled 7s ago" in text
