"""The single redrawn status line a run keeps on a terminal's stderr while it goes on.

The printers (:mod:`fleetdeck.core.runner.printers`) erase it before they write, so the two never garble each
other; redraws are throttled by time rather than by a thread.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import TextIO

from fleetdeck.core.runner.events import HostConnecting, HostFinished, HostRunning, RunEvent, RunFinished, RunStarted
from fleetdeck.core.runner.terminal_text import _isatty

_CLEAR_LINE = "\r\x1b[K"


class ProgressLine:
    """A single live status line on a terminal's stderr: ``done/total · ok N · failed N · running N · 3.2s``.

    Redraws are throttled by time (at most one per ``interval``) rather than by a thread, so the line only
    moves when events arrive. Other sinks call :meth:`clear` before they print; subscribe this sink after
    them so it redraws on top of what they wrote.

    Args:
        err: Where to draw; nothing is drawn unless it is a terminal (or ``enabled`` says otherwise).
        enabled: Force drawing on or off.
        interval: Minimum seconds between redraws.
        clock: Monotonic time source, replaceable in tests.
    """

    def __init__(
        self,
        err: TextIO,
        *,
        enabled: bool | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._err = err
        self.enabled = enabled if enabled is not None else _isatty(err) and os.environ.get("TERM") != "dumb"
        self._interval = interval
        self._clock = clock
        self._hosts: dict[str, None] = {}
        self._active: set[str] = set()
        self._finished: set[str] = set()
        self._ok = 0
        self._started: float | None = None
        self._last_draw = -math.inf
        self._shown = False
        self._over = False

    def handle(self, event: RunEvent) -> None:
        """Count the event and redraw if the last redraw is old enough."""
        if not self.enabled or self._over:
            return
        if isinstance(event, RunStarted):
            self._hosts.update(dict.fromkeys(event.hosts))
            self._started = self._clock()
        elif isinstance(event, HostConnecting | HostRunning):
            self._hosts.setdefault(event.host, None)
            if event.host not in self._finished:
                self._active.add(event.host)
        elif isinstance(event, HostFinished):
            self._hosts.setdefault(event.host, None)
            self._active.discard(event.host)
            if event.host not in self._finished:
                self._finished.add(event.host)
                self._ok += event.status == "ok"
        elif isinstance(event, RunFinished):
            self.clear()
            self._over = True
            return
        now = self._clock()
        if now - self._last_draw >= self._interval:
            self._draw(now)

    def text(self, now: float | None = None) -> str:
        """The progress line as it would be drawn at ``now``."""
        now = self._clock() if now is None else now
        elapsed = 0.0 if self._started is None else max(0.0, now - self._started)
        done = len(self._finished)
        return (
            f"{done}/{len(self._hosts)} · ok {self._ok} · failed {done - self._ok} · "
            f"running {len(self._active)} · {elapsed:.1f}s"
        )

    def clear(self) -> None:
        """Erase the line, if drawn, so another line can be printed in its place."""
        if self._shown:
            self._err.write(_CLEAR_LINE)
            self._err.flush()
            self._shown = False

    def close(self) -> None:
        """Leave the terminal clean."""
        self.clear()
        self._over = True

    def _draw(self, now: float) -> None:
        text = self.text(now)
        width = _terminal_width(self._err)
        if width:
            # A line that wraps could not be erased with a carriage return.
            text = text[: width - 1]
        self._err.write(_CLEAR_LINE + text)
        self._err.flush()
        self._shown = True
        self._last_draw = now


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
