"""The sinks that print a run for people: live ``host | line`` output, or ``clush -b`` style groups at the end.

:class:`PrinterSink` prints each complete line the moment it arrives (``host ! line`` for stderr), with
diagnostics and the closing summary on stderr. :class:`GatherPrinterSink` prints only diagnostics while the run
goes on, then the groups of identical output. Both erase a :class:`~fleetdeck.core.runner.progress.ProgressLine`
before they write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from fleetdeck.core.runner.events import BatchFinished, HostFinished, Output, RunEvent, RunFinished, RunStarted, Stream
from fleetdeck.core.runner.gather import DEFAULT_HEAD_BYTES, Gatherer, fold_hosts
from fleetdeck.core.runner.progress import ProgressLine
from fleetdeck.core.runner.terminal_text import (
    _BOLD,
    _RED,
    _RESET,
    _STATUS_COLOURS,
    _YELLOW,
    RERUN_HINT,
    _host_colour,
    _paint,
    describe_finish,
    needs_rerun,
    summary_text,
    use_color,
)

LINE_CAP = 64 * 1024
"""Most bytes of an unfinished line held per host and stream; past this the partial line is printed as it is."""

GATHER_RULE = "-" * 15
"""The rule above and below each group header, as ``clush -b`` draws it."""


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
