"""Per-channel pacing: sliding-window rate limits and capped exponential backoff.

A channel may have several limits at once (Feishu: 5 a second and 100 a minute); a send is allowed only
when every window has room. Windows are sliding, not fixed buckets, because vendors such as DingTalk count
"the last minute" and block the robot for ten minutes when it is exceeded. The limiter can be seeded with
recent attempt times from the outbox, so a restart does not grant a fresh budget the vendor would not.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable

from fleetdeck.core.notify.config import RateLimit


class RateLimiter:
    """Counts sends per window; ``remaining`` and ``next_free`` answer for the tightest window."""

    def __init__(self, limits: Iterable[RateLimit]) -> None:
        self.limits = tuple(limits)
        horizon = max((lim.period for lim in self.limits), default=0.0)
        self._horizon = horizon
        self._sent: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self._horizon:
            self._sent.popleft()

    def record(self, now: float) -> None:
        """Count one send at ``now``."""
        if not self.limits:
            return
        self._sent.append(now)
        self._trim(now)

    def seed(self, times: Iterable[float], now: float) -> None:
        """Count earlier sends (from the outbox) that still fall inside a window."""
        if not self.limits:
            return
        self._sent.extend(sorted(t for t in times if t > now - self._horizon))
        self._trim(now)

    def remaining(self, now: float) -> int:
        """How many sends are allowed right now (a large number when unlimited)."""
        if not self.limits:
            return 1 << 30
        self._trim(now)
        return min(lim.count - sum(1 for t in self._sent if t > now - lim.period) for lim in self.limits)

    def next_free(self, now: float) -> float:
        """The earliest time a send is allowed (``now`` if one is allowed already)."""
        if self.remaining(now) > 0:
            return now
        moment = now
        for lim in self.limits:
            inside = [t for t in self._sent if t > now - lim.period]
            if len(inside) >= lim.count:
                # The window frees up when its oldest counted send (that keeps it full) leaves.
                moment = max(moment, inside[len(inside) - lim.count] + lim.period)
        return moment


def backoff(attempts: int, initial: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before retry number ``attempts`` (1-based): ``initial * 2**(attempts-1)`` capped, 75-100% of it.

    The jitter keeps many failed items from retrying in lockstep against a receiver that is coming back.
    """
    base = min(cap, initial * 2.0 ** max(0, attempts - 1))
    return base * (0.75 + 0.25 * rand())
