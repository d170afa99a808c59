"""How a run reads on a terminal: colour decisions, the one-line summary, and how each host ended.

Shared by the printers (:mod:`fleetdeck.core.runner.printers`) and the progress line
(:mod:`fleetdeck.core.runner.progress`), so colours and wording stay the same wherever a run is printed.
Colours are plain ANSI codes, since the engine must not depend on a rendering library.
"""

from __future__ import annotations

import os
import zlib
from typing import TextIO

from fleetdeck.core.runner.events import FINAL_STATUSES, HostFinished, RunFinished
from fleetdeck.core.runner.gather import host_error

RERUN_HINT = "rerun the failed hosts with -t @last.failed"

_RESET = "\x1b[0m"
_BOLD = "1"
_RED = "31"
_GREEN = "32"
_YELLOW = "33"
# Red and yellow are kept out of the host palette: they mean stderr and trouble.
_HOST_PALETTE = ("32", "34", "35", "36", "92", "94", "95", "96")
_STATUS_COLOURS = {"ok": _GREEN, "timeout": _YELLOW, "cancelled": _YELLOW}
# Statuses whose hosts the rerun hint is for; cancelled hosts were stopped on purpose.
_RERUN_STATUSES = frozenset(FINAL_STATUSES) - {"ok", "cancelled"}


def use_color(stream: TextIO, color: bool | None = None) -> bool:
    """Decide whether to colour ``stream``: as asked, else only on a terminal and when ``NO_COLOR`` is not set."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def summary_text(event: RunFinished, *, color: bool = False) -> str:
    """The one-line run summary: non-zero counts in a fixed order, then the duration.

    For example ``ok 412 · failed 3 · timeout 1 · unreachable 2 · 12.3s``.
    """
    counts = event.counts
    extra = sorted(key for key in counts if key not in FINAL_STATUSES)
    parts = [
        _paint(f"{status} {counts[status]}", _STATUS_COLOURS.get(status, _RED), color)
        for status in (*FINAL_STATUSES, *extra)
        if counts.get(status)
    ]
    if not parts:
        parts.append("no hosts")
    parts.append(f"{event.duration_s:.1f}s")
    if event.halted:
        parts.append(_paint("halted by the failure budget", _RED, color))
    if event.cancelled:
        parts.append(_paint("run cancelled", _YELLOW, color))
    return " · ".join(parts)


def needs_rerun(event: RunFinished) -> bool:
    """Whether any host ended in a way worth retrying (anything but ok or cancelled)."""
    return any(event.counts.get(status) for status in _RERUN_STATUSES)


def describe_finish(event: HostFinished, *, color: bool = False) -> str:
    """Say how a host ended, e.g. ``web03: timeout after 30.0s (step restart)`` or ``web04: unreachable: <error>``.

    The runner's error message, when there is one, says it best; the duration and exit status stand in for it
    when there is none.
    """
    error = host_error(event.host, event.error) if event.error else ""
    label: str = event.status
    if not error and event.status == "timeout":
        label += f" after {event.duration_s:.1f}s"
    host = _paint(event.host, _host_colour(event.host), color)
    text = f"{host}: {_paint(label, _STATUS_COLOURS.get(event.status, _RED), color)}"
    if error:
        text += f": {error}"
    elif event.exit_status is not None and event.status != "ok":
        text += f" rc={event.exit_status}"
    if event.step and f"step {event.step}" not in error:
        text += f" (step {event.step})"
    if event.kill_confirmed is False:
        text += "; the remote process may still be running"
    elif event.kill_confirmed is True and "kill" not in error:
        text += "; killed on host"
    return text


def _paint(text: str, code: str | None, on: bool) -> str:
    return f"\x1b[{code}m{text}{_RESET}" if on and code else text


def _host_colour(host: str) -> str:
    """A colour per host that stays the same across runs and machines (unlike ``hash()``)."""
    return _HOST_PALETTE[zlib.crc32(host.encode("utf-8", "surrogatepass")) % len(_HOST_PALETTE)]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
