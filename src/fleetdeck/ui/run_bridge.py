"""The console's run sink: engine events in, per-host state and bounded output tails out, never a widget touched.

:class:`RunBridge` implements the runner's ``Sink`` protocol and follows any number of runs at once. For every
host it keeps the status, step, exit status, duration, byte counts, last line and a ring of the most recent
output lines (stderr marked), and counts what changed since a screen last drained it. Screens call
:meth:`RunBridge.drain` on their own clock (about 10 Hz) and redraw only what is dirty and visible, so a host
printing as fast as it can costs one deque append per line here and nothing at all in the widget tree until
the next tick. Rings are sized from the run's host count within a line budget, so memory stays bounded
whatever the hosts print; every byte is on disk anyway (the engine's store sink writes it). Each run also
feeds a :class:`~fleetdeck.core.runner.gather.Gatherer` for the gathered view. The history view replays
stored runs into a bridge of its own, so a past run shows in the same view. No Textual here: the bridge is
plain state and is unit-tested without an app.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice, repeat
from typing import TYPE_CHECKING, Literal, NamedTuple

from fleetdeck.core.nodeset import natural_key
from fleetdeck.core.runner.batches import batch_sizes
from fleetdeck.core.runner.events import (
    FINAL_STATUSES,
    BatchFinished,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    HostState,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
    Stream,
)
from fleetdeck.core.runner.gather import Gatherer, host_error

if TYPE_CHECKING:
    from fleetdeck.core.runner.service import Prepared

__all__ = [
    "DEFAULT_GATHER_HEAD_BYTES",
    "DEFAULT_LINE_BUDGET",
    "DEFAULT_MAX_LINES",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_MIN_LINES",
    "MAX_LINE_CHARS",
    "Drained",
    "HostRun",
    "LineKind",
    "RunBridge",
    "RunCounts",
    "RunView",
    "TailLine",
    "clean_line",
]

DEFAULT_MAX_LINES = 5000
"""Most output lines kept in memory per host."""
DEFAULT_MIN_LINES = 500
"""Fewest lines kept per host, however many hosts share the budget."""
DEFAULT_LINE_BUDGET = 500_000
"""Lines kept across all hosts of one run; a big run gets shorter rings per host."""
DEFAULT_MAX_RUNS = 20
"""Runs a bridge keeps; the oldest finished ones are forgotten past this (the store still has them)."""
DEFAULT_GATHER_HEAD_BYTES = 32 * 1024
"""Output per host the gathered view keeps (the CLI keeps more; a console watching 500 hosts cannot)."""
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

_STREAM_KIND: Mapping[Stream, LineKind] = {"stdout": "out", "stderr": "err"}
_FAILED = frozenset({"failed", "error"})
_UNREACHABLE = frozenset({"unreachable", "auth_failed", "host_key_failed"})
_IN_FLIGHT = frozenset({"connecting", "running"})
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
        wanted = self.total_lines - seen
        if wanted <= 0:
            return [], 0
        available = min(wanted, len(self.texts))
        start = len(self.texts) - available
        lines = [
            TailLine(text, kind)
            for text, kind in zip(islice(self.texts, start, None), islice(self.kinds, start, None), strict=True)
        ]
        return lines, wanted - available

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
        # One scan of the chunk decides whether any line needs cleaning: output is mostly plain text.
        dirty = _NEEDS_CLEANING.search(text) is not None or _NEEDS_CLEANING.search(before) is not None
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
        if any(len(line) > MAX_LINE_CHARS for line in kept):
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


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Hosts of a run by where they are, grouped the way the summary line shows them."""

    ok: int = 0
    failed: int = 0
    timeout: int = 0
    unreachable: int = 0
    running: int = 0
    queued: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """All hosts."""
        return self.ok + self.failed + self.timeout + self.unreachable + self.running + self.queued + self.cancelled


@dataclass(slots=True)
class RunView:
    """One run as the console follows it.

    Attributes:
        run_id: The run.
        task: Task name, or ``exec`` for an ad-hoc command.
        selector: The target selector as given.
        command: The ad-hoc command, if any.
        params: Parameter values, secrets masked.
        hosts: Per-host state, in the run's host order.
        batches_total: How many rolling batches the run has (1 without batches).
        batches_done: Batches finished so far.
        started: Epoch seconds of ``RunStarted``.
        finished: The closing event, once the run is over.
        prepared: What the console started, kept so "rerun failed" can reuse the same parameters;
            ``None`` for runs replayed from the store.
        stored: True for a run replayed from the store (read-only in the console).
        gatherer: Groups finished hosts by identical output for the gathered view.
    """

    run_id: str
    max_lines: int
    task: str = ""
    selector: str = ""
    command: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    hosts: dict[str, HostRun] = field(default_factory=dict)
    batches_total: int = 1
    batches_done: int = 0
    started: float | None = None
    finished: RunFinished | None = None
    prepared: Prepared | None = None
    stored: bool = False
    gatherer: Gatherer = field(default_factory=Gatherer)
    dirty: set[str] = field(default_factory=set)
    changed: bool = True

    @property
    def done(self) -> bool:
        """Whether the run has ended."""
        return self.finished is not None

    @property
    def current_batch(self) -> int:
        """The batch running now (1-based), or the last one once the run is over."""
        return min(self.batches_done + (0 if self.done else 1), self.batches_total) or 1

    def host(self, name: str) -> HostRun:
        """The host's state, created on first mention (events may name hosts ``RunStarted`` did not)."""
        found = self.hosts.get(name)
        if found is None:
            found = self.hosts[name] = HostRun(name, deque(maxlen=self.max_lines), deque(maxlen=self.max_lines))
        return found

    def counts(self) -> RunCounts:
        """Hosts by summary group."""
        tally: dict[str, int] = {}
        for host in self.hosts.values():
            tally[host.status] = tally.get(host.status, 0) + 1
        return RunCounts(
            ok=tally.get("ok", 0),
            failed=sum(tally.get(s, 0) for s in _FAILED),
            timeout=tally.get("timeout", 0),
            unreachable=sum(tally.get(s, 0) for s in _UNREACHABLE),
            running=sum(tally.get(s, 0) for s in _IN_FLIGHT),
            queued=tally.get("queued", 0),
            cancelled=tally.get("cancelled", 0),
        )

    def failed_hosts(self) -> list[str]:
        """Hosts that ended any way but ``ok`` (what ``@RUN.failed`` selects), in natural order."""
        return sorted(
            (h.name for h in self.hosts.values() if h.finished and h.status != "ok"),
            key=natural_key,
        )


@dataclass(frozen=True, slots=True)
class Drained:
    """What changed in a run since the previous drain.

    Attributes:
        hosts: Hosts whose row changed (status, step, bytes, last line, ...).
        new_lines: Lines produced per host, for hosts that printed.
        run_changed: The run itself changed (started, a batch finished, it ended).
    """

    hosts: frozenset[str]
    new_lines: Mapping[str, int]
    run_changed: bool


class RunBridge:
    """Follows runs' events into per-run, per-host state for the console (a runner ``Sink``).

    One bridge can follow every run of a console session: events carry their run id. Handling an event
    never blocks and never touches a widget; screens drain the state on their own clock.

    Args:
        max_lines: Most lines kept per host.
        min_lines: Fewest lines kept per host when a big run divides ``line_budget``.
        line_budget: Lines kept per run across all its hosts.
        gather_head_bytes: Output per host kept for the gathered view.
        max_runs: Runs kept; past this the oldest finished run is forgotten.
    """

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        min_lines: int = DEFAULT_MIN_LINES,
        line_budget: int = DEFAULT_LINE_BUDGET,
        gather_head_bytes: int = DEFAULT_GATHER_HEAD_BYTES,
        max_runs: int = DEFAULT_MAX_RUNS,
    ) -> None:
        if not 0 < min_lines <= max_lines:
            raise ValueError(f"need 0 < min_lines <= max_lines, got {min_lines} and {max_lines}")
        self.max_lines = max_lines
        self.min_lines = min_lines
        self.line_budget = line_budget
        self.gather_head_bytes = gather_head_bytes
        self.max_runs = max_runs
        self.runs: dict[str, RunView] = {}
        """Every run followed, oldest first."""
        self.listeners: list[Callable[[str], None]] = []
        """Called with a run id when the bridge first hears of a run (e.g. to show a run switcher)."""

    def lines_per_host(self, hosts: int) -> int:
        """Ring size for a run of ``hosts`` hosts: the budget shared out, within the min and max."""
        share = self.line_budget // max(1, hosts)
        return max(self.min_lines, min(self.max_lines, share))

    def expect(self, prepared: Prepared) -> RunView:
        """Register a run before it starts, so its hosts show as queued and its batches are known.

        Args:
            prepared: The planned run; kept so the console can rerun its failed hosts with the same values.
        """
        request = prepared.request
        names = [plan.host.name for plan in request.plans]
        view = self._view(request.run_id, len(names))
        view.task = request.task
        view.selector = request.selector
        view.command = request.command
        view.params = dict(request.params)
        view.prepared = prepared
        view.batches_total = max(1, len(batch_sizes(request.batches, len(names))))
        for name in names:
            view.host(name)
        view.dirty.update(names)
        return view

    def run(self, run_id: str) -> RunView:
        """A followed run.

        Raises:
            KeyError: The bridge never heard of the run.
        """
        return self.runs[run_id]

    def forget(self, run_id: str) -> None:
        """Drop a run's state (its output stays in the store)."""
        self.runs.pop(run_id, None)

    def drain(self, run_id: str) -> Drained:
        """Take what changed in a run since the last drain and reset the counters.

        Args:
            run_id: The run the caller shows.

        Returns:
            The changed hosts and their new line counts; empty for an unknown run.
        """
        view = self.runs.get(run_id)
        if view is None:
            return Drained(frozenset(), {}, False)
        dirty = frozenset(view.dirty)
        view.dirty.clear()
        new_lines: dict[str, int] = {}
        for name in dirty:
            host = view.hosts[name]
            if host.new_lines:
                new_lines[name] = host.new_lines
                host.new_lines = 0
        changed, view.changed = view.changed, False
        return Drained(dirty, new_lines, changed)

    def handle(self, event: RunEvent) -> None:
        """Take one event; cheap enough to call for every output chunk of every host."""
        view = self.runs.get(event.run_id)
        if view is None:
            hosts = len(event.hosts) if isinstance(event, RunStarted) else 0
            view = self._view(event.run_id, hosts)
        view.gatherer.handle(event)
        if isinstance(event, Output):
            host = view.host(event.host)
            if event.data:
                host.add_output(event.stream, event.data)
                if event.step and not host.step:
                    host.step = event.step
                view.dirty.add(event.host)
            return
        if isinstance(event, HostRunning):
            host = view.host(event.host)
            host.status = "running"
            host.step = event.step
            host.attempt = event.attempt
            if host.started is None:
                host.started = event.time
            view.dirty.add(event.host)
        elif isinstance(event, HostConnecting):
            host = view.host(event.host)
            host.status = "connecting"
            host.started = event.time
            view.dirty.add(event.host)
        elif isinstance(event, HostQueued):
            view.host(event.host).status = "queued"
            view.dirty.add(event.host)
        elif isinstance(event, HostFinished):
            self._finish_host(view, event)
        elif isinstance(event, BatchFinished):
            view.batches_done = event.index
            view.batches_total = max(view.batches_total, event.total)
            view.changed = True
        elif isinstance(event, RunStarted):
            self._start(view, event)
        elif isinstance(event, RunFinished):
            self._finish_run(view, event)

    def abort(self, run_id: str, reason: str) -> None:
        """End a run whose runner died without its closing events, so no host stays "running" forever.

        Args:
            run_id: The run.
            reason: Why, shown as the error of every host that had not finished.
        """
        view = self.runs.get(run_id)
        if view is None or view.done:
            return
        for host in list(view.hosts.values()):
            if not host.finished:
                self.handle(HostFinished(run_id, host.name, "error", None, 0.0, reason))
        statuses: dict[str, int] = {}
        for host in view.hosts.values():
            statuses[host.status] = statuses.get(host.status, 0) + 1
        self.handle(RunFinished(run_id, statuses, 1, 0.0))

    def close(self) -> None:
        """End of one run's events: lines still open in finished runs are flushed."""
        for view in self.runs.values():
            if view.done:
                for host in view.hosts.values():
                    if host.flush():
                        view.dirty.add(host.name)

    def _view(self, run_id: str, hosts: int) -> RunView:
        view = self.runs.get(run_id)
        if view is None:
            view = RunView(
                run_id=run_id,
                max_lines=self.lines_per_host(hosts) if hosts else self.max_lines,
                gatherer=Gatherer(self.gather_head_bytes),
            )
            self.runs[run_id] = view
            finished = [rid for rid, other in self.runs.items() if other.done]
            for rid in finished[: max(0, len(self.runs) - self.max_runs)]:
                del self.runs[rid]
            for listener in list(self.listeners):
                listener(run_id)
        return view

    def _start(self, view: RunView, event: RunStarted) -> None:
        view.task = event.task
        view.selector = event.selector
        view.command = event.command
        view.params = dict(event.params)
        view.started = event.time
        if not view.hosts:
            view.max_lines = self.lines_per_host(len(event.hosts))
        for name in event.hosts:
            view.host(name)
        view.dirty.update(event.hosts)
        view.changed = True

    @staticmethod
    def _finish_host(view: RunView, event: HostFinished) -> None:
        host = view.host(event.host)
        host.flush()
        host.status = event.status
        host.exit_status = event.exit_status
        host.duration_s = event.duration_s
        host.error = host_error(event.host, event.error) if event.error else None
        if event.step:
            host.step = event.step
        view.dirty.add(event.host)
        view.changed = True

    @staticmethod
    def _finish_run(view: RunView, event: RunFinished) -> None:
        view.finished = event
        for host in view.hosts.values():
            if host.flush():
                view.dirty.add(host.name)
        view.changed = True
