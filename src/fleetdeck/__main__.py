"""Allow ``python -m fleetdeck``."""

from __future__ import annotations

from fleetdeck.cli import main

raise SystemExit(main())
