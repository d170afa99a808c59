"""Read ``notify.toml`` into a resolved :class:`NotifyConfig`, reporting every problem as a config issue.

:func:`load_notify` validates channels and routes one entry at a time (so one broken channel does not hide
the others' problems), rejects secrets written into the file with a message that says which environment
variable key to use instead, checks what each channel type needs, and resolves routes against the
``[defaults]`` grouping. Environment variables are only named here; they are read at send time, so
``fleetdeck check`` passes on a machine that has none of them.
"""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError

from fleetdeck.core.config.messages import issues_from_validation
from fleetdeck.core.errors import ConfigIssue, format_key_path
from fleetdeck.core.notify.schema import (
    ChannelEntry,
    ChannelType,
    DefaultsEntry,
    DeliveryEntry,
    NotifyFile,
    RouteEntry,
    parse_rate,
)

NOTIFY_FILE: Final = "notify.toml"

DEFAULT_URLS: Final[Mapping[str, str]] = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send",
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/",
    "lanying": "https://s-1-3-api.maximtop.cn",
}
"""Where a channel posts when it gives no ``url``; the token from ``token_env`` completes it."""

DEFAULT_RATE_LIMITS: Final[Mapping[str, tuple[str, ...]]] = {
    "dingtalk": ("20/min",),
    "wecom": ("20/min",),
    "feishu": ("5/s", "100/min"),
    "slack": ("1/s",),
    "lanying": (),
    "webhook": (),
}
"""The vendors' published limits; a channel's ``rate_limit`` replaces them (``"off"`` for none)."""

FORMATS: Final[Mapping[str, tuple[str, ...]]] = {
    "feishu": ("text", "card"),
    "dingtalk": ("markdown", "text"),
    "wecom": ("markdown", "text"),
}
"""Message formats a channel type can use, the default first; other types have one fixed format."""

_LITERAL_SECRETS: Final[Mapping[str, str]] = {
    "secret": "secret_env",
    "token": "token_env",
    "access_token": "token_env",
    "access-token": "token_env",
    "key": "token_env",
    "password": "token_env",
}
"""Keys people write secrets under, and the ``*_env`` key to use instead."""

_TOKEN_PARAMS: Final = ("access_token", "key", "token", "sign")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` messages in any ``period`` seconds."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """From ``"20/min"`` and the like."""
        count, period = parse_rate(text)
        return cls(count, period)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One resolved channel. Holds environment variable names, never their values."""

    name: str
    type: ChannelType
    url: str = ""
    url_env: str | None = None
    token_env: str | None = None
    secret_env: str | None = None
    app_id: str = ""
    sender: int | None = None
    to: tuple[int, ...] = ()
    to_type: Literal["user", "group"] = "user"
    format: str = ""
    rate_limits: tuple[RateLimit, ...] = ()
    timeout: float = 10.0
    send_resolved: bool | None = None
    max_alerts: int = 0

    def env_names(self) -> tuple[str, ...]:
        """The environment variables this channel reads at send time."""
        return tuple(n for n in (self.url_env, self.token_env, self.secret_env) if n)


@dataclass(frozen=True, slots=True)
class Route:
    """Where matching notices go and how they are grouped there."""

    id: str
    channels: tuple[str, ...]
    matchers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    continue_: bool = False
    group_by: tuple[str, ...] = ("alertname", "host")
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    send_resolved: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Every matcher's label matches one of its globs (case-sensitive; a missing label is ``""``)."""
        return all(
            any(fnmatch.fnmatchcase(labels.get(name, ""), glob) for glob in globs) for name, globs in self.matchers
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """Timeouts and retry policy shared by all channels."""

    timeout: float = 10.0
    retry_initial: float = 2.0
    retry_max: float = 300.0
    give_up_after: float = 24 * 3600.0
    keep_delivered: float = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Everything the notifier needs from ``notify.toml``; the empty value sends nothing."""

    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    default: Route = field(default_factory=lambda: Route("default", ()))
    external_url: str = ""
    delivery: Delivery = field(default_factory=Delivery)

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.channels)

    def select_routes(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes a notice with these labels takes: the first match, further ones while ``continue``.

        When no route matches, the default route (``[defaults] channels``) takes it, as Alertmanager's root.
        """
        chosen: list[Route] = []
        for route in self.routes:
            if route.matches(labels):
                chosen.append(route)
                if not route.continue_:
                    break
        if chosen:
            return chosen
        return [self.default] if self.default.channels else []

    def missing_env(self, env: Mapping[str, str]) -> list[str]:
        """``channel: VAR`` for each environment variable a channel names that ``env`` lacks (for a startup warning)."""
        return [f"{ch.name}: {var}" for ch in self.channels.values() for var in ch.env_names() if not env.get(var)]


def _suggest_env(channel: object, suffix: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", channel if isinstance(channel, str) else "").strip("_").upper()
    return f"FLEETDECK_{base}_{suffix}" if base else f"FLEETDECK_{suffix}"


def literal_secret_message(key: str, channel_name: object) -> str:
    """The error for a secret written into the file, naming the ``*_env`` key and a variable name to use."""
    env_key = _LITERAL_SECRETS[key]
    suggestion = _suggest_env(channel_name, "SECRET" if env_key == "secret_env" else "TOKEN")
    return (
        "secrets are not read from config files: put the value in an environment variable "
        f'and name it here with {env_key} = "{suggestion}"'
    )


def _url_secret_problem(kind: str, url: str, channel_name: str) -> str | None:
    """Why ``url`` must not be written in the file (it carries a token), or ``None``."""
    parts = urllib.parse.urlsplit(url)
    token = _suggest_env(channel_name, "TOKEN")
    if parts.password:
        return f'the URL carries a password: give the whole URL in an environment variable with url_env = "{token}"'
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in _TOKEN_PARAMS and value:
            return (
                f'the URL carries a token ({name}=...): leave it out and set token_env = "{token}", '
                "or give the whole URL in an environment variable with url_env"
            )
    if parts.hostname == "hooks.slack.com" and parts.path.strip("/").startswith("services/"):
        return f'a Slack webhook URL is a secret: put it in an environment variable and set url_env = "{token}"'
    if kind == "feishu" and re.search(r"/bot/v2/hook/[^/]+", parts.path):
        return (
            f'the URL carries the bot\'s hook id: leave it out and set token_env = "{token}", '
            "or give the whole URL in an environment variable with url_env"
        )
    return None


def _validate(model: type[BaseModel], data: Any, prefix: list[str | int], issues: list[ConfigIssue]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for issue in issues_from_validation(exc, NOTIFY_FILE, model):
            inner = issue.path.replace("continue_", "continue")
            path = format_key_path(prefix)
            if inner:
                path += inner if inner.startswith("[") or not path else "." + inner
            issues.append(ConfigIssue(NOTIFY_FILE, path, issue.message.replace("continue_", "continue")))
        return None


def _check_channel(
    entry: ChannelEntry, where: list[str | int], issues: list[ConfigIssue], *, token_reported: bool = False
) -> ChannelConfig | None:
    """Type-specific rules a schema cannot say; ``None`` when the channel is unusable.

    ``token_reported`` says a literal token was already reported, so a missing ``token_env`` is not again.
    """
    before = len(issues)

    def bad(key: str, message: str) -> None:
        issues.append(ConfigIssue(NOTIFY_FILE, format_key_path([*where, key]), message))

    kind = entry.type
    if entry.url is not None and entry.url_env is not None:
        bad("url_env", "give either url or url_env, not both")
    if entry.url is not None:
        parts = urllib.parse.urlsplit(entry.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            bad("url", f'expected an http:// or https:// URL, got "{entry.url}"')
        else:
            problem = _url_secret_problem(kind, entry.url, entry.name)
            if problem:
                bad("url", problem)
                token_reported = True
    if entry.secret_env is not None and kind not in ("feishu", "dingtalk"):
        bad("secret_env", f"only feishu and dingtalk channels sign their requests; a {kind} channel has no secret")
    if kind in ("slack", "webhook") and entry.url is None and entry.url_env is None:
        bad("url_env" if kind == "slack" else "url", f"a {kind} channel needs url or url_env")
    if kind == "slack" and entry.token_env is not None:
        bad("token_env", "a Slack webhook has no separate token: give the whole URL with url_env")
    needs_token = entry.token_env is None and not token_reported
    if kind in ("dingtalk", "wecom", "feishu") and needs_token and entry.url_env is None:
        what = {"dingtalk": "access_token", "wecom": "key", "feishu": "hook id"}[kind]
        bad("token_env", f"a {kind} channel needs token_env (the robot's {what}) or url_env (its whole webhook URL)")
    lanying_only = {"app_id": entry.app_id, "sender": entry.sender, "to": entry.to}
    if kind == "lanying":
        for key, value in lanying_only.items():
            if value is None or value == "":
                bad(key, "missing required key for a lanying channel")
        if needs_token:
            bad("token_env", "a lanying channel needs token_env (the app's access-token)")
    else:
        for key, value in lanying_only.items():
            if value is not None:
                bad(key, "only lanying channels take this key")
    formats = FORMATS.get(kind, ())
    if entry.format is not None and entry.format not in formats:
        allowed = " or ".join(f'"{f}"' for f in formats) if formats else "no format key (the format is fixed)"
        bad("format", f'a {kind} channel takes {allowed}, got "{entry.format}"')
    if len(issues) > before:
        return None
    limits = entry.rate_limit if entry.rate_limit is not None else DEFAULT_RATE_LIMITS[kind]
    return ChannelConfig(
        name=entry.name,
        type=kind,
        url=entry.url if entry.url is not None else DEFAULT_URLS.get(kind, ""),
        url_env=entry.url_env,
        token_env=entry.token_env,
        secret_env=entry.secret_env,
        app_id=entry.app_id or "",
        sender=entry.sender,
        to=entry.to or (),
        to_type=entry.to_type,
        format=entry.format or (formats[0] if formats else ""),
        rate_limits=tuple(RateLimit.parse(r) for r in limits),
        timeout=entry.timeout or 0.0,
        send_resolved=entry.send_resolved,
        max_alerts=entry.max_alerts,
    )


def _strip_literal_secrets(raw: Any, where: list[str | int], issues: list[ConfigIssue]) -> tuple[Any, bool]:
    """The entry without literal secret keys (each reported), and whether a token-like one was among them."""
    if not isinstance(raw, dict):
        return raw, False
    found = [k for k in raw if k in _LITERAL_SECRETS]
    for key in found:
        issues.append(
            ConfigIssue(NOTIFY_FILE, format_key_path([*where, key]), literal_secret_message(key, raw.get("name")))
        )
    token = any(_LITERAL_SECRETS[k] == "token_env" for k in found)
    return {k: v for k, v in raw.items() if k not in found}, token


def _channel_refs(
    names: Sequence[str], where: list[str | int], known: Mapping[str, object], issues: list[ConfigIssue]
) -> tuple[str, ...]:
    good: list[str] = []
    for i, name in enumerate(names):
        if name in known:
            good.append(name)
            continue
        listing = ", ".join(sorted(known)) or "(none)"
        issues.append(
            ConfigIssue(
                NOTIFY_FILE, format_key_path([*where, i]), f'unknown channel "{name}"; channels defined: {listing}'
            )
        )
    return tuple(good)


def _route(entry: RouteEntry, route_id: str, defaults: DefaultsEntry, channels: tuple[str, ...]) -> Route:
    def pick(value: Any, fallback: Any) -> Any:
        return fallback if value is None else value

    return Route(
        id=route_id,
        channels=channels,
        matchers=tuple(sorted(entry.match.items())),
        continue_=entry.continue_,
        group_by=tuple(pick(entry.group_by, defaults.group_by)),
        group_wait=pick(entry.group_wait, defaults.group_wait),
        group_interval=pick(entry.group_interval, defaults.group_interval),
        repeat_interval=pick(entry.repeat_interval, defaults.repeat_interval),
        send_resolved=pick(entry.send_resolved, defaults.send_resolved),
    )


def load_notify(raw: dict[str, Any], issues: list[ConfigIssue]) -> NotifyConfig:
    """Validate parsed ``notify.toml`` and resolve it; problems are appended to ``issues``.

    Always returns a config: the usable part of the file when there are problems (callers raise on
    ``issues`` anyway), so one mistake never hides the next.
    """
    channels_raw = raw.get("channels", [])
    routes_raw = raw.get("routes", [])
    shell = raw
    if isinstance(channels_raw, list) and isinstance(routes_raw, list):
        shell = {**raw, "channels": [], "routes": []}
    top: NotifyFile | None = _validate(NotifyFile, shell, [], issues)
    if shell is raw:
        return NotifyConfig()
    # A broken top level still lets every channel and route be checked, against the built-in defaults.
    defaults = top.defaults if top is not None else DefaultsEntry()
    delivery = top.delivery if top is not None else DeliveryEntry()

    channels: dict[str, ChannelConfig] = {}
    for i, item in enumerate(channels_raw):
        where: list[str | int] = ["channels", i]
        cleaned, token_reported = _strip_literal_secrets(item, where, issues)
        entry: ChannelEntry | None = _validate(ChannelEntry, cleaned, where, issues)
        if entry is None:
            continue
        if entry.name in channels:
            issues.append(
                ConfigIssue(NOTIFY_FILE, format_key_path([*where, "name"]), f'channel "{entry.name}" is defined twice')
            )
            continue
        resolved = _check_channel(entry, where, issues, token_reported=token_reported)
        if resolved is not None:
            channels[entry.name] = replace(resolved, timeout=resolved.timeout or delivery.timeout)
    # Names of broken channels still count as known, so a route naming one is not reported twice.
    known: dict[str, object] = dict(channels)
    for item in channels_raw:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            known.setdefault(item["name"], None)

    routes: list[Route] = []
    for i, item in enumerate(routes_raw):
        where = ["routes", i]
        route_entry: RouteEntry | None = _validate(RouteEntry, item, where, issues)
        if route_entry is None:
            continue
        if not route_entry.channels:
            issues.append(ConfigIssue(NOTIFY_FILE, format_key_path([*where, "channels"]), "name at least one channel"))
        refs = _channel_refs(route_entry.channels, [*where, "channels"], known, issues)
        refs = tuple(r for r in refs if r in channels)
        route_id = route_entry.name or f"routes[{i}]"
        if route_id == "default" or any(r.id == route_id for r in routes):
            # The id is part of every group key, so it must name one route.
            by = " by the default route" if route_id == "default" else ""
            message = f'route name "{route_id}" is already used{by}'
            issues.append(ConfigIssue(NOTIFY_FILE, format_key_path([*where, "name"]), message))
            continue
        routes.append(_route(route_entry, route_id, defaults, refs))
    default_refs = _channel_refs(defaults.channels, ["defaults", "channels"], known, issues)
    default = _route(RouteEntry(channels=[]), "default", defaults, tuple(r for r in default_refs if r in channels))
    return NotifyConfig(
        channels=channels,
        routes=tuple(routes),
        default=default,
        external_url=top.external_url if top is not None else "",
        delivery=_delivery(delivery),
    )


def _delivery(entry: DeliveryEntry) -> Delivery:
    return Delivery(
        timeout=entry.timeout,
        retry_initial=entry.retry_initial,
        retry_max=max(entry.retry_max, entry.retry_initial),
        give_up_after=entry.give_up_after,
        keep_delivered=entry.keep_delivered,
    )
