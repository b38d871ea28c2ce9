"""Signed acknowledgement links: an HMAC-SHA256 token naming the alert and the recipient.

The signature only proves the token came from us. What it may do is decided when it is used
(``Lifecycle.acknowledge(token=...)``): it must be the token of a notification we sent (an
outbox row of that alert carries it, which also gives its level and recipient), sent at the
alert's current level, and never used before (the audit row its use writes records
:func:`token_id`). A recipient acknowledges only for the cities it stands for.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from .errors import BadToken


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_id(token: str) -> str:
    """The id a used token is recorded under (a digest: the token itself is a credential)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class AckSigner:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def __repr__(self) -> str:
        return "AckSigner(secret='***')"

    def sign(self, alert_id: str, recipient_id: str, expires: datetime) -> str:
        """A token for one notification: a random nonce makes each one distinct (two
        notifications in the same second, e.g. yellow then red, must not share a token)."""
        nonce = secrets.token_urlsafe(9)
        payload = f"{alert_id}|{recipient_id}|{int(expires.timestamp())}|{nonce}".encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(mac)}"

    def verify(self, token: str, now: datetime) -> tuple[str, str]:
        """(alert_id, recipient_id) of a valid token; BadToken otherwise."""
        try:
            if len(token) > 1000:
                raise ValueError("too long")
            p64, m64 = token.split(".")
            payload, mac = _unb64(p64), _unb64(m64)
            alert_id, recipient_id, exp, *_nonce = payload.decode().split("|")
            if len(_nonce) > 1:
                raise ValueError("too many fields")
            exp_ts = int(exp)
        except (ValueError, UnicodeDecodeError):
            raise BadToken("malformed acknowledgement token") from None
        good = hmac.new(self._key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, good):
            raise BadToken("acknowledgement token signature does not match")
        if now.timestamp() > exp_ts:
            raise BadToken("acknowledgement token expired")
        return alert_id, recipient_id
