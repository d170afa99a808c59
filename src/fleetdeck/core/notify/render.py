"""Words for people: a message as a headline and a body, in plain text or a chat tool's markdown.

Every chat channel says the same things in the same order (headline with counts, then one entry per notice:
state, severity, host, title, detail, since when, link), so a team that moves from one IM tool to another
reads the same alert. Bodies are capped per channel (Slack sections, WeCom's 4096 bytes, Feishu's 20 KB
request limit) by listing at most :data:`MAX_LISTED` notices and cutting text at a character budget.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Literal

from fleetdeck.core.notify.message import Message
from fleetdeck.core.notify.notice import Notice

Flavor = Literal["plain", "dingtalk", "wecom", "slack", "lark"]

MAX_LISTED: Final = 20
"""Notices listed in one message; the rest are counted (``... and 7 more``)."""

_WORDS: Final = {
    "firing": "FIRING",
    "resolved": "RESOLVED",
    "flapping": "FLAPPING",
    "run_failed": "RUN FAILED",
    "run_finished": "RUN FINISHED",
    "remediation": "REMEDIATION",
}
_WECOM_COLOURS: Final = {"firing": "warning", "resolved": "info"}


def status_word(notice: Notice) -> str:
    """``FIRING``, ``RESOLVED``, ``FLAPPING``, ``RUN FAILED``, ..."""
    return _WORDS.get(notice.kind, notice.kind.upper())


def when(epoch: float | None) -> str:
    """``2024-05-01 12:00:00Z``; empty for no time."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def headline(message: Message) -> str:
    """One line: ``[FIRING] High CPU on web01``, ``[FIRING:2, RESOLVED:1] HighCPU host="web01"``, or a digest's."""
    if message.is_digest:
        return f"[DIGEST] {len(message.parts)} notifications held back by rate limits"
    notices = message.notices
    if len(notices) == 1:
        return f"[{status_word(notices[0])}] {notices[0].title}"
    counts = Counter(status_word(n) for n in notices)
    tag = ", ".join(f"{word}:{count}" for word, count in counts.items())
    common = message.common_labels()
    name = message.group_labels.get("alertname") or common.get("alertname") or f"{len(notices)} notices"
    context = " ".join(f'{k}="{v}"' for k, v in message.group_labels.items() if k != "alertname" and v)
    return f"[{tag}] {name}" + (f" {context}" if context else "")


def _facts(notice: Notice) -> str:
    started = when(notice.started)
    ended = when(notice.ended)
    if notice.kind == "resolved" and ended:
        return f"since {started}, resolved {ended}" if started else f"resolved {ended}"
    return f"since {started}" if started else ""


def _listed(message: Message) -> tuple[list[Notice], int]:
    notices = list(message.notices)
    return notices[:MAX_LISTED], max(0, len(notices) - MAX_LISTED)


def plain_body(message: Message, external_url: str = "") -> str:
    """The body in plain text (Feishu text, Lanying, WeCom/DingTalk text messages)."""
    if message.is_digest:
        return _digest_body(message, external_url, lambda m: plain_body(m))
    lines: list[str] = []
    listed, more = _listed(message)
    for notice in listed:
        head = " ".join(
            p for p in (status_word(notice), notice.severity, notice.host + ":" if notice.host else "") if p
        )
        lines.append(f"{head} {notice.title}")
        lines.extend(f"  {line}" for line in notice.text.splitlines() if line.strip())
        facts = _facts(notice)
        if facts:
            lines.append(f"  {facts}")
        if notice.url:
            lines.append(f"  {notice.url}")
    if more:
        lines.append(f"... and {more} more")
    if external_url:
        lines.append(external_url)
    return "\n".join(lines)


def _digest_body(message: Message, external_url: str, inner: Callable[[Message], str]) -> str:
    chunks = [f"{headline(part)}\n{inner(part)}" for part in message.parts[:MAX_LISTED]]
    more = len(message.parts) - MAX_LISTED
    if more > 0:
        chunks.append(f"... and {more} more notifications")
    if external_url:
        chunks.append(external_url)
    return "\n\n".join(chunks)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_body(message: Message, flavor: Flavor, external_url: str = "") -> str:
    """The body in a chat tool's markdown: ``dingtalk``, ``wecom``, ``lark`` (``**bold**``) or ``slack`` (mrkdwn)."""
    if flavor == "plain":
        return plain_body(message, external_url)
    if message.is_digest:
        return _digest_body(message, "", lambda m: f"{_bold(headline(m), flavor)}\n{markdown_body(m, flavor)}") + (
            f"\n\n{_link(external_url, flavor)}" if external_url else ""
        )
    escape = _slack_escape if flavor == "slack" else (lambda s: s)
    items: list[str] = []
    listed, more = _listed(message)
    for notice in listed:
        word = status_word(notice)
        if flavor == "wecom":
            state = f'<font color="{_WECOM_COLOURS[notice.status]}">{word}</font>'
        else:
            state = _bold(word, flavor)
        who = f"{escape(notice.host)}: " if notice.host else ""
        lines = [f"{state} {escape(notice.severity)} {who}{escape(notice.title)}"]
        lines.extend(f"> {escape(line)}" for line in notice.text.splitlines() if line.strip())
        facts = _facts(notice)
        if facts:
            lines.append(f"> {facts}")
        if notice.url:
            lines.append(_link(notice.url, flavor))
        items.append("\n".join(lines))
    if more:
        items.append(f"... and {more} more")
    if external_url:
        items.append(_link(external_url, flavor))
    # DingTalk's markdown needs a blank line to break; the others accept it too.
    return "\n\n".join(items)


def _bold(text: str, flavor: Flavor) -> str:
    return f"*{text}*" if flavor == "slack" else f"**{text}**"


def _link(url: str, flavor: Flavor) -> str:
    return f"<{url}|open>" if flavor == "slack" else f"[{url}]({url})"


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def cut_bytes(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` UTF-8 bytes (ellipsis included), never splitting a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: max(0, limit - 3)].decode(errors="ignore") + "…"
