"""Delivery against a real HTTP receiver: retries, Retry-After, restarts mid-outbox, digests, timers and routes."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from fleetdeck.core.notify import Notice, Notifier, NotifyError, read_outbox
from integration.test_notify_receiver import (
    FakeClock,
    Receiver,
    Reply,
    Seen,
    firing,
    notify_config,
    running,
    until,
)

DINGTALK_OK = Reply(200, {"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def webhook(receiver: Receiver, name: str = "hook", path: str = "/hook") -> str:
    return f'[[channels]]\nname = "{name}"\ntype = "webhook"\nurl = "{receiver.url(path)}"\n'


def txid(seen: Seen) -> str:
    return seen.headers["idempotency-key"]


def alert_hosts(seen: Seen) -> list[str]:
    return [a["labels"]["host"] for a in seen.json()["alerts"]]


def states(state_dir: Path) -> Counter[str]:
    return Counter(item.state for item in read_outbox(state_dir))


async def test_5xx_is_retried_with_backoff_and_the_same_transaction_id(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script("/hook", Reply(500, "oops"), Reply(502, "bad gateway"))
    notifier = Notifier(notify_config(webhook(receiver)), tmp_path, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        seen = await receiver.wait(3, "/hook")
        await until(lambda: states(tmp_path) == {"delivered": 1})
    assert [s.status for s in seen] == [500, 502, 200]
    assert len({txid(s) for s in seen}) == 1
    assert seen[1].at - seen[0].at >= 0.03  # backoff: 50 ms at 75-100 %
    [item] = read_outbox(tmp_path)
    assert item.attempts == 3 and item.delivered is not None and item.last_error is None


async def test_429_with_retry_after_seconds_pauses_the_channel(
    receiver: Receiver, tmp_path: Path, clock: FakeClock
) -> None:
    receiver.clock = clock
    receiver.script("/hook", Reply(429, "slow down", {"Retry-After": "30"}))
    notifier = Notifier(notify_config(webhook(receiver)), tmp_path, clock=clock, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01"))
        notifier.submit(firing("web02"))
        await until(lambda: any(i.last_error for i in read_outbox(tmp_path)))  # the 429 is recorded at t0
        clock.advance(29)
        await asyncio.sleep(0.3)
        assert len(receiver.requests("/hook")) == 1  # neither the throttled item nor the other one went out
        clock.advance(2)
        seen = await receiver.wait(3, "/hook")
    assert [(s.status, alert_hosts(s)) for s in seen] == [(429, ["web01"]), (200, ["web01"]), (200, ["web02"])]
    assert seen[1].at - seen[0].at >= 30


async def test_429_with_retry_after_as_an_http_date(receiver: Receiver, tmp_path: Path, clock: FakeClock) -> None:
    receiver.script("/hook", Reply(429, "", {"Retry-After": formatdate(clock.now + 120, usegmt=True)}))
    notifier = Notifier(notify_config(webhook(receiver)), tmp_path, clock=clock, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await until(lambda: any(i.last_error for i in read_outbox(tmp_path)))
        clock.advance(119)
        await asyncio.sleep(0.3)
        assert len(receiver.requests("/hook")) == 1
        clock.advance(2)
        await receiver.wait(2, "/hook")
        await until(lambda: states(tmp_path) == {"delivered": 1})


async def test_4xx_is_not_retried_and_keeps_the_reason(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/services", Reply(400, "invalid_payload"))
    config = notify_config('[[channels]]\nname = "slack"\ntype = "slack"\nurl_env = "SLACK_URL"\n')
    notifier = Notifier(config, tmp_path, env={"SLACK_URL": receiver.url("/services/T/B/X")}, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await until(lambda: states(tmp_path) == {"failed": 1})
        await asyncio.sleep(0.4)  # longer than the retry backoff: nothing more may arrive
    assert len(receiver.requests("/services")) == 1
    [item] = read_outbox(tmp_path)
    assert (item.attempts, item.last_error) == (1, "HTTP 400 invalid_payload")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_errors_are_retried(tmp_path: Path) -> None:
    config = notify_config(f'[[channels]]\nname = "gone"\ntype = "webhook"\nurl = "http://127.0.0.1:{free_port()}/"\n')
    notifier = Notifier(config, tmp_path, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await until(lambda: any(i.attempts >= 3 for i in read_outbox(tmp_path)))
    [item] = read_outbox(tmp_path)
    assert item.state == "pending" and item.last_error is not None and item.last_error.startswith("ConnectError")


async def test_a_missing_environment_variable_waits_in_the_outbox(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/robot", DINGTALK_OK)
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\ntoken_env = "LATE"\n'
    )
    env: dict[str, str] = {}
    notifier = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await until(lambda: any(i.attempts >= 1 for i in read_outbox(tmp_path)))
        [item] = read_outbox(tmp_path)
        assert item.state == "pending"
        assert item.last_error == "environment variable LATE (named by channel ding) is not set"
        env["LATE"] = "now-set"
        [seen] = await receiver.wait(1, "/robot")
        await until(lambda: states(tmp_path) == {"delivered": 1})
    assert seen.params() == {"access_token": "now-set"}


async def test_restart_mid_outbox_delivers_everything_exactly_once(receiver: Receiver, tmp_path: Path) -> None:
    lanying_ok = Reply(200, {"code": 200, "message": None, "data": True})
    # Both receivers take three messages, then fail until the "outage" ends.
    receiver.script("/hook", Reply(200), Reply(200), Reply(200))
    receiver.script("/im/message/send", lanying_ok, lanying_ok, lanying_ok)
    receiver.default("/", Reply(503, "down"))
    body = webhook(receiver) + (
        f'[[channels]]\nname = "im"\ntype = "lanying"\nurl = "{receiver.url("/im")}"\napp_id = "app"\n'
        'token_env = "LANYING_TOKEN"\nsender = 1\nto = 2\n'
    )
    config = notify_config(body, defaults='group_wait = "300ms"\ngroup_by = ["..."]\n')
    env = {"LANYING_TOKEN": "tok"}
    first = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(first):
        for i in range(6):
            first.submit(firing(f"web{i:02}"))
        await receiver.wait(8, "/hook")  # 3 accepted, the rest failing and being retried
        await receiver.wait(8, "/im")
        # Three more arrive and are still inside their group wait when the process stops.
        for i in range(6, 9):
            first.submit(firing(f"web{i:02}"))
        await asyncio.sleep(0.05)
    assert states(tmp_path) == {"delivered": 6, "pending": 6}
    receiver.default("/hook", Reply(200))
    receiver.default("/im", lanying_ok)

    second = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(second):
        await until(lambda: states(tmp_path) == {"delivered": 18})
        await asyncio.sleep(0.3)

    def transaction_id(seen: Seen) -> int:
        if seen.path == "/hook":
            return int(seen.headers["idempotency-key"].removeprefix("fleetdeck-"))
        return int(seen.json()["transaction_id"])

    seen = receiver.requests()
    accepted = [s for s in seen if s.status == 200]
    # Every outbox row was accepted exactly once, and nothing once accepted was ever sent again.
    assert Counter(transaction_id(s) for s in accepted) == {i.transaction_id: 1 for i in read_outbox(tmp_path)}
    for n, s in enumerate(seen):
        if s.status == 200:
            assert all(transaction_id(later) != transaction_id(s) for later in seen[n + 1 :])
    hosts = [f"web{i:02}" for i in range(9)]
    assert sorted(h for s in accepted if s.path == "/hook" for h in alert_hosts(s)) == hosts
    im_texts = [s.json()["content"] for s in accepted if s.path.startswith("/im")]
    assert sorted(h for h in hosts for text in im_texts if f"High CPU on {h}" in text) == hosts


async def test_a_send_in_flight_at_shutdown_is_finished_and_recorded(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script("/hook", Reply(200, delay=0.6))
    config = notify_config(webhook(receiver))
    first = Notifier(config, tmp_path, tick=0.02)
    async with running(first):
        first.submit(firing())
        await until(lambda: receiver.arrived == 1)  # the request is now waiting for its answer
    assert states(tmp_path) == {"delivered": 1}
    async with running(Notifier(config, tmp_path, tick=0.02)):
        await asyncio.sleep(0.3)
    assert len(receiver.requests("/hook")) == 1


async def test_a_burst_over_the_dingtalk_limit_is_folded_into_one_digest(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/robot", DINGTALK_OK)
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\ntoken_env = "T"\n'
    )
    notifier = Notifier(config, tmp_path, env={"T": "tok"}, tick=0.02)
    async with running(notifier):
        for i in range(30):
            notifier.submit(firing(f"web{i:02}"))
        seen = await receiver.wait(20, "/robot")
        await asyncio.sleep(0.5)
        seen = receiver.requests("/robot")
    assert len(seen) == 20  # DingTalk's 20 a minute
    titles = [s.json()["markdown"]["title"] for s in seen]
    assert titles[:19] == [f"[FIRING] High CPU on web{i:02}" for i in range(19)]
    assert titles[19] == "[DIGEST] 11 notifications held back by rate limits"
    digest = seen[19].json()["markdown"]["text"]
    assert all(f"High CPU on web{i:02}" in digest for i in range(19, 30))
    assert states(tmp_path) == {"delivered": 20, "folded": 11}
    assert all(i.delivered is not None for i in read_outbox(tmp_path, "folded"))


async def test_a_trickle_over_the_limit_sends_at_most_20_a_minute_then_a_digest(
    receiver: Receiver, tmp_path: Path, clock: FakeClock
) -> None:
    receiver.clock = clock
    receiver.default("/robot", DINGTALK_OK)
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\ntoken_env = "T"\n'
    )
    notifier = Notifier(config, tmp_path, env={"T": "tok"}, clock=clock, tick=0.02)
    start = clock.now
    async with running(notifier):
        for i in range(30):
            notifier.submit(firing(f"web{i:02}"))
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.3)
        assert len(receiver.requests("/robot")) == 20
        clock.advance(61)
        await receiver.wait(21, "/robot")
        await asyncio.sleep(0.3)
    seen = receiver.requests("/robot")
    assert len(seen) == 21
    assert sum(1 for s in seen if s.at < start + 60) == 20
    texts = [s.json()["markdown"]["text"] for s in seen]
    mentioned = Counter(i for text in texts for i in range(30) if f"High CPU on web{i:02}" in text)
    assert mentioned == dict.fromkeys(range(30), 1)
    # How many arrived before the budget ran out depends on timing; the rest are in the digest.
    held = sum(1 for i in range(30) if f"High CPU on web{i:02}" in texts[-1])
    assert held >= 2
    assert seen[-1].json()["markdown"]["title"] == f"[DIGEST] {held} notifications held back by rate limits"


async def test_grouping_timers_on_a_fake_clock(receiver: Receiver, tmp_path: Path, clock: FakeClock) -> None:
    config = notify_config(
        webhook(receiver),
        defaults='group_by = ["alertname"]\ngroup_wait = "30s"\ngroup_interval = "5m"\nrepeat_interval = "4h"\n',
    )
    notifier = Notifier(config, tmp_path, clock=clock, tick=0.02)

    async def advance_to(offset: float, expect: int) -> list[Seen]:
        clock.now = t0 + offset
        await asyncio.sleep(0.2)
        seen = receiver.requests("/hook")
        assert len(seen) == expect, f"at +{offset}s: {len(seen)} messages, expected {expect}"
        return seen

    t0 = clock.now
    async with running(notifier):
        notifier.submit(firing("web01"))
        notifier.submit(firing("web02"))
        await until(lambda: notifier.queued == 0)  # taken in at t0
        await advance_to(29, 0)
        first = (await advance_to(31, 1))[0].json()
        assert [a["labels"]["host"] for a in first["alerts"]] == ["web01", "web02"]
        clock.now = t0 + 60
        notifier.submit(firing("web03"))
        await until(lambda: notifier.queued == 0)
        await advance_to(330, 1)
        update = (await advance_to(332, 2))[1].json()
        assert len(update["alerts"]) == 3
        repeat = (await advance_to(332 + 4 * 3600, 3))[2].json()
        assert len(repeat["alerts"]) == 3 and repeat["status"] == "firing"
        for host in ("web01", "web02", "web03"):
            notifier.submit(Notice(kind="resolved", title=f"High CPU on {host}", host=host, rule="HighCPU",
                                   severity="critical", ended=clock.now))  # fmt: skip
        await until(lambda: notifier.queued == 0)
        resolved = (await advance_to(332 + 4 * 3600 + 301, 4))[3].json()
        assert resolved["status"] == "resolved" and len(resolved["alerts"]) == 3
        await advance_to(332 + 8 * 3600 + 400, 4)  # nothing fires: no repeat


async def test_routes_with_continue(receiver: Receiver, tmp_path: Path) -> None:
    body = (
        webhook(receiver, "pager", "/pager")
        + webhook(receiver, "web-team", "/web")
        + webhook(receiver, "catch-all", "/all")
        + '[[routes]]\nmatch = { severity = "critical" }\nchannels = ["pager"]\ncontinue = true\n'
        + '[[routes]]\nmatch = { host = "web*" }\nchannels = ["web-team"]\n'
    )
    config = notify_config(body, defaults='group_wait = 0\ngroup_by = ["..."]\n')
    config = type(config)(  # only catch-all on the default route
        channels=config.channels,
        routes=config.routes,
        default=type(config.default)("default", ("catch-all",), group_wait=0, group_by=("...",)),
        delivery=config.delivery,
    )
    notifier = Notifier(config, tmp_path, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01", severity="critical"))
        notifier.submit(firing("web02", severity="warning"))
        notifier.submit(firing("db01", severity="critical"))
        notifier.submit(firing("db02", severity="info"))
        await receiver.wait(5)
        await asyncio.sleep(0.2)

    def got(path: str) -> list[str]:
        return sorted(h for s in receiver.requests(path) for h in alert_hosts(s))

    assert got("/pager") == ["db01", "web01"]
    assert got("/web") == ["web01", "web02"]
    assert got("/all") == ["db02"]


async def test_one_notifier_per_state_dir(tmp_path: Path, receiver: Receiver) -> None:
    config = notify_config(webhook(receiver))
    async with running(Notifier(config, tmp_path, tick=0.02)):
        await asyncio.sleep(0.1)
        with pytest.raises(NotifyError, match="another fleetdeck process is delivering notifications"):
            await Notifier(config, tmp_path, tick=0.02).run()
