"""The shape of ``notify.toml`` as written, as strict pydantic models with messages worded for people.

The models reject unknown keys and never coerce between TOML types, like the other config schemas. Durations
are a number of seconds or a string such as ``"30s"``, ``"5m"``, ``"4h"`` or ``"1h30m"``; rate limits are
``"COUNT/PERIOD"`` strings such as ``"20/min"`` or ``"5/s"``. Secrets never appear here: a channel names the
environment variables that hold them (``token_env``, ``secret_env``, ``url_env``), and
:mod:`fleetdeck.core.notify.config` rejects literal ones before these models see the file.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from fleetdeck.core.config.fields import int_between
from fleetdeck.core.errors import describe_value

ChannelType = Literal["webhook", "slack", "feishu", "dingtalk", "wecom", "lanying"]
CHANNEL_TYPES: tuple[ChannelType, ...] = ("webhook", "slack", "feishu", "dingtalk", "wecom", "lanying")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERIOD_WORDS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

DURATION_HINT = 'a duration such as "30s", "5m" or "4h" (or a number of seconds)'


def _fail(expected: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(
        "fleetdeck", "expected {expected}, got {got}", {"expected": expected, "got": describe_value(value)}
    )


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string of ``<number><unit>`` parts (units ms, s, m, h, d).

    Raises:
        ValueError: The value is not a duration (the message says what is expected).
    """
    if isinstance(value, bool):
        raise ValueError(DURATION_HINT)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(DURATION_HINT)
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return total
    raise ValueError(DURATION_HINT)


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise _fail(DURATION_HINT, value) from None


def _positive_duration(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise _fail("a duration greater than zero", value)
    return seconds


def parse_rate(value: str) -> tuple[int, float]:
    """``(count, period_seconds)`` from ``"20/min"``, ``"5/s"``, ``"100/1m"`` or ``"10/30s"``.

    Raises:
        ValueError: Not of that form.
    """
    count_text, sep, period_text = value.strip().partition("/")
    if not sep or not count_text.strip().isdigit() or int(count_text) < 1:
        raise ValueError(value)
    word = period_text.strip().lower()
    period = _PERIOD_WORDS.get(word)
    if period is None and len(word) > 3 and word.endswith("s"):
        period = _PERIOD_WORDS.get(word[:-1])  # plurals: "mins", "hours", "seconds"
    if period is None:
        period = parse_duration(word)
    if period <= 0:
        raise ValueError(value)
    return int(count_text), period


RATE_HINT = 'a rate such as "20/min" or "5/s", an array of them, or "off"'


def _rate_limits(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _fail(RATE_HINT, value)
    if items == ["off"]:
        return ()
    for item in items:
        try:
            parse_rate(item)
        except ValueError:
            raise _fail(RATE_HINT, item) from None
    return tuple(items)


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise _fail('the name of an environment variable, such as "FLEETDECK_DINGTALK_TOKEN"', value)
    return value


def _channel_name(value: Any) -> str:
    if not isinstance(value, str) or not _CHANNEL_NAME.fullmatch(value):
        raise _fail("a name of letters, digits, '_', '.' or '-'", value)
    return value


def _lanying_ids(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items):
        raise _fail("a Lanying user or group id (a positive integer) or an array of them", value)
    return tuple(items)


def _globs(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise _fail('a glob such as "critical" or "web*", or an array of them', value)
    return tuple(items)


Duration = Annotated[float, BeforeValidator(_duration)]
PositiveDuration = Annotated[float, BeforeValidator(_positive_duration)]
RateLimits = Annotated[tuple[str, ...], BeforeValidator(_rate_limits)]
EnvName = Annotated[str, BeforeValidator(_env_name)]
ChannelName = Annotated[str, BeforeValidator(_channel_name)]
LanyingIds = Annotated[tuple[int, ...], BeforeValidator(_lanying_ids)]
Globs = Annotated[tuple[str, ...], BeforeValidator(_globs)]


class Strict(BaseModel):
    """Base: unknown keys are errors and values are never coerced between TOML types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class ChannelEntry(Strict):
    """One ``[[channels]]`` table: where and how to deliver."""

    name: ChannelName
    type: ChannelType
    description: str = ""
    url: str | None = None
    url_env: EnvName | None = None
    token_env: EnvName | None = None
    secret_env: EnvName | None = None
    app_id: str | None = None
    sender: Annotated[int, int_between(1)] | None = None
    to: LanyingIds | None = None
    to_type: Literal["user", "group"] = "user"
    format: Literal["text", "markdown", "card"] | None = None
    rate_limit: RateLimits | None = None
    timeout: PositiveDuration | None = None
    send_resolved: bool | None = None
    max_alerts: Annotated[int, int_between(0)] = 0


class GroupingEntry(Strict):
    """Grouping keys a route may set; unset ones come from ``[defaults]``."""

    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: PositiveDuration | None = None
    repeat_interval: PositiveDuration | None = None
    send_resolved: bool | None = None


class RouteEntry(GroupingEntry):
    """One ``[[routes]]`` table: notices whose labels match go to ``channels``."""

    name: str | None = None
    match: dict[str, Globs] = Field(default_factory=dict)
    channels: list[str]
    continue_: bool = Field(default=False, alias="continue")


class DefaultsEntry(Strict):
    """``[defaults]``: the default route (``channels``) and the grouping every route starts from."""

    channels: list[str] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=lambda: ["alertname", "host"])
    group_wait: Duration = 30.0
    group_interval: PositiveDuration = 300.0
    repeat_interval: PositiveDuration = 4 * 3600.0
    send_resolved: bool = True


class DeliveryEntry(Strict):
    """``[delivery]``: timeouts, retries and how long the outbox keeps delivered items."""

    timeout: PositiveDuration = 10.0
    retry_initial: PositiveDuration = 2.0
    retry_max: PositiveDuration = 300.0
    give_up_after: PositiveDuration = 24 * 3600.0
    keep_delivered: PositiveDuration = 7 * 86400.0


class NotifyFile(Strict):
    """``notify.toml`` without its arrays, which are validated entry by entry."""

    external_url: str = ""
    defaults: DefaultsEntry = Field(default_factory=DefaultsEntry)
    delivery: DeliveryEntry = Field(default_factory=DeliveryEntry)
    channels: list[Any] = Field(default_factory=list)
    routes: list[Any] = Field(default_factory=list)
