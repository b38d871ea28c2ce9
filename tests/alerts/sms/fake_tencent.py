"""A local fake of Tencent Cloud SMS (SendSms, API 2021-01-11) that checks TC3 signatures.

The check is written from TencentCloud API 3.0 "Signature v3"
(https://www.tencentcloud.com/document/api/1150/49447, the same page for every product), NOT
from the channel's code: it rebuilds CanonicalRequest from the headers the request *names* in
SignedHeaders (lower-cased keys and values, trimmed, sorted), the payload's SHA-256, the
StringToSign with the credential scope ``date/service/tc3_request`` (date = UTC date of
X-TC-Timestamp), the derived key chain "TC3"+SecretKey -> date -> service -> "tc3_request",
and compares the hex HMAC-SHA256. :data:`DOC_EXAMPLE` is the doc's own worked example with
its published intermediate hashes and signature.

Answers like the service (https://cloud.tencent.com/document/api/382/55981): request-level
``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`` (AuthFailure.*,
FailedOperation.TemplateIncorrectOrUnapproved, InvalidParameterValue.*...), else a
``SendStatusSet`` with a Code per number. ``script`` forces the next answers: a code starting
with ``LimitExceeded.PhoneNumber`` is given per number (for the first number), other codes
request-level.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

from ._server import FakeServer

DOC_EXAMPLE = {
    "secret_key": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
    "timestamp": 1551113065,
    "service": "cvm",
    "headers": {"content-type": "application/json; charset=utf-8",
                "host": "cvm.tencentcloudapi.com"},
    "signed_headers": "content-type;host",
    "payload": '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
               '"Name": "instance-name"}]}',
    "payload_hash": "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064",
    "canonical_hash": "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
    "signature": "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
}
MESSAGES = {
    "FailedOperation.TemplateIncorrectOrUnapproved": "template is not approved or request "
                                                     "content does not match the template",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature is not approved",
    "InvalidParameterValue.TemplateParameterFormatError": "template parameter format error",
    "InvalidParameterValue.TemplateParameterLengthLimit": "single template variable too long",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number hit the 30-second limit",
    "RequestLimitExceeded": "request frequency exceeds the limit",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. "
                                    "Please check your signature is correct.",
}


def _h(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def canonical_request(method: str, headers: dict[str, str], signed: str,
                      payload: bytes) -> str:
    names = signed.split(";")
    lines = "".join(f"{n}:{headers[n].strip().lower()}\n" for n in sorted(names))
    return "\n".join([method, "/", "", lines, ";".join(sorted(names)), _h(payload)])


def doc_signature(secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{_h(canonical)}"
    k = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencent(FakeServer):
    def __init__(self, keys: dict[str, str], *, app_id: str, templates: dict[str, int],
                 sign_names: set[str], max_param_chars: int = 12, now=time.time) -> None:
        self.keys, self.app_id, self.templates = keys, app_id, templates
        self.sign_names, self.max_param_chars, self.now = sign_names, max_param_chars, now
        self.script: list[str] = []
        self.sent: list[dict] = []      # (number, params) accepted
        self.requests: list[dict] = []
        self.verified = 0
        super().__init__()

    def error(self, code: str):
        body = {"Response": {"Error": {"Code": code, "Message": MESSAGES.get(code, code)},
                             "RequestId": f"req-{len(self.requests)}"}}
        return 200, json.dumps(body).encode()

    def handle(self, method, path, headers, body):
        hdrs = {k.lower(): v for k, v in headers.items()}
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        with self.lock:
            self.requests.append({"headers": hdrs, "body": req})
        refused = self.check_signature(method, hdrs, body)
        if refused:
            return self.error(refused)
        with self.lock:
            self.verified += 1
            code = self.script.pop(0) if self.script else None
        if code and not code.startswith("LimitExceeded.PhoneNumber"):
            return self.error(code)
        return self.send_sms(hdrs, req, code)

    def check_signature(self, method, hdrs, body) -> str | None:
        auth = hdrs.get("authorization", "")
        algo, _, rest = auth.partition(" ")
        if algo != "TC3-HMAC-SHA256":
            return "AuthFailure.InvalidAuthorization"
        parts = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        try:
            secret_id, date, service, term = parts["Credential"].split("/")
            signed, given = parts["SignedHeaders"], parts["Signature"]
            ts = int(hdrs["x-tc-timestamp"])
        except (KeyError, ValueError):
            return "AuthFailure.InvalidAuthorization"
        if secret_id not in self.keys:
            return "AuthFailure.SecretIdNotFound"
        if abs(ts - self.now()) > 300:
            return "AuthFailure.SignatureExpire"
        if (term != "tc3_request" or service != "sms" or date != datetime.fromtimestamp(
                ts, timezone.utc).strftime("%Y-%m-%d")
                or not {"content-type", "host"} <= set(signed.split(";"))):
            return "AuthFailure.InvalidAuthorization"
        try:
            canonical = canonical_request(method, hdrs, signed, body)
        except KeyError:
            return "AuthFailure.InvalidAuthorization"
        if doc_signature(self.keys[secret_id], ts, service, canonical) != given:
            return "AuthFailure.SignatureFailure"
        return None

    def send_sms(self, hdrs, req, per_number_code):
        if hdrs.get("x-tc-action") != "SendSms" or hdrs.get("x-tc-version") != "2021-01-11":
            return self.error("InvalidAction")
        if req.get("SmsSdkAppId") != self.app_id:
            return self.error("InvalidParameterValue.SdkAppIdNotExist")
        if req.get("SignName") not in self.sign_names:
            return self.error("FailedOperation.SignatureIncorrectOrUnapproved")
        n_params = self.templates.get(req.get("TemplateId"))
        if n_params is None:
            return self.error("FailedOperation.TemplateIncorrectOrUnapproved")
        params = req.get("TemplateParamSet") or []
        if len(params) != n_params:
            return self.error("InvalidParameterValue.TemplateParameterFormatError")
        if any(len(p) > self.max_param_chars for p in params):
            return self.error("InvalidParameterValue.TemplateParameterLengthLimit")
        statuses = []
        for i, number in enumerate(req.get("PhoneNumberSet") or []):
            code = "Ok"
            if i == 0 and per_number_code:
                code = per_number_code
            elif not (number.startswith("+861") and len(number) == 14):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            if code == "Ok":
                with self.lock:
                    self.sent.append({"number": number, "params": params,
                                      "template": req["TemplateId"],
                                      "sign": req["SignName"],
                                      "context": req.get("SessionContext")})
            statuses.append({"SerialNo": f"s-{len(self.sent)}", "PhoneNumber": number,
                             "Fee": 1 if code == "Ok" else 0, "SessionContext":
                             req.get("SessionContext", ""), "Code": code,
                             "Message": "send success" if code == "Ok"
                             else MESSAGES.get(code, code), "IsoCode": "CN"})
        body = {"Response": {"SendStatusSet": statuses,
                             "RequestId": f"req-{len(self.requests)}"}}
        return 200, json.dumps(body, ensure_ascii=False).encode()
