"""A local fake of Alibaba Cloud SMS (dysmsapi 2017-05-25 SendSms) that checks signatures.

The check is written from Alibaba Cloud's documentation ("HTTP协议及签名",
help.aliyun.com/document_detail/56189; English "Signature method",
https://www.alibabacloud.com/help/en/sms/signature-method), NOT from the channel's code: the
doc's Java ``specialUrlEncode`` (java.net.URLEncoder, then ``+``->``%20``, ``*``->``%2A``,
``%7E``->``~``), parameters sorted by name, StringToSign = METHOD & %2F & enc(query),
HMAC-SHA1 keyed with ``AccessKeySecret + "&"``, Base64. :data:`DOC_EXAMPLE` is the doc's own
worked example with its published signature.

Answers like the service: ``{"Code": "OK", "BizId", "RequestId", "Message"}``; isv.* codes
for a template, sign name, number or parameter it does not accept; SignatureDoesNotMatch
(HTTP 400), InvalidAccessKeyId.NotFound (404), SignatureNonceUsed, InvalidTimeStamp.Expired;
``script`` forces the next answers (e.g. isv.BUSINESS_LIMIT_CONTROL, throttling).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from datetime import datetime, timezone

from ._server import FakeServer

# the documentation's worked example (GET), AccessKeySecret "testSecret"
DOC_EXAMPLE = {
    "params": {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"},
    "secret": "testSecret",
    "method": "GET",
    "signature": "zJDF+Lrzhj/ThnlvIToysFRq6t4=",
}
MESSAGES = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发号码天级流控Permits:10",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量中存在未赋值变量",
    "isv.PARAM_LENGTH_LIMIT": "参数超出长度限制",
    "isp.SYSTEM_ERROR": "系统出现错误，请重新调用",
}


def special_url_encode(value: str) -> str:
    """The doc's specialUrlEncode: URLEncoder.encode(value, "UTF-8") then the three swaps."""
    java = urllib.parse.quote_plus(value.encode("utf-8"), safe="*")   # Java leaves * alone
    java = java.replace("~", "%7E")                                     # Java encodes ~
    return java.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def doc_signature(params: dict[str, str], secret: str, method: str) -> str:
    query = "&".join(special_url_encode(k) + "=" + special_url_encode(params[k])
                     for k in sorted(params))
    to_sign = method + "&" + special_url_encode("/") + "&" + special_url_encode(query)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class FakeAliyun(FakeServer):
    def __init__(self, keys: dict[str, str], *, templates: dict[str, set[str]],
                 sign_names: set[str], now=time.time) -> None:
        self.keys, self.templates, self.sign_names, self.now = keys, templates, sign_names, now
        self.script: list[str] = []     # codes to answer next, before any check of content
        self.sent: list[dict] = []      # accepted messages
        self.requests: list[dict] = []  # every request's parameters
        self.verified = 0               # requests whose signature checked out
        self.nonces: set[str] = set()
        super().__init__()

    def answer(self, status: int, code: str, message: str = "", **extra):
        with self.lock:
            rid = f"req-{len(self.requests)}"
        body = {"Code": code, "Message": message or MESSAGES.get(code, code),
                "RequestId": rid, **extra}
        return status, json.dumps(body, ensure_ascii=False).encode()

    def handle(self, method, path, headers, body):
        raw = body.decode() if method == "POST" else urllib.parse.urlsplit(path).query
        params = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        with self.lock:
            self.requests.append(params)
        refused = self.check_signature(method, params)
        if refused:
            return refused
        with self.lock:
            self.verified += 1
            code = self.script.pop(0) if self.script else None
        if code:
            return self.answer(200, code)
        return self.send_sms(params)

    def check_signature(self, method, params):
        given = params.pop("Signature", None)
        for p in ("AccessKeyId", "SignatureMethod", "SignatureNonce", "SignatureVersion",
                  "Timestamp", "Version", "Action", "Format"):
            if not params.get(p):
                return self.answer(400, "MissingParameter", f"{p} is mandatory")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return self.answer(404, "InvalidAccessKeyId.NotFound", "Specified access key "
                               "is not found.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self.answer(400, "InvalidParameter", "signature method or version")
        ts = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp()
        if abs(ts - self.now()) > 15 * 60:
            return self.answer(400, "InvalidTimeStamp.Expired", "Specified time stamp or "
                               "date value is expired.")
        if doc_signature(params, secret, method) != given:
            return self.answer(400, "SignatureDoesNotMatch", "Specified signature is not "
                               "matched with our calculation.")
        with self.lock:
            if params["SignatureNonce"] in self.nonces:
                return self.answer(400, "SignatureNonceUsed", "Specified signature nonce "
                                   "was used already.")
            self.nonces.add(params["SignatureNonce"])
        return None

    def send_sms(self, p):
        if p["Action"] != "SendSms" or p["Version"] != "2017-05-25":
            return self.answer(404, "InvalidAction.NotFound", "Specified api is not found")
        if p.get("TemplateCode") not in self.templates:
            return self.answer(200, "isv.SMS_TEMPLATE_ILLEGAL")
        if p.get("SignName") not in self.sign_names:
            return self.answer(200, "isv.SMS_SIGNATURE_ILLEGAL")
        numbers = p.get("PhoneNumbers", "").split(",")
        if not all(n.isdigit() and len(n) == 11 and n[0] == "1" for n in numbers):
            return self.answer(200, "isv.MOBILE_NUMBER_ILLEGAL")
        values = json.loads(p.get("TemplateParam") or "{}")
        if set(values) != self.templates[p["TemplateCode"]]:
            return self.answer(200, "isv.TEMPLATE_MISSING_PARAMETERS")
        if any(len(str(v)) > 35 for v in values.values()):   # notification variables ≤ 35
            return self.answer(200, "isv.PARAM_LENGTH_LIMIT")
        with self.lock:
            self.sent.append({"numbers": numbers, "sign": p["SignName"],
                              "template": p["TemplateCode"], "params": values,
                              "out_id": p.get("OutId")})
            biz = f"biz-{len(self.sent)}"
        return self.answer(200, "OK", "OK", BizId=biz)
