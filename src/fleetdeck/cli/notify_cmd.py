"""``fleetdeck notify test CHANNEL``: send one test notification now, to check a channel from ``notify.toml``.

The test goes through the same code as every notification (the channel's request, its signing with the
secrets from the environment, and the reading of the vendor's answer) but not through the outbox: it is
sent once, at once, and the answer is printed, so a wrong token or signing secret shows in seconds instead
of in the daemon's log. Like Grafana's contact point test, it is a firing alert (``FleetdeckTest``, severity
``info``), so a receiver that only shows firing alerts shows it too. Exit 0 delivered, 1 not delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time

import httpx

from fleetdeck.cli.inventory_cmds import load
from fleetdeck.core.errors import UsageError
from fleetdeck.core.notify.channels import Outcome, redact
from fleetdeck.core.notify.config import ChannelConfig
from fleetdeck.core.notify.message import Message
from fleetdeck.core.notify.notice import Notice
from fleetdeck.core.notify.notifier import send_once
from fleetdeck.core.notify.outbox import new_transaction_id

TEST_RULE = "FleetdeckTest"


def make_test_message(channel: str, now: float) -> Message:
    """The one-notice message a test sends."""
    here = socket.gethostname()
    notice = Notice(
        kind="firing",
        title=f"Test notification from fleetdeck on {here}",
        text=f'If you can read this, channel "{channel}" works. Sent by: fleetdeck notify test {channel}',
        severity="info",
        host=here,
        rule=TEST_RULE,
        started=now,
        key=f"{TEST_RULE}-{channel}-{now:.0f}",
        time=now,
    )
    return Message(f"test:{channel}", {"alertname": TEST_RULE}, (notice,), "new", now)


async def _send(channel: ChannelConfig, external_url: str) -> tuple[Outcome, tuple[str, ...]]:
    now = time.time()
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await send_once(
            client,
            channel,
            make_test_message(channel.name, now),
            transaction_id=new_transaction_id(),
            env=dict(os.environ),
            now=now,
            external_url=external_url,
        )


def cmd_notify(args: argparse.Namespace) -> int:
    """Send a test notification to one channel and say how it went."""
    config = load(args)
    channels = config.notify.channels
    channel = channels.get(args.channel)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none (add [[channels]] to notify.toml)"
        raise UsageError(f'no channel "{args.channel}" in notify.toml; channels: {known}')
    outcome, secrets = asyncio.run(_send(channel, config.notify.external_url))
    where = f'channel "{channel.name}" ({channel.type})'
    if outcome.delivered:
        print(f"test notification delivered to {where}")
        return 0
    print(f"fleetdeck: test notification not delivered to {where}: {redact(outcome.error, secrets)}", file=sys.stderr)
    return 1
