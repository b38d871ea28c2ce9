"""The channel interface and the one place that decides retryable versus permanent."""
from __future__ import annotations

import hashlib
import hmac
import json
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


def sign(secret: str | None, body: bytes) -> str | None:
    if not secret:
        return None
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
