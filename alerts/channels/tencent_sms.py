"""Tencent Cloud SMS (腾讯云短信, ``sms.tencentcloudapi.com`` ``SendSms``, API 2021-01-11).

Signing follows TencentCloud API 3.0 "Signature v3" (TC3-HMAC-SHA256, the same page for every
product, e.g. https://www.tencentcloud.com/document/api/1150/49447; its worked example is the
known-answer test of tests/alerts/sms/fake_tencent.py):

    CanonicalRequest = POST \\n / \\n (empty query) \\n
                       content-type:<ct>\\nhost:<host>\\n \\n content-type;host \\n
                       hex(SHA256(payload))
    StringToSign     = TC3-HMAC-SHA256 \\n <X-TC-Timestamp> \\n <UTC date>/sms/tc3_request \\n
                       hex(SHA256(CanonicalRequest))
    key              = HMAC(HMAC(HMAC("TC3" + SecretKey, date), "sms"), "tc3_request")
    Authorization    = TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
                       SignedHeaders=content-type;host, Signature=hex(HMAC(key, StringToSign))

with headers X-TC-Action: SendSms, X-TC-Version: 2021-01-11, X-TC-Timestamp (Unix seconds,
within five minutes of Tencent's clock), X-TC-Region.

``SendSms`` (https://cloud.tencent.com/document/api/382/55981): PhoneNumberSet (E.164 with
+, at most 200, all mainland or all international), SmsSdkAppId, TemplateId, SignName,
TemplateParamSet (the template's {1}, {2}, ... in order), SessionContext. A request-level
failure is ``{"Response": {"Error": {"Code", "Message"}}}``; otherwise each number has its own
``Code`` in ``SendStatusSet`` ("Ok" when accepted). Error codes:
https://cloud.tencent.com/document/api/382/52075 and the SMS sending codes
https://cloud.tencent.com/document/api/382/59177. Mapping: ``LimitExceeded.*``,
``RequestLimitExceeded*``, ``InternalError*``, ``ResourceUnavailable*`` retry; everything else
(AuthFailure.*, FailedOperation.TemplateIncorrectOrUnapproved /
SignatureIncorrectOrUnapproved / PhoneNumberInBlacklist, InvalidParameterValue.* such as
TemplateParameterFormatError or IncorrectPhoneNumber, UnauthorizedOperation.*, ...) is a dead
letter. When some numbers of a request were accepted and others throttled, the accepted
ones are remembered and the retry goes to the others only; numbers refused permanently
while others got the message are reported in the receipt, not retried.

Template variables: Tencent's body-template review limits each variable's length (a cautious
default of 12 characters here: set ``param_max_chars`` to what the approved template allows).

Channel options: ``url`` (``https://sms.tencentcloudapi.com/``), ``to``, ``sdk_app_id``,
``template_id``, ``sign_name``, optional ``params`` (list of fields for {1}, {2}, ...; default
level, city, subject, text), ``region`` (ap-guangzhou), ``param_max_chars``; ``secret_env``
naming ``SecretId:SecretKey``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from datetime import datetime, timezone

import httpx

from ..errors import DeliveryError, PermanentDeliveryError
from ._base import Delivery, Receipt, json_bytes, post
from ._sms import ProviderSms, mask_number, split_secret

VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
DEFAULT_PARAMS = ("level", "city", "subject", "text")
RETRY_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError",
                  "ResourceUnavailable")
# LimitExceeded codes that retrying cannot fix (a request with too many numbers)
PERMANENT_CODES = frozenset({"LimitExceeded.PhoneNumberCountLimit"})


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_authorization(secret_id: str, secret_key: str, *, host: str, payload: bytes,
                      timestamp: int, service: str = "sms",
                      content_type: str = CONTENT_TYPE) -> str:
    """The ``Authorization`` header of a POST with a JSON ``payload``."""
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    canonical = "\n".join([
        "POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode("utf-8"), date), service),
                "tc3_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, "
            f"Signature={signature}")


def retryable(code: str) -> bool:
    return code not in PERMANENT_CODES and code.startswith(RETRY_PREFIXES)


def error(code: str, message: str, status: int) -> DeliveryError:
    msg = f"Tencent SMS {code}: {message[:200]}"
    cls = DeliveryError if retryable(code) else PermanentDeliveryError
    return cls(msg, status=status)


class TencentSms(ProviderSms):
    """Tencent Cloud SMS ``SendSms`` (2021-01-11) as a notification channel."""

    name = "tencent_sms"
    provider = "Tencent SMS"
    max_numbers = 200
    param_max_chars = 12

    def payload(self, d: Delivery, numbers: list[str], fields: dict[str, str]) -> dict:
        for opt in ("sdk_app_id", "template_id", "sign_name"):
            if not d.options.get(opt):
                raise PermanentDeliveryError(f"Tencent SMS channel needs {opt!r}")
        if len({n.startswith("+86") for n in numbers}) > 1:
            raise PermanentDeliveryError("Tencent SMS: one channel's numbers must be all "
                                         "mainland or all international")
        names = d.options.get("params") or DEFAULT_PARAMS
        try:
            params = [fields[f] for f in names]
        except KeyError as exc:
            raise PermanentDeliveryError(f"Tencent SMS: unknown template field {exc}") from None
        return {"PhoneNumberSet": numbers, "SmsSdkAppId": str(d.options["sdk_app_id"]),
                "TemplateId": str(d.options["template_id"]),
                "SignName": d.options["sign_name"], "TemplateParamSet": params,
                "SessionContext": d.key[:500]}

    def call(self, d: Delivery, numbers: list[str], fields: dict[str, str]) -> Receipt:
        secret_id, secret_key = split_secret(d.secret, self.provider)
        body = json_bytes(self.payload(d, numbers, fields))
        host = urllib.parse.urlsplit(d.target).netloc
        ts = int(self.wallclock())
        headers = {
            "Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": "SendSms",
            "X-TC-Version": VERSION, "X-TC-Timestamp": str(ts),
            "X-TC-Region": d.options.get("region") or "ap-guangzhou",
            "Authorization": tc3_authorization(secret_id, secret_key, host=host,
                                               payload=body, timestamp=ts),
        }
        resp = post(self.client, d.target, body, headers,
                    d.options.get("timeout_s") or self.timeout)
        try:
            data = resp.json().get("Response") or {}
        except (ValueError, AttributeError):
            data = {}
        if not data:
            status = resp.status_code
            cls = DeliveryError if status >= 500 or status in (408, 429) else \
                PermanentDeliveryError
            raise cls(f"Tencent SMS HTTP {status}: {resp.text[:200]}", status=status)
        err = data.get("Error")
        if err:
            raise error(str(err.get("Code")), str(err.get("Message", "")), resp.status_code)
        return self.per_number(d, data, resp.status_code)

    def per_number(self, d: Delivery, data: dict, status: int) -> Receipt:
        ok, retry, refused = [], [], []
        for s in data.get("SendStatusSet") or []:
            code, number = str(s.get("Code")), str(s.get("PhoneNumber"))
            if code.lower() == "ok":
                ok.append(number)
            else:
                (retry if retryable(code) else refused).append((number, code, s.get("Message")))
        if not (ok or retry or refused):
            raise DeliveryError("Tencent SMS: answer without SendStatusSet", status=status)
        if ok:
            self.remember(d.key, ok)
        detail = "; ".join(f"{mask_number(n)} {c}: {m}" for n, c, m in retry + refused)
        if retry:
            self.remember(d.key, [n for n, _, _ in refused])   # not retried
            raise DeliveryError(f"Tencent SMS {retry[0][1]}: {detail}"[:400], status=status)
        if refused and not ok:
            raise PermanentDeliveryError(f"Tencent SMS {refused[0][1]}: {detail}"[:400],
                                         status=status)
        return Receipt(status, (f"Tencent SMS Ok to {len(ok)} number(s) RequestId="
                                f"{data.get('RequestId')}" + (f"; refused {detail}"
                                                              if detail else ""))[:400])
