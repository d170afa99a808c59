"""The health collector: every watched host sampled on its cadence, each in its own task.

Sources by host: this machine through psutil, SSH hosts through one long-lived probe channel on the
pooled connection (the remote loop answers each request with a frame; one `ProbeTicker` asks the hosts in
groups, and never asks a host again while its last request is fresh and unanswered), and
Prometheus-watched hosts through one batched query set per tick. A host that stops answering goes
``stale`` (its last numbers, marked old, with the reason) and, once that lasts ``down_after_s``, ``down``;
reconnects back off exponentially with jitter, capped. One slow or broken host never delays another.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial

import asyncssh

from fleetdeck.core.health.local import LocalHealthSource
from fleetdeck.core.health.probe import probe_command
from fleetdeck.core.health.probe_session import ArrivalBatch, ProbeReader
from fleetdeck.core.health.probe_ticker import ProbeTicker
from fleetdeck.core.health.prometheus import PrometheusSource
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.inventory import Host
from fleetdeck.core.transport import SshTransport, TransportError
from fleetdeck.core.transport.ssh import skip_packet_logs

SampleCallback = Callable[[HealthSample], None]

SILENCE_CHECK_S = 0.5
"""Least time between two passes of the silence check (or a quarter of the interval, if shorter)."""


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """Cadence and patience of collection.

    Attributes:
        interval_s: Seconds between samples (fast metrics).
        fs_interval_s: Seconds between filesystem reports (``df`` is the costly part of a tick).
        stale_after_s: Silence after which a host's numbers are marked stale.
        down_after_s: Time without fresh numbers after which a host is down.
        backoff_initial_s: First reconnect delay; doubles per failure.
        backoff_max_s: Longest reconnect delay.
        offscreen_interval_s: Seconds between samples of the SSH hosts a console has out of sight (see
            `HealthCollector.watch_closely`); `None`: the same as `interval_s`.
    """

    interval_s: float = 2.0
    fs_interval_s: float = 30.0
    stale_after_s: float = 6.0
    down_after_s: float = 20.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    offscreen_interval_s: float | None = None

    @classmethod
    def for_interval(cls, interval_s: float, fs_interval_s: float = 30.0) -> CollectorSettings:
        """Settings whose patience scales with the interval (stale after 3 ticks, down after 10)."""
        interval_s = max(1.0, float(interval_s))
        return cls(interval_s, max(interval_s, fs_interval_s), 3 * interval_s, max(10 * interval_s, 10.0))

    def backoff(self, failures: int) -> float:
        """Delay before reconnect attempt ``failures`` (1-based): capped exponential, with jitter."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, failures - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(slots=True)
class _Watch:
    """What the silence check knows of one open probe channel."""

    host: str
    verdict: asyncio.Future[str]
    """Resolved with the reason when the host has been silent for `down_after_s`."""
    reported_at: float = float("-inf")
    """When the host was last reported stale (monotonic seconds)."""


def _same(reader: ProbeReader) -> ProbeReader:
    """The session factory asyncssh calls once per channel: the reader made before opening it."""
    return reader


class HealthCollector:
    """Collects health for a set of hosts until cancelled; every sample goes to ``on_sample``."""

    def __init__(
        self,
        hosts: Sequence[Host],
        on_sample: SampleCallback,
        *,
        ssh: SshTransport | None = None,
        prometheus: PrometheusSource | None = None,
        prometheus_hosts: Sequence[str] = (),
        settings: CollectorSettings | None = None,
    ) -> None:
        self.hosts = list(hosts)
        self.on_sample = on_sample
        self.ssh = ssh
        self.prometheus = prometheus
        self.prometheus_hosts = set(prometheus_hosts)
        self.settings = settings or CollectorSettings()
        self.latest: dict[str, HealthSample] = {}
        self._last_ok: dict[str, float] = {}
        self.ticker = ProbeTicker(
            self.settings.interval_s, again_after_s=self.settings.stale_after_s, on_fired=self._check_silence
        )
        """Asks the SSH hosts' probes for frames, and after each slot has the silence of all of them checked."""
        self._watches: dict[ProbeReader, _Watch] = {}
        self._arrivals = ArrivalBatch()
        self._silence_checked_at = float("-inf")

    def watch_closely(self, hosts: Collection[str] | None) -> None:
        """Sample `hosts` every interval and the other SSH hosts every `offscreen_interval_s`; `None`: all of
        them every interval (the default: headless watching and the daemon never call this).

        For a console, whose operator sees a screenful of rows: the hosts out of sight still feed sorting,
        counts and alerts, at the slower pace. Hosts not asked over SSH (local, Prometheus) are not affected.
        """
        slower = self.settings.offscreen_interval_s
        every = 1 if slower is None else max(1, round(slower / self.settings.interval_s))
        self.ticker.watch_closely(hosts, every)

    def _emit(self, sample: HealthSample) -> None:
        self.latest[sample.host] = sample
        if sample.status == "up":
            self._last_ok[sample.host] = time.monotonic()
        self.on_sample(sample)

    def _trouble(self, host: str, reason: str) -> None:
        """Report a problem: stale (last numbers kept) while recent, down once it has lasted too long."""
        last = self.latest.get(host)
        last_ok = self._last_ok.get(host)
        recent = last_ok is not None and time.monotonic() - last_ok < self.settings.down_after_s
        if recent and last is not None and last.status != "down":
            self._emit(dataclasses.replace(last, status="stale", reason=reason))
        else:
            self._emit(HealthSample(host, time.time(), "down", reason=reason))

    async def run(self) -> None:
        """Collect until cancelled."""
        local = [h.name for h in self.hosts if h.is_local]
        tasks: list[asyncio.Task[None]] = []
        probes = False
        if local:
            tasks.append(asyncio.ensure_future(self._local_loop(LocalHealthSource(local), local)))
        if self.prometheus is not None and self.prometheus_hosts:
            tasks.append(asyncio.ensure_future(self._prometheus_loop(self.prometheus)))
        for host in self.hosts:
            if host.is_local or host.name in self.prometheus_hosts:
                continue
            if self.ssh is None:
                self._emit(HealthSample(host.name, time.time(), "down", reason="no SSH transport to reach it"))
                continue
            tasks.append(asyncio.ensure_future(self._ssh_loop(self.ssh, host)))
            probes = True
        if probes:
            tasks.append(asyncio.ensure_future(self.ticker.run()))
        try:
            if tasks:
                await asyncio.gather(*tasks)
            else:
                await asyncio.Event().wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _ticks(self) -> None:
        """Sleep to the next tick boundary so work time does not stretch the cadence."""
        interval = self.settings.interval_s
        await asyncio.sleep(interval - (time.monotonic() % interval))

    async def _local_loop(self, source: LocalHealthSource, names: Sequence[str]) -> None:
        while True:
            for name in names:
                try:
                    self._emit(await source.sample(name))
                except Exception as exc:  # psutil can fail on odd /proc; keep watching
                    self._trouble(name, f"local sampling failed: {exc}")
            await self._ticks()

    async def _prometheus_loop(self, source: PrometheusSource) -> None:
        while True:
            samples = await source.sample_all()
            for name in sorted(self.prometheus_hosts):
                sample = samples.get(name)
                if sample is not None:
                    self._emit(sample)
            await self._ticks()

    async def _ssh_loop(self, ssh: SshTransport, host: Host) -> None:
        failures = 0
        fs_every = max(1, round(self.settings.fs_interval_s / self.settings.interval_s))
        while True:
            try:
                conn = await ssh.connection(host)
                reader = ProbeReader(host.name, self._emit, partial(self._trouble, host.name), self._arrivals)
                channel, _ = await conn.create_session(partial(_same, reader), probe_command(fs_every), encoding=None)
                skip_packet_logs(channel)
            except TransportError as exc:
                failures += 1
                self._trouble(host.name, str(exc))
                await asyncio.sleep(self.settings.backoff(failures))
                continue
            except (asyncssh.Error, OSError) as exc:
                failures += 1
                self._trouble(host.name, f"{host.name}: cannot start the health probe: {exc}")
                await asyncio.sleep(self.settings.backoff(failures))
                continue
            self.ticker.add(reader)
            try:
                reason = await self._watch_probe(host, reader)
            finally:
                self.ticker.remove(reader)
                channel.close()
            # A channel that worked for a while restarts the backoff; one that never did keeps growing it.
            failures = 1 if reader.delivered else failures + 1
            self._trouble(host.name, reason)
            await asyncio.sleep(self.settings.backoff(failures))

    async def _watch_probe(self, host: Host, reader: ProbeReader) -> str:
        """Wait until the probe channel ends or `_check_silence` gives up on it; samples flow by callback.

        Returns:
            Why the channel is given up.
        """
        watch = _Watch(host.name, asyncio.get_running_loop().create_future())
        self._watches[reader] = watch
        try:
            await asyncio.wait((reader.ended, watch.verdict), return_when=asyncio.FIRST_COMPLETED)
        finally:
            del self._watches[reader]
        if watch.verdict.done():
            return watch.verdict.result()
        error = reader.ended.result()
        if error is not None:
            return f"{host.name}: health channel failed: {error}"
        detail = "connection lost" if not self._connected(host) else "health probe ended"
        said = reader.stderr_tail()
        return f"{host.name}: {detail}" + (f" ({said})" if said else "")

    def _check_silence(self, now: float) -> None:
        """Report silent hosts as stale once per interval, and give up on those silent for `down_after_s`.

        A host is silent once its oldest request has gone unanswered for `stale_after_s`; counting from the
        oldest unanswered request, a host is never blamed for a request this process sent late. One pass over
        every open channel each time the ticker fires a slot (a few times a second) replaces a timer per host:
        with 200 hosts those timers woke the event loop 33 times a second. The pass runs at most every
        `SILENCE_CHECK_S` (500 hosts at 2 s fire 10 slots a second), so a verdict may come that much late.
        """
        settings = self.settings
        if now - self._silence_checked_at < min(SILENCE_CHECK_S, settings.interval_s / 4):
            return
        self._silence_checked_at = now
        for reader, watch in list(self._watches.items()):
            asked = reader.waiting_since
            if asked is None or watch.verdict.done():
                continue
            silence = now - asked
            if silence >= settings.down_after_s:
                watch.verdict.set_result(f"{watch.host}: no health data for {silence:.0f}s; reconnecting")
            elif silence >= settings.stale_after_s and now - watch.reported_at >= settings.interval_s:
                watch.reported_at = now
                self._trouble(watch.host, f"{watch.host}: no health data for {silence:.0f}s")

    def _connected(self, host: Host) -> bool:
        return self.ssh is not None and self.ssh.is_connected(host)
