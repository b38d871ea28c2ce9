"""The channel interface and the one place that decides retryable versus permanent."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from ..errors import DeliveryError, PermanentDeliveryError

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class Delivery:
    """One outbox row handed to a channel."""

    id: int
    key: str
    event: str
    target: str
    options: dict[str, Any]
    body: dict[str, Any]
    secret: str | None = None


@dataclass
class Receipt:
    status_code: int | None
    detail: str


class Channel:
    """Sends deliveries. ``group`` channels get every due delivery to one target at once."""

    name: ClassVar[str] = ""
    group: ClassVar[bool] = False

    def send(self, d: Delivery) -> Receipt:
        raise NotImplementedError

    def send_group(self, ds: list[Delivery], budget: int) -> tuple[list[int], Receipt, int]:
        """Send at most ``budget`` messages covering a prefix of ``ds``.

        Returns the ids sent, the last receipt and the number of messages posted.
        """
        raise NotImplementedError

    def close(self) -> None:
        pass


# query parameters and URL passwords that are credentials: WeCom ``key``, DingTalk
# ``access_token``, and the usual names of gateways' tokens
_SECRET_PARAM = re.compile(r"(?i)([?&](?:key|access_token|token|secret|sign|signature|apikey|"
                           r"api_key|password)=)[^&#\s\"']+")
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")


def mask_text(text: str) -> str:
    """``text`` (a URL, an error message) with credentials in URLs replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", _SECRET_PARAM.sub(r"\1***", text or ""))


def signed_content(timestamp: str, body: bytes) -> bytes:
    """What the signature covers: ``<timestamp>.<body>`` (a replayed body with a fresh
    timestamp does not verify; a receiver refuses old timestamps)."""
    return timestamp.encode("ascii") + b"." + body


def sign(secret: str | None, body: bytes, timestamp: str | None = None) -> str | None:
    """``sha256=<hex HMAC-SHA256>`` of ``timestamp.body`` (of the body alone when no
    timestamp is given); None without a secret."""
    if not secret:
        return None
    content = body if timestamp is None else signed_content(timestamp, body)
    return "sha256=" + hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, timestamp: str, signature: str, now: float,
                     tolerance_s: float = 300.0) -> bool:
    """A receiver's check: the signature covers this timestamp and body, and the timestamp
    is within ``tolerance_s`` of the receiver's clock (a replay later fails); receivers also
    drop a repeated ``Idempotency-Key``."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance_s
    except (TypeError, ValueError):
        return False
    want = sign(secret, body, timestamp) or ""
    return fresh and hmac.compare_digest(want, signature or "")


def signature_headers(secret: str | None, body: bytes, now: float) -> dict[str, str]:
    """``X-Fenwei-Timestamp`` (Unix seconds) and ``X-Fenwei-Signature`` over both, when a
    secret is set."""
    if not secret:
        return {}
    ts = str(int(now))
    return {"X-Fenwei-Timestamp": ts, "X-Fenwei-Signature": sign(secret, body, ts)}


def classify_http(resp: httpx.Response) -> Receipt:
    """Receipt for a 2xx; DeliveryError for retryable statuses, Permanent otherwise."""
    if 200 <= resp.status_code < 300:
        return Receipt(resp.status_code, resp.text[:200])
    msg = f"HTTP {resp.status_code}: {resp.text[:200]}"
    if resp.status_code in RETRYABLE_STATUS or resp.status_code >= 500:
        raise DeliveryError(msg, status=resp.status_code)
    raise PermanentDeliveryError(msg, status=resp.status_code)


def post(client: httpx.Client, url: str, content: bytes, headers: dict, timeout: float):
    try:
        return client.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.InvalidURL as exc:
        raise PermanentDeliveryError(f"bad URL: {exc}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def json_bytes(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
