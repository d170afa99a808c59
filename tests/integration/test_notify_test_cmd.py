"""``fleetdeck notify test CHANNEL`` against a real HTTP receiver: the channel's real request, signing and reading."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetdeck import cli
from fleetdeck.core.notify.channels import dingtalk_sign, feishu_sign
from integration.test_notify_receiver import Receiver, Reply

NOTIFY = """
[[channels]]
name = "hook"
type = "webhook"
url = "{base}/alerts"

[[channels]]
name = "ops-dingtalk"
type = "dingtalk"
url = "{base}/robot/send"
token_env = "FD_TEST_DINGTALK_TOKEN"
secret_env = "FD_TEST_DINGTALK_SECRET"

[[channels]]
name = "ops-feishu"
type = "feishu"
url = "{base}/open-apis/bot/v2/hook/"
token_env = "FD_TEST_FEISHU_HOOK"
secret_env = "FD_TEST_FEISHU_SECRET"

[[channels]]
name = "oncall-lanying"
type = "lanying"
url = "{base}"
app_id = "app1"
token_env = "FD_TEST_LANYING_TOKEN"
sender = 1001
to = 2002
to_type = "group"
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def config(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    (path / "hosts.toml").write_text('[hosts.here]\ntransport = "local"\n')
    (path / "notify.toml").write_text(NOTIFY.format(base=receiver.base))
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    for name, value in {
        "FD_TEST_DINGTALK_TOKEN": "dt-token-123456",
        "FD_TEST_DINGTALK_SECRET": "SECdingtalk-secret",
        "FD_TEST_FEISHU_HOOK": "feishu-hook-id-123",
        "FD_TEST_FEISHU_SECRET": "feishu-secret",
        "FD_TEST_LANYING_TOKEN": "lanying-admin-token",
    }.items():
        monkeypatch.setenv(name, value)
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_webhook_gets_an_alertmanager_test_alert(
    receiver: Receiver, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, config, "notify", "test", "hook") == (
        0,
        'test notification delivered to channel "hook" (webhook)\n',
        "",
    )
    (seen,) = receiver.requests("/alerts")
    body = seen.json()
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "hook")
    (alert,) = body["alerts"]
    assert (alert["labels"]["alertname"], alert["labels"]["severity"]) == ("FleetdeckTest", "info")
    assert alert["annotations"]["summary"].startswith("Test notification from fleetdeck on ")
    assert seen.headers["idempotency-key"].startswith("fleetdeck-")


def test_dingtalk_is_signed_and_its_error_codes_are_read(
    receiver: Receiver, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.script("/robot/send", Reply(200, {"errcode": 0, "errmsg": "ok"}))
    code, out, _ = run(capsys, config, "notify", "test", "ops-dingtalk")
    assert (code, out) == (0, 'test notification delivered to channel "ops-dingtalk" (dingtalk)\n')
    (seen,) = receiver.requests("/robot/send")
    params = seen.params()
    assert params["access_token"] == "dt-token-123456"
    assert params["sign"] == dingtalk_sign(int(params["timestamp"]), "SECdingtalk-secret")
    assert seen.json()["msgtype"] == "markdown" and "Test notification" in seen.json()["markdown"]["title"]

    receiver.script("/robot/send", Reply(200, {"errcode": 310000, "errmsg": "sign not match"}))
    code, out, err = run(capsys, config, "notify", "test", "ops-dingtalk")
    assert (code, out) == (1, "")
    assert err == (
        'fleetdeck: test notification not delivered to channel "ops-dingtalk" (dingtalk): '
        "dingtalk error 310000: sign not match\n"
    )


def test_feishu_and_lanying(receiver: Receiver, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    receiver.default("/open-apis", Reply(200, {"code": 0, "msg": "success"}))
    receiver.default("/message/send", Reply(200, {"code": 200, "message": "ok"}))
    assert run(capsys, config, "notify", "test", "ops-feishu")[0] == 0
    (seen,) = receiver.requests("/open-apis")
    assert seen.path == "/open-apis/bot/v2/hook/feishu-hook-id-123"
    assert seen.json()["sign"] == feishu_sign(int(seen.json()["timestamp"]), "feishu-secret")

    assert run(capsys, config, "notify", "test", "oncall-lanying")[0] == 0
    (seen,) = receiver.requests("/message/send")
    assert (seen.headers["app_id"], seen.headers["access-token"]) == ("app1", "lanying-admin-token")
    assert (seen.json()["type"], seen.json()["targets"], seen.json()["from_user_id"]) == (2, [2002], 1001)


def test_missing_secret_unknown_channel_and_redaction(
    receiver: Receiver, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FD_TEST_DINGTALK_SECRET")
    code, _, err = run(capsys, config, "notify", "test", "ops-dingtalk")
    assert code == 1 and err.endswith(
        ": environment variable FD_TEST_DINGTALK_SECRET (named by channel ops-dingtalk) is not set\n"
    )
    assert receiver.requests() == []

    code, _, err = run(capsys, config, "notify", "test", "opsdingtalk")
    assert code == 64
    assert err == (
        'fleetdeck: no channel "opsdingtalk" in notify.toml; channels: hook, oncall-lanying, ops-dingtalk, ops-feishu\n'
    )

    # A receiver that echoes the token back: it never reaches the terminal.
    monkeypatch.setenv("FD_TEST_DINGTALK_SECRET", "SECdingtalk-secret")
    receiver.script("/robot/send", Reply(403, "forbidden: access_token=dt-token-123456"))
    code, _, err = run(capsys, config, "notify", "test", "ops-dingtalk")
    assert code == 1 and "dt-token-123456" not in err and "HTTP 403 forbidden: access_token=***" in err
    assert urllib.parse.quote("dt-token-123456") not in err
