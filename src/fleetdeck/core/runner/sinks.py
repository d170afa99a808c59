"""Sinks that turn run events into output for people (live lines, gathered groups, progress) and scripts (NDJSON).

:class:`PrinterSink` prints each complete line as ``host | line`` the moment it arrives (``host ! line``
for stderr), with diagnostics and the closing summary on stderr. :class:`GatherPrinterSink` prints only
diagnostics while the run goes on, then the ``clush -b`` style groups of identical output.
:class:`NdjsonSink` writes one JSON object per event, with a stable set of keys per event kind, for
scripts. :class:`ProgressLine` keeps a single redrawn status line on a terminal's stderr; the printers
erase it before they write so the two never garble each other. Colours are plain ANSI codes, since the
engine must not depend on a rendering library.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
import zlib
from collections.abc import Callable, Iterable
from typing import TextIO

from fleetdeck.core.runner.events import (
    FINAL_STATUSES,
    BatchFinished,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
    Stream,
)
from fleetdeck.core.runner.gather import DEFAULT_HEAD_BYTES, Gatherer, fold_hosts, host_error

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

LINE_CAP = 64 * 1024
"""Most bytes of an unfinished line held per host and stream; past this the partial line is printed as it is."""

RERUN_HINT = "rerun the failed hosts with -t @last.failed"

GATHER_RULE = "-" * 15
"""The rule above and below each group header, as ``clush -b`` draws it."""

_RESET = "\x1b[0m"
_BOLD = "1"
_RED = "31"
_GREEN = "32"
_YELLOW = "33"
_CLEAR_LINE = "\r\x1b[K"
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


def event_record(event: RunEvent) -> dict[str, object]:
    """The JSON object for one event: an ``event`` kind, the run id, the event's fields and its epoch ``time``."""
    record: dict[str, object]
    if isinstance(event, Output):
        record = {"event": "output", "run_id": event.run_id, "host": event.host, "stream": event.stream}
        record["step"] = event.step
        try:
            record["data"] = event.data.decode("utf-8")
        except UnicodeDecodeError:
            record["data"] = event.data.decode("utf-8", "replace")
            # Scripts get the exact bytes back from here; ``data`` is only a readable approximation.
            record["data_b64"] = base64.b64encode(event.data).decode("ascii")
    elif isinstance(event, HostFinished):
        record = {"event": "host_finished", "run_id": event.run_id, "host": event.host, "status": event.status}
        record["exit_status"] = event.exit_status
        record["duration_s"] = round(event.duration_s, 3)
        record["error"] = event.error
        record["step"] = event.step
        record["kill_confirmed"] = event.kill_confirmed
    elif isinstance(event, HostRunning):
        record = {"event": "host_started", "run_id": event.run_id, "host": event.host, "step": event.step}
        record["step_index"] = event.step_index
        record["attempt"] = event.attempt
    elif isinstance(event, HostQueued):
        record = {"event": "host_queued", "run_id": event.run_id, "host": event.host}
    elif isinstance(event, HostConnecting):
        record = {"event": "host_connecting", "run_id": event.run_id, "host": event.host}
    elif isinstance(event, RunStarted):
        record = {"event": "run_started", "run_id": event.run_id, "task": event.task, "selector": event.selector}
        record["hosts"] = list(event.hosts)
        record["params"] = dict(event.params)
        record["command"] = event.command
        record["user"] = event.user
        record["automatic"] = event.automatic
        record["reason"] = event.reason
    elif isinstance(event, BatchFinished):
        record = {"event": "batch_finished", "run_id": event.run_id, "index": event.index, "total": event.total}
        record["hosts"] = list(event.hosts)
        record["failed"] = event.failed
        record["halted"] = event.halted
    else:
        record = {"event": "run_finished", "run_id": event.run_id, "counts": dict(event.counts)}
        record["exit_code"] = event.exit_code
        record["duration_s"] = round(event.duration_s, 3)
        record["halted"] = event.halted
        record["cancelled"] = event.cancelled
    record["time"] = event.time
    return record


class NdjsonSink:
    """Writes one JSON object per event and line (see :func:`event_record`), flushed at once for pipes.

    Args:
        out: Where the lines go (stdout).
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def handle(self, event: RunEvent) -> None:
        """Write the event's line."""
        # ASCII escapes keep the lines valid whatever encoding the stream was opened with.
        self._out.write(json.dumps(event_record(event), separators=(",", ":"), default=str) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Flush the stream."""
        self._out.flush()


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


class _Diagnostics:
    """What both printers share: diagnostics and the summary on stderr, erasing the progress line first."""

    def __init__(self, out: TextIO, err: TextIO, color: bool | None, progress: ProgressLine | None) -> None:
        self._out = out
        self._err = err
        self._err_color = use_color(err, color)
        self._progress = progress

    def _clear_progress(self) -> None:
        if self._progress is not None:
            self._progress.clear()

    def _diagnose(self, event: RunEvent) -> None:
        """Print the stderr line an event deserves, if any."""
        if isinstance(event, HostFinished):
            if event.status != "ok":
                self._write_err([describe_finish(event, color=self._err_color)])
        elif isinstance(event, BatchFinished):
            if event.total > 1 or event.halted:
                line = f"batch {event.index}/{event.total} done: {len(event.hosts)} hosts, {event.failed} failed"
                if event.halted:
                    line += _paint("; failure budget exceeded, remaining batches skipped", _RED, self._err_color)
                self._write_err([line])
        elif isinstance(event, RunFinished):
            lines = [summary_text(event, color=self._err_color)]
            if needs_rerun(event):
                lines.append(RERUN_HINT)
            self._write_err(lines)

    def _write_err(self, lines: Iterable[str]) -> None:
        self._clear_progress()
        # Whatever went to stdout before this belongs before it on a shared terminal.
        self._out.flush()
        self._err.write("".join(f"{line}\n" for line in lines))
        self._err.flush()

    def _finish_streams(self) -> None:
        self._clear_progress()
        self._out.flush()
        self._err.flush()


class PrinterSink(_Diagnostics):
    """Prints each complete output line live as ``host | line`` (stderr lines as ``host ! line``) on ``out``.

    Host names are padded to the longest name of the run so the separators line up. Partial lines wait per
    host and stream until their newline, the host's end, or :data:`LINE_CAP` bytes.

    Args:
        out: Where output lines go (stdout).
        err: Where diagnostics and the summary go (stderr).
        color: Force colour on or off; by default only on a terminal without ``NO_COLOR``.
        progress: A progress line to erase before printing.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        color: bool | None = None,
        progress: ProgressLine | None = None,
    ) -> None:
        super().__init__(out, err, color, progress)
        self._color = use_color(out, color)
        self._width = 0
        self._partial: dict[tuple[str, Stream], bytes] = {}
        self._prefixes: dict[tuple[str, Stream], tuple[str, str]] = {}

    def handle(self, event: RunEvent) -> None:
        """Print what the event means for a reader."""
        if isinstance(event, Output):
            self._output(event.host, event.stream, event.data)
        elif isinstance(event, RunStarted):
            self._width = max((len(host) for host in event.hosts), default=0)
            self._prefixes.clear()
        else:
            if isinstance(event, HostFinished):
                self._flush_partials(event.host)
            elif isinstance(event, RunFinished):
                self._flush_partials(None)
            self._diagnose(event)

    def close(self) -> None:
        """Print partial lines still waiting and flush both streams."""
        self._flush_partials(None)
        self._finish_streams()

    def _output(self, host: str, stream: Stream, data: bytes) -> None:
        key = (host, stream)
        held = self._partial.pop(key, None)
        if held:
            data = held + data
        lines = data.split(b"\n")
        rest = lines.pop()
        if len(rest) > LINE_CAP:
            cut = _utf8_cut(rest) or len(rest)
            lines.append(rest[:cut])
            rest = rest[cut:]
        if rest:
            self._partial[key] = rest
        if lines:
            self._write_lines(key, lines)

    def _flush_partials(self, host: str | None) -> None:
        keys = [key for key in self._partial if host is None or key[0] == host]
        for key in keys:
            self._write_lines(key, [self._partial.pop(key)])

    def _write_lines(self, key: tuple[str, Stream], lines: list[bytes]) -> None:
        prefix, suffix = self._prefixes.get(key) or self._prefix(key)
        self._clear_progress()
        self._out.write("".join(f"{prefix}{_decode_line(line)}{suffix}\n" for line in lines))
        if self._progress is not None and self._progress.enabled:
            self._out.flush()

    def _prefix(self, key: tuple[str, Stream]) -> tuple[str, str]:
        host, stream = key
        if len(host) > self._width:
            self._width = len(host)
        pad = " " * (self._width - len(host))
        mark = "!" if stream == "stderr" else "|"
        if not self._color:
            result = (f"{host}{pad} {mark} ", "")
        elif stream == "stderr":
            result = (f"{_paint(host, _host_colour(host), True)}{pad} \x1b[{_YELLOW}m{mark} ", _RESET)
        else:
            result = (f"{_paint(host, _host_colour(host), True)}{pad} {mark} ", "")
        self._prefixes[key] = result
        return result


class GatherPrinterSink(_Diagnostics):
    """Prints ``clush -b`` style groups of identical output when the run ends; only diagnostics before that.

    Args:
        out: Where the groups go (stdout).
        err: Where diagnostics and the summary go (stderr).
        color: Force colour on or off; by default only on a terminal without ``NO_COLOR``.
        progress: A progress line to erase before printing.
        head_bytes: How much output per host to keep and show.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        color: bool | None = None,
        progress: ProgressLine | None = None,
        head_bytes: int = DEFAULT_HEAD_BYTES,
    ) -> None:
        super().__init__(out, err, color, progress)
        self._color = use_color(out, color)
        self.gatherer = Gatherer(head_bytes)
        self._printed = False

    def handle(self, event: RunEvent) -> None:
        """Gather the event; print the groups when the run finishes."""
        self.gatherer.handle(event)
        if isinstance(event, RunFinished):
            self._print_groups()
        if not isinstance(event, Output):
            self._diagnose(event)

    def close(self) -> None:
        """Print the groups if the run ended without a ``RunFinished`` event, then flush."""
        self._print_groups()
        self._finish_streams()

    def _print_groups(self) -> None:
        if self._printed:
            return
        self._printed = True
        chunks: list[str] = []
        for group in self.gatherer.groups():
            colour = _STATUS_COLOURS.get(group.status, _RED) if group.status != "ok" else None
            header = f"{_paint(group.nodeset, _BOLD, self._color)} ({_paint(group.outcome, colour, self._color)})"
            chunks.append(f"{GATHER_RULE}\n{header}\n{GATHER_RULE}\n")
            if group.text:
                chunks.append(group.text if group.text.endswith("\n") else group.text + "\n")
        if chunks:
            self._clear_progress()
            self._out.write("".join(chunks))
            self._out.flush()
        pending = self.gatherer.pending()
        if pending:
            self._write_err([f"no result from {fold_hosts(pending)}"])


def _paint(text: str, code: str | None, on: bool) -> str:
    return f"\x1b[{code}m{text}{_RESET}" if on and code else text


def _host_colour(host: str) -> str:
    """A colour per host that stays the same across runs and machines (unlike ``hash()``)."""
    return _HOST_PALETTE[zlib.crc32(host.encode("utf-8", "surrogatepass")) % len(_HOST_PALETTE)]


def _decode_line(line: bytes) -> str:
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", "replace")


def _utf8_cut(data: bytes) -> int:
    """Where to cut ``data`` so that a multi-byte UTF-8 character at its end is not split."""
    size = len(data)
    for back in range(1, min(4, size) + 1):
        byte = data[size - back]
        if byte < 0x80:
            return size
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return size - back if needed > back else size
    return size


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
