"""Signed acknowledgement links: an HMAC-SHA256 token naming the alert and the recipient."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from .errors import BadToken


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckSigner:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def __repr__(self) -> str:
        return "AckSigner(secret='***')"

    def sign(self, alert_id: str, recipient_id: str, expires: datetime) -> str:
        payload = f"{alert_id}|{recipient_id}|{int(expires.timestamp())}".encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(mac)}"

    def verify(self, token: str, now: datetime) -> tuple[str, str]:
        """(alert_id, recipient_id) of a valid token; BadToken otherwise."""
        try:
            p64, m64 = token.split(".")
            payload, mac = _unb64(p64), _unb64(m64)
            alert_id, recipient_id, exp = payload.decode().split("|")
            exp_ts = int(exp)
        except (ValueError, UnicodeDecodeError):
            raise BadToken("malformed acknowledgement token") from None
        good = hmac.new(self._key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, good):
            raise BadToken("acknowledgement token signature does not match")
        if now.timestamp() > exp_ts:
            raise BadToken("acknowledgement token expired")
        return alert_id, recipient_id
