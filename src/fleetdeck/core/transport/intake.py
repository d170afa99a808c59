"""Reading commands' output, with a hold a front end puts on it while what its user typed is on its way to the screen.

Output is read on the same event loop a console draws on. A host printing as fast as it can keeps that loop
busy with its chunks (decoding, storing, keeping the tail), so a key the operator presses waits its turn
behind them. :class:`Intake` lets the console say "a key is in flight": output readers stop taking chunks
until the console has drawn the key's effect, or :data:`MAX_HOLD_S` has passed, whichever comes first.
Nothing is lost: unread output waits in the connection's buffers, and SSH flow control stops the sender
once they are full. Headless runs never hold, so they read at full speed. No front end code here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

MAX_HOLD_S = 0.2
"""Longest a hold lasts when the front end never says it is done (a key whose screen update never came)."""


class Intake:
    """Paces output readers: one turn per chunk, waiting while a front end holds the intake.

    Holds nest: each :meth:`hold` returns its own release, and readers go on when every hold taken since
    the intake was last open is released, or :data:`MAX_HOLD_S` after the first of them.

    Args:
        max_hold_s: Longest a hold lasts.
    """

    def __init__(self, max_hold_s: float = MAX_HOLD_S) -> None:
        self.max_hold_s = max_hold_s
        self._open: asyncio.Event | None = None  # while held: readers wait on it; set and dropped when the hold ends
        self._holds = 0
        self._generation = 0  # releases of holds from before a forced opening are ignored
        self._expiry: asyncio.TimerHandle | None = None
        self.opened_at = 0.0
        """Loop time the last hold ended; silence before it does not count toward no-output timeouts."""

    @property
    def held(self) -> bool:
        """Whether readers are waiting now."""
        return self._open is not None

    def hold(self) -> Callable[[], None]:
        """Hold the intake until the returned callable is called (at most :attr:`max_hold_s`).

        Must be called on the loop the readers run on. The returned release is idempotent.
        """
        if self._open is None:
            loop = asyncio.get_running_loop()
            self._open = asyncio.Event()
            self._expiry = loop.call_later(self.max_hold_s, self._reopen)
        self._holds += 1
        generation = self._generation
        released = False

        def release() -> None:
            nonlocal released
            if released or generation != self._generation:
                return
            released = True
            self._holds -= 1
            if self._holds <= 0:
                self._reopen()

        return release

    def _reopen(self) -> None:
        if self._open is None:
            return
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._open.set()
        self._open = None
        self._holds = 0
        self._generation += 1
        self.opened_at = asyncio.get_running_loop().time()

    async def turn(self) -> None:
        """Between two chunks: give the loop one turn, and wait out a hold."""
        opened = self._open
        if opened is None:
            await asyncio.sleep(0)
        else:
            await opened.wait()

    def silent_since(self, last_output: float) -> float:
        """Loop time a reader's silence counts from: output held back by a hold is not silence.

        Args:
            last_output: Loop time the reader last received a chunk.
        """
        if self._open is not None:
            return asyncio.get_running_loop().time()
        return max(last_output, self.opened_at)


UNHELD = Intake()
"""The intake of transports nobody holds (headless runs, tests): one loop turn per chunk, as before."""
