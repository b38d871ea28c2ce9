"""Webhook signatures cover a timestamp and the body: a captured request replayed later, or
its body under a fresh timestamp, does not verify."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from alerts.channels import sign, verify_signature
from alerts.channels._base import signature_headers

SECRET = "s3cret"
BODY = b'{"alert_id":"a1","event":"issued"}'
NOW = 1_767_000_000


def test_headers_sign_timestamp_dot_body():
    h = signature_headers(SECRET, BODY, NOW + 0.7)
    assert h["X-Fenwei-Timestamp"] == str(NOW)
    want = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert h["X-Fenwei-Signature"] == f"sha256={want}"
    assert signature_headers(None, BODY, NOW) == {}


@pytest.mark.parametrize("case, ts, body, now, ok", [
    ("fresh", NOW, BODY, NOW + 10, True),
    ("receiver clock behind", NOW, BODY, NOW - 200, True),
    ("replayed an hour later", NOW, BODY, NOW + 3600, False),
    ("body under another timestamp", NOW + 5, BODY, NOW + 10, False),
    ("body changed", NOW, BODY + b" ", NOW + 10, False),
    ("timestamp not a number", "soon", BODY, NOW, False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_receiver_check(case, ts, body, now, ok):
    sig = sign(SECRET, BODY, str(NOW))
    assert verify_signature(SECRET, body, str(ts), sig, now) is ok
