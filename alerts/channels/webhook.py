"""Generic webhook: JSON body or CAP XML, HMAC-SHA256 signature, idempotency key header."""
from __future__ import annotations

import httpx

from ._base import Channel, Delivery, Receipt, classify_http, json_bytes, post, sign


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, client: httpx.Client, timeout_s: float) -> None:
        self.client, self.timeout = client, timeout_s

    def send(self, d: Delivery) -> Receipt:
        if d.options.get("format") == "cap":
            content, ctype = d.body["cap"].encode("utf-8"), "application/cap+xml; charset=utf-8"
        else:
            content, ctype = json_bytes(d.body), "application/json; charset=utf-8"
        headers = {"Content-Type": ctype, "Idempotency-Key": d.key,
                   "X-Fenwei-Idempotency-Key": d.key, "X-Fenwei-Event": d.event,
                   "User-Agent": "fenwei-alerts/1"}
        sig = sign(d.secret, content)
        if sig:
            headers["X-Fenwei-Signature"] = sig
        resp = post(self.client, d.target, content, headers,
                    d.options.get("timeout_s") or self.timeout)
        return classify_http(resp)
