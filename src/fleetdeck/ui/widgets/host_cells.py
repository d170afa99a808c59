"""The fleet table's cells as plain data: what each cell says, in which style, and how rows sort.

A cell is a tuple of `(text, style name)` runs, cheap to build and to compare, so the table can tell
whether a drained row changed, and paint it from the runs, without building any Rich text. Style names (`ok`,
`warn`, `crit`, `down`, `muted`, `trend`, `mark`) are the table's component classes, which the stylesheet maps
onto theme variables. The column layouts for a given width, the row order and the header labels live here too, so the
rules are plain functions with plain tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from fleetdeck.core.health import HealthSample
from fleetdeck.ui.widgets.health_format import (
    MISSING,
    Level,
    compact_bytes,
    human_duration,
    load_level,
    load_per_cores,
    pct,
    pct_level,
)

SortKey = Literal["status", "host", "cpu", "mem", "disk", "load", "rx", "tx", "uptime"]
SORT_CYCLE: tuple[SortKey, ...] = ("host", "status", "cpu", "mem", "disk", "load", "rx", "tx", "uptime")
"""Order in which the sort binding steps through columns."""
ASCENDING_FIRST: frozenset[SortKey] = frozenset({"host", "uptime"})
"""Columns whose first sort is smallest first (names, the most recently rebooted); the rest worst first."""

TREND_WIDTH = 10
"""Characters of CPU trend beside the percentage when the table is wide enough."""
TREND_BUCKET_S = 12.0
"""Seconds of history per trend character: ten characters show the last two minutes' peaks."""
HOST_WIDTH_MAX = 28
ALERT_WIDTH_MIN = 8

Justify = Literal["left", "right"]
Badge = tuple[int, str | None]
"""A host's firing alerts: how many, and the worst severity."""
NameKey = tuple[tuple[str | int, ...], str]
Run = tuple[str, str]
Spec = tuple[Run, ...]
"""A cell as `(text, style name)` runs; the empty style name is the plain foreground."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a layout: its key (the cell's name), header label, content width and alignment."""

    key: str
    label: str
    width: int
    justify: Justify = "right"


STATUS_DOT = {"up": "●", "stale": "◌", "down": "✗"}
LEVEL_DOT: dict[str, str] = {"ok": "●", "warn": "▲", "crit": "◆"}
"""An up host's dot by its worst level, so warn and crit read without colour too (NO_COLOR, monochrome)."""
WAITING_DOT = "○"
MARK = "✓"
_SEVERITY = {"waiting": 0, "ok": 1, "warn": 2, "crit": 3, "stale": 4, "down": 5}
_LEVEL_STYLE: dict[Level, str] = {"ok": "", "warn": "warn", "crit": "crit"}
CELL_PADDING = 2
"""Columns of padding the table puts around every cell (one space each side, as DataTable did)."""


def _columns(host_width: int, trend: int, uptime: bool, alert: int) -> tuple[Column, ...]:
    cpu = 4 + (1 + trend if trend else 0)
    columns = [
        Column("mark", "", 1, "left"),
        Column("status", "", 1, "left"),
        Column("host", "host", host_width, "left"),
        Column("cpu", "cpu", cpu, "left"),
        Column("mem", "mem", 4),
        Column("disk", "disk", 4),
        Column("load", "load", 7),
        Column("rx", "rx/s", 5),
        Column("tx", "tx/s", 5),
    ]
    if uptime:
        columns.append(Column("uptime", "uptime", 7))
    columns.append(Column("alert", "alert", alert, "left"))
    return tuple(columns)


def fit_columns(available: int, host_width: int) -> tuple[tuple[Column, ...], int]:
    """The columns for a table `available` cells wide, and the trend width they leave room for.

    The widest layout whose alert column still gets `ALERT_WIDTH_MIN` wins; the alert column takes
    whatever is left, so the table always fills its width.
    """
    layouts = ((TREND_WIDTH, True), (5, True), (5, False), (0, False))
    for trend, uptime in layouts:
        columns = _columns(host_width, trend, uptime, 0)
        alert = available - sum(column.width + CELL_PADDING for column in columns)
        if alert >= ALERT_WIDTH_MIN or (trend, uptime) == layouts[-1]:
            return _columns(host_width, trend, uptime, max(ALERT_WIDTH_MIN, alert)), trend
    raise AssertionError("unreachable")  # pragma: no cover


def row_cells(
    host: str, sample: HealthSample | None, *, marked: bool, trend: str, badge: Badge | None = None
) -> dict[str, Spec]:
    """Every cell of a host's row, for every column any layout has.

    Args:
        host: The row's host.
        sample: Its latest sample, `None` while waiting for the first.
        marked: Whether the operator marked it.
        trend: The CPU sparkline to show after the percentage; empty when the layout has no room.
        badge: The host's firing alerts (count, worst severity), shown in the alert column while it is up.
    """
    cells = _row_cells(host, sample, marked=marked, trend=trend)
    if badge is not None and sample is not None and sample.status == "up":
        count, worst = badge
        cells["alert"] = ((f"● {count}", "crit" if worst == "critical" else "warn"),)
    return cells


def _row_cells(host: str, sample: HealthSample | None, *, marked: bool, trend: str) -> dict[str, Spec]:
    mark: Spec = ((MARK, "mark"),) if marked else ((" ", ""),)
    if sample is None:
        return {
            "mark": mark,
            "status": ((WAITING_DOT, "muted"),),
            "host": ((host, ""),),
            **_missing("muted"),
            "alert": ((MISSING, "muted"),),
        }
    if sample.status == "down":
        # A down host is the one alert that silences the rest, so its reason goes in the alert column.
        reason = (sample.reason or "down").removeprefix(f"{host}: ")
        return {
            "mark": mark,
            "status": ((STATUS_DOT["down"], "down"),),
            "host": ((host, "down"),),
            **_missing("muted"),
            "cpu": (("down", "down"),),
            "alert": ((reason, "down"),),
        }
    # Stale numbers are shown but not judged: colouring an old 95% as critical would be a guess.
    judged = sample.status == "up"
    plain = "" if judged else "muted"
    disk = sample.worst_disk_pct
    levels = (
        pct_level(sample.cpu_pct),
        pct_level(sample.mem_used_pct),
        pct_level(disk),
        load_level(sample.load1, sample.cores),
    )
    state: str
    if judged:
        state = _worst(levels)
        cpu_style, mem_style, disk_style, load_style = (_LEVEL_STYLE[level] for level in levels)
        trend_style = "trend"
    else:
        state, cpu_style, mem_style, disk_style, load_style, trend_style = ("stale",) + ("muted",) * 5
    cpu: Spec = ((pct(sample.cpu_pct).rjust(4), cpu_style),)
    if trend:
        cpu += ((" ", ""), (trend, trend_style))
    reason = (sample.reason or "").removeprefix(f"{host}: ")
    return {
        "mark": mark,
        "status": ((LEVEL_DOT.get(state, STATUS_DOT[sample.status]), state),),
        "host": ((host, plain),),
        "cpu": cpu,
        "mem": ((pct(sample.mem_used_pct), mem_style),),
        "disk": ((pct(disk), disk_style),),
        "load": ((load_per_cores(sample.load1, sample.cores), load_style),),
        "rx": ((compact_bytes(sample.net_rx_bps), plain),),
        "tx": ((compact_bytes(sample.net_tx_bps), plain),),
        "uptime": ((human_duration(sample.uptime_s), plain),),
        "alert": ((reason, "muted"),) if not judged and reason else ((MISSING, "muted"),),
    }


def sort_value(sample: HealthSample | None, key: SortKey) -> float | None:
    """The number a row sorts by under `key` (not `host`); `None` sorts last whatever the direction.

    Percentages count as shown (whole numbers), so hosts that read the same keep their order by name
    instead of swapping places on every drain over a tenth of a percent.
    """
    if key == "status":
        return float(_SEVERITY[state_of(sample)])
    if sample is None or sample.status == "down":
        return None
    value: float | None
    if key == "load":
        value = None if sample.load1 is None else round(sample.load1 / max(1, sample.cores), 2)
    elif key in ("cpu", "mem", "disk"):
        value = {"cpu": sample.cpu_pct, "mem": sample.mem_used_pct, "disk": sample.worst_disk_pct}[key]
        value = None if value is None else round(value)
    else:
        value = {"rx": sample.net_rx_bps, "tx": sample.net_tx_bps}.get(key, sample.uptime_s)
    return value


def sort_hosts(
    hosts: Iterable[str],
    key: SortKey,
    reverse: bool,
    sample_of: Callable[[str], HealthSample | None],
    name_key: Callable[[str], NameKey],
) -> list[str]:
    """`hosts` ordered by `key`, naturally unless `reverse`; hosts without the number come last, by name."""
    if key == "host":
        return sorted(hosts, key=name_key, reverse=reverse)
    descending = (key not in ASCENDING_FIRST) != reverse
    present: list[tuple[float, NameKey, str]] = []
    missing: list[str] = []
    for host in hosts:
        value = sort_value(sample_of(host), key)
        if value is None:
            missing.append(host)
        else:
            present.append((-value if descending else value, name_key(host), host))
    present.sort()
    return [host for _, _, host in present] + sorted(missing, key=name_key)


def header_labels(columns: Iterable[Column], key: SortKey, reverse: bool) -> dict[str, str]:
    """Each column's header text, the sorted one with an arrow pointing the way its rows go."""
    descending = (key not in ASCENDING_FIRST) != reverse
    labels: dict[str, str] = {}
    for column in columns:
        label = column.label
        if column.key == key:
            label = f"{label}{'▼' if descending else '▲'}" if label else "▼▲"[not descending]
        labels[column.key] = label
    return labels


def state_of(sample: HealthSample | None) -> str:
    """`waiting`, `down`, `stale`, or the worst level of an up host's numbers."""
    if sample is None:
        return "waiting"
    if sample.status != "up":
        return sample.status
    return _worst(
        (
            pct_level(sample.cpu_pct),
            pct_level(sample.mem_used_pct),
            pct_level(sample.worst_disk_pct),
            load_level(sample.load1, sample.cores),
        )
    )


def _worst(levels: tuple[Level, ...]) -> Level:
    return "crit" if "crit" in levels else "warn" if "warn" in levels else "ok"


def _missing(style: str) -> dict[str, Spec]:
    """Dashes where the numbers would be."""
    cells: dict[str, Spec] = dict.fromkeys(("mem", "disk", "load", "rx", "tx", "uptime"), ((MISSING, style),))
    cells["cpu"] = ((MISSING.rjust(4), style),)
    return cells
