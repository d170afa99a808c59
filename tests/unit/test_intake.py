"""The intake hold: readers wait while a front end holds it, holds nest and expire, held time is not silence."""

from __future__ import annotations

import asyncio

from test_session_pump import Buffered, Sink

from fleetdeck.core.transport.base import Stream
from fleetdeck.core.transport.intake import Intake
from fleetdeck.core.transport.session import Exit, Session, drive


async def turns_done(intake: Intake, wanted: int) -> int:
    """How many of ``wanted`` turns finish within a few loop iterations."""
    done = 0

    async def one() -> None:
        nonlocal done
        await intake.turn()
        done += 1

    tasks = [asyncio.ensure_future(one()) for _ in range(wanted)]
    for _ in range(5):
        await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return done


async def test_an_open_intake_gives_one_loop_turn() -> None:
    intake = Intake()
    assert not intake.held
    assert await turns_done(intake, 3) == 3


async def test_readers_wait_until_every_hold_is_released() -> None:
    intake = Intake(max_hold_s=60)
    first, second = intake.hold(), intake.hold()
    assert intake.held
    waiting = asyncio.ensure_future(intake.turn())
    await asyncio.sleep(0.01)
    first()
    first()  # a release counts once
    await asyncio.sleep(0)
    assert intake.held and not waiting.done()
    second()
    await asyncio.wait_for(waiting, 1)
    assert not intake.held


async def test_a_hold_nobody_releases_ends_by_itself() -> None:
    intake = Intake(max_hold_s=0.05)
    stale = intake.hold()
    await asyncio.wait_for(intake.turn(), 1)
    assert not intake.held
    fresh = intake.hold()
    stale()  # a release from before the intake reopened does not end the new hold
    assert intake.held
    fresh()
    assert not intake.held


async def test_held_time_is_not_silence() -> None:
    intake = Intake(max_hold_s=60)
    loop = asyncio.get_running_loop()
    last = loop.time()
    release = intake.hold()
    await asyncio.sleep(0.02)
    assert intake.silent_since(last) >= last + 0.02
    release()
    assert intake.silent_since(last) == intake.opened_at > last
    assert intake.silent_since(intake.opened_at + 5) == intake.opened_at + 5


def session_of(reader: Buffered) -> Session:
    async def wait() -> Exit:
        return Exit(0)

    return Session(reader, Buffered(0), Sink(), wait, lambda: None, lambda: None)


async def test_no_chunk_is_taken_while_held_and_none_is_lost() -> None:
    intake = Intake(max_hold_s=60)
    chunks: list[bytes] = []
    release = None

    def on_output(_stream: Stream, data: bytes) -> None:
        nonlocal release
        chunks.append(data)
        if len(chunks) == 10:
            release = intake.hold()

    running = asyncio.ensure_future(
        drive(session_of(Buffered(50)), on_output, stdin=None, timeout=None, no_output_timeout=None, intake=intake)
    )
    for _ in range(200):
        await asyncio.sleep(0)
    assert len(chunks) == 10 and not running.done()
    assert release is not None
    release()
    result = await asyncio.wait_for(running, 5)
    assert result.exit_status == 0 and len(chunks) == 50


async def test_a_hold_longer_than_the_no_output_timeout_does_not_time_the_command_out() -> None:
    intake = Intake(max_hold_s=60)
    chunks = 0

    def on_output(_stream: Stream, _data: bytes) -> None:
        nonlocal chunks
        chunks += 1

    release = intake.hold()
    running = asyncio.ensure_future(
        drive(session_of(Buffered(5)), on_output, stdin=None, timeout=None, no_output_timeout=0.05, intake=intake)
    )
    await asyncio.sleep(0.2)  # four no-output timeouts with every chunk held back
    assert not running.done() and chunks == 1
    release()
    result = await asyncio.wait_for(running, 5)
    assert result.timed_out is None and chunks == 5
