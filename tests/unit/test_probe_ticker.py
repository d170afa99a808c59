"""The probe ticker and the reader's request book-keeping, with a recording stand-in for the SSH channel.

The same pieces run against real sshd hosts in `tests/integration/test_health_collector.py`; here the
timing rules are checked one by one with explicit clocks.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from typing import Any, cast

import asyncssh
import pytest

from fleetdeck.core.health.collector import SILENCE_CHECK_S, CollectorSettings, HealthCollector
from fleetdeck.core.health.probe_session import REQUEST, REQUESTS_OUTSTANDING, ArrivalBatch, ProbeReader
from fleetdeck.core.health.probe_ticker import MIN_SLOT_S, SLOT_HOSTS, ProbeTicker
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.inventory import Host

FRAME = (
    b"@@FD1 1 1700000000\n@@tick\nu 100.00 50.00\ncpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
    b"b 1699999900 42\nm 1000 - 500 - - - -\nl 0.10 0.20 0.30 1/100 42\n"
    b"@@END 1\n"
)


class Channel:
    """Records what the reader writes; `broken` makes writes fail as on a closing channel."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            raise BrokenPipeError("channel closing")
        self.written.append(data)


def reader(name: str = "h1") -> tuple[ProbeReader, Channel, list[HealthSample], list[str]]:
    samples: list[HealthSample] = []
    trouble: list[str] = []
    probe = ProbeReader(name, samples.append, trouble.append)
    channel = Channel()
    probe.connection_made(cast(Any, channel))
    return probe, channel, samples, trouble


def answer(probe: ProbeReader, tick: int) -> None:
    frame = FRAME.replace(b"FD1 1 ", b"FD1 %d " % tick).replace(b"END 1", b"END %d" % tick)
    frame = frame.replace(b"100.00 50.00", b"%d.00 50.00" % (100 + tick))
    probe.data_received(frame, cast(asyncssh.DataType, None))


async def tick_for(ticker: ProbeTicker, steps: int, each_step: Callable[[int], None]) -> None:
    """Run the ticker through `steps` sleeps of 0.05 s, calling `each_step` with the step after each, then stop it."""
    task = asyncio.ensure_future(ticker.run())
    try:
        for step in range(steps):
            await asyncio.sleep(0.05)
            each_step(step)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_first_frame_answers_the_start_and_later_ones_need_a_request() -> None:
    probe, channel, samples, _ = reader()
    start = probe.last_data
    assert probe.waiting_since == start, "the probe's unasked first frame is awaited from the start"
    answer(probe, 1)
    assert len(samples) == 1 and probe.waiting_since is None
    assert not probe.ask(start + 0.5, gap_s=1.0, again_after_s=6.0), "asked too soon after the last request"
    assert channel.written == []
    assert probe.ask(start + 1.0, gap_s=1.0, again_after_s=6.0)
    assert channel.written == [REQUEST] and probe.waiting_since == start + 1.0
    answer(probe, 2)
    assert len(samples) == 2 and probe.waiting_since is None


async def test_an_unanswered_request_is_repeated_only_once_per_stale_period() -> None:
    probe, channel, _, _ = reader()
    start = probe.last_data
    answer(probe, 1)
    assert probe.ask(start + 2, gap_s=1.0, again_after_s=6.0)
    assert not probe.ask(start + 4, gap_s=1.0, again_after_s=6.0), "still waiting, and not for long"
    assert probe.waiting_since == start + 2
    assert probe.ask(start + 8, gap_s=1.0, again_after_s=6.0)
    assert len(channel.written) == 2 and probe.waiting_since == start + 2, "silence counts from the first request"
    answer(probe, 2)
    assert probe.waiting_since == start + 8
    answer(probe, 3)
    assert probe.waiting_since is None


async def test_a_silent_host_is_asked_a_bounded_number_of_times_and_its_silence_keeps_growing() -> None:
    probe, channel, _, _ = reader()
    start = probe.last_data
    answer(probe, 1)
    times = [start + 10 * k for k in range(1, 3 * REQUESTS_OUTSTANDING)]
    sent = [probe.ask(t, gap_s=1.0, again_after_s=6.0) for t in times]
    assert sum(sent) == REQUESTS_OUTSTANDING and len(channel.written) == REQUESTS_OUTSTANDING
    assert probe.waiting_since == times[0], "silence counts from the first unanswered request, however long"


async def test_a_garbled_frame_still_counts_as_an_answer() -> None:
    probe, _, samples, trouble = reader()
    answer(probe, 1)
    assert probe.ask(probe.last_data + 5, gap_s=1.0, again_after_s=6.0)
    probe.data_received(b"@@FD1 2 1700000002\n@@tick\nnot numbers\n@@END 2\n", cast(asyncssh.DataType, None))
    assert len(samples) == 1 and trouble and "bad health data" in trouble[0]
    assert probe.waiting_since is None


async def test_packets_of_many_hosts_are_handled_together_on_the_next_loop_pass_in_arrival_order() -> None:
    batch = ArrivalBatch()
    order: list[str] = []
    readers = [ProbeReader(name, lambda s: order.append(s.host), order.append, batch) for name in ("a", "b")]
    frame_b = FRAME.replace(b"FD1 1 ", b"FD1 2 ").replace(b"END 1", b"END 2")
    readers[1].data_received(FRAME[:40], cast(asyncssh.DataType, None))
    readers[0].data_received(FRAME, cast(asyncssh.DataType, None))
    readers[1].data_received(FRAME[40:] + frame_b, cast(asyncssh.DataType, None))
    readers[0].data_received(b"stray\n", asyncssh.EXTENDED_DATA_STDERR)
    assert order == [] and readers[0].stderr == b"stray\n"  # nothing handled while the loop is still reading
    await asyncio.sleep(0)
    assert order == ["a", "b", "b"]  # b's frame was whole only once its second packet came
    readers[0].data_received(FRAME.replace(b"100.00", b"102.00"), cast(asyncssh.DataType, None))
    await asyncio.sleep(0)
    assert order == ["a", "b", "b", "a"]


async def test_a_closing_channel_makes_no_request_and_no_error() -> None:
    probe, channel, _, _ = reader()
    answer(probe, 1)
    channel.broken = True
    assert not probe.ask(probe.last_data + 5, gap_s=1.0, again_after_s=6.0)
    assert probe.waiting_since is None


async def test_hosts_spread_over_the_slots_and_a_slot_asks_only_its_own() -> None:
    ticker = ProbeTicker(interval_s=2.0, again_after_s=6.0, slot_s=0.25)
    assert len(ticker.slots) == 8
    probes = [reader(f"h{i}") for i in range(20)]
    for probe, *_ in probes:
        answer(probe, 1)
        ticker.add(probe)
    assert sorted(len(slot) for slot in ticker.slots) == [2, 2, 2, 2, 3, 3, 3, 3]
    now = max(probe.last_data for probe, *_ in probes) + 1.0
    assert ticker.fire(0, now) == len(ticker.slots[0])
    asked = {probe.host for probe, channel, *_ in probes if channel.written}
    assert asked == {probe.host for probe in ticker.slots[0]}
    first = next(iter(ticker.slots[0]))
    ticker.remove(first)
    ticker.remove(first)  # Twice is harmless.
    assert len(ticker) == 19 and first not in ticker.slots[0]
    ticker.add(probes[5][0])  # Already there: stays where it is.
    assert len(ticker) == 19


async def test_hosts_out_of_sight_are_asked_every_few_rounds_spread_over_them_and_at_once_when_in_sight() -> None:
    ticker = ProbeTicker(interval_s=2.0, again_after_s=6.0, slot_s=2.0)  # one slot: a round is one fire
    probes = {name: reader(name) for name in ("seen", "a", "b", "c")}
    for probe, *_ in probes.values():
        answer(probe, 1)
        ticker.add(probe)
    ticker.watch_closely({"seen"}, every=3)
    now = max(probe.last_data for probe, *_ in probes.values())
    asked: dict[str, list[int]] = {name: [] for name in probes}
    for round_no in range(6):
        now += 2.0
        before = {name: len(channel.written) for name, (_, channel, *_) in probes.items()}
        ticker.fire(0, now)
        for name, (probe, channel, *_) in probes.items():
            if len(channel.written) > before[name]:
                asked[name].append(round_no)
                answer(probe, round_no + 2)
    assert asked["seen"] == [0, 1, 2, 3, 4, 5]
    assert all(len(asked[name]) == 2 and asked[name][1] - asked[name][0] == 3 for name in "abc"), asked
    assert len({asked[name][0] for name in "abc"}) == 3, f"spread over the rounds: {asked}"
    ticker.watch_closely({"seen", "a"}, every=3)  # scrolled to it: asked at its next slot, whatever its turn
    for name in ("seen", "a"):
        answer(probes[name][0], 20)
    written = len(probes["a"][1].written)
    ticker.fire(0, now + 2.0)
    assert len(probes["a"][1].written) == written + 1
    for name in probes:
        answer(probes[name][0], 21)
    ticker.watch_closely(None)  # everyone at full pace again
    assert ticker.fire(0, now + 4.0) == 4


async def test_a_host_that_just_joined_waits_half_an_interval() -> None:
    ticker = ProbeTicker(interval_s=2.0, again_after_s=6.0)
    probe, channel, _, _ = reader()
    answer(probe, 1)
    ticker.add(probe)
    assert ticker.fire(0, probe.last_data + 0.5) == 0
    assert ticker.fire(0, probe.last_data + 1.0) == 1 and channel.written == [REQUEST]


async def test_the_ticker_runs_on_a_grid_and_asks_each_host_once_per_interval() -> None:
    ticker = ProbeTicker(interval_s=0.4, again_after_s=6.0, slot_s=0.1)
    probes = [reader(f"h{i}") for i in range(8)]
    for probe, *_ in probes:
        answer(probe, 1)
        ticker.add(probe)
    answered = {probe.host: 1 for probe, *_ in probes}

    def reply_to_requests() -> None:  # Each host answers whatever it was asked, at once.
        for probe, channel, *_ in probes:
            while len(channel.written) >= answered[probe.host]:
                answered[probe.host] += 1
                answer(probe, answered[probe.host])

    await tick_for(ticker, 26, lambda _: reply_to_requests())
    counts = [len(channel.written) for _, channel, *_ in probes]
    assert all(2 <= count <= 4 for count in counts), counts  # 1.3 s at 0.4 s, the first ask after 0.2 s


async def test_a_big_fleet_gets_more_slots_of_at_most_slot_hosts_each_while_they_stay_apart() -> None:
    ticker = ProbeTicker(interval_s=2.0, again_after_s=6.0)
    for i in range(8 * SLOT_HOSTS):
        ticker.add(reader(f"h{i}")[0])
    assert [len(slot) for slot in ticker.slots] == [SLOT_HOSTS] * 8
    for i in range(8 * SLOT_HOSTS, 500):
        ticker.add(reader(f"h{i}")[0])
    assert len(ticker.slots) == 20 and max(len(slot) for slot in ticker.slots) == SLOT_HOSTS
    assert sum(len(slot) for slot in ticker.slots) == len(ticker) == 500
    # A short interval cannot fit more slots MIN_SLOT_S apart: they grow fuller instead.
    short = ProbeTicker(interval_s=0.4, again_after_s=6.0, slot_s=0.1)
    for i in range(500):
        short.add(reader(f"h{i}")[0])
    assert len(short.slots) == round(0.4 / MIN_SLOT_S) and sorted({len(slot) for slot in short.slots}) == [62, 63]


async def test_slots_opened_while_running_keep_every_host_asked_once_per_interval() -> None:
    ticker = ProbeTicker(interval_s=0.4, again_after_s=6.0, slot_s=0.1)
    probes = [reader(f"h{i}") for i in range(5 * SLOT_HOSTS)]
    answered: dict[str, int] = {}

    def join(batch: list[tuple[ProbeReader, Channel, list[HealthSample], list[str]]]) -> None:
        for probe, *_ in batch:
            answer(probe, 1)
            answered[probe.host] = 1
            ticker.add(probe)

    def reply_to_requests() -> None:
        for probe, channel, *_ in probes:
            while probe.host in answered and len(channel.written) >= answered[probe.host]:
                answered[probe.host] += 1
                answer(probe, answered[probe.host])

    join(probes[: 3 * SLOT_HOSTS])
    assert len(ticker.slots) == 4
    loop = asyncio.get_running_loop()
    began = joined = loop.time()

    def each_step(step: int) -> None:
        nonlocal joined
        if step == 7:
            joined = loop.time()
            join(probes[3 * SLOT_HOSTS :])  # two more slots' worth, while the ticker runs
            assert len(ticker.slots) == 5
        reply_to_requests()

    await tick_for(ticker, 34, each_step)
    ended = loop.time()
    for since, batch in ((began, probes[: 3 * SLOT_HOSTS]), (joined, probes[3 * SLOT_HOSTS :])):
        # Once per 0.4 s interval, the first ask 0.2-0.6 s after joining (half an interval, then its slot's turn):
        # none skipped when the grid changed under it, and one more at most, as the change moved slots earlier.
        most = math.floor((ended - since - 0.2) / 0.4) + 2
        least = math.floor((ended - since - 0.6) / 0.4) + 1
        counts = sorted(len(channel.written) for _, channel, *_ in batch)
        assert least <= counts[0] and counts[-1] <= most, (least, most, counts)


def test_slots_last_about_a_quarter_second_and_are_never_more_than_eight() -> None:
    assert [len(ProbeTicker(interval_s=i, again_after_s=1).slots) for i in (0.1, 1.0, 2.0, 5.0, 600.0)] == [
        1,
        4,
        8,
        8,
        8,
    ]


def test_a_ticker_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ProbeTicker(interval_s=0, again_after_s=1)


async def test_the_ticker_reports_each_fired_slot_for_the_silence_check() -> None:
    fired: list[float] = []
    ticker = ProbeTicker(interval_s=0.4, again_after_s=6.0, slot_s=0.1, on_fired=fired.append)
    task = asyncio.ensure_future(ticker.run())
    await asyncio.sleep(0.45)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 4 <= len(fired) <= 6, fired  # slots every 0.1 s, the first at once
    assert fired == sorted(fired) and all(b - a > 0.05 for a, b in itertools.pairwise(fired))


async def test_the_silence_check_reports_stale_once_per_interval_then_gives_up() -> None:
    samples: list[HealthSample] = []
    settings = CollectorSettings(interval_s=2.0, stale_after_s=6.0, down_after_s=20.0)
    collector = HealthCollector([], samples.append, settings=settings)
    probe, _, _, _ = reader("quiet")
    watch = asyncio.ensure_future(collector._watch_probe(Host(name="quiet", address="127.0.0.1", user="ops"), probe))
    await asyncio.sleep(0)
    start = probe.waiting_since
    assert start is not None
    collector._check_silence(start + 5.9)
    assert samples == []
    collector._check_silence(start + 6.0)  # a pass less than SILENCE_CHECK_S after the last one is skipped
    assert samples == []
    collector._check_silence(start + 5.9 + SILENCE_CHECK_S)
    assert [s.reason for s in samples] == ["quiet: no health data for 6s"]
    collector._check_silence(start + 7.5)  # within the same interval: not again
    assert len(samples) == 1
    collector._check_silence(start + 8.5)
    assert len(samples) == 2 and not watch.done()
    collector._check_silence(start + 20.0)
    assert await watch == "quiet: no health data for 20s; reconnecting"
    assert collector._watches == {}


async def test_the_silence_check_leaves_an_answering_host_alone_and_a_closed_channel_ends_the_watch() -> None:
    samples: list[HealthSample] = []
    collector = HealthCollector([], samples.append, settings=CollectorSettings(stale_after_s=6.0))
    probe, _, got, _ = reader("busy")
    watch = asyncio.ensure_future(collector._watch_probe(Host(name="busy", address="127.0.0.1", user="ops"), probe))
    await asyncio.sleep(0)
    answer(probe, 1)
    assert probe.waiting_since is None and len(got) == 1
    collector._check_silence(probe.last_data + 60.0)  # nothing asked, nothing owed
    assert samples == [] and not watch.done()
    probe.connection_lost(None)
    assert (await watch).startswith("busy: ")
    assert collector._watches == {}
