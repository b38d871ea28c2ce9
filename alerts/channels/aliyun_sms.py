"""Alibaba Cloud SMS (阿里云短信服务, dysmsapi 2017-05-25 ``SendSms``).

Signing follows Alibaba Cloud's RPC signature v1 as the SMS documentation gives it
("Signature method", https://www.alibabacloud.com/help/en/sms/signature-method; in Chinese
"HTTP协议及签名", help.aliyun.com/document_detail/56189): every parameter but ``Signature``
sorted by name, each name and value percent-encoded per RFC 3986 (UTF-8; space ``%20``,
``*`` ``%2A``, ``~`` kept), joined ``k=v&...``; StringToSign = ``<METHOD>&%2F&`` +
percent(that); Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)); common
parameters SignatureMethod=HMAC-SHA1, SignatureVersion=1.0, SignatureNonce (unique per
request), Timestamp (UTC ``YYYY-MM-DDThh:mm:ssZ``), Format=JSON. The request is a POST with the
parameters form-encoded in the body, so the AccessKeyId is not in a URL. (The newer
ACS3-HMAC-SHA256 is not used: the v1 RPC signature is what the SMS pages document.)

``SendSms`` parameters (https://www.alibabacloud.com/help/en/sms/developer-reference/api-dysmsapi-2017-05-25-sendsms):
PhoneNumbers (comma-separated, at most 1000; mainland numbers without +86, others with the
country code and no +), SignName, TemplateCode, TemplateParam (JSON object of the template's
variables). One text goes to every number of a recipient, so ``SendBatchSms`` (a different
sign name or parameters per number) is not needed. Answers are ``{"Code": "OK", "BizId":
..., "RequestId": ...}`` or an error ``Code`` (isv.*, isp.*, gateway codes); the mapping to
retry / dead letter is :data:`RETRY_CODES` and :func:`classify`.

Template variables of notification templates are at most 35 characters each (Alibaba
Cloud's notification-template variable rule, in force since 2018-01-10), the default of
``param_max_chars``.

Channel options (the recipients directory's channel entry): ``url`` the endpoint
(``https://dysmsapi.aliyuncs.com/``), ``to`` E.164 numbers, ``template_id`` (TemplateCode,
``SMS_...``), ``sign_name``, optional ``params`` ({template variable: field}, fields
level/event/title/city/subject/text/time; default ${level} ${city} ${subject} ${text}),
``region`` (cn-hangzhou), ``param_max_chars``; ``secret_env`` naming
``AccessKeyId:AccessKeySecret``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from datetime import datetime, timezone

import httpx

from ..errors import DeliveryError, PermanentDeliveryError
from ._base import Delivery, Receipt, post
from ._sms import ProviderSms, split_secret

VERSION = "2017-05-25"
DEFAULT_PARAMS = ("level", "city", "subject", "text")   # ${level} ${city} ${subject} ${text}
# codes worth retrying: throttling (per number / per account / per API), the provider's own
# faults; every other code (bad template, signature or parameters, keys, numbers, balance)
# is a dead letter that the operators' dead-letter alert surfaces
RETRY_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL",
    "isv.SMS_OVER_LIMIT", "Throttling", "Throttling.User", "Throttling.Api",
    "Throttling.Tenant", "ServiceUnavailable", "InternalError", "SignatureNonceUsed",
    "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR",
})


def percent(s: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 (the doc's ``specialUrlEncode``)."""
    return urllib.parse.quote(s, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent('/')}&{percent(canonical)}"


def rpc_signature(key_secret: str, method: str, params: dict[str, str]) -> str:
    digest = hmac.new((key_secret + "&").encode("utf-8"),
                      string_to_sign(method, params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aliyun_number(e164: str) -> str:
    """+8613800000000 -> 13800000000; +85291234567 -> 85291234567."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def classify(status: int, code: str | None, message: str) -> DeliveryError:
    msg = f"Aliyun SMS {code or f'HTTP {status}'}: {message[:200]}"
    if (code in RETRY_CODES or (code or "").startswith(("isp.", "Throttling"))
            or (code is None and (status >= 500 or status in (408, 429)))):
        return DeliveryError(msg, status=status)
    return PermanentDeliveryError(msg, status=status)


class AliyunSms(ProviderSms):
    """Alibaba Cloud SMS ``SendSms`` as a notification channel."""

    name = "aliyun_sms"
    provider = "Aliyun SMS"
    max_numbers = 1000
    param_max_chars = 35

    def __init__(self, client: httpx.Client, timeout_s: float, *, city_names=None,
                 wallclock=None, nonce=None) -> None:
        kw = {"wallclock": wallclock} if wallclock else {}
        super().__init__(client, timeout_s, city_names=city_names, **kw)
        self.nonce = nonce or (lambda: uuid.uuid4().hex)

    def template_param(self, d: Delivery, fields: dict[str, str]) -> str:
        mapping = d.options.get("params") or {f: f for f in DEFAULT_PARAMS}
        try:
            values = {var: fields[field] for var, field in mapping.items()}
        except KeyError as exc:
            raise PermanentDeliveryError(f"Aliyun SMS: unknown template field {exc}") from None
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    def request_params(self, d: Delivery, numbers: list[str], fields: dict[str, str],
                       key_id: str) -> dict[str, str]:
        for opt in ("template_id", "sign_name"):
            if not d.options.get(opt):
                raise PermanentDeliveryError(f"Aliyun SMS channel needs {opt!r}")
        ts = datetime.fromtimestamp(self.wallclock(), timezone.utc)
        return {
            "AccessKeyId": key_id, "Action": "SendSms", "Format": "JSON",
            "RegionId": d.options.get("region") or "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0", "Timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            "PhoneNumbers": ",".join(aliyun_number(n) for n in numbers),
            "SignName": d.options["sign_name"], "TemplateCode": str(d.options["template_id"]),
            "TemplateParam": self.template_param(d, fields),
            "OutId": d.key[:64],
        }

    def call(self, d: Delivery, numbers: list[str], fields: dict[str, str]) -> Receipt:
        key_id, key_secret = split_secret(d.secret, self.provider)
        params = self.request_params(d, numbers, fields, key_id)
        params["Signature"] = rpc_signature(key_secret, "POST", params)
        body = "&".join(f"{percent(k)}={percent(v)}" for k, v in params.items())
        resp = post(self.client, d.target, body.encode("ascii"),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    d.options.get("timeout_s") or self.timeout)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        code = data.get("Code") if isinstance(data, dict) else None
        if 200 <= resp.status_code < 300 and code == "OK":
            return Receipt(resp.status_code, f"Aliyun SMS OK BizId={data.get('BizId')} "
                                             f"RequestId={data.get('RequestId')}")
        raise classify(resp.status_code, code,
                       str(data.get("Message", "")) if isinstance(data, dict) else "")
