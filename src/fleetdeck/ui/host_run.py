"""One host of a run as the console shows it: its state and a bounded ring of its newest output lines.

Output is decoded incrementally, cut into display lines (a carriage return overwrites as on a terminal, escape
sequences and control characters go, very long lines are split) and kept in a ring, so a host printing as fast
as it can costs one deque append per line and memory stays bounded whatever it prints. This is the bridge's hot
path, kept apart from the event routing in :mod:`fleetdeck.ui.run_bridge`. No Textual here.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice, repeat
from typing import Literal, NamedTuple

from fleetdeck.core.runner.events import FINAL_STATUSES, HostState, Stream

MAX_LINE_CHARS = 2000
"""A line longer than this is cut into several ring lines, so one huge line cannot stall a render."""

LineKind = Literal["out", "err", "head", "head-bad", "note"]
"""What a display line is: host stdout, host stderr, a gathered-group header (ok or not), or a note."""


class TailLine(NamedTuple):
    """One display line: sanitised text (no control characters, tabs expanded) and its kind."""

    text: str
    kind: LineKind = "out"


# Escape sequences (CSI, OSC, two-byte) are dropped; other control characters would corrupt the screen.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\t]")
_CONTROL_BYTES = bytes([*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F])
"""What `_NEEDS_CLEANING` finds, as bytes: in UTF-8 these never occur inside a multi-byte character."""

_STREAM_KIND: Mapping[Stream, LineKind] = {"stdout": "out", "stderr": "err"}
_NEWEST_FIRST: tuple[Stream, ...] = ("stderr", "stdout")


def clean_line(text: str) -> str:
    """Make one line safe to draw: a carriage return overwrites as on a terminal, escapes and controls go.

    Args:
        text: A line without its newline.

    Returns:
        The line as a terminal would leave it, with tabs expanded to 8 columns.
    """
    if "\r" in text:
        text = text.rstrip("\r")
        if "\r" in text:
            text = text.rsplit("\r", 1)[1]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = _CONTROL.sub("\ufffd", text)
    return text.expandtabs(8) if "\t" in text else text


def _split_long(lines: Iterable[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if len(line) <= MAX_LINE_CHARS:
            out.append(line)
        else:
            out.extend(line[i : i + MAX_LINE_CHARS] for i in range(0, len(line), MAX_LINE_CHARS))
    return out


def _new_decoders() -> dict[Stream, codecs.IncrementalDecoder]:
    return {stream: codecs.getincrementaldecoder("utf-8")("replace") for stream in _NEWEST_FIRST}


@dataclass(slots=True, eq=False)
class HostRun:
    """One host of one run as the console shows it, with the bounded ring of its newest output lines.

    The ring is two deques of the same length, texts and kinds, rather than one of tuples: strings are not
    tracked by the garbage collector, so a flood of lines adds no work to its collections.
    """

    name: str
    texts: deque[str]
    kinds: deque[LineKind]
    status: HostState = "queued"
    step: str = ""
    attempt: int = 1
    exit_status: int | None = None
    error: str | None = None
    """Why the host did not end ``ok``, on one line."""
    started: float | None = None
    """Epoch seconds when the host got its slot."""
    duration_s: float | None = None
    bytes_out: int = 0
    bytes_err: int = 0
    last_line: str = ""
    """The most recent non-blank complete line, either stream."""
    total_lines: int = 0
    """Lines ever produced, dropped ones included; a reader that saw ``n`` asks :meth:`lines_after`."""
    new_lines: int = 0
    """Lines produced since the last :meth:`RunBridge.drain`."""
    _partial: dict[Stream, str] = field(default_factory=lambda: {"stdout": "", "stderr": ""}, init=False)
    _decoders: dict[Stream, codecs.IncrementalDecoder] = field(default_factory=_new_decoders, init=False)

    @property
    def finished(self) -> bool:
        """Whether the host has a final status."""
        return self.status in FINAL_STATUSES

    @property
    def lines(self) -> list[TailLine]:
        """A copy of the ring as display lines, oldest first."""
        return [TailLine(text, kind) for text, kind in zip(self.texts, self.kinds, strict=True)]

    @property
    def line_count(self) -> int:
        """Lines in the ring."""
        return len(self.texts)

    @property
    def max_lines(self) -> int:
        """The ring's capacity."""
        return self.texts.maxlen or 0

    @property
    def first_index(self) -> int:
        """The absolute index (counting every line ever produced) of the oldest line still in the ring."""
        return self.total_lines - len(self.texts)

    def pending(self) -> list[TailLine]:
        """Lines begun but not yet ended by a newline (stdout first), shown live below the ring."""
        return [TailLine(clean_line(text), _STREAM_KIND[stream]) for stream, text in self._partial.items() if text]

    def shown_line(self) -> str:
        """What the host list shows as the last line: a line in progress, else the last complete one."""
        for stream in _NEWEST_FIRST:
            partial = self._partial[stream].strip()
            if partial:
                return clean_line(partial)
        return self.last_line

    def duration(self, now: float) -> float | None:
        """Seconds the host took, or has taken so far while it runs."""
        if self.duration_s is not None:
            return self.duration_s
        if self.started is None:
            return None
        return max(0.0, now - self.started)

    def lines_after(self, seen: int) -> tuple[list[TailLine], int]:
        """Lines produced after the first ``seen``, and how many of those the ring no longer holds.

        Args:
            seen: How many lines (see :attr:`total_lines`) the reader already has.

        Returns:
            The lines still available, oldest first, and the count that were dropped before the reader
            caught up (the reader shows a gap; the store has them).
        """
        texts, kinds, dropped = self.texts_after(seen)
        return [TailLine(text, kind) for text, kind in zip(texts, kinds, strict=True)], dropped

    def texts_after(self, seen: int) -> tuple[list[str], list[LineKind], int]:
        """:meth:`lines_after` as parallel lists of texts and kinds: no object per line, for the view's clock.

        Returns:
            Texts and kinds of the lines still available, oldest first, and how many were dropped.
        """
        wanted = self.total_lines - seen
        if wanted <= 0:
            return [], [], 0
        available = min(wanted, len(self.texts))
        start = len(self.texts) - available
        return list(islice(self.texts, start, None)), list(islice(self.kinds, start, None)), wanted - available

    def add_output(self, stream: Stream, data: bytes) -> int:
        """Decode a chunk into lines; returns how many ring lines it produced."""
        if stream == "stdout":
            self.bytes_out += len(data)
        else:
            self.bytes_err += len(data)
        text = self._decoders[stream].decode(data)
        if not text:
            return 0
        kind = _STREAM_KIND[stream]
        before = self._partial[stream]
        # One pass over the chunk's bytes decides whether any line needs cleaning: output is mostly plain text.
        # Deleting the control bytes and comparing lengths takes a fifth of a regex scan (78 vs 359 us a 64 KiB
        # chunk), and a host printing as fast as it can brings hundreds of chunks a second.
        dirty = len(data.translate(None, _CONTROL_BYTES)) != len(data) or _NEEDS_CLEANING.search(before) is not None
        pieces = text.split("\n")
        head = before + pieces[0]
        if len(pieces) == 1:
            if len(head) <= MAX_LINE_CHARS:
                self._partial[stream] = head
                return 0
            # A line that never ends is cut into ring lines, keeping the remainder as the partial.
            cut = len(head) - len(head) % MAX_LINE_CHARS
            self._partial[stream] = head[cut:]
            return self._append([head[:cut]], kind, dirty)
        self._partial[stream] = pieces.pop()
        pieces[0] = head
        return self._append(pieces, kind, dirty)

    def flush(self) -> int:
        """End both streams: a last line without a newline becomes a ring line."""
        produced = 0
        for stream, decoder in self._decoders.items():
            rest = self._partial[stream] + decoder.decode(b"", final=True)
            self._partial[stream] = ""
            if rest:
                produced += self._append([rest], _STREAM_KIND[stream], True)
        return produced

    def _append(self, raw: list[str], kind: LineKind, dirty: bool) -> int:
        """Add complete lines; only as many as the ring can hold are cleaned and stored."""
        maxlen = self.texts.maxlen or len(raw)
        dropped = max(0, len(raw) - maxlen)
        kept = raw[dropped:] if dropped else raw
        if dirty:
            kept = [clean_line(line) for line in kept]
        if kept and max(map(len, kept)) > MAX_LINE_CHARS:
            kept = _split_long(kept)
        self.texts.extend(kept)
        self.kinds.extend(repeat(kind, len(kept)))
        produced = dropped + len(kept)
        self.total_lines += produced
        self.new_lines += produced
        for line in reversed(kept):
            if line.strip():
                self.last_line = line
                break
        return produced
