"""Generic webhook: JSON body or CAP XML, idempotency key header and, with a secret, an
HMAC-SHA256 signature over ``X-Fenwei-Timestamp`` + ``.`` + the body (docs/services/alerts.md
says how a receiver checks it)."""
from __future__ import annotations

import time
from typing import Callable

import httpx

from ._base import Channel, Delivery, Receipt, classify_http, json_bytes, post, \
    signature_headers


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, client: httpx.Client, timeout_s: float,
                 now: Callable[[], float] = time.time) -> None:
        """``now``: the wall clock of the signature timestamp (receivers compare it with
        theirs, so it is real time even when the service runs on a warped clock)."""
        self.client, self.timeout, self.now = client, timeout_s, now

    def send(self, d: Delivery) -> Receipt:
        if d.options.get("format") == "cap":
            content, ctype = d.body["cap"].encode("utf-8"), "application/cap+xml; charset=utf-8"
        else:
            content, ctype = json_bytes(d.body), "application/json; charset=utf-8"
        headers = {"Content-Type": ctype, "Idempotency-Key": d.key,
                   "X-Fenwei-Idempotency-Key": d.key, "X-Fenwei-Event": d.event,
                   "User-Agent": "fenwei-alerts/1"}
        headers.update(signature_headers(d.secret, content, self.now()))
        resp = post(self.client, d.target, content, headers,
                    d.options.get("timeout_s") or self.timeout)
        return classify_http(resp)
