"""Group-robot presets: WeCom (企业微信) and DingTalk (钉钉), and a generic SMS gateway.

Robots are rate limited (default 20 messages a minute each): the dispatcher hands a robot
every due message at once and a budget; messages are merged into as few posts as fit the
content limit, and what does not fit the budget waits. Nothing is dropped.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import httpx

from ..errors import DeliveryError, PermanentDeliveryError
from ._base import Channel, Delivery, Receipt, classify_http, json_bytes, post, \
    signature_headers

WECOM_LIMIT = 2048          # bytes of text/markdown content
DINGTALK_LIMIT = 18000      # bytes; DingTalk documents ~20000
RATE_ERRCODES = {45009, 130101, 660026}
SEPARATOR = "\n\n---\n\n"


def text_of(d: Delivery) -> str:
    lang = d.options.get("lang", "zh")
    return d.body["text_en"] if lang == "en" else d.body["text_zh"]


def truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    cut = raw[: limit - 3].decode("utf-8", errors="ignore")
    return cut + "…"


def pack(texts: list[str], limit: int) -> list[tuple[int, str]]:
    """Greedy packing of texts into messages ≤ limit bytes: (number of texts, content)."""
    out: list[tuple[int, str]] = []
    cur, n = "", 0
    for t in texts:
        t = truncate_utf8(t, limit)
        joined = t if not cur else cur + SEPARATOR + t
        if cur and len(joined.encode("utf-8")) > limit:
            out.append((n, cur))
            cur, n = t, 1
        else:
            cur, n = joined, n + 1
    if cur:
        out.append((n, cur))
    return out


class _Robot(Channel):
    group = True
    limit = WECOM_LIMIT

    def __init__(self, client: httpx.Client, timeout_s: float, clock) -> None:
        self.client, self.timeout, self.clock = client, timeout_s, clock

    def payload(self, msgtype: str, content: str) -> dict:
        raise NotImplementedError

    def url(self, d: Delivery) -> str:
        return d.target

    def send_group(self, ds: list[Delivery], budget: int) -> tuple[list[int], Receipt, int]:
        msgtype = ds[0].options.get("msgtype", "markdown")
        packed = pack([text_of(d) for d in ds], self.limit)[:budget]
        sent: list[int] = []
        last = Receipt(None, "")
        pos = 0
        for count, content in packed:
            last = self._post(ds[0], self.payload(msgtype, content))
            sent += [d.id for d in ds[pos:pos + count]]
            pos += count
        return sent, last, len(packed)

    def send(self, d: Delivery) -> Receipt:
        return self.send_group([d], 1)[1]

    def _post(self, d: Delivery, payload: dict) -> Receipt:
        resp = post(self.client, self.url(d), json_bytes(payload),
                    {"Content-Type": "application/json; charset=utf-8"},
                    d.options.get("timeout_s") or self.timeout)
        rec = classify_http(resp)
        try:
            err = json.loads(resp.text or "{}").get("errcode", 0)
        except (ValueError, AttributeError):
            err = 0
        if err in RATE_ERRCODES:
            raise DeliveryError(f"robot rate limited (errcode {err})", status=resp.status_code)
        if err:
            raise PermanentDeliveryError(f"robot refused: {resp.text[:200]}",
                                         status=resp.status_code)
        return rec


class WeComRobot(_Robot):
    """企业微信群机器人: POST {"msgtype": "text"|"markdown", ...}; content ≤ 2048 bytes."""

    name = "wecom"

    def payload(self, msgtype: str, content: str) -> dict:
        return {"msgtype": msgtype, msgtype: {"content": content}}


class DingTalkRobot(_Robot):
    """钉钉自定义机器人; secured robots take ``timestamp`` (ms) and ``sign`` query parameters."""

    name = "dingtalk"
    limit = DINGTALK_LIMIT

    def payload(self, msgtype: str, content: str) -> dict:
        if msgtype == "text":
            return {"msgtype": "text", "text": {"content": content}}
        title = content.split("\n", 1)[0][:64]
        return {"msgtype": "markdown", "markdown": {"title": title, "text": content}}

    def url(self, d: Delivery) -> str:
        if not d.secret:
            return d.target
        ts, sig = dingtalk_sign(d.secret, int(self.clock.now().timestamp() * 1000))
        sep = "&" if "?" in d.target else "?"
        return f"{d.target}{sep}timestamp={ts}&sign={sig}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> tuple[str, str]:
    """(timestamp, sign): URL-encoded Base64 of HMAC-SHA256 over ``timestamp + "\\n" + secret``."""
    to_sign = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return str(timestamp_ms), urllib.parse.quote_plus(base64.b64encode(digest))


class SmsGateway(Channel):
    """Generic SMS-gateway webhook: {"to": [...], "message": ..., "idempotency_key": ...}.

    ``template`` formats the message (fields: text, level, level_zh, kind, alert_id, ack_url).
    """

    name = "sms"
    MAX_CHARS = 500

    def __init__(self, client: httpx.Client, timeout_s: float) -> None:
        self.client, self.timeout = client, timeout_s

    def send(self, d: Delivery) -> Receipt:
        fields = {"text": text_of(d), "level": d.body.get("level"),
                  "level_zh": d.body.get("level_zh"), "kind": d.body.get("kind"),
                  "alert_id": d.body.get("alert_id"), "ack_url": d.body.get("ack_url") or ""}
        try:
            message = (d.options.get("template") or "{text}").format(**fields)
        except (KeyError, ValueError) as exc:
            raise PermanentDeliveryError(f"bad SMS template: {exc}") from exc
        content = json_bytes({"to": d.options.get("to", []), "message": message[:self.MAX_CHARS],
                              "idempotency_key": d.key})
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": d.key}
        headers.update(signature_headers(d.secret, content, time.time()))
        return classify_http(post(self.client, d.target, content, headers,
                                  d.options.get("timeout_s") or self.timeout))
