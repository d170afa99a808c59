"""Dropping reactive watchers whose widget is gone.

`watch(obj, ...)` and `data_bind` store the watcher on the watched object, and Textual drops the entry of a
removed widget only when the watched value next changes (Textualize/textual#6666). For values that never change,
every widget that ever watched them stays reachable: Textual's footer binds each of its keys to its `compact`
flag and rebuilds its keys on every focus change and modal, so a console left on an output flood kept 486 old
keys (with their styles and render caches) after eight floods; every `Header` of a closed screen stays on the
app's `title` watchers. Pruning those lists lets the collector take them.
"""

from __future__ import annotations

__all__ = ["drop_closed_watchers"]

_WATCHERS = "__watchers"
"""The attribute Textual keeps an object's watchers in: {attribute name: [(owner node, callback), ...]}."""


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


def _closed(owner: object) -> bool:
    return bool(getattr(owner, "_closing", False) or getattr(owner, "_closed", False))
