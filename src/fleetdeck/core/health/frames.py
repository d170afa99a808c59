"""From the probe's byte stream to `HealthSample`s: frame splitting, rate computation and a thin async reader.

`FrameSplitter` takes whatever chunks the SSH channel delivers (any size, cut anywhere, even inside a UTF-8
sequence) and returns each complete frame as a `Frame`. Broken input is a `FrameError` value in the same
list, not an exception, so one host's garbage (a login banner, a frame cut short when a probe restarted, a
runaway section) is reported for that host and the splitter carries on from the next `@@FD1` header.
`SampleBuilder` turns consecutive frames of one host into samples: counters become rates over the `uptime`
delta (centiseconds, immune to wall-clock steps, unlike the header's whole-second epoch), a counter that went
backwards yields `None` for that tick instead of a negative or huge spike, and slow sections (filesystems,
kernel, OS name) are remembered until the probe sends them again. `read_samples` ties both to any
`read(n)` coroutine, such as an asyncssh or asyncio stream reader. Nothing here imports textual or rich.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from operator import sub

from fleetdeck.core.health.proc_parse import (
    CpuStat,
    DiskCounters,
    NetCounters,
    ProbeParseError,
    parse_df,
    parse_df_inodes,
    parse_kernel,
    parse_os_release,
    parse_tick,
)
from fleetdeck.core.health.sample import FsUsage, HealthSample, NetRate

MAX_SECTION_BYTES = 1 << 20
"""A section larger than this is a runaway (or hostile) host; the frame is dropped."""

MAX_SECTIONS = 32
"""More sections than this in one frame is not the probe talking; the frame is dropped."""

WAIT_FOR_FRAME_BYTES = 64 << 10
"""The first part of a frame is kept whole, awaiting its trailer, up to this size (frames are a few KiB)."""

HEADER = b"@@FD1 "
"""The frame header prefix; the `1` is the protocol version."""

REQUIRED_SECTIONS = ("tick",)
"""Sections every frame must carry for a sample to be built."""

BTIME_SLACK_S = 2
"""btime is derived from the wall clock and wobbles by a second when it is stepped; more than this is a reboot."""

_SECTION_NAME = re.compile(rb"@@([a-z][a-z0-9_]*)")
_QUOTE_LIMIT = 60


class FrameError(ValueError):
    """The probe's output could not be cut into frames; the message is meant for the operator."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One tick of probe output.

    Attributes:
        tick: The probe's tick counter, 1 for its first frame.
        epoch: Wall-clock seconds on the host when the tick started (whole seconds, for display).
        sections: Section name to raw text, each line newline-terminated.
    """

    tick: int
    epoch: int
    sections: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Partial:
    """A frame being assembled: header values, finished sections, the section being filled."""

    tick: int
    epoch: int
    sections: dict[str, bytes] = field(default_factory=dict)
    name: str | None = None
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    def finish_section(self) -> None:
        """Store the section being filled, if any."""
        if self.name is not None:
            self.sections[self.name] = b"".join(line + b"\n" for line in self.lines)
        self.name, self.lines, self.size = None, [], 0


def _quote(line: bytes) -> str:
    """A line of host output, shortened and decoded, to quote in an error message."""
    text = line.decode("utf-8", errors="replace")
    return repr(text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "...")


class FrameSplitter:
    """Cuts a probe's byte stream into `Frame`s, reporting and skipping whatever is not a well-formed frame.

    After any error the splitter ignores input until the next `@@FD1` header, so one bad frame costs one
    tick, and a run of junk lines (a shell banner) is reported once, not once per line.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._frame: _Partial | None = None
        self._quiet = False
        """True while skipping input already reported, until the next header."""
        self._discarding_line = False
        """True while throwing away the rest of an over-long line."""

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        """Add a chunk of the stream.

        Args:
            data: Bytes as they arrived; may end mid-line.

        Returns:
            Frames completed by this chunk and errors found in it, in stream order.
        """
        out: list[Frame | FrameError] = []
        self._buffer += data
        start = 0
        if self._frame is None and not self._discarding_line:
            start = self._whole_frames(out)
            if self._rest_to_come(start):
                del self._buffer[:start]
                return out
        self._lines(start, out)
        if len(self._buffer) > MAX_SECTION_BYTES:
            self._fail(f"a line of more than {MAX_SECTION_BYTES} bytes", out.append)
            self._buffer.clear()
            self._discarding_line = True
        return out

    def _lines(self, start: int, out: list[Frame | FrameError]) -> None:
        """Feed the buffer's complete lines from `start` to the state machine and drop them from the buffer."""
        while True:
            end = self._buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(self._buffer[start:end])
            start = end + 1
            if self._discarding_line:
                self._discarding_line = False
                continue
            self._line(line[:-1] if line.endswith(b"\r") else line, out)
        del self._buffer[:start]

    def _rest_to_come(self, start: int) -> bool:
        """Whether the buffer from `start` is the first part of a frame: a header, and no complete trailer yet.

        A frame larger than a packet (a `df` tick, a many-core host) arrives in pieces; waiting for its trailer
        lets `_whole_frames` cut it in one piece instead of sending every line through `_line`. Past
        `WAIT_FOR_FRAME_BYTES` the line-by-line machine takes over, with its limits and its reports.
        """
        buffer = self._buffer
        if not buffer.startswith(HEADER, start) or len(buffer) - start > WAIT_FOR_FRAME_BYTES:
            return False
        trailer = buffer.find(b"\n@@END ", start)
        return trailer < 0 or buffer.find(b"\n", trailer + 1) < 0

    def _whole_frames(self, out: list[Frame | FrameError]) -> int:
        """Take complete, clean frames off the front of the buffer in one piece each.

        The probe writes a frame in one write, so a read usually holds exactly one: cutting it at its
        `\n@@` markers costs a few slices instead of a trip through `_line` per line. Anything unusual
        (a stray header, a carriage return, a marker that is not a section name, a section that is too big)
        stops the fast path before that frame, and the line-by-line state machine reports it as usual.

        Returns:
            How many bytes at the front of the buffer were consumed.
        """
        buffer = self._buffer
        start = 0
        while buffer.startswith(HEADER, start):
            header_end = buffer.find(b"\n", start)
            trailer = buffer.find(b"\n@@END ", start)
            if header_end < 0 or trailer < 0:
                break
            end = buffer.find(b"\n", trailer + 1)
            if end < 0:
                break
            frame = self._clean_frame(bytes(buffer[start : end + 1]))
            if frame is None:
                break
            out.append(frame)
            self._quiet = False
            start = end + 1
        return start

    @staticmethod
    def _clean_frame(block: bytes) -> Frame | None:
        """`block` (header line to trailer line, inclusive) as a `Frame`, or None if it is not a clean one."""
        if b"\r" in block or block.count(HEADER) != 1:
            return None
        pieces = block[:-1].split(b"\n@@")
        fields = pieces[0][len(HEADER) :].split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            return None
        tick = int(fields[0])
        if pieces[-1] != b"END %d" % tick or len(pieces) - 2 > MAX_SECTIONS:
            return None
        sections: dict[str, str] = {}
        for piece in pieces[1:-1]:
            name, _, body = piece.partition(b"\n")
            if _SECTION_NAME.fullmatch(b"@@" + name) is None or len(body) + 1 > MAX_SECTION_BYTES:
                return None
            key = name.decode("ascii")
            if key in sections:
                return None
            sections[key] = body.decode("utf-8", errors="replace") + "\n" if body else ""
        return Frame(tick=tick, epoch=int(fields[1]), sections=sections)

    def close(self) -> list[FrameError]:
        """Note the end of the stream.

        Returns:
            An error if the stream stopped inside a frame or left unterminated output, else nothing.
        """
        errors: list[FrameError] = []
        if self._frame is None and self._buffer.startswith(HEADER):
            # A frame's first part, kept whole while its rest was awaited: run it through the machine to say where
            # it stopped, and what was wrong with it on the way.
            found: list[Frame | FrameError] = []
            self._lines(0, found)
            errors += [e for e in found if isinstance(e, FrameError)]
        if self._frame is not None:
            self._fail(f"the stream ended inside frame {self._frame.tick} (no @@END)", errors.append)
        elif self._buffer.strip() and not self._quiet and not self._discarding_line:
            errors.append(FrameError(f"probe output outside a frame: {_quote(bytes(self._buffer))}"))
        self._buffer.clear()
        self._frame, self._quiet, self._discarding_line = None, False, False
        return errors

    def _fail(self, what: str, report: Callable[[FrameError], None]) -> None:
        """Drop the frame in progress, report why, and skip input until the next header."""
        if self._frame is not None:
            report(FrameError(f"probe frame {self._frame.tick} dropped: {what}"))
        elif not self._quiet:
            report(FrameError(f"probe output dropped: {what}"))
        self._frame = None
        self._quiet = True

    def _line(self, line: bytes, out: list[Frame | FrameError]) -> None:
        """Advance the state machine by one line (without its newline)."""
        if line.startswith(HEADER):
            if self._frame is not None:
                self._fail("no @@END before the next frame header", out.append)
            self._header(line, out)
            return
        frame = self._frame
        if frame is None:
            if not self._quiet:
                out.append(FrameError(f"probe output outside a frame: {_quote(line)}"))
                self._quiet = True
            return
        if line.startswith(b"@@END"):
            if line != b"@@END %d" % frame.tick:
                self._fail(f"trailer {_quote(line)} does not match the header", out.append)
                return
            frame.finish_section()
            self._frame = None
            out.append(
                Frame(
                    tick=frame.tick,
                    epoch=frame.epoch,
                    sections={k: v.decode("utf-8", errors="replace") for k, v in frame.sections.items()},
                )
            )
            return
        marker = _SECTION_NAME.fullmatch(line)
        if marker is not None:
            name = marker.group(1).decode("ascii")
            frame.finish_section()
            if name in frame.sections:
                self._fail(f"section {name} appears twice", out.append)
            elif len(frame.sections) >= MAX_SECTIONS:
                self._fail(f"more than {MAX_SECTIONS} sections", out.append)
            else:
                frame.name = name
            return
        if frame.name is None:
            self._fail(f"data before the first section: {_quote(line)}", out.append)
            return
        frame.size += len(line) + 1
        if frame.size > MAX_SECTION_BYTES:
            self._fail(f"section {frame.name} is larger than {MAX_SECTION_BYTES} bytes", out.append)
            return
        frame.lines.append(line)

    def _header(self, line: bytes, out: list[Frame | FrameError]) -> None:
        """Start a frame from `@@FD1 <tick> <epoch>`, or report a malformed header."""
        fields = line[len(HEADER) :].split()
        if len(fields) == 2 and all(f.isdigit() for f in fields):
            self._frame = _Partial(tick=int(fields[0]), epoch=int(fields[1]))
            self._quiet = False
        else:
            self._frame = None
            self._quiet = False
            self._fail(f"malformed frame header {_quote(line)}", out.append)


@dataclass(frozen=True, slots=True)
class _Counters:
    """The cumulative readings of one frame that the next frame turns into rates."""

    uptime_s: float
    btime: int | None
    cpu: CpuStat
    net: Mapping[str, NetCounters]
    disks: Mapping[str, DiskCounters]


class SampleBuilder:
    """Turns one host's consecutive frames into `HealthSample`s.

    A frame that fails to parse raises and changes nothing, so the next good frame computes its rates
    against the last good one. A reboot (uptime went backwards, or btime moved) starts over: rates are
    `None` for that frame as they are for the first.

    Args:
        host: The name the samples carry.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self._previous: _Counters | None = None
        self._filesystems: tuple[FsUsage, ...] = ()
        self._kernel = ""
        self._os_name = ""

    def update(self, frame: Frame) -> HealthSample:
        """Build the sample for `frame`.

        Returns:
            An `up` sample; CPU percentages and rates are `None` on the first frame and after a reboot.

        Raises:
            ProbeParseError: A required section is missing, or any section is malformed.
        """
        sections = frame.sections
        for name in REQUIRED_SECTIONS:
            if name not in sections:
                raise ProbeParseError(f"frame {frame.tick}: no {name} section")
        tick = parse_tick(sections["tick"])
        cpu, mem, load = tick.cpu, tick.mem, tick.load
        kernel = parse_kernel(sections["kernel"]) if "kernel" in sections else None
        os_name = parse_os_release(sections["osrelease"]).display_name if "osrelease" in sections else None
        filesystems = _filesystems(sections) if "df" in sections else None

        current = _Counters(uptime_s=tick.uptime_s, btime=cpu.btime, cpu=cpu, net=tick.net, disks=tick.disks)
        previous = self._previous
        if previous is not None and (
            current.uptime_s <= previous.uptime_s
            or (
                current.btime is not None
                and previous.btime is not None
                and abs(current.btime - previous.btime) > BTIME_SLACK_S
            )
        ):
            previous = None  # Rebooted, or the same instant twice: no honest delta.
        self._previous = current
        if kernel is not None:
            self._kernel = kernel
        if os_name is not None:
            self._os_name = os_name or self._kernel
        if filesystems is not None:
            self._filesystems = filesystems

        cpu_pcts = cpu_percents(previous.cpu, cpu) if previous is not None else None
        rates = _rates(previous, current)
        swap_used = mem.swap_total_bytes - mem.swap_free_bytes
        return HealthSample(
            host=self.host,
            time=float(frame.epoch),
            status="up",
            cpu_pct=cpu_pcts[0] if cpu_pcts else None,
            cpu_user_pct=cpu_pcts[1] if cpu_pcts else None,
            cpu_system_pct=cpu_pcts[2] if cpu_pcts else None,
            cpu_iowait_pct=cpu_pcts[3] if cpu_pcts else None,
            cpu_steal_pct=cpu_pcts[4] if cpu_pcts else None,
            load1=load.load1,
            load5=load.load5,
            load15=load.load15,
            cores=len(cpu.per_core),
            mem_used_pct=_pct(mem.total_bytes - mem.available_bytes, mem.total_bytes),
            mem_total_bytes=mem.total_bytes,
            mem_available_bytes=mem.available_bytes,
            swap_used_pct=_pct(swap_used, mem.swap_total_bytes) if mem.swap_total_bytes else None,
            filesystems=self._filesystems,
            net_rx_bps=rates[0],
            net_tx_bps=rates[1],
            disk_read_bps=rates[2],
            disk_write_bps=rates[3],
            uptime_s=tick.uptime_s,
            procs=tick.procs,
            kernel=self._kernel,
            os_name=self._os_name,
            cpu_per_core_pct=per_core_percents(previous.cpu, cpu) if previous is not None else (),
            net_interfaces=_interfaces(previous, current),
        )


def _filesystems(sections: Mapping[str, str]) -> tuple[FsUsage, ...]:
    """Join the `df` and `dfi` sections into `FsUsage`s."""
    inodes = parse_df_inodes(sections.get("dfi", ""))
    return tuple(
        FsUsage(
            mount=fs.mount,
            fstype=fs.fstype,
            size_bytes=fs.size_bytes,
            used_bytes=fs.used_bytes,
            used_pct=fs.used_pct,
            inodes_used_pct=inodes.get(fs.mount),
        )
        for fs in parse_df(sections["df"])
    )


def _pct(part: float, whole: float) -> float:
    """`part` as a percent of `whole`, kept inside 0-100."""
    return min(100.0, max(0.0, part * 100.0 / whole)) if whole > 0 else 0.0


def cpu_percents(
    before: CpuStat, after: CpuStat
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    """Busy, user, system, iowait and steal percent between two `/proc/stat` readings.

    Each column's delta is floored at zero first: iowait and idle are known to step backwards on tickless
    kernels and across CPU hotplug. iowait and steal are `None` where the kernel does not print them.
    """
    b, a = before.total, after.total
    user, nice, system = max(0, a.user - b.user), max(0, a.nice - b.nice), max(0, a.system - b.system)
    idle, iowait = max(0, a.idle - b.idle), max(0, a.iowait - b.iowait)
    irq, softirq, steal = max(0, a.irq - b.irq), max(0, a.softirq - b.softirq), max(0, a.steal - b.steal)
    total = user + nice + system + idle + iowait + irq + softirq + steal
    if total <= 0:
        return None, None, None, None, None
    columns = min(before.columns, after.columns)
    return (
        _pct(total - idle - iowait, total),
        _pct(user, total),
        _pct(system, total),
        _pct(iowait, total) if columns >= 5 else None,
        _pct(steal, total) if columns >= 8 else None,
    )


def per_core_percents(before: CpuStat, after: CpuStat) -> tuple[float, ...]:
    """Busy percent of each CPU; empty when the CPU set changed (hotplug) between the readings.

    Each column's delta is floored at zero, as in `cpu_percents`. The deltas of a core are taken in one
    `map`: a 64-core host sends 64 of these lines every tick, and column by column cost 250 µs a frame there.
    """
    if len(before.per_core) != len(after.per_core):
        return ()
    out = []
    for b, a in zip(before.per_core, after.per_core, strict=True):
        deltas = tuple(map(sub, a, b))
        if min(deltas) < 0:
            deltas = tuple(d if d > 0 else 0 for d in deltas)
        total = sum(deltas)
        # idle and iowait are the 4th and 5th columns; with no negative delta, busy lies within 0..total.
        out.append((total - deltas[3] - deltas[4]) * 100.0 / total if total > 0 else 0.0)
    return tuple(out)


def _interfaces(previous: _Counters | None, current: _Counters) -> tuple[NetRate, ...]:
    """Per-interface rates between two frames; an interface whose counter went back gets ``None``."""
    if previous is None:
        return ()
    elapsed = current.uptime_s - previous.uptime_s
    if elapsed <= 0:
        return ()
    out = []
    for name, now in sorted(current.net.items()):
        before = previous.net.get(name)
        if before is None:
            continue
        rx = (now.rx_bytes - before.rx_bytes) / elapsed if now.rx_bytes >= before.rx_bytes else None
        tx = (now.tx_bytes - before.tx_bytes) / elapsed if now.tx_bytes >= before.tx_bytes else None
        out.append(NetRate(name, rx, tx))
    return tuple(out)


def _rates(
    previous: _Counters | None, current: _Counters
) -> tuple[float | None, float | None, float | None, float | None]:
    """Bytes per second for net rx, net tx, disk read, disk write between two frames.

    Devices present in both frames are compared one by one, so an interface that appears (a new container's
    veth) adds nothing and one that vanishes subtracts nothing; a counter that went backwards (reset, or a
    32-bit wrap) makes that direction `None` for this tick.
    """
    if previous is None:
        return None, None, None, None
    elapsed = current.uptime_s - previous.uptime_s
    if elapsed <= 0:
        return None, None, None, None

    def rate(pairs: list[tuple[int, int]]) -> float | None:
        total = 0
        for before, after in pairs:
            if after < before:
                return None
            total += after - before
        return total / elapsed

    nets = [(previous.net[n], c) for n, c in current.net.items() if n in previous.net]
    rx = rate([(b.rx_bytes, a.rx_bytes) for b, a in nets])
    tx = rate([(b.tx_bytes, a.tx_bytes) for b, a in nets])
    disks = [(previous.disks[n], c) for n, c in current.disks.items() if n in previous.disks]
    read = rate([(b.read_bytes, a.read_bytes) for b, a in disks])
    write = rate([(b.write_bytes, a.write_bytes) for b, a in disks])
    return rx, tx, read, write


async def read_samples(
    read: Callable[[int], Awaitable[bytes]], host: str, chunk_size: int = 65536
) -> AsyncIterator[HealthSample | FrameError | ProbeParseError]:
    """Read a probe's stdout until EOF, yielding a sample per good frame and an error per bad one.

    Args:
        read: `read(n)` of the channel's stdout in bytes mode; returns `b""` at end of stream.
        host: The name the samples carry.
        chunk_size: Most bytes asked for per read.

    Yields:
        Samples, and the errors that the collector reports as a stale host.
    """
    splitter = FrameSplitter()
    builder = SampleBuilder(host)
    while True:
        data = await read(chunk_size)
        items: list[Frame | FrameError] = splitter.feed(data) if data else list(splitter.close())
        for item in items:
            if isinstance(item, FrameError):
                yield item
                continue
            try:
                yield builder.update(item)
            except ProbeParseError as exc:
                yield exc
        if not data:
            return
