"""Each channel's exact request and its reading of the answer: webhook, Slack, Feishu, DingTalk, WeCom, Lanying.

:func:`build_request` turns a stored message into the request the vendor's API documents (Alertmanager v4
webhook JSON, Slack incoming webhook, Feishu/Lark custom bot, DingTalk robot, WeCom group robot, Lanying
``/message/send``), reading tokens and signing secrets from the environment at that moment and listing every
secret it used so errors can be redacted. :func:`interpret` turns the answer into an :class:`Outcome`:
delivered, retry later (5xx, 429, a vendor's "too fast" or "busy" code) or failed for good (other 4xx, a vendor
error such as a bad signature); several vendors answer HTTP 200 with an error code in the JSON, so the status
alone is never taken as success.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fleetdeck import __version__
from fleetdeck.core.notify.config import ChannelConfig
from fleetdeck.core.notify.message import Message, common_items
from fleetdeck.core.notify.notice import rfc3339
from fleetdeck.core.notify.render import cut, cut_bytes, headline, markdown_body, plain_body

USER_AGENT: Final = f"fleetdeck/{__version__}"
MAX_RETRY_AFTER: Final = 3600.0
"""Longest wait a ``Retry-After`` can impose; a server asking for more is retried after an hour."""

_THROTTLE_CODES: Final[Mapping[str, Mapping[int, float]]] = {
    # DingTalk: over 20 messages a minute the robot is blocked for 10 minutes (errcode 130101).
    "dingtalk": {130101: 600.0},
    # WeCom: "api freq out of limit".
    "wecom": {45009: 60.0},
    # Feishu/Lark: "too many requests" and the :00/:30 peak "frequency limited".
    "feishu": {9499: 60.0, 11232: 60.0},
}
_BUSY_CODES: Final = frozenset({-1})
"""DingTalk's and WeCom's "system busy": worth a retry."""


class MissingSecret(Exception):
    """An environment variable a channel names is not set; retried, since the environment can be fixed."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, ready for httpx; ``secrets`` lists every secret value in it, for redaction."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery attempt went.

    Attributes:
        delivered: The receiver accepted it.
        retry: Not delivered, but worth trying again (5xx, 429, connection errors, vendor "busy").
        error: Why it was not delivered (secrets redacted by the caller).
        retry_after: Seconds the receiver asked us to wait, if it said.
        throttled: The receiver rate-limited the whole channel, not just this item.
    """

    delivered: bool
    retry: bool = False
    error: str = ""
    retry_after: float | None = None
    throttled: bool = False


def feishu_sign(timestamp: int, secret: str) -> str:
    """Feishu/Lark: base64(HMAC-SHA256(key = f"{timestamp}\\n{secret}", message = b"")); timestamp in seconds."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk: base64(HMAC-SHA256(key = secret, message = f"{timestamp}\\n{secret}")); timestamp in ms.

    This is the value before URL encoding; the query string carries it URL-encoded.
    """
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _env(env: Mapping[str, str], name: str | None, channel: ChannelConfig) -> str:
    if not name:
        return ""
    value = env.get(name, "")
    if not value:
        raise MissingSecret(f"environment variable {name} (named by channel {channel.name}) is not set")
    return value


def _with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """Append ``name=value`` pairs, values percent-encoded the way the vendors' own samples do (quote_plus)."""
    extra = "&".join(f"{name}={urllib.parse.quote_plus(value)}" for name, value in params)
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + extra


def _url_secrets(url: str) -> list[str]:
    """Parts of a URL from the environment that may be secret: query values and long path segments."""
    parts = urllib.parse.urlsplit(url)
    found = [url]
    found += [v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 6]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 8]
    return found


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def alertmanager_payload(
    message: Message, receiver: str, external_url: str = "", max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook JSON (version 4) for a message; ``max_alerts`` > 0 truncates the alert list.

    ``summary`` and ``description`` annotations are filled from the notice's title and text when a notice
    does not carry them, since most bridges display those two.
    """
    notices = list(message.notices)
    truncated = 0
    if max_alerts and len(notices) > max_alerts:
        truncated = len(notices) - max_alerts
        notices = notices[:max_alerts]
    alerts: list[dict[str, Any]] = []
    for notice in notices:
        annotations = dict(notice.annotations)
        annotations.setdefault("summary", notice.title)
        if notice.text:
            annotations.setdefault("description", notice.text)
        alerts.append(
            {
                "status": notice.status,
                "labels": notice.all_labels(),
                "annotations": annotations,
                "startsAt": rfc3339(notice.started if notice.started is not None else notice.time),
                "endsAt": rfc3339(notice.ended) if notice.status == "resolved" else rfc3339(None),
                "generatorURL": notice.url,
                "fingerprint": notice.fingerprint,
            }
        )
    return {
        "version": "4",
        "groupKey": message.group_key,
        "truncatedAlerts": truncated,
        "status": message.status,
        "receiver": receiver,
        "groupLabels": dict(message.group_labels),
        "commonLabels": message.common_labels(),
        "commonAnnotations": common_items([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


def slack_payload(message: Message, external_url: str = "") -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the notification line) plus header and mrkdwn section blocks."""
    title = headline(message)
    body = markdown_body(message, "slack", external_url)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": cut(title, 150)}}]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(body, 3000)}})
    return {"text": cut(title, 3000), "blocks": blocks}


def feishu_payload(message: Message, fmt: str, external_url: str = "") -> dict[str, Any]:
    """A custom-bot message without signature fields: ``text``, or an ``interactive`` card."""
    title = headline(message)
    if fmt == "card":
        template = "red" if message.status == "firing" else "green"
        content = cut_bytes(markdown_body(message, "lark", external_url), 15_000)
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": cut(title, 200)}, "template": template},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
            },
        }
    return {"msg_type": "text", "content": {"text": cut_bytes(f"{title}\n{plain_body(message, external_url)}", 15_000)}}


def dingtalk_payload(message: Message, fmt: str, external_url: str = "") -> dict[str, Any]:
    """A robot ``markdown`` message (``title`` shows in the chat list) or a ``text`` one."""
    title = headline(message)
    if fmt == "text":
        return {"msgtype": "text", "text": {"content": cut(f"{title}\n{plain_body(message, external_url)}", 15_000)}}
    text = cut(f"#### {title}\n\n{markdown_body(message, 'dingtalk', external_url)}", 15_000)
    return {"msgtype": "markdown", "markdown": {"title": cut(title, 64), "text": text}}


def wecom_payload(message: Message, fmt: str, external_url: str = "") -> dict[str, Any]:
    """A group-robot ``markdown`` message (at most 4096 bytes) or a ``text`` one (at most 2048 bytes)."""
    title = headline(message)
    if fmt == "text":
        return {
            "msgtype": "text",
            "text": {"content": cut_bytes(f"{title}\n{plain_body(message, external_url)}", 2048)},
        }
    content = f"**{title}**\n{markdown_body(message, 'wecom', external_url)}"
    return {"msgtype": "markdown", "markdown": {"content": cut_bytes(content, 4096)}}


def lanying_payload(
    channel: ChannelConfig, message: Message, transaction_id: int, external_url: str = ""
) -> dict[str, Any]:
    """A ``/message/send`` body: a text message from the bot user to users or groups."""
    return {
        "type": 2 if channel.to_type == "group" else 1,
        "from_user_id": channel.sender,
        "targets": list(channel.to),
        "content_type": 0,
        "content": cut(f"{headline(message)}\n{plain_body(message, external_url)}", 8000),
        "transaction_id": transaction_id,
    }


def build_request(
    channel: ChannelConfig,
    message: Message,
    *,
    transaction_id: int,
    env: Mapping[str, str],
    now: float,
    external_url: str = "",
) -> HttpRequest:
    """The request for one delivery attempt; secrets are read from ``env`` now.

    Raises:
        MissingSecret: A variable the channel names is not set.
    """
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    secrets: list[str] = []
    url = channel.url
    if channel.url_env:
        url = _env(env, channel.url_env, channel)
        secrets += _url_secrets(url)
    token = _env(env, channel.token_env, channel)
    secret = _env(env, channel.secret_env, channel)
    secrets += [s for s in (token, secret) if s]
    kind = channel.type
    payload: dict[str, Any]
    if kind == "webhook":
        payload = alertmanager_payload(message, channel.name, external_url, channel.max_alerts)
        headers["Idempotency-Key"] = f"fleetdeck-{transaction_id}"
        if token:
            headers["Authorization"] = f"Bearer {token}"
    elif kind == "slack":
        payload = slack_payload(message, external_url)
    elif kind == "feishu":
        if token:
            url = url.rstrip("/") + "/" + urllib.parse.quote(token, safe="")
        payload = feishu_payload(message, channel.format, external_url)
        if secret:
            ts = int(now)
            payload = {"timestamp": str(ts), "sign": feishu_sign(ts, secret), **payload}
    elif kind == "dingtalk":
        params = [("access_token", token)] if token else []
        if secret:
            ts_ms = int(now * 1000)
            sign = dingtalk_sign(ts_ms, secret)
            secrets.append(sign)
            params += [("timestamp", str(ts_ms)), ("sign", sign)]
        url = _with_query(url, params)
        payload = dingtalk_payload(message, channel.format, external_url)
    elif kind == "wecom":
        url = _with_query(url, [("key", token)] if token else [])
        payload = wecom_payload(message, channel.format, external_url)
    else:  # lanying
        base = url.rstrip("/")
        url = base if base.endswith("/message/send") else base + "/message/send"
        headers["app_id"] = channel.app_id
        headers["access-token"] = token
        payload = lanying_payload(channel, message, transaction_id, external_url)
    return HttpRequest("POST", url, headers, _json(payload), tuple(secrets))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; capped at an hour."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = moment.timestamp() - now
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _snippet(body: bytes) -> str:
    return " ".join(body[:300].decode(errors="replace").split())


def _vendor_code(kind: str, body: bytes) -> tuple[int, str] | None:
    """The (code, message) a vendor put in a 2xx answer, or ``None`` for an answer that is not its JSON."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    keys = {
        "dingtalk": ("errcode", "errmsg"),
        "wecom": ("errcode", "errmsg"),
        "feishu": ("code", "msg"),
        "lanying": ("code", "message"),
    }[kind]
    code = data.get(keys[0])
    if kind == "feishu" and code is None:
        code = data.get("StatusCode")  # older custom-bot answers
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    return code, str(data.get(keys[1]) or data.get("StatusMessage") or "")


def interpret(kind: str, status: int, headers: Mapping[str, str], body: bytes, now: float) -> Outcome:
    """Read an answer: 2xx plus the vendor's success code is delivered; 429/5xx retry; other 4xx fail."""
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if status == 429:
        return Outcome(False, True, f"HTTP 429 (rate limited) {_snippet(body)}".strip(), retry_after, True)
    if status >= 500:
        return Outcome(False, True, f"HTTP {status} {_snippet(body)}".strip(), retry_after)
    if not 200 <= status < 300:
        location = f" to {headers.get('location')}" if 300 <= status < 400 and headers.get("location") else ""
        return Outcome(False, False, f"HTTP {status}{location} {_snippet(body)}".strip())
    if kind in ("webhook", "slack"):
        return Outcome(True)
    found = _vendor_code(kind, body)
    if found is None:
        return Outcome(False, False, f"HTTP {status} with an answer that is not {kind}'s JSON: {_snippet(body)}")
    code, text = found
    if code == (200 if kind == "lanying" else 0):
        return Outcome(True)
    error = f"{kind} error {code}: {text}".strip()
    pause = _THROTTLE_CODES.get(kind, {}).get(code)
    if pause is not None:
        return Outcome(False, True, error, retry_after or pause, True)
    if (kind in ("dingtalk", "wecom") and code in _BUSY_CODES) or (kind == "lanying" and code >= 500):
        return Outcome(False, True, error, retry_after)
    return Outcome(False, False, error)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its URL-encoded forms) replaced by ``***``; longest first."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < 4:
            continue
        forms.update({secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)})
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
