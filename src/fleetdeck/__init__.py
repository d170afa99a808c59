"""fleetdeck: a terminal ops console for watching hosts and running runbooks over SSH."""

from __future__ import annotations

__version__ = "0.1.0"
