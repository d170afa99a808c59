"""Host health: the `HealthSample` data model, the `HealthSource` protocol, and the sources behind it.

The dashboard asks a `HealthSource` for one sample per host on every poll. `LocalHealthSource` (in
`fleetdeck.core.health.local`) measures this machine with psutil; it is imported from its own module so
that loading the data model never pulls psutil in. Nothing here imports textual or rich.
"""

from __future__ import annotations

from fleetdeck.core.health.sample import FsUsage, HealthSample, HealthSource, HostStatus, NetRate

__all__ = ["FsUsage", "HealthSample", "HealthSource", "HostStatus", "NetRate"]
