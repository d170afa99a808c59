"""Every channel's request as a real HTTP server receives it: URL, headers, payload and signature.

Signatures are recomputed here with hmac/hashlib/base64 from the vendors' documented recipes, not with the code
under test; secrets are checked to stay out of logs, errors and the outbox.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetdeck.core.notify import Notice, Notifier, read_outbox
from integration.test_notify_receiver import Receiver, Reply, firing, notify_config, running, until

DINGTALK_OK = Reply(200, {"errcode": 0, "errmsg": "ok"})
FEISHU_OK = Reply(200, {"code": 0, "msg": "success", "data": {}})
LANYING_OK = Reply(200, {"code": 200, "message": None, "data": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def rows(state: Path) -> dict[int, int]:
    """Outbox row id -> transaction id."""
    return {item.id: item.transaction_id for item in read_outbox(state)}


async def test_webhook_posts_alertmanager_v4_json(receiver: Receiver, tmp_path: Path) -> None:
    config = notify_config(
        f'[[channels]]\nname = "bridge"\ntype = "webhook"\nurl = "{receiver.url("/hook")}"\ntoken_env = "HOOK_TOKEN"\n',
        defaults='group_wait = 0\ngroup_by = ["alertname"]\ngroup_interval = "100ms"\n',
        top='external_url = "https://fleet.example"',
    )
    notifier = Notifier(config, tmp_path, env={"HOOK_TOKEN": "hook-token-1"}, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01", annotations={"runbook_url": "https://runbooks/cpu"}))
        notifier.submit(firing("web02"))
        [first] = await receiver.wait(1, "/hook")
        notifier.submit(
            Notice(
                kind="resolved",
                title="High CPU on web01",
                host="web01",
                rule="HighCPU",
                severity="critical",
                ended=time.time(),
            )
        )
        second = (await receiver.wait(2, "/hook"))[1]

    assert first.headers["content-type"] == "application/json; charset=utf-8"
    assert first.headers["authorization"] == "Bearer hook-token-1"
    assert first.headers["idempotency-key"] == f"fleetdeck-{rows(tmp_path)[1]}"
    body = first.json()
    assert set(body) == {
        "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
        "commonAnnotations", "externalURL", "alerts",
    }  # fmt: skip
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "bridge"
    assert body["groupKey"] == 'default:{alertname="HighCPU"}' and body["groupLabels"] == {"alertname": "HighCPU"}
    assert body["commonLabels"] == {"alertname": "HighCPU", "severity": "critical"}
    assert body["externalURL"] == "https://fleet.example" and body["truncatedAlerts"] == 0
    web01 = body["alerts"][0]
    assert set(web01) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert web01["labels"] == {"alertname": "HighCPU", "host": "web01", "severity": "critical"}
    assert web01["annotations"]["runbook_url"] == "https://runbooks/cpu"
    assert web01["endsAt"] == "0001-01-01T00:00:00Z" and web01["startsAt"].endswith("Z")
    update = second.json()
    assert [(a["labels"]["host"], a["status"]) for a in update["alerts"]] == [
        ("web02", "firing"),
        ("web01", "resolved"),
    ]
    assert update["alerts"][1]["endsAt"] != "0001-01-01T00:00:00Z"
    assert update["alerts"][1]["fingerprint"] == web01["fingerprint"]


async def test_slack_incoming_webhook(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/services", Reply(200, "ok"))
    config = notify_config('[[channels]]\nname = "slack"\ntype = "slack"\nurl_env = "SLACK_URL"\n')
    env = {"SLACK_URL": receiver.url("/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX")}
    notifier = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01", text="cpu <93%> & rising"))
        [seen] = await receiver.wait(1, "/services")
    assert seen.path == "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"
    body = seen.json()
    assert body["text"] == "[FIRING] High CPU on web01"
    header, section = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[FIRING] High CPU on web01"}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*FIRING* critical web01: High CPU on web01" in section["text"]["text"]
    assert "cpu &lt;93%&gt; &amp; rising" in section["text"]["text"]


def feishu_expected(ts: str, secret: str) -> str:
    return base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


async def test_feishu_signed_text_and_card(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/open-apis", FEISHU_OK)
    base = receiver.url("/open-apis/bot/v2/hook/")
    config = notify_config(
        f'[[channels]]\nname = "lark-text"\ntype = "feishu"\nurl = "{base}"\ntoken_env = "HOOK_A"\nsecret_env = "SIGN"\n'
        f'[[channels]]\nname = "lark-card"\ntype = "feishu"\nurl = "{base}"\ntoken_env = "HOOK_B"\nformat = "card"\n'
    )
    env = {"HOOK_A": "hook-aaaa", "HOOK_B": "hook-bbbb", "SIGN": "feishu-signing-secret"}
    notifier = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(notifier):
        before = time.time()
        notifier.submit(firing("web01"))
        seen = await receiver.wait(2, "/open-apis")
    by_path = {s.path: s for s in seen}
    text = by_path["/open-apis/bot/v2/hook/hook-aaaa"].json()
    assert set(text) == {"timestamp", "sign", "msg_type", "content"}
    assert isinstance(text["timestamp"], str) and abs(int(text["timestamp"]) - before) < 5
    assert text["sign"] == feishu_expected(text["timestamp"], "feishu-signing-secret")
    assert text["msg_type"] == "text"
    assert text["content"]["text"].startswith("[FIRING] High CPU on web01\nFIRING critical web01: High CPU on web01")
    card = by_path["/open-apis/bot/v2/hook/hook-bbbb"].json()
    assert "sign" not in card and card["msg_type"] == "interactive"
    assert card["card"]["header"] == {"title": {"tag": "plain_text", "content": "[FIRING] High CPU on web01"},
                                      "template": "red"}  # fmt: skip
    [element] = card["card"]["elements"]
    assert element["tag"] == "div" and element["text"]["tag"] == "lark_md"
    assert "**FIRING** critical web01: High CPU on web01" in element["text"]["content"]


def dingtalk_expected(ts: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def test_dingtalk_signed_markdown(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/robot", DINGTALK_OK)
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\n'
        'token_env = "DT_TOKEN"\nsecret_env = "DT_SECRET"\n'
    )
    env = {"DT_TOKEN": "dingtalk-access-token", "DT_SECRET": "SECdingtalk+secret/value"}
    notifier = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(notifier):
        before = time.time()
        notifier.submit(firing("web01"))
        [seen] = await receiver.wait(1, "/robot")
    params = seen.params()
    assert set(params) == {"access_token", "timestamp", "sign"}
    assert params["access_token"] == "dingtalk-access-token"
    assert abs(int(params["timestamp"]) - before * 1000) < 5000
    expected = dingtalk_expected(params["timestamp"], env["DT_SECRET"])
    assert params["sign"] == expected
    assert f"sign={urllib.parse.quote_plus(expected)}" in seen.query  # URL-encoded as DingTalk's samples do
    assert seen.headers["content-type"].startswith("application/json")
    body = seen.json()
    assert body["msgtype"] == "markdown" and set(body) == {"msgtype", "markdown"}
    assert body["markdown"]["title"] == "[FIRING] High CPU on web01"
    assert body["markdown"]["text"].startswith("#### [FIRING] High CPU on web01\n\n**FIRING** critical web01:")


async def test_wecom_markdown(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/cgi-bin", DINGTALK_OK)
    config = notify_config(
        f'[[channels]]\nname = "wecom"\ntype = "wecom"\nurl = "{receiver.url("/cgi-bin/webhook/send")}"\n'
        'token_env = "WECOM_KEY"\n'
    )
    notifier = Notifier(config, tmp_path, env={"WECOM_KEY": "693a91f6-7xxx"}, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01"))
        [seen] = await receiver.wait(1, "/cgi-bin")
    assert seen.params() == {"key": "693a91f6-7xxx"}
    body = seen.json()
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**[FIRING] High CPU on web01**\n")
    assert '<font color="warning">FIRING</font> critical web01: High CPU on web01' in content


async def test_lanying_message_send(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/lanying", LANYING_OK)
    config = notify_config(
        f'[[channels]]\nname = "im"\ntype = "lanying"\nurl = "{receiver.url("/lanying")}"\napp_id = "welovemaxim"\n'
        'token_env = "LANYING_TOKEN"\nsender = 9000000001\nto = 8000000002\nto_type = "group"\n'
    )
    notifier = Notifier(config, tmp_path, env={"LANYING_TOKEN": "lanying-admin-token"}, tick=0.02)
    async with running(notifier):
        notifier.submit(firing("web01"))
        [seen] = await receiver.wait(1, "/lanying")
    assert seen.path == "/lanying/message/send"
    assert seen.headers["app_id"] == "welovemaxim" and seen.headers["access-token"] == "lanying-admin-token"
    body = seen.json()
    assert set(body) == {"type", "from_user_id", "targets", "content_type", "content", "transaction_id"}
    assert (body["type"], body["from_user_id"], body["targets"], body["content_type"]) == (
        2, 9000000001, [8000000002], 0,
    )  # fmt: skip
    assert body["content"].startswith("[FIRING] High CPU on web01\n")
    assert body["transaction_id"] == rows(tmp_path)[1]


async def test_vendor_error_in_a_200_answer_fails_without_retry(receiver: Receiver, tmp_path: Path) -> None:
    receiver.default("/robot", Reply(200, {"errcode": 310000, "errmsg": "keywords not in content"}))
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\ntoken_env = "T"\n'
    )
    notifier = Notifier(config, tmp_path, env={"T": "tok-123456"}, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await receiver.wait(1, "/robot")
        await until(lambda: read_outbox(tmp_path, "failed"))
        await asyncio.sleep(0.3)
    assert len(receiver.requests("/robot")) == 1
    [item] = read_outbox(tmp_path)
    assert item.state == "failed" and item.attempts == 1
    assert item.last_error == "dingtalk error 310000: keywords not in content"


async def test_secrets_stay_out_of_logs_errors_and_the_outbox(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token, secret = "TOKEN-0f1e2d3c4b5a", "SECRET-9a8b7c6d5e4f"
    receiver.default("/robot", DINGTALK_OK)
    # A receiver that echoes the URL it got (token and all) in a 400 answer.
    receiver.script("/echo", Reply(400, f"bad request for /echo?access_token={token}"))
    config = notify_config(
        f'[[channels]]\nname = "ding"\ntype = "dingtalk"\nurl = "{receiver.url("/robot/send")}"\n'
        'token_env = "T"\nsecret_env = "S"\n'
        '[[channels]]\nname = "echo"\ntype = "webhook"\nurl_env = "ECHO_URL"\n'
    )
    env = {"T": token, "S": secret, "ECHO_URL": receiver.url(f"/echo?access_token={token}")}
    caplog.set_level(logging.DEBUG)
    notifier = Notifier(config, tmp_path, env=env, tick=0.02)
    async with running(notifier):
        notifier.submit(firing())
        await receiver.wait(1, "/robot")
        await receiver.wait(1, "/echo")
        await until(lambda: len([i for i in read_outbox(tmp_path) if i.state != "pending"]) == 2)
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests ...
    assert token not in caplog.text and secret not in caplog.text  # ... with the secrets redacted
    failed = read_outbox(tmp_path, "failed")
    assert [i.channel for i in failed] == ["echo"]
    assert failed[0].last_error is not None and "access_token=***" in failed[0].last_error
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("notify.db*"))
    assert token.encode() not in stored and secret.encode() not in stored
