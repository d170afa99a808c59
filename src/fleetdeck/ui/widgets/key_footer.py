"""The key bar at the bottom of every screen: Textual's `Footer`, rebuilt only when what it shows changes.

Textual's footer removes and mounts all of its keys whenever a screen says its bindings may have changed:
on every focus change, screen switch, modal opened or closed, and every `refresh_bindings`. Each rebuild
mounts a dozen `FooterKey` widgets and styles each of them three times, and leaves the old ones (and a
virtual node per component class and styling) to the cyclic garbage collector: CPU taken from the keys being
typed, and memory that only a full collection, itself a pause, gives back. Many of those rebuilds (a modal
opened and closed, focus moved between widgets without keys of their own) showed exactly the keys already shown.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from fleetdeck.ui.widget_leaks import drop_closed_watchers


class KeyFooter(Footer):
    """A `Footer` that skips a rebuild when the keys, labels and enabled states it would show are unchanged."""

    _shown: Hashable | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild (as `Footer` does) unless the screen's bindings would show what is on display."""
        if self._bindings_ready and self.is_attached and screen is self.screen and self.signature() == self._shown:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        """Textual's keys, noting what they were built from (at build time: bindings may change in between).

        The keys removed for this rebuild are dropped from the `compact` watchers they were bound with, which
        would otherwise keep every key ever built (see `widget_leaks`).
        """
        drop_closed_watchers(self)
        if self._bindings_ready:
            self._shown = self.signature()
        yield from super().compose()

    def signature(self) -> Hashable:
        """Everything `Footer.compose` reads from the bindings: the shown ones, their key labels, whether each
        is enabled and its tooltip, and the command palette's key."""
        app = self.app
        active = self.screen.active_bindings
        shown = tuple(
            (binding, enabled, tooltip, app.get_key_display(binding))
            for _, binding, enabled, tooltip in active.values()
            if binding.show
        )
        palette = active.get(app.COMMAND_PALETTE_BINDING) if self.show_command_palette else None
        return shown, None if palette is None else palette[1:], app.ENABLE_COMMAND_PALETTE
