"""Drive one running command, whatever carries it: pump output, feed stdin, enforce both timeouts, kill.

SSH channels and local subprocesses expose the same shape (two readers, one writer, a wait and a
kill), so the timing rules live here once: the command timeout counts from the start, the no-output
timeout from the last byte received, and on either (or on cancel) the process is asked to stop, given
a grace period to report its exit, then dropped; the result says whether the exit was seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from fleetdeck.core.transport.base import KILL_GRACE_S, CommandResult, OutputCallback, StdinSource, Stream
from fleetdeck.core.transport.intake import UNHELD, Intake

READ_SIZE = 65536


class ByteReader(Protocol):
    """``asyncio.StreamReader`` and asyncssh's ``SSHReader`` both fit."""

    async def read(self, n: int = -1) -> bytes: ...


class ByteWriter(Protocol):
    """``asyncio.StreamWriter`` and asyncssh's ``SSHWriter`` both fit."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def write_eof(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Exit:
    """What the process reported when it ended."""

    status: int | None
    signal: str | None = None


@dataclass(slots=True)
class Session:
    """One running command and the operations the driver needs on it."""

    stdout: ByteReader
    stderr: ByteReader
    stdin: ByteWriter
    wait: Callable[[], Awaitable[Exit]]
    terminate: Callable[[], None]
    kill: Callable[[], None]


async def _pump(
    reader: ByteReader, stream: Stream, on_output: OutputCallback, touch: Callable[[], None], intake: Intake
) -> None:
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            return
        touch()
        on_output(stream, data)
        # A read of buffered data returns without suspending, so a host printing as fast as it can would keep
        # the event loop to itself for its whole receive window; yield once per chunk so keys, timers and the
        # other hosts get their turn; while a front end holds the intake, wait for it (see ``intake``).
        await intake.turn()


async def _feed(writer: ByteWriter, stdin: StdinSource | None) -> None:
    # A command that exits without reading its stdin closes the pipe: not an error of ours.
    with contextlib.suppress(OSError, ConnectionError, BrokenPipeError):
        if stdin is not None:
            async for chunk in stdin():
                writer.write(chunk)
                await writer.drain()
        writer.write_eof()


async def drive(
    session: Session,
    on_output: OutputCallback,
    *,
    stdin: StdinSource | None,
    timeout: float | None,
    no_output_timeout: float | None,
    intake: Intake = UNHELD,
) -> CommandResult:
    """Run a started session to its end; see the module docstring for the rules.

    ``intake`` paces the output readers; time it holds them back does not count as silence.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    last = [start]

    def touch() -> None:
        last[0] = loop.time()

    readers = asyncio.ensure_future(
        asyncio.gather(
            _pump(session.stdout, "stdout", on_output, touch, intake),
            _pump(session.stderr, "stderr", on_output, touch, intake),
        )
    )
    feeder: asyncio.Future[None] | None = None
    if stdin is None:
        # Nothing to send: close stdin now instead of keeping a task around for it.
        with contextlib.suppress(OSError, ConnectionError, BrokenPipeError):
            session.stdin.write_eof()
    else:
        feeder = asyncio.ensure_future(_feed(session.stdin, stdin))
    timed_out: Literal["timeout", "no_output"] | None = None
    try:
        if timeout is None and no_output_timeout is None:
            await asyncio.wait({readers})
        while not readers.done():
            now = loop.time()
            waits = []
            if timeout is not None:
                waits.append(start + timeout - now)
            if no_output_timeout is not None:
                waits.append(intake.silent_since(last[0]) + no_output_timeout - now)
            wait_s = max(0.0, min(waits)) if waits else None
            await asyncio.wait({readers}, timeout=wait_s)
            if readers.done():
                break
            now = loop.time()
            if timeout is not None and now >= start + timeout:
                timed_out = "timeout"
                break
            if no_output_timeout is not None and now >= intake.silent_since(last[0]) + no_output_timeout:
                timed_out = "no_output"
                break
        if timed_out is None:
            readers.result()  # re-raise a reader's error (connection lost)
            exit_ = await session.wait()
            return CommandResult(exit_.status, exit_.signal, duration_s=loop.time() - start)
        confirmed = await stop(session)
        return CommandResult(None, None, timed_out, confirmed, loop.time() - start)
    except asyncio.CancelledError:
        await asyncio.shield(stop(session))
        raise
    finally:
        if feeder is not None:
            feeder.cancel()
        if not readers.done():
            readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers


async def stop(session: Session) -> bool:
    """Ask the process to end, wait a grace period for its exit, then force it; True if the exit was seen."""
    with contextlib.suppress(OSError, ProcessLookupError):
        session.terminate()
    try:
        await asyncio.wait_for(session.wait(), KILL_GRACE_S)
        return True
    except (TimeoutError, OSError, ConnectionError):
        pass
    except Exception:
        return False
    with contextlib.suppress(OSError, ProcessLookupError):
        session.kill()
    try:
        await asyncio.wait_for(session.wait(), 1.0)
        return True
    except Exception:
        return False
