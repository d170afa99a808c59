"""notify.toml: secrets only by environment variable name, every mistake reported with file and key path."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.notify import NotifyConfig, RateLimit, load_notify
from fleetdeck.core.notify.notice import Notice
from fleetdeck.core.notify.schema import parse_duration, parse_rate

SAMPLE = Path(__file__).parents[2] / "configs" / "notify.toml"


def load(text: str) -> tuple[NotifyConfig, list[str]]:
    issues: list[ConfigIssue] = []
    config = load_notify(tomllib.loads(text), issues)
    return config, [str(i) for i in issues]


def errors(text: str) -> list[str]:
    return load(text)[1]


def test_literal_secret_is_rejected_with_the_env_var_to_use_instead() -> None:
    assert errors('[[channels]]\nname = "ops"\ntype = "dingtalk"\ntoken_env = "T"\nsecret = "SECabc"\n') == [
        "notify.toml: channels[0].secret: secrets are not read from config files: put the value in an environment "
        'variable and name it here with secret_env = "FLEETDECK_OPS_SECRET"'
    ]


@pytest.mark.parametrize("key", ["token", "access_token", "key", "password"])
def test_literal_tokens_point_to_token_env(key: str) -> None:
    found = errors(f'[[channels]]\nname = "we-com"\ntype = "wecom"\n{key} = "abc123"\n')
    assert found == [
        f"notify.toml: channels[0].{key}: secrets are not read from config files: put the value in an environment "
        'variable and name it here with token_env = "FLEETDECK_WE_COM_TOKEN"'
    ]


def test_token_inside_a_url_is_rejected() -> None:
    found = errors(
        '[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?access_token=abcdef"\n'
    )
    assert found == [
        "notify.toml: channels[0].url: the URL carries a token (access_token=...): leave it out and set token_env = "
        '"FLEETDECK_DING_TOKEN", or give the whole URL in an environment variable with url_env'
    ]


def test_slack_and_feishu_urls_that_are_secrets_are_rejected() -> None:
    found = errors(
        '[[channels]]\nname = "s"\ntype = "slack"\nurl = "https://hooks.slack.com/services/T000/B000/XXXX"\n'
        '[[channels]]\nname = "f"\ntype = "feishu"\nurl = "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c"\n'
    )
    assert found[0].startswith("notify.toml: channels[0].url: a Slack webhook URL is a secret")
    assert found[1].startswith("notify.toml: channels[1].url: the URL carries the bot's hook id")


def test_unknown_channel_in_a_route_lists_the_channels_defined() -> None:
    text = (
        '[defaults]\nchannels = ["ops"]\n'
        '[[channels]]\nname = "ops"\ntype = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
        '[[channels]]\nname = "bridge"\ntype = "webhook"\nurl = "http://127.0.0.1:9/y"\n'
        '[[routes]]\nmatch = { severity = "critical" }\nchannels = ["ops", "pager"]\n'
    )
    assert errors(text) == [
        'notify.toml: routes[0].channels[1]: unknown channel "pager"; channels defined: bridge, ops'
    ]


def test_unknown_channel_in_defaults() -> None:
    assert errors('[defaults]\nchannels = ["nope"]\n') == [
        'notify.toml: defaults.channels[0]: unknown channel "nope"; channels defined: (none)'
    ]


def test_type_specific_requirements() -> None:
    text = (
        '[[channels]]\nname = "l"\ntype = "lanying"\n'
        '[[channels]]\nname = "d"\ntype = "dingtalk"\n'
        '[[channels]]\nname = "w"\ntype = "wecom"\ntoken_env = "K"\nsecret_env = "S"\nsender = 5\n'
        '[[channels]]\nname = "h"\ntype = "webhook"\n'
        '[[channels]]\nname = "f"\ntype = "feishu"\ntoken_env = "H"\nformat = "markdown"\n'
    )
    assert errors(text) == [
        "notify.toml: channels[0].app_id: missing required key for a lanying channel",
        "notify.toml: channels[0].sender: missing required key for a lanying channel",
        "notify.toml: channels[0].to: missing required key for a lanying channel",
        "notify.toml: channels[0].token_env: a lanying channel needs token_env (the app's access-token)",
        "notify.toml: channels[1].token_env: a dingtalk channel needs token_env (the robot's access_token) or url_env "
        "(its whole webhook URL)",
        "notify.toml: channels[2].secret_env: only feishu and dingtalk channels sign their requests; a wecom channel "
        "has no secret",
        "notify.toml: channels[2].sender: only lanying channels take this key",
        "notify.toml: channels[3].url: a webhook channel needs url or url_env",
        'notify.toml: channels[4].format: a feishu channel takes "text" or "card", got "markdown"',
    ]


def test_schema_errors_are_worded_for_people() -> None:
    text = (
        '[defaults]\ngroup_wait = "soon"\nrepeat_interval = 0\n'
        '[[channels]]\nname = "x"\ntype = "telegram"\n'
        '[[channels]]\nname = "y"\ntype = "webhook"\nurl = "http://h/"\nrate_limit = "lots"\ntoken_env = "1BAD"\n'
        '[[routes]]\nchannels = ["y"]\ncontinue = "yes"\ncolour = "red"\n'
    )
    assert errors(text) == [
        'notify.toml: defaults.group_wait: expected a duration such as "30s", "5m" or "4h" (or a number of seconds), '
        'got "soon"',
        "notify.toml: defaults.repeat_interval: expected a duration greater than zero, got 0",
        'notify.toml: channels[0].type: expected one of "webhook", "slack", "feishu", "dingtalk", "wecom" or '
        '"lanying", got "telegram"',
        "notify.toml: channels[1].token_env: expected the name of an environment variable, such as "
        '"FLEETDECK_DINGTALK_TOKEN", got "1BAD"',
        'notify.toml: channels[1].rate_limit: expected a rate such as "20/min" or "5/s", an array of them, or "off", '
        'got "lots"',
        'notify.toml: routes[0].continue: expected true or false, got "yes"',
        "notify.toml: routes[0].colour: unknown key; allowed keys: channels, continue, group_by, group_interval, "
        "group_wait, match, name, repeat_interval, send_resolved",
    ]


def test_duplicate_channel_and_route_names() -> None:
    text = '[[channels]]\nname = "a"\ntype = "webhook"\nurl = "http://h/"\n' * 2
    text += '[[routes]]\nname = "r"\nchannels = ["a"]\n' * 2 + '[[routes]]\nname = "default"\nchannels = ["a"]\n'
    assert errors(text) == [
        'notify.toml: channels[1].name: channel "a" is defined twice',
        'notify.toml: routes[1].name: route name "r" is already used',
        'notify.toml: routes[2].name: route name "default" is already used by the default route',
    ]


def test_defaults_rate_limits_and_route_inheritance() -> None:
    config, issues = load(
        '[defaults]\nchannels = ["w"]\ngroup_wait = "1m30s"\n'
        '[[channels]]\nname = "d"\ntype = "dingtalk"\ntoken_env = "T"\nsecret_env = "S"\n'
        '[[channels]]\nname = "f"\ntype = "feishu"\ntoken_env = "H"\n'
        '[[channels]]\nname = "w"\ntype = "wecom"\ntoken_env = "K"\nrate_limit = ["2/s", "30/min"]\n'
        '[[channels]]\nname = "h"\ntype = "webhook"\nurl_env = "HOOK"\nrate_limit = "off"\ntimeout = 3\n'
        '[[routes]]\nmatch = { severity = ["crit*", "page"] }\nchannels = ["d"]\nrepeat_interval = "1h"\n'
    )
    assert issues == []
    assert config.channels["d"].rate_limits == (RateLimit(20, 60.0),)
    assert config.channels["d"].url == "https://oapi.dingtalk.com/robot/send"
    assert config.channels["f"].rate_limits == (RateLimit(5, 1.0), RateLimit(100, 60.0))
    assert config.channels["f"].format == "text"
    assert config.channels["w"].rate_limits == (RateLimit(2, 1.0), RateLimit(30, 60.0))
    assert config.channels["h"].rate_limits == ()
    assert config.channels["h"].timeout == 3.0 and config.channels["d"].timeout == 10.0
    route = config.routes[0]
    assert (route.group_wait, route.repeat_interval, route.group_interval) == (90.0, 3600.0, 300.0)
    assert route.matches({"severity": "critical"}) and route.matches({"severity": "page"})
    assert not route.matches({"severity": "warning"}) and not route.matches({})
    assert config.missing_env({"T": "x", "S": "y"}) == ["f: H", "w: K", "h: HOOK"]


def test_routes_first_match_wins_unless_continue() -> None:
    config, issues = load(
        '[defaults]\nchannels = ["fallback"]\n'
        + "".join(f'[[channels]]\nname = "{n}"\ntype = "webhook"\nurl = "http://h/{n}"\n' for n in "abc")
        + '[[channels]]\nname = "fallback"\ntype = "webhook"\nurl = "http://h/f"\n'
        '[[routes]]\nname = "crit"\nmatch = { severity = "critical" }\nchannels = ["a"]\ncontinue = true\n'
        '[[routes]]\nname = "web"\nmatch = { host = "web*" }\nchannels = ["b"]\n'
        '[[routes]]\nname = "any-web"\nmatch = { host = "web*" }\nchannels = ["c"]\n'
        '[[routes]]\nname = "runs"\nmatch = { kind = "run_*" }\nchannels = ["c"]\n'
    )
    assert issues == []

    def routes(**kw: str) -> list[str]:
        notice = Notice(kind=kw.pop("kind", "firing"), title="t", **kw)  # type: ignore[arg-type]
        return [r.id for r in config.select_routes(notice.match_labels())]

    assert routes(severity="critical", host="web01") == ["crit", "web"]
    assert routes(severity="warning", host="web01") == ["web"]
    assert routes(severity="critical", host="db01") == ["crit"]
    assert routes(severity="info", host="db01") == ["default"]
    assert routes(kind="run_failed", host="db01") == ["runs"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("4h", 14400.0), ("1h30m", 5400.0), ("250ms", 0.25), ("7d", 604800.0), (12, 12.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 minutes", "-1s", "1h 2x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/min", (20, 60.0)),
        ("5/s", (5, 1.0)),
        ("100/1m", (100, 60.0)),
        ("10/30s", (10, 30.0)),
        ("3/hours", (3, 3600.0)),
    ],
)
def test_rates(text: str, rate: tuple[int, float]) -> None:
    assert parse_rate(text) == rate


def test_the_sample_loads_as_shipped_and_with_every_example_uncommented() -> None:
    text = SAMPLE.read_text()
    config, issues = load(text)
    assert issues == [] and not config.enabled
    # Commented-out config lines start with "# "; prose starts with "##" and stays a comment.
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in text.splitlines())
    config, issues = load(uncommented)
    assert issues == []
    assert set(config.channels) == {"ops-dingtalk", "ops-feishu", "ops-wecom", "oncall-lanying", "ops-slack", "bridge"}
    assert [r.id for r in config.routes] == ["critical", "runs", "web"]
    assert config.channels["oncall-lanying"].to == (9876543210,)
    assert config.external_url == "https://fleet.example.com"
