"""Letting go of widgets that are gone, where Textual's long-lived objects would keep them.

Two places in Textual keep removed widgets reachable:

- `watch(obj, ...)` and `data_bind` store the watcher on the watched object, and the entry of a removed widget
  goes only when the watched value next changes (Textualize/textual#6666). For values that never change, every
  widget that ever watched them stays: every `Header` of a closed screen stays on the app's `title`, and
  Textual's footer, which binds each of its keys to its `compact` flag and rebuilds them on every focus change,
  had kept 486 old keys after eight output floods (the key bar is now one widget of ours).
- `StylesCache.get_inner_outer` is an `lru_cache` on a plain method, so its 1,024 entries hold their
  `StylesCache`, and with it the last rendered lines of a widget long removed (390 of them, with 1,977 rendered
  lines, grown over eight floods' command boxes and footers).
"""

from __future__ import annotations

from textual._styles_cache import StylesCache

__all__ = ["INNER_OUTER_KEEP", "drop_closed_watchers", "trim_style_caches"]

_WATCHERS = "__watchers"
"""The attribute Textual keeps an object's watchers in: {attribute name: [(owner node, callback), ...]}."""
INNER_OUTER_KEEP = 256
"""Entries `StylesCache.get_inner_outer` may hold before it is emptied: a few per live widget on screen."""


def drop_closed_watchers(obj: object) -> int:
    """Forget the watchers on `obj` whose owning node is closing or closed; returns how many were dropped."""
    watchers = getattr(obj, _WATCHERS, None)
    if not isinstance(watchers, dict):
        return 0
    dropped = 0
    for entries in watchers.values():
        kept = [entry for entry in entries if not _closed(entry[0])]
        if len(kept) != len(entries):
            dropped += len(entries) - len(kept)
            entries[:] = kept
    return dropped


def trim_style_caches(keep: int = INNER_OUTER_KEEP) -> bool:
    """Empty the background-colour cache once it holds more than `keep` entries; True when it was emptied.

    Emptying costs one cheap recomputation per widget and colour pair; it lets the removed widgets' render
    caches go.
    """
    cache = StylesCache.get_inner_outer
    if cache.cache_info().currsize <= keep:
        return False
    cache.cache_clear()
    return True


def _closed(owner: object) -> bool:
    return bool(getattr(owner, "_closing", False) or getattr(owner, "_closed", False))
