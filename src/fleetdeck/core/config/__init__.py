"""Configuration: find the config directory, read its TOML files, validate them into typed models.

``Config`` and ``load_config`` are loaded on first use: the loader builds the inventory, and the
inventory itself uses this package's schema, so importing them eagerly here would be circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetdeck.core.config.loader import Config, load_config

__all__ = ["Config", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fleetdeck.core.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
