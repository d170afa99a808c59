"""The client end of one host's probe channel: requests out, bytes in, samples and problems out, by callback.

The probe answers each request line with one frame in one write, so a channel delivers about one packet per
host per tick. Handling it in asyncssh's `data_received` callback, instead of a task awaiting
`stdout.read()` under a timeout, costs no task wakeup, future or timer per packet: with hundreds of hosts
that is most of what the client spends besides decryption. The reader remembers when it asked and was not
yet answered, so the collector measures a host's silence from the request, not from the last frame: a
client that was itself busy and asked late never takes a host for stale.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

import asyncssh

from fleetdeck.core.health.frames import FrameError, FrameSplitter, SampleBuilder
from fleetdeck.core.health.proc_parse import ProbeParseError
from fleetdeck.core.health.sample import HealthSample

STDERR_KEPT = 400
"""Bytes of the probe's stderr kept to explain why it ended (`sh: not found`, a login banner)."""

REQUEST = b"\n"
"""What asks the probe for its next frame: one line on its stdin."""

REQUESTS_OUTSTANDING = 8
"""Most unanswered requests a host is sent: a host that stays silent is asked again once per stale period, up
to this many, so a hung probe's stdin never fills with requests."""


class ArrivalBatch:
    """Packets of many probe channels, handled together once the event loop has read every socket that was ready.

    A slot's hosts answer within a millisecond of each other, so one pass of the event loop reads a few dozen
    packets. Handled as each is read, every packet's splitting, parsing and hand-off ran between asyncssh's
    handling of the next; queued and handled in one callback, the same few functions run a few dozen times in
    a row, and the samples reach the board and the alert rules together.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[ProbeReader, bytes]] = []

    def add(self, reader: ProbeReader, data: bytes) -> None:
        """Queue a packet; the first one queued schedules the pass over all of them."""
        self._pending.append((reader, data))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._handle)

    def _handle(self) -> None:
        pending, self._pending = self._pending, []
        for reader, data in pending:
            reader.handle(data)


class ProbeReader(asyncssh.SSHClientSession[bytes]):
    """Feeds one probe channel's stdout to a `FrameSplitter` and `SampleBuilder` as packets arrive.

    Args:
        host: The host's name, for samples and messages.
        on_sample: Called with every good sample.
        on_trouble: Called with a message for every bad frame (the host goes stale, not down).
        batch: Where packets wait to be handled with those of other hosts; without one, each is handled as it
            arrives.
    """

    def __init__(
        self,
        host: str,
        on_sample: Callable[[HealthSample], None],
        on_trouble: Callable[[str], None],
        batch: ArrivalBatch | None = None,
    ) -> None:
        self.host = host
        self._batch = batch
        self._on_sample = on_sample
        self._on_trouble = on_trouble
        self._splitter = FrameSplitter()
        self._builder = SampleBuilder(host)
        self.last_data = time.monotonic()
        """When the last good sample arrived (or the reader was made)."""
        self.delivered = False
        """Whether any good sample arrived."""
        self.stderr = b""
        """The tail of what the probe wrote to stderr."""
        self._channel: asyncssh.SSHClientChannel[bytes] | None = None
        self._asked: collections.deque[float] = collections.deque([self.last_data])
        """When each unanswered request went out, oldest first; the probe's unprompted first frame counts."""
        self._last_ask = self.last_data
        self.ended: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        """Resolved when the channel closes, with the error that closed it, if any."""

    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        """Keep the channel to write requests to."""
        self._channel = chan

    @property
    def waiting_since(self) -> float | None:
        """When the oldest unanswered request went out (monotonic seconds), or None if all were answered."""
        return self._asked[0] if self._asked else None

    def ask(self, now: float, *, gap_s: float, again_after_s: float) -> bool:
        """Request the next frame, unless the last request is too recent or too many are unanswered.

        Args:
            now: `time.monotonic()`.
            gap_s: Least time since the last request when that one was answered (a host that just joined
                is not asked twice within one interval).
            again_after_s: Least time since the last request when it is still unanswered; asking again
                then recovers from a frame that was lost (cut short, garbled) without flooding a slow host.

        Returns:
            Whether a request was written.
        """
        wait = again_after_s if self._asked else gap_s
        if self._channel is None or len(self._asked) >= REQUESTS_OUTSTANDING or now - self._last_ask < wait:
            return False
        try:
            self._channel.write(REQUEST)
        except (OSError, asyncssh.Error):
            return False  # The channel is closing; `ended` tells the collector.
        self._asked.append(now)
        self._last_ask = now
        return True

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        """Turn a packet of probe output into samples (now, or with the batch); stderr is only kept for the
        closing message."""
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            self.stderr = (self.stderr + data)[-STDERR_KEPT:]
        elif self._batch is not None:
            self._batch.add(self, data)
        else:
            self.handle(data)

    def handle(self, data: bytes) -> None:
        """Turn a packet of probe output into samples."""
        try:
            for item in self._splitter.feed(data):
                if self._asked:
                    self._asked.popleft()  # Answered, well or not: a garbled frame is still an answer.
                if isinstance(item, FrameError):
                    self._on_trouble(f"{self.host}: bad health data: {item}")
                    continue
                try:
                    sample = self._builder.update(item)
                except ProbeParseError as exc:
                    self._on_trouble(f"{self.host}: bad health data: {exc}")
                    continue
                self.last_data = time.monotonic()
                self.delivered = True
                self._on_sample(sample)
        except Exception as exc:  # A consumer's bug must not tear down the shared SSH connection.
            asyncio.get_running_loop().call_exception_handler(
                {"message": f"{self.host}: health sample handling failed", "exception": exc}
            )

    def connection_lost(self, exc: Exception | None) -> None:
        """Wake the collector: the channel is gone."""
        if not self.ended.done():
            self.ended.set_result(exc)

    def stderr_tail(self) -> str:
        """The last line the probe wrote to stderr, for a message; empty if none."""
        lines = self.stderr.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else ""
