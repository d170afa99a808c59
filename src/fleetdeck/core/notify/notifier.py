"""The dispatcher: notices in, grouped messages out through the outbox, paced and retried per channel.

:meth:`Notifier.submit` only queues a notice; :meth:`Notifier.run` routes and groups queued notices, saves the
grouping state, turns due groups into outbox rows, and has one worker per channel drain that channel's rows.
A worker sends the oldest due row when the channel's rate limits allow; when they do not (or the receiver said
429 or "too fast"), the rows never attempted are folded into one digest row so a backlog leaves as one message.
5xx and connection errors retry with capped exponential backoff, 429 waits for ``Retry-After`` (seconds or an
HTTP date) and pauses the whole channel, other 4xx fail at once with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.notify.channels import MissingSecret, Outcome, build_request, interpret, redact
from fleetdeck.core.notify.config import ChannelConfig, NotifyConfig
from fleetdeck.core.notify.grouping import Aggregator, Group
from fleetdeck.core.notify.message import Message, fold
from fleetdeck.core.notify.notice import Notice
from fleetdeck.core.notify.outbox import Outbox, OutboxItem
from fleetdeck.core.notify.ratelimit import RateLimiter, backoff
from fleetdeck.core.store.output_files import make_private_dir

log = logging.getLogger(__name__)

LOCK_NAME: Final = "notify.lock"
PRUNE_EVERY: Final = 3600.0
"""How often finished rows older than ``keep_delivered`` are deleted while running."""
T = TypeVar("T")


class NotifyError(FleetdeckError):
    """The notifier cannot start (another process holds the state dir's outbox)."""


class _SecretFilter(logging.Filter):
    """Redacts recent secrets from httpx's request log lines (they carry URLs with tokens in them)."""

    def __init__(self, keep: int = 256) -> None:
        super().__init__()
        self._secrets: OrderedDict[str, None] = OrderedDict()
        self._keep = keep

    def add(self, secrets: tuple[str, ...]) -> None:
        for secret in secrets:
            self._secrets[secret] = None
            self._secrets.move_to_end(secret)
        while len(self._secrets) > self._keep:
            self._secrets.popitem(last=False)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            text = record.getMessage()
            clean = redact(text, self._secrets)
            if clean != text:
                record.msg, record.args = clean, None
        return True


_HTTPX_FILTER = _SecretFilter()
logging.getLogger("httpx").addFilter(_HTTPX_FILTER)


async def send_once(
    client: httpx.AsyncClient,
    channel: ChannelConfig,
    message: Message,
    *,
    transaction_id: int,
    env: Mapping[str, str],
    now: float,
    external_url: str = "",
    clock: Callable[[], float] = time.time,
) -> tuple[Outcome, tuple[str, ...]]:
    """One request for ``message`` on ``channel`` and its reading; never raises for a receiver's or network's fault.

    Returns:
        The outcome (its error not yet redacted) and every secret the request carried, for redaction.
    """
    try:
        request = build_request(
            channel, message, transaction_id=transaction_id, env=env, now=now, external_url=external_url
        )
    except MissingSecret as exc:
        return Outcome(False, True, str(exc)), ()
    _HTTPX_FILTER.add(request.secrets)
    try:
        response = await client.request(
            request.method, request.url, headers=dict(request.headers), content=request.body, timeout=channel.timeout
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return Outcome(False, False, f"bad URL: {exc}"), request.secrets
    except httpx.TransportError as exc:
        return Outcome(False, True, f"{type(exc).__name__}: {exc}".rstrip(": ")), request.secrets
    outcome = interpret(channel.type, response.status_code, response.headers, response.content, clock())
    return outcome, request.secrets


def _lock(state_dir: Path) -> int:
    make_private_dir(state_dir)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise NotifyError(
            f"another fleetdeck process is delivering notifications from {state_dir} ({LOCK_NAME} is held)"
        ) from None
    return fd


class Notifier:
    """Routes, groups and delivers notices through the persistent outbox in ``<state_dir>/notify.db``.

    Call :meth:`submit` from the event loop's thread; run :meth:`run` as a task and cancel it to stop. ``env``
    is read at send time for tokens and secrets (``os.environ`` by default). ``clock`` (epoch seconds) drives
    every timer and no wait is longer than ``tick``, so tests can move time by hand.

    Delivery is at least once. The attempt is committed before the request leaves and the row is marked
    delivered right after the answer; if the process dies between the two, the row is sent again after the
    restart. Every attempt of a row carries the same transaction id (Lanying drops a repeated
    ``transaction_id``; the webhook sends it as ``Idempotency-Key`` beside Alertmanager's ``groupKey``), and on
    cancellation requests in flight get ``shutdown_grace`` seconds to be answered and recorded, which closes
    that window for an orderly stop. Only one notifier may use a state dir at a time (``notify.lock``).
    """

    def __init__(
        self,
        config: NotifyConfig,
        state_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        tick: float = 1.0,
        shutdown_grace: float = 5.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self._env: Mapping[str, str] = env if env is not None else os.environ
        self._clock = clock
        self._transport = transport
        self._tick = tick
        self._grace = shutdown_grace
        self._rand = rand
        self._inbox: deque[Notice] = deque()
        self._aggregator = Aggregator(config)
        self._pending: dict[str, dict[int, OutboxItem]] = {name: {} for name in config.channels}
        self._limiters = {name: RateLimiter(ch.rate_limits) for name, ch in config.channels.items()}
        self._blocked_until: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._channel_wake = {name: asyncio.Event() for name in config.channels}
        self._inflight: set[asyncio.Task[None]] = set()
        self._outbox: Outbox | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._client: httpx.AsyncClient | None = None
        self._running = False
        self._next_prune = 0.0

    # -- public ----------------------------------------------------------------------------------------------

    def submit(self, notice: Notice) -> None:
        """Queue a notice; :meth:`run` persists it within a moment and delivers it per its routes."""
        self._inbox.append(notice)
        self._wake.set()

    @property
    def queued(self) -> int:
        """Notices submitted but not yet taken into the grouping state."""
        return len(self._inbox)

    @property
    def pending(self) -> int:
        """Outbox rows waiting for delivery (as this process knows them)."""
        return sum(len(items) for items in self._pending.values())

    async def run(self) -> None:
        """Resume the outbox, then route, group and deliver until cancelled.

        Raises:
            NotifyError: Another process holds this state dir's outbox.
        """
        if self._running:
            raise RuntimeError("Notifier.run is already running")
        lock_fd = _lock(self.state_dir)
        self._running = True
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fleetdeck-notify")
        try:
            self._outbox = await self._db(Outbox, self.state_dir)
            await self._resume()
            async with httpx.AsyncClient(
                transport=self._transport, follow_redirects=False, timeout=self.config.delivery.timeout
            ) as client:
                self._client = client
                workers = [asyncio.create_task(self._channel_loop(name)) for name in self.config.channels]
                try:
                    await self._main_loop()
                finally:
                    for worker in workers:
                        worker.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                    await self._finish_inflight()
        finally:
            self._shutdown()
            os.close(lock_fd)  # closing the descriptor releases the flock
            self._running = False

    # -- plumbing --------------------------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    def _box(self) -> Outbox:
        assert self._outbox is not None
        return self._outbox

    async def _sleep(self, event: asyncio.Event, delay: float | None) -> None:
        """Wait for ``event``, at most ``delay`` (``None``: nothing scheduled) and never longer than a tick."""
        timeout = self._tick if delay is None else min(max(delay, 0.0), self._tick)
        if timeout <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _shutdown(self) -> None:
        """Persist notices still queued, then close the outbox; blocking, as the loop is stopping anyway."""
        executor, box = self._executor, self._outbox
        try:
            if box is not None and executor is not None and self._inbox:
                touched = self._take_inbox(self._clock())
                executor.submit(box.save_groups, touched).result()
        except Exception:
            log.exception("notify: could not save %d queued notices at shutdown", len(self._inbox))
        finally:
            if box is not None and executor is not None:
                executor.submit(box.close).result()
            if executor is not None:
                executor.shutdown(wait=True)
            self._outbox = self._executor = self._client = None

    async def _finish_inflight(self) -> None:
        """Give requests already sent a grace period to be answered and recorded, then cut them off."""
        if not self._inflight:
            return
        _done, late = await asyncio.wait(set(self._inflight), timeout=self._grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("notify: %d sends cut off at shutdown; they will be retried (possibly twice)", len(late))

    async def _resume(self) -> None:
        box = self._box()
        now = self._clock()
        self._aggregator.restore(await self._db(box.load_groups))
        orphans: dict[str, int] = {}
        resumed = 0
        for item in await self._db(box.pending):
            if item.channel in self._pending:
                self._pending[item.channel][item.id] = item
                resumed += 1
            else:
                orphans[item.channel] = orphans.get(item.channel, 0) + 1
        if resumed:
            log.info("notify: resuming %d undelivered notifications", resumed)
        for channel, count in orphans.items():
            log.warning("notify: %d notifications wait for channel %r, which is no longer configured", count, channel)
        for name, limiter in self._limiters.items():
            horizon = max((lim.period for lim in limiter.limits), default=0.0)
            if horizon:
                limiter.seed(await self._db(box.attempt_times, name, now - horizon), now)
        for missing in self.config.missing_env(self._env):
            log.warning(
                "notify: environment variable not set (%s); that channel's messages wait in the outbox", missing
            )

    # -- grouping ----------------------------------------------------------------------------------------------

    def _take_inbox(self, now: float) -> list[tuple[Group, bool]]:
        touched: dict[str, Group] = {}
        while self._inbox:
            notice = self._inbox.popleft()
            groups = self._aggregator.add(notice, now)
            if not groups:
                log.debug("notify: no channel takes %s notice %r", notice.kind, notice.title)
            for group in groups:
                touched[group.key] = group
        return [(g, g.key in self._aggregator.groups) for g in touched.values()]

    async def _main_loop(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY
                pruned = await self._db(self._box().prune, now - self.config.delivery.keep_delivered)
                if pruned:
                    log.debug("notify: pruned %d finished outbox rows", pruned)
            touched = self._take_inbox(now)
            if touched:
                await self._db(self._box().save_groups, touched)
            flushed = []
            for group in self._aggregator.due(now):
                messages = self._aggregator.flush(group, now, self.config.channels)
                flushed.append((group, group.key in self._aggregator.groups, messages))
            if flushed:
                # One transaction for every group due now, so a burst reaches the channels as one backlog.
                for item in await self._db(self._box().flush_groups, flushed, now):
                    self._add_pending(item)
            upcoming = self._aggregator.next_due()
            await self._sleep(self._wake, None if upcoming is None else upcoming - self._clock())

    def _add_pending(self, item: OutboxItem) -> None:
        if item.channel not in self._pending:
            log.warning("notify: no channel %r is configured; its message waits in the outbox", item.channel)
            return
        self._pending[item.channel][item.id] = item
        self._channel_wake[item.channel].set()

    # -- delivery ----------------------------------------------------------------------------------------------

    async def _channel_loop(self, name: str) -> None:
        wake = self._channel_wake[name]
        while True:
            wake.clear()
            try:
                delay = await self._channel_step(name)
            except Exception:
                log.exception("notify: channel %s: unexpected error; retrying shortly", name)
                delay = self._tick
            await self._sleep(wake, delay)

    async def _channel_step(self, name: str) -> float | None:
        """Send, fold or wait: returns how long to wait (0: go on at once, ``None``: nothing pending)."""
        pending = self._pending[name]
        if not pending:
            return None
        now = self._clock()
        items = sorted(pending.values(), key=lambda i: i.id)
        due = [i for i in items if i.next_attempt <= now]
        if not due:
            return min(i.next_attempt for i in items) - now
        limiter = self._limiters[name]
        blocked = self._blocked_until.get(name, 0.0)
        budget = 0 if blocked > now else limiter.remaining(now)
        foldable = [i for i in due if i.attempts == 0]
        if budget <= 0:
            if len(foldable) >= 2:
                await self._fold(name, foldable, now)
            return max(blocked, limiter.next_free(now)) - now
        if len(due) > budget and len(foldable) >= 2:
            # Keep the channel within budget: send what fits and fold the rest into the last slot.
            keep = max(0, budget - 1 - (len(due) - len(foldable)))
            if len(foldable) - keep >= 2:
                await self._fold(name, foldable[keep:], now)
                return 0.0
        task = asyncio.create_task(self._deliver(self.config.channels[name], due[0]))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        await asyncio.shield(task)
        return 0.0

    async def _fold(self, name: str, items: list[OutboxItem], now: float) -> None:
        digest = fold([i.message for i in items], now)
        row = await self._db(self._box().fold, name, [i.id for i in items], digest, now)
        for item in items:
            self._pending[name].pop(item.id, None)
        self._pending[name][row.id] = row
        log.info("notify: channel %s is rate limited; %d messages folded into one digest", name, len(items))

    async def _attempt(self, channel: ChannelConfig, item: OutboxItem, now: float) -> tuple[Outcome, tuple[str, ...]]:
        """One request and its reading; never raises for a receiver's or network's fault."""
        assert self._client is not None
        return await send_once(
            self._client,
            channel,
            item.message,
            transaction_id=item.transaction_id,
            env=self._env,
            now=now,
            external_url=self.config.external_url,
            clock=self._clock,
        )

    async def _deliver(self, channel: ChannelConfig, item: OutboxItem) -> None:
        box = self._box()
        name = channel.name
        started = self._clock()
        await self._db(box.record_attempt, item.id, started)
        self._limiters[name].record(started)
        attempts = item.attempts + 1
        outcome, secrets = await self._attempt(channel, item, started)
        error = redact(outcome.error, secrets)
        now = self._clock()
        delivery = self.config.delivery
        if outcome.delivered:
            await self._db(box.mark_delivered, item.id, now)
            self._pending[name].pop(item.id, None)
            log.debug("notify: %s: delivered #%d (%s)", name, item.id, item.group_key)
            return
        if outcome.retry and now - item.created < delivery.give_up_after:
            wait = outcome.retry_after
            if wait is None:
                wait = backoff(attempts, delivery.retry_initial, delivery.retry_max, self._rand)
            if outcome.throttled:
                self._blocked_until[name] = max(self._blocked_until.get(name, 0.0), now + wait)
            await self._db(box.mark_retry, item.id, now + wait, error)
            self._pending[name][item.id] = replace(
                item, attempts=attempts, next_attempt=now + wait, last_attempt=started, last_error=error
            )
            log.warning(
                "notify: %s: attempt %d of #%d failed (%s); retrying in %.0fs", name, attempts, item.id, error, wait
            )
            return
        reason = error if not outcome.retry else f"gave up after {attempts} attempts: {error}"
        await self._db(box.mark_failed, item.id, reason)
        self._pending[name].pop(item.id, None)
        log.error("notify: %s: notification #%d not delivered: %s", name, item.id, reason)
