"""The key bar at the bottom of every screen: the shown bindings as one line, like Textual's `Footer`.

Textual's `Footer` is a container of one `FooterKey` widget per key, removed and mounted again whenever a screen
says its bindings may have changed: every focus change, screen switch, modal, and `refresh_bindings`. Opening
and closing the output search swaps 24 keys for 3 and back; each rebuild styled a dozen new widgets and left
them, with a virtual node per component class, to the cyclic collector: some 10,000 objects a flood, whose full
collection was the longest pause left while typing. This bar is one
widget: a change of keys repaints one line, and nothing is built or thrown away. It looks and behaves like
Textual's footer (same theme variables, palette key on the right, click or hover a key, dimmed when disabled).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.color import Color
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyFooter"]


@dataclass(frozen=True, slots=True)
class _Key:
    key: str
    display: str
    description: str
    enabled: bool
    tooltip: str


class KeyFooter(Widget, can_focus=False):
    """The keys the screen's bindings show, with the command palette's key on the right."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description", "key-footer--hover"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
    }
    """

    def __init__(self, *, show_command_palette: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_command_palette = show_command_palette
        self._shown: Hashable | None = None
        """The signature the bar was last painted from."""
        self._spans: list[tuple[int, int, _Key]] = []
        """Where each key was painted: start and end cell, and the key."""
        self._hover: int | None = None
        """The painted key under the mouse, by index in `_spans`."""

    def on_mount(self) -> None:
        """Follow the screen's bindings."""
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        """Stop following them."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Repaint when what the bar would show differs from what it shows."""
        if self.is_attached and screen is self.screen and self.signature() != self._shown:
            self.refresh()

    def keys(self) -> tuple[list[_Key], _Key | None]:
        """The keys to show, in binding order, one per action, and the command palette's key (or `None`)."""
        app = self.app
        active = self.screen.active_bindings
        shown: dict[str, _Key] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in shown:
                display = app.get_key_display(binding)
                shown[binding.action] = _Key(binding.key, display, binding.description, enabled, tooltip)
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            found = active.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _, binding, enabled, _ = found
                tooltip = binding.tooltip or binding.description
                palette = _Key(binding.key, app.get_key_display(binding), binding.description, enabled, tooltip)
        return list(shown.values()), palette

    def signature(self) -> Hashable:
        """Everything the bar paints from the bindings."""
        keys, palette = self.keys()
        return tuple(keys), palette

    def render(self) -> Text:
        """The keys from the left, cut at the palette's key on the right."""
        keys, palette = self.keys()
        self._shown = (tuple(keys), palette)
        width = self.size.width
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        hover_style = self.get_component_rich_style("key-footer--hover")
        right = Text()
        if palette is not None:
            edge = Color.parse(self.app.theme_variables.get("foreground", "white")).with_alpha(0.2)
            base = self.styles.background
            right.append("▏", Style(color=(base + edge).rich_color, bgcolor=base.rich_color))
            right.append_text(self._label(palette, key_style, description_style, compact=True))
            right.append(" ")
        room = max(0, width - right.cell_len)
        line = Text(no_wrap=True, end="")
        self._spans = []
        for key in keys:
            label = self._label(key, key_style, description_style)
            if line.cell_len + label.cell_len > room:
                break
            start = line.cell_len
            if self._hover == len(self._spans):
                label.stylize(hover_style)
            line.append_text(label)
            self._spans.append((start, line.cell_len, key))
        line.append(" " * (room - line.cell_len))
        if palette is not None:
            start = line.cell_len
            line.append_text(right)
            self._spans.append((start + 1, line.cell_len - 1, palette))
        return line

    @staticmethod
    def _label(key: _Key, key_style: Style, description_style: Style, *, compact: bool = False) -> Text:
        if key.description and compact:  # as Textual's footer draws the palette's key
            label = Text.assemble((key.display, key_style), (f" {key.description}", description_style))
        elif key.description:
            label = Text.assemble((f" {key.display} ", key_style), (f"{key.description} ", description_style))
        else:
            label = Text(key.display, key_style)
        if not key.enabled:
            label.stylize(Style(dim=True))
        return label

    def _key_at(self, x: int) -> int | None:
        for index, (start, end, _) in enumerate(self._spans):
            if start <= x < end:
                return index
        return None

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it (a disabled one rings the bell)."""
        index = self._key_at(event.x)
        if index is None:
            return
        key = self._spans[index][2]
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Highlight the key under the mouse and show its tooltip."""
        index = self._key_at(event.x)
        if index != self._hover:
            self._hover = index
            self.tooltip = self._spans[index][2].tooltip or None if index is not None else None
            self.refresh()

    def on_leave(self, _event: events.Leave) -> None:
        """No key is under the mouse."""
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()
