"""The provider channels against their fakes, without the service: template fields and
their limits, numbers, error-code mapping, and the group pass."""
from __future__ import annotations

import pytest

from alerts.channels import AliyunSms, Delivery, TencentSms
from alerts.channels._sms import alert_fields, clean, phone_numbers
from alerts.channels.aliyun_sms import classify
from alerts.channels.tencent_sms import error as tencent_error
from alerts.errors import DeliveryError, PermanentDeliveryError

from .conftest import ALIYUN_KEY, TENCENT_KEY, WALL

TEXT = ("【红色预警·发布】PM2.5 实时浓度超标：西安 高压开关厂（1462A）。细颗粒物 300 µg/m³，"
        "阈值 250 µg/m³。观测时间 2026-01-10 10:00（北京时间）。建议启动Ⅰ级应急响应。")
BODY = {"level": "red", "level_zh": "红色", "event": "issued", "kind": "air.realtime",
        "subject": {"id": "station:1462A", "cities": ["xian"]}, "exercise": False,
        "observed_at": "2026-01-10T02:00:00+00:00", "text_zh": TEXT}


def _d(i, *, to=("+8613800000001",), secret=None, **opts) -> Delivery:
    return Delivery(i, f"key-{i}", "issued", "", {"to": list(to), **opts}, dict(BODY),
                    secret)


def test_fields_of_a_rendered_alert_worked_by_hand():
    f = alert_fields(BODY, {"xian": "西安"})
    # 02:00 UTC + 8 h = 10:00 Beijing time on 01-10
    assert f == {"level": "红色", "event": "发布", "title": "PM2.5 实时浓度超标", "city": "西安",
                 "subject": "西安 高压开关厂（1462A）",
                 "text": "细颗粒物 300 µg/m³，阈值 250 µg/m³。", "time": "01-10 10:00"}


def test_a_drill_says_so_in_the_level():
    body = dict(BODY, exercise=True, text_zh="【演练】" + TEXT)
    f = alert_fields(body, {})
    assert f["level"] == "演练·红色" and f["title"] == "PM2.5 实时浓度超标"
    assert f["city"] == "xian"          # no name known: the slug


@pytest.mark.parametrize("value,limit,want", [
    ("【红色】预警", 35, "红色预警"),                       # the signature's brackets go
    ("见 https://x.example/a?b=1 详情", 35, "见 详情"),      # no links in variables
    ("a\n\n b", 35, "a b"),
    ("一二三四五六七八九十甲乙丙", 12, "一二三四五六七八九十甲乙"),  # 13 characters -> 12
    ("x" * 40, 35, "x" * 35),
], ids=["brackets", "link", "whitespace", "chinese-12", "ascii-35"])
def test_parameter_cleaning_and_limits(value, limit, want):
    assert clean(value, limit) == want


@pytest.mark.parametrize("numbers,ok", [
    (["+8613800000001"], True),
    (["+86 138-0000-0001"], True),                       # spaces and dashes dropped
    (["+85291234567"], True),                            # Hong Kong, E.164
    (["13800000001"], False),                            # no + country code
    (["+8612800000001"], False),                         # mainland mobiles are 1[3-9]...
    (["+86138000000011"], False),                        # 12 digits after 86
    ([], False),
], ids=["mainland", "formatted", "hk", "no-plus", "not-mobile", "too-long", "none"])
def test_phone_numbers_are_e164(numbers, ok):
    if ok:
        assert phone_numbers(numbers, 10)[0].startswith("+")
    else:
        with pytest.raises(PermanentDeliveryError):
            phone_numbers(numbers, 10)


def test_too_many_numbers_for_one_request():
    with pytest.raises(PermanentDeliveryError, match="at most 2"):
        phone_numbers(["+8613800000001", "+8613800000002", "+8613800000003"], 2)


@pytest.mark.parametrize("status,code,retry", [
    (200, "isv.BUSINESS_LIMIT_CONTROL", True), (400, "Throttling.User", True),
    (200, "isp.SYSTEM_ERROR", True), (503, None, True), (400, "SignatureNonceUsed", True),
    (200, "isv.SMS_TEMPLATE_ILLEGAL", False), (200, "isv.SMS_SIGNATURE_ILLEGAL", False),
    (200, "isv.MOBILE_NUMBER_ILLEGAL", False), (200, "isv.TEMPLATE_MISSING_PARAMETERS", False),
    (400, "SignatureDoesNotMatch", False), (404, "InvalidAccessKeyId.NotFound", False),
    (200, "isv.AMOUNT_NOT_ENOUGH", False), (400, None, False),
], ids=lambda v: str(v))
def test_aliyun_codes_retry_or_dead_letter(status, code, retry):
    exc = classify(status, code, "m")
    assert isinstance(exc, PermanentDeliveryError) is not retry
    assert (code or f"HTTP {status}") in str(exc)


@pytest.mark.parametrize("code,retry", [
    ("LimitExceeded.PhoneNumberThirtySecondLimit", True),
    ("LimitExceeded.PhoneNumberDailyLimit", True), ("LimitExceeded.DeliveryFrequencyLimit", True),
    ("RequestLimitExceeded", True), ("InternalError.Timeout", True),
    ("FailedOperation.TemplateIncorrectOrUnapproved", False),
    ("InvalidParameterValue.TemplateParameterFormatError", False),
    ("FailedOperation.SignatureIncorrectOrUnapproved", False),
    ("InvalidParameterValue.IncorrectPhoneNumber", False),
    ("AuthFailure.SignatureFailure", False), ("AuthFailure.SecretIdNotFound", False),
    ("LimitExceeded.PhoneNumberCountLimit", False),
    ("FailedOperation.PhoneNumberInBlacklist", False),
])
def test_tencent_codes_retry_or_dead_letter(code, retry):
    exc = tencent_error(code, "m", 200)
    assert isinstance(exc, PermanentDeliveryError) is not retry and code in str(exc)


def _aliyun_channel(http):
    return AliyunSms(http, 5.0, city_names={"xian": "西安"}, wallclock=lambda: WALL)


ALIYUN_OPTS = {"template_id": "SMS_465000001", "sign_name": "汾渭预警"}
ALIYUN_SECRET = f"{ALIYUN_KEY[0]}:{ALIYUN_KEY[1]}"


def _aliyun_d(aliyun, i, **kw):
    d = _d(i, secret=ALIYUN_SECRET, **{**ALIYUN_OPTS, **kw})
    d.target = aliyun.url
    return d


def test_one_bad_row_does_not_dead_letter_the_others_of_its_group(aliyun, http):
    ch = _aliyun_channel(http)
    ds = [_aliyun_d(aliyun, 1), _aliyun_d(aliyun, 2, template_id="SMS_000000000"),
          _aliyun_d(aliyun, 3, to=["+8613800000003"])]
    sent, _, posts = ch.send_group(ds, budget=20)
    assert sent == [1, 3] and posts == 3           # row 2 waits for a later pass
    # the next pass: the refused row goes last; alone it is dead-lettered with its code
    sent, _, _ = ch.send_group([ds[1], _aliyun_d(aliyun, 4)], budget=20)
    assert sent == [4]
    with pytest.raises(PermanentDeliveryError, match="isv.SMS_TEMPLATE_ILLEGAL"):
        ch.send_group([ds[1]], budget=20)
    assert [m["out_id"] for m in aliyun.sent] == ["key-1", "key-3", "key-4"]


def test_budget_bounds_the_posts_and_the_rest_waits(aliyun, http):
    ch = _aliyun_channel(http)
    ds = [_aliyun_d(aliyun, i) for i in (1, 2, 3)]
    sent, _, posts = ch.send_group(ds, budget=2)
    assert sent == [1, 2] and posts == 2 and len(aliyun.sent) == 2


def test_throttled_midway_keeps_what_was_sent(aliyun, http):
    ch = _aliyun_channel(http)
    aliyun.script = [None, "isv.BUSINESS_LIMIT_CONTROL"]   # first OK, second throttled
    ds = [_aliyun_d(aliyun, i) for i in (1, 2, 3)]
    sent, _, posts = ch.send_group(ds, budget=20)
    assert sent == [1] and posts == 2                # 2 and 3 wait (not an attempt)
    aliyun.script = ["isv.BUSINESS_LIMIT_CONTROL"]
    with pytest.raises(DeliveryError) as exc:        # throttled first: every row retries
        ch.send_group(ds[1:], budget=20)
    assert not isinstance(exc.value, PermanentDeliveryError)


@pytest.mark.parametrize("secret", [None, "", "no-colon", ":only-secret", "id:"])
def test_a_missing_or_malformed_secret_is_permanent(aliyun, http, secret):
    ch = _aliyun_channel(http)
    d = _aliyun_d(aliyun, 1)
    d.secret = secret
    with pytest.raises(PermanentDeliveryError, match="key id"):
        ch.send(d)
    assert aliyun.requests == []


def test_tencent_partial_throttle_retries_only_the_numbers_not_reached(tencent, http):
    ch = TencentSms(http, 5.0, wallclock=lambda: WALL)
    d = _d(1, to=["+8613800000001", "+8613800000002"],
           secret=f"{TENCENT_KEY[0]}:{TENCENT_KEY[1]}", sdk_app_id="1400006666",
           template_id="2123456", sign_name="汾渭预警")
    d.target = tencent.url
    tencent.script = ["LimitExceeded.PhoneNumberThirtySecondLimit"]   # the first number
    with pytest.raises(DeliveryError, match="PhoneNumberThirtySecondLimit"):
        ch.send_group([d], budget=20)
    assert [m["number"] for m in tencent.sent] == ["+8613800000002"]
    sent, _, _ = ch.send_group([d], budget=20)
    assert sent == [1]
    assert tencent.requests[-1]["body"]["PhoneNumberSet"] == ["+8613800000001"]
    assert [m["number"] for m in tencent.sent] == ["+8613800000002", "+8613800000001"]


def test_tencent_mixed_mainland_and_international_is_a_config_error(tencent, http):
    ch = TencentSms(http, 5.0, wallclock=lambda: WALL)
    d = _d(1, to=["+8613800000001", "+85291234567"],
           secret=f"{TENCENT_KEY[0]}:{TENCENT_KEY[1]}", sdk_app_id="1400006666",
           template_id="2123456", sign_name="汾渭预警")
    d.target = tencent.url
    with pytest.raises(PermanentDeliveryError, match="all mainland"):
        ch.send(d)
    assert tencent.requests == []


def test_tencent_stale_clock_is_refused_by_the_fake(tencent, http):
    """A timestamp 301 s off Tencent's clock fails (the doc: at most five minutes)."""
    ch = TencentSms(http, 5.0, wallclock=lambda: WALL - 301)
    d = _d(1, secret=f"{TENCENT_KEY[0]}:{TENCENT_KEY[1]}", sdk_app_id="1400006666",
           template_id="2123456", sign_name="汾渭预警")
    d.target = tencent.url
    with pytest.raises(PermanentDeliveryError, match="AuthFailure.SignatureExpire"):
        ch.send(d)


def test_a_group_message_lists_its_subjects():
    """A group body (``alerts`` holds each alert's own body): two Xi'an stations become
    "共2项：<first>、<second>"; the latest observation (10:05 Beijing time) is the time."""
    second = dict(BODY, observed_at="2026-01-10T02:05:00+00:00",
                  text_zh=TEXT.replace("高压开关厂（1462A）", "兴庆小区（1463A）"))
    group = {"schema": "fenwei.alert.group.v1", "count": 2, "level": "red",
             "level_zh": "红色", "exercise": False, "text_zh": "【红色预警·发布】…（共 2 项）：",
             "alerts": [dict(BODY), second]}
    f = alert_fields(group, {"xian": "西安"})
    assert f["subject"] == "共2项：西安 高压开关厂（1462A）、西安 兴庆小区（1463A）"
    assert f["city"] == "西安" and f["time"] == "01-10 10:05" and f["level"] == "红色"
    # Tencent's 12: 共 2 项 ： 西 安 ␠ 高 压 开 关 厂 (12 characters)
    assert clean(f["subject"], 12) == "共2项：西安 高压开关厂"
