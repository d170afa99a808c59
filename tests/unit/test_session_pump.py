"""A command printing as fast as it can must not keep the event loop to itself."""

from __future__ import annotations

import asyncio

from fleetdeck.core.transport.base import Stream
from fleetdeck.core.transport.session import Exit, Session, drive


class Buffered:
    """A reader whose data is always already buffered, as asyncssh's is during a flood: reads never suspend."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    async def read(self, n: int = -1) -> bytes:
        if self.left == 0:
            return b""
        self.left -= 1
        return b"y\n" * 1000


class Sink:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def write_eof(self) -> None:
        pass


async def test_other_tasks_run_while_a_host_floods() -> None:
    ticks_seen: list[int] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def on_output(_stream: Stream, _data: bytes) -> None:
        ticks_seen.append(ticks)

    async def wait() -> Exit:
        return Exit(0)

    session = Session(Buffered(200), Buffered(0), Sink(), wait, lambda: None, lambda: None)
    other = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    try:
        result = await drive(session, on_output, stdin=None, timeout=None, no_output_timeout=None)
    finally:
        other.cancel()
    assert result.exit_status == 0
    assert len(ticks_seen) == 200
    # The ticker ran between chunks, not only before the first and after the last.
    assert ticks_seen[-1] - ticks_seen[0] >= 150
