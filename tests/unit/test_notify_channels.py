"""Channel formats, signatures, answers and pacing, checked without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from email.utils import formatdate
from typing import Any

import pytest

from fleetdeck.core.notify.channels import (
    MAX_RETRY_AFTER,
    MissingSecret,
    alertmanager_payload,
    build_request,
    dingtalk_sign,
    feishu_sign,
    interpret,
    parse_retry_after,
    redact,
)
from fleetdeck.core.notify.config import ChannelConfig, RateLimit
from fleetdeck.core.notify.message import Message, fold
from fleetdeck.core.notify.notice import Notice, NoticeKind
from fleetdeck.core.notify.ratelimit import RateLimiter, backoff

SECRET = "fleetdeck-test-secret"
NOW = 1_700_000_000.0


def notice(kind: NoticeKind = "firing", host: str = "web01", text: str = "cpu 93% for 5m", **kw: Any) -> Notice:
    return Notice(
        kind=kind,
        title=f"High CPU on {host}",
        text=text,
        severity="critical",
        host=host,
        rule="HighCPU",
        started=NOW - 300,
        ended=NOW if kind == "resolved" else None,
        time=NOW,
        **kw,
    )


def message(*notices: Notice) -> Message:
    return Message('default:{alertname="HighCPU"}', {"alertname": "HighCPU"}, notices, "new", NOW)


# -- signatures -------------------------------------------------------------------------------------------------


def test_feishu_signature_matches_a_vector_derived_with_openssl() -> None:
    # printf '' | openssl dgst -sha256 -mac HMAC -macopt key:"$(printf '1700000000\nfleetdeck-test-secret')" -binary | base64
    assert feishu_sign(1_700_000_000, SECRET) == "Mz4fPHke5SqH9+IGsNNupBuAtQlbqI4yQoFdMiUpxp4="


def test_dingtalk_signature_matches_a_vector_derived_with_openssl() -> None:
    # printf '1700000000000\nfleetdeck-test-secret' | openssl dgst -sha256 -hmac 'fleetdeck-test-secret' -binary | base64
    assert dingtalk_sign(1_700_000_000_000, SECRET) == "/Er/WjjTeHECu06nQ6S3LTOxksubiENnRBsOZ694AsM="
    assert urllib.parse.quote_plus(dingtalk_sign(1_700_000_000_000, SECRET)) == (
        "%2FEr%2FWjjTeHECu06nQ6S3LTOxksubiENnRBsOZ694AsM%3D"
    )


def test_feishu_and_dingtalk_swap_key_and_message() -> None:
    ts = 1_700_000_000
    feishu = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    dingtalk = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()).decode()
    assert feishu_sign(ts, SECRET) == feishu
    assert dingtalk_sign(ts, SECRET) == dingtalk
    assert feishu != dingtalk


# -- payloads ---------------------------------------------------------------------------------------------------


def test_alertmanager_payload_has_the_v4_shape() -> None:
    payload = alertmanager_payload(
        message(notice(annotations={"runbook_url": "https://rb"}), notice("resolved", "web02")), "bridge", "https://fd"
    )
    assert list(payload) == [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ]
    assert payload["version"] == "4" and payload["status"] == "firing" and payload["receiver"] == "bridge"
    assert payload["commonLabels"] == {"alertname": "HighCPU", "severity": "critical"}
    assert payload["commonAnnotations"] == {"description": "cpu 93% for 5m"}
    firing, resolved = payload["alerts"]
    assert firing == {
        "status": "firing",
        "labels": {"alertname": "HighCPU", "host": "web01", "severity": "critical"},
        "annotations": {"runbook_url": "https://rb", "summary": "High CPU on web01", "description": "cpu 93% for 5m"},
        "startsAt": "2023-11-14T22:08:20.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": notice().fingerprint,
    }
    assert resolved["status"] == "resolved" and resolved["endsAt"] == "2023-11-14T22:13:20.000Z"


def test_alertmanager_payload_truncates_to_max_alerts() -> None:
    payload = alertmanager_payload(message(*(notice(host=f"h{i}") for i in range(5))), "b", max_alerts=2)
    assert payload["truncatedAlerts"] == 3 and len(payload["alerts"]) == 2


def channel(kind: str, **kw: object) -> ChannelConfig:
    return ChannelConfig(name=f"test-{kind}", type=kind, **kw)  # type: ignore[arg-type]


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(
        MissingSecret, match=r"environment variable DT_TOKEN \(named by channel test-dingtalk\) is not set"
    ):
        build_request(
            channel("dingtalk", url="https://x/robot/send", token_env="DT_TOKEN"),
            message(notice()),
            transaction_id=1,
            env={},
            now=NOW,
        )


def test_dingtalk_request_signs_in_the_query_and_lists_its_secrets() -> None:
    req = build_request(
        channel(
            "dingtalk", url="https://oapi.dingtalk.com/robot/send", token_env="T", secret_env="S", format="markdown"
        ),
        message(notice()),
        transaction_id=7,
        env={"T": "tok/en+1", "S": SECRET},
        now=NOW,
    )
    assert req.url == (
        "https://oapi.dingtalk.com/robot/send?access_token=tok%2Fen%2B1&timestamp=1700000000000"
        "&sign=%2FEr%2FWjjTeHECu06nQ6S3LTOxksubiENnRBsOZ694AsM%3D"
    )
    body = json.loads(req.body)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "[FIRING] High CPU on web01"
    assert "tok/en+1" in req.secrets and SECRET in req.secrets


def test_feishu_request_signs_in_the_body_with_seconds_as_a_string() -> None:
    req = build_request(
        channel(
            "feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/", token_env="H", secret_env="S", format="text"
        ),
        message(notice()),
        transaction_id=7,
        env={"H": "hook-id-123", "S": SECRET},
        now=NOW + 0.9,
    )
    assert req.url == "https://open.feishu.cn/open-apis/bot/v2/hook/hook-id-123"
    body = json.loads(req.body)
    assert body["timestamp"] == "1700000000"
    assert body["sign"] == "Mz4fPHke5SqH9+IGsNNupBuAtQlbqI4yQoFdMiUpxp4="
    assert body["msg_type"] == "text" and body["content"]["text"].startswith("[FIRING] High CPU on web01\n")


def test_wecom_markdown_is_cut_to_4096_bytes() -> None:
    long = notice(text="界" * 3000)
    req = build_request(
        channel("wecom", url="https://qyapi/send", token_env="K", format="markdown"),
        message(long),
        transaction_id=1,
        env={"K": "wkey"},
        now=NOW,
    )
    body = json.loads(req.body)
    assert req.url == "https://qyapi/send?key=wkey"
    assert body["msgtype"] == "markdown" and len(body["markdown"]["content"].encode()) <= 4096


def test_lanying_body_and_headers() -> None:
    req = build_request(
        channel(
            "lanying", url="https://lanying/", token_env="L", app_id="app1", sender=11, to=(22, 33), to_type="user"
        ),
        message(notice()),
        transaction_id=4242,
        env={"L": "admin-token"},
        now=NOW,
    )
    assert req.url == "https://lanying/message/send"
    assert req.headers["app_id"] == "app1" and req.headers["access-token"] == "admin-token"
    body = json.loads(req.body)
    assert {k: body[k] for k in ("type", "from_user_id", "targets", "content_type", "transaction_id")} == {
        "type": 1,
        "from_user_id": 11,
        "targets": [22, 33],
        "content_type": 0,
        "transaction_id": 4242,
    }


# -- answers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "body", "delivered", "retry", "throttled"),
    [
        ("webhook", 200, b"", True, False, False),
        ("webhook", 204, b"", True, False, False),
        ("slack", 200, b"ok", True, False, False),
        ("slack", 400, b"invalid_payload", False, False, False),
        ("slack", 410, b"channel_is_archived", False, False, False),
        ("webhook", 503, b"", False, True, False),
        ("webhook", 429, b"", False, True, True),
        ("webhook", 404, b"", False, False, False),
        ("webhook", 301, b"", False, False, False),
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', True, False, False),
        ("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}', False, False, False),
        ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}', False, True, True),
        ("dingtalk", 200, b'{"errcode":-1,"errmsg":"busy"}', False, True, False),
        ("wecom", 200, b'{"errcode":0,"errmsg":"ok"}', True, False, False),
        ("wecom", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', False, False, False),
        ("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', False, True, True),
        ("feishu", 200, b'{"code":0,"msg":"success","data":{}}', True, False, False),
        ("feishu", 200, b'{"StatusCode":0,"StatusMessage":"success"}', True, False, False),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', False, False, False),
        ("feishu", 200, b'{"code":11232,"msg":"frequency limited"}', False, True, True),
        ("feishu", 200, b"<html>proxy</html>", False, False, False),
        ("lanying", 200, b'{"code":200,"message":null,"data":true}', True, False, False),
        ("lanying", 200, b'{"code":401,"message":"invalid token"}', False, False, False),
        ("lanying", 200, b'{"code":500,"message":"internal"}', False, True, False),
    ],
)
def test_answers(kind: str, status: int, body: bytes, delivered: bool, retry: bool, throttled: bool) -> None:
    outcome = interpret(kind, status, {}, body, NOW)
    assert (outcome.delivered, outcome.retry, outcome.throttled) == (delivered, retry, throttled)
    if not delivered:
        assert outcome.error


def test_vendor_error_message_is_kept() -> None:
    outcome = interpret("dingtalk", 200, {}, b'{"errcode":310000,"errmsg":"keywords not in content"}', NOW)
    assert outcome.error == "dingtalk error 310000: keywords not in content"


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), NOW) == 30.0
    assert parse_retry_after(formatdate(NOW - 30, usegmt=True), NOW) == 0.0
    assert parse_retry_after("86400", NOW) == MAX_RETRY_AFTER
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    outcome = interpret("webhook", 429, {"retry-after": "12"}, b"", NOW)
    assert outcome.retry_after == 12.0


def test_redact_covers_url_encoded_forms() -> None:
    text = "POST https://x/send?access_token=a%2Fb%2Bc&key=a/b+c failed for a/b+c"
    assert redact(text, ["a/b+c"]) == "POST https://x/send?access_token=***&key=*** failed for ***"


# -- pacing -----------------------------------------------------------------------------------------------------


def test_sliding_window_limits() -> None:
    limiter = RateLimiter([RateLimit(5, 1.0), RateLimit(8, 60.0)])
    for i in range(5):
        assert limiter.remaining(NOW + i * 0.1) > 0
        limiter.record(NOW + i * 0.1)
    assert limiter.remaining(NOW + 0.5) == 0
    assert limiter.next_free(NOW + 0.5) == pytest.approx(NOW + 1.0)
    for i in range(3):
        limiter.record(NOW + 1.5 + i)
    assert limiter.remaining(NOW + 4) == 0
    assert limiter.next_free(NOW + 4) == pytest.approx(NOW + 60.0)


def test_limiter_seeded_from_earlier_attempts() -> None:
    limiter = RateLimiter([RateLimit(20, 60.0)])
    limiter.seed([NOW - 120, *(NOW - 30 + i for i in range(18))], NOW)
    assert limiter.remaining(NOW) == 2


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 2.0, 60.0, lambda: 1.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff(3, 2.0, 60.0, lambda: 0.0) == 6.0


def test_fold_keeps_the_newest_state_of_each_alert() -> None:
    first = message(notice(), notice(host="web02"))
    later = Message("g2", {}, (notice("resolved"),), "update", NOW + 10)
    digest = fold([first, later], NOW + 20)
    assert digest.is_digest and len(digest.parts) == 2
    assert [(n.host, n.kind) for n in digest.notices] == [("web02", "firing"), ("web01", "resolved")]
    again = fold([digest, message(notice(host="web03"))], NOW + 30)
    assert len(again.parts) == 3
    assert Message.from_json(json.loads(json.dumps(again.to_json()))) == again
