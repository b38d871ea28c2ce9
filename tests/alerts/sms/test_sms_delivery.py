"""Both SMS providers through the real alert service and dispatcher on a real database.

The alert is real (PM2.5 300 µg/m³ at Xi'an station 1462A, red above 250); the recipient's
channel is declared in the recipients file as ``aliyun_sms`` / ``tencent_sms`` with the
provider options. The secret is resolved by the dispatcher from the directory
(``secret_ref``), as in production.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts._db import outbox
from alerts.channels import AliyunSms, TencentSms

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series

from .conftest import ALIYUN_KEY, TENCENT_KEY, WALL

NUMBER = "+8613800000001"
CITY_NAMES = {"xian": "西安"}

PROVIDERS = {
    "aliyun_sms": dict(cls=AliyunSms, key=ALIYUN_KEY, options={
        "template_id": "SMS_465000001", "sign_name": "汾渭预警"}),
    "tencent_sms": dict(cls=TencentSms, key=TENCENT_KEY, options={
        "sdk_app_id": "1400006666", "template_id": "2123456", "sign_name": "汾渭预警"}),
}
# by hand from the rendered text "【红色预警·发布】PM2.5 实时浓度超标：西安 高压开关厂（1462A）。
# 细颗粒物 300 µg/m³，阈值 250 µg/m³。观测时间 …": level 红色, city 西安 (catalogue name),
# subject "西安 高压开关厂（1462A）" (15 characters), text "细颗粒物 300 µg/m³，阈值 250 µg/m³。"
# (4+1+3+1+5+1+2+1+3+1+5+1 = 28 characters) all fit Aliyun's 35; Tencent's 12 cut subject to
# 西 安 ␠ 高 压 开 关 厂 （ 1 4 6 and text to 细 颗 粒 物 ␠ 3 0 0 ␠ µ g /.
EXPECTED = {
    "aliyun_sms": {"level": "红色", "city": "西安", "subject": "西安 高压开关厂（1462A）",
                   "text": "细颗粒物 300 µg/m³，阈值 250 µg/m³。"},
    "tencent_sms": ["红色", "西安", "西安 高压开关厂（146", "细颗粒物 300 µg/"],
}


def _service(make_service, url, tmp_path, fake, provider, options=None, **settings):
    kid, key = PROVIDERS[provider]["key"]
    rcpts = recipients_file(tmp_path, {"team-xian": [
        {"type": provider, "url": fake.url, "to": [NUMBER], "secret": f"{kid}:{key}",
         **PROVIDERS[provider]["options"], **(options or {})}]})
    svc = make_service(url, rules=PM25_RULES, recipients=rcpts, **settings)
    cls = PROVIDERS[provider]["cls"]
    svc._channels[provider] = cls(svc._http, 5.0, city_names=CITY_NAMES,
                                  wallclock=lambda: WALL)
    return svc


def _fire(svc, clock):
    clock.set(T0)
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    with svc.engine.begin() as conn:
        rows = conn.execute(sa.select(outbox).where(outbox.c.channel == svc._provider)).all()
        assert len(rows) == 1
    # the row may wait for its group (a group wait after the first alert): let it come due
    due = rows[0].next_attempt_at
    due = due if due.tzinfo else due.replace(tzinfo=T0.tzinfo)
    clock.set(max(clock.now(), due))
    return rows[0].id


def _row(svc, rid):
    return next(r for r in svc.outbox() if r["id"] == rid)


def _setup(request, make_service, tmp_path, provider, db_url, options=None, **settings):
    fake = request.getfixturevalue("aliyun" if provider == "aliyun_sms" else "tencent")
    svc = _service(make_service, db_url, tmp_path, fake, provider, options, **settings)
    svc._provider = provider
    return svc, fake


@pytest.mark.parametrize("provider", ["aliyun_sms", "tencent_sms"])
def test_alert_delivered_with_verified_signature(request, provider, make_service, sqlite_url,
                                                 clock, tmp_path):
    svc, fake = _setup(request, make_service, tmp_path, provider, sqlite_url)
    rid = _fire(svc, clock)
    svc.dispatch_once()
    row = _row(svc, rid)
    assert row["status"] == "delivered", row["last_error"]
    assert fake.verified == 1 and len(fake.sent) == 1
    assert fake.sent[-1]["params"] == EXPECTED[provider]
    sent = fake.sent[0]
    if provider == "aliyun_sms":
        assert sent["numbers"] == ["13800000001"]          # mainland: +86 dropped
        assert sent["out_id"] == row["idempotency_key"]
    else:
        assert sent["number"] == NUMBER                     # E.164 as is
        assert sent["context"] == row["idempotency_key"]
    # the credentials are in no outbox row and no receipt
    kid, key = PROVIDERS[provider]["key"]
    stored = json.dumps([svc.outbox(), svc.receipts()], default=str, ensure_ascii=False)
    assert kid not in stored and key not in stored


THROTTLE = {"aliyun_sms": "isv.BUSINESS_LIMIT_CONTROL",
            "tencent_sms": "LimitExceeded.PhoneNumberThirtySecondLimit"}


@pytest.mark.parametrize("provider", ["aliyun_sms", "tencent_sms"])
def test_throttled_send_is_retried_then_delivered(request, provider, make_service,
                                                  sqlite_url, clock, tmp_path):
    svc, fake = _setup(request, make_service, tmp_path, provider, sqlite_url)
    fake.script = [THROTTLE[provider]]
    rid = _fire(svc, clock)
    svc.dispatch_once()
    row = _row(svc, rid)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert THROTTLE[provider] in row["last_error"]
    assert fake.sent == []
    # backoff base 10 s: the first retry is due within 10 s (equal jitter: 5..10 s)
    clock.advance(timedelta(seconds=4))
    svc.dispatch_once()
    assert _row(svc, rid)["attempts"] == 1                 # not yet due
    clock.advance(timedelta(seconds=7))
    svc.dispatch_once()
    row = _row(svc, rid)
    assert row["status"] == "delivered" and row["attempts"] == 2
    assert len(fake.sent) == 1 and fake.verified == 2
    rec = svc.receipts(rid)
    assert [r["ok"] for r in rec] == [False, True]
    assert THROTTLE[provider] in rec[0]["detail"]


BAD_TEMPLATE = {"aliyun_sms": ("SMS_000000000", "isv.SMS_TEMPLATE_ILLEGAL"),
                "tencent_sms": ("999999", "FailedOperation.TemplateIncorrectOrUnapproved")}


@pytest.mark.parametrize("provider", ["aliyun_sms", "tencent_sms"])
def test_bad_template_is_dead_lettered_with_the_providers_code(request, provider,
                                                               make_service, sqlite_url,
                                                               clock, tmp_path):
    template, code = BAD_TEMPLATE[provider]
    svc, fake = _setup(request, make_service, tmp_path, provider, sqlite_url,
                       {"template_id": template}, max_attempts=8)
    rid = _fire(svc, clock)
    svc.dispatch_once()
    row = _row(svc, rid)
    assert row["status"] == "dead" and row["attempts"] == 1    # permanent: no retry
    assert code in row["last_error"]
    assert fake.sent == [] and fake.verified == 1             # signed right, refused


@pytest.mark.parametrize("provider,missing", [("aliyun_sms", "template_id"),
                                              ("aliyun_sms", "sign_name"),
                                              ("tencent_sms", "sdk_app_id")])
def test_recipients_file_refuses_a_provider_channel_without_its_options(provider, missing,
                                                                       tmp_path, catalogue):
    from alerts._directory import load_directory
    from alerts.errors import ConfigError
    opts = {k: v for k, v in PROVIDERS[provider]["options"].items() if k != missing}
    path = recipients_file(tmp_path, {"team-xian": [
        {"type": provider, "url": "http://127.0.0.1:9/sms", "to": [NUMBER], **opts}]})
    with pytest.raises(ConfigError, match=missing):
        load_directory(path, catalogue)


def test_tencent_signature_on_postgresql(request, make_service, pg_url, clock, tmp_path):
    """The same delivery with the state in the PostgreSQL the harness provides."""
    svc, fake = _setup(request, make_service, tmp_path, "tencent_sms", pg_url)
    rid = _fire(svc, clock)
    svc.dispatch_once()
    assert _row(svc, rid)["status"] == "delivered"
    assert fake.verified == 1


def test_aliyun_wrong_secret_is_refused_by_the_fake_and_dead(request, make_service,
                                                             sqlite_url, clock, tmp_path):
    svc, fake = _setup(request, make_service, tmp_path, "aliyun_sms", sqlite_url)
    fake.keys[ALIYUN_KEY[0]] = "another-secret"             # the provider knows another key
    rid = _fire(svc, clock)
    svc.dispatch_once()
    row = _row(svc, rid)
    assert row["status"] == "dead" and "SignatureDoesNotMatch" in row["last_error"]
    assert fake.verified == 0

