"""Sinks that turn run events into output for people (live lines, gathered groups, progress) and scripts (NDJSON).

:class:`PrinterSink` prints each complete line as ``host | line`` the moment it arrives, and
:class:`GatherPrinterSink` prints ``clush -b`` style groups of identical output when the run ends (both in
:mod:`~fleetdeck.core.runner.printers`). :class:`NdjsonSink` writes one JSON object per event for scripts
(:mod:`~fleetdeck.core.runner.ndjson`). :class:`ProgressLine` keeps a single redrawn status line on a terminal's
stderr (:mod:`~fleetdeck.core.runner.progress`). The summary, host endings and colours they share are in
:mod:`~fleetdeck.core.runner.terminal_text`. This module gathers them under one name for callers.
"""

from __future__ import annotations

from fleetdeck.core.runner.ndjson import NdjsonSink, event_record
from fleetdeck.core.runner.printers import GATHER_RULE, LINE_CAP, GatherPrinterSink, PrinterSink
from fleetdeck.core.runner.progress import ProgressLine
from fleetdeck.core.runner.terminal_text import RERUN_HINT, describe_finish, needs_rerun, summary_text, use_color

__all__ = [
    "GATHER_RULE",
    "LINE_CAP",
    "RERUN_HINT",
    "GatherPrinterSink",
    "NdjsonSink",
    "PrinterSink",
    "ProgressLine",
    "describe_finish",
    "event_record",
    "needs_rerun",
    "summary_text",
    "use_color",
]
