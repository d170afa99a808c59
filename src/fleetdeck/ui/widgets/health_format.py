"""How health numbers are written and judged on screen: units, rounding and warn/crit thresholds.

Kept apart from the widgets so the fleet table and the detail pane agree on every number they both show,
and so the rules are plain functions with plain tests. Levels are names (`ok`, `warn`, `crit`); which
colour a level gets is the theme's business.
"""

from __future__ import annotations

from typing import Literal

Level = Literal["ok", "warn", "crit"]

WARN_PCT = 70.0
"""CPU, memory and disk usage at or above this is worth a look."""
CRIT_PCT = 90.0
"""CPU, memory and disk usage at or above this needs action."""
LOAD_WARN_PER_CORE = 1.0
"""Load average per core at or above this means work is queueing."""
LOAD_CRIT_PER_CORE = 2.0

MISSING = "—"
"""Shown where a source has no value, so a gap never reads as zero."""

_BINARY_UNITS = ("B", "K", "M", "G", "T", "P")


def pct_level(value: float | None) -> Level:
    """Judge a usage percentage against `WARN_PCT` and `CRIT_PCT`."""
    if value is None or value < WARN_PCT:
        return "ok"
    return "crit" if value >= CRIT_PCT else "warn"


def load_level(load: float | None, cores: int) -> Level:
    """Judge a load average by how many runnable tasks each core has."""
    if load is None or cores <= 0:
        return "ok"
    per_core = load / cores
    if per_core >= LOAD_CRIT_PER_CORE:
        return "crit"
    return "warn" if per_core >= LOAD_WARN_PER_CORE else "ok"


def pct(value: float | None) -> str:
    """A whole-number percentage such as `37%`."""
    return MISSING if value is None else f"{value:.0f}%"


def load_per_cores(load: float | None, cores: int) -> str:
    """`load1/cores` as in `0.52/8`, with fewer decimals as the load grows so the cell stays narrow."""
    if load is None:
        return MISSING
    number = f"{load:.2f}" if load < 10 else f"{load:.1f}" if load < 100 else f"{load:.0f}"
    return f"{number}/{cores}" if cores > 0 else number


def compact_bytes(value: float | None) -> str:
    """At most five characters, binary units: `0B`, `999B`, `12.3K`, `1.2M`, `512G`."""
    if value is None:
        return MISSING
    amount = max(0.0, value)
    for unit in _BINARY_UNITS:
        if amount < 1000 or unit == _BINARY_UNITS[-1]:
            if unit == "B":
                return f"{amount:.0f}B"
            return f"{amount:.1f}{unit}" if round(amount, 1) < 100 else f"{amount:.0f}{unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_bytes(value: float | None) -> str:
    """Bytes for reading, not for columns: `7.8 GiB`, `512 B`."""
    if value is None:
        return MISSING
    amount = max(0.0, value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if amount < 1024 or unit == "PiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_rate(value: float | None) -> str:
    """Bytes per second for reading: `1.2 MiB/s`."""
    return MISSING if value is None else f"{human_bytes(value)}/s"


def human_duration(seconds: float | None) -> str:
    """The two largest units of a duration: `3d 4h`, `5h 12m`, `12m 5s`, `45s`."""
    if seconds is None:
        return MISSING
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
