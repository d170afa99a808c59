"""Notifications: notices routed by label, grouped, and delivered to IM tools and webhooks through an outbox.

Producers (alert rules, task runs, remediation) hand a :class:`Notice` to :meth:`Notifier.submit`. The
notifier routes it by labels to the channels of ``notify.toml`` (read by :func:`load_notify`), groups it with
its neighbours as Alertmanager does, writes every resulting message to the SQLite outbox in the state dir
before sending, and delivers each over httpx in the exact format of the channel's API (Alertmanager v4
webhook JSON, Slack, Feishu/Lark, DingTalk, WeCom, Lanying IM), within the channel's rate limits. Names are
loaded on first use, so reading the config (``fleetdeck check``) does not import httpx and SQLite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetdeck.core.notify.config import (
        NOTIFY_FILE,
        ChannelConfig,
        Delivery,
        NotifyConfig,
        RateLimit,
        Route,
        load_notify,
    )
    from fleetdeck.core.notify.message import Message
    from fleetdeck.core.notify.notice import Notice, NoticeKind
    from fleetdeck.core.notify.notifier import Notifier, NotifyError
    from fleetdeck.core.notify.outbox import Outbox, OutboxItem, read_outbox
    from fleetdeck.core.notify.runs import RunNotifySink, run_notice

_HOMES = {
    "config": ("NOTIFY_FILE", "ChannelConfig", "Delivery", "NotifyConfig", "RateLimit", "Route", "load_notify"),
    "message": ("Message",),
    "notice": ("Notice", "NoticeKind"),
    "notifier": ("Notifier", "NotifyError"),
    "outbox": ("Outbox", "OutboxItem", "read_outbox"),
    "runs": ("RunNotifySink", "run_notice"),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "NOTIFY_FILE",
    "ChannelConfig",
    "Delivery",
    "Message",
    "Notice",
    "NoticeKind",
    "Notifier",
    "NotifyConfig",
    "NotifyError",
    "Outbox",
    "OutboxItem",
    "RateLimit",
    "Route",
    "RunNotifySink",
    "load_notify",
    "read_outbox",
    "run_notice",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
