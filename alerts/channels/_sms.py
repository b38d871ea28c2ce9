"""What the two Chinese SMS providers (Alibaba Cloud, Tencent Cloud) share.

A provider SMS is a *template* approved in the provider's console plus *template
parameters*; the parameters come from the alert (level, city, title, subject, short text,
time), each cut to the provider's length limit and cleaned of what template review forbids
(【】 and [] are the signature's brackets, links are not allowed in variables).

Credentials: the channel's ``secret`` in the recipients directory (``secret`` /
``secret_env``, resolved at send time by ``secret_ref``) is ``"<key id>:<key secret>"``:
Alibaba Cloud AccessKeyId:AccessKeySecret, Tencent Cloud SecretId:SecretKey. Neither part is
ever written to an outbox row, a receipt or a log line.

Grouping and rate: the dispatcher hands a provider channel every due row for one endpoint
(``group = True``) with the endpoint's budget for the minute; each row is one API call (all
its recipient's numbers in one request). A failure after some rows were sent ends the pass
with those rows delivered and the rest waiting for the next pass (never resent: SMS
receivers cannot drop a repeat by idempotency key); a permanent failure of one row does not
dead-letter the others of the group: it is retried on its own in a later pass and
dead-lettered when every row of its group was refused (rows refused before go last).
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from datetime import datetime

import httpx

from core.timeutil import CST

from ..errors import DeliveryError, PermanentDeliveryError
from ._base import Channel, Delivery, Receipt

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CN_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")   # mainland mobile numbers: 1[3-9] + 9 digits
FIELDS = ("level", "event", "title", "city", "subject", "text", "time")
# the text as :func:`alerts._text.render` writes it: 【演练】?【<level>·<event>】<title>：<subject>。<rest>
_TEXT = re.compile(r"^(?P<drill>【演练】)?【(?:(?P<level>[^·】]*)·)?(?P<event>[^】]*)】"
                   r"(?P<title>[^：]*)：(?P<subject>[^。]*)。(?P<rest>.*)$", re.S)
_FORBIDDEN = re.compile(r"https?://\S+|www\.\S+|[【】\[\]{}<>]")


def split_secret(secret: str | None, provider: str) -> tuple[str, str]:
    """(key id, key secret) from ``"id:secret"``; a missing or malformed secret is permanent."""
    kid, sep, key = (secret or "").partition(":")
    if not (sep and kid.strip() and key.strip()):
        raise PermanentDeliveryError(
            f"{provider}: the channel secret must be '<key id>:<key secret>' (secret_env)")
    return kid.strip(), key.strip()


def mask_number(number: str) -> str:
    """+8613812345678 -> +86138****5678 (numbers are personal data: never whole in errors)."""
    return number[:6] + "****" + number[-4:] if len(number) > 10 else "****"


def phone_numbers(to, limit: int) -> list[str]:
    """The recipient's numbers in E.164 (``+86...``); a bad number or too many numbers is a
    configuration error (permanent)."""
    numbers = [re.sub(r"[\s-]", "", str(n)) for n in (to or [])]
    if not numbers:
        raise PermanentDeliveryError("SMS channel has no phone numbers ('to')")
    for n in numbers:
        if not E164.match(n) or (n.startswith("+86") and not CN_MOBILE.match(n)):
            raise PermanentDeliveryError(f"invalid phone number {mask_number(n)} "
                                         "(E.164 expected, e.g. +8613800000000)")
    if len(numbers) > limit:
        raise PermanentDeliveryError(f"{len(numbers)} numbers in one SMS channel; the "
                                     f"provider takes at most {limit} per request")
    return numbers


def clean(value: str, max_chars: int) -> str:
    """A template parameter: forbidden characters removed, whitespace folded, at most
    ``max_chars`` characters (a Chinese character, letter, digit or sign counts one)."""
    v = re.sub(r"\s+", " ", _FORBIDDEN.sub("", value or "")).strip()
    return v[:max_chars].rstrip()


def _cst(ts: str | None) -> str:
    try:
        return datetime.fromisoformat(ts).astimezone(CST).strftime("%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


def alert_fields(body: dict, city_names: dict[str, str]) -> dict[str, str]:
    """The template fields of one alert body (Chinese): level, event, title, city, subject,
    text (the detail sentence), time (observed, Beijing time ``MM-DD HH:MM``). A drill's
    level reads ``演练·<level>`` so an exercise can never pass for a real warning. A group
    message (a body whose ``alerts`` lists the members) gives ``共N项：<subject>、<subject>…``
    as the subject, every member's city, the first member's title and text and the latest
    observation time."""
    members = body.get("alerts") if isinstance(body.get("alerts"), list) else None
    if members:
        each = [alert_fields(m, city_names) for m in members]
        first = dict(each[0])
        first["subject"] = f"共{len(each)}项：" + "、".join(f["subject"] for f in each)
        first["city"] = "、".join(dict.fromkeys(
            c for f in each for c in f["city"].split("、") if c))
        first["time"] = max(f["time"] for f in each)
        if body.get("exercise") and not first["level"].startswith("演练"):
            first["level"] = f"演练·{first['level']}" if first["level"] else "演练"
        return first
    text = body.get("text_zh") or ""
    m = _TEXT.match(text)
    cities = (body.get("subject") or {}).get("cities") or []
    level = body.get("level_zh") or (m["level"] if m and m["level"] else "") or ""
    if body.get("exercise") or (m and m["drill"]):
        level = f"演练·{level}" if level else "演练"
    return {
        "level": level,
        "event": m["event"] if m else (body.get("event") or ""),
        "title": m["title"] if m else (body.get("kind") or ""),
        "city": "、".join(city_names.get(c, c) for c in cities),
        "subject": m["subject"] if m else (body.get("subject") or {}).get("id", ""),
        "text": (m["rest"] if m else text).split("观测时间")[0].strip() or text,
        "time": _cst(body.get("observed_at")),
    }


class ProviderSms(Channel):
    """Base of the provider channels: number and parameter handling, and the group pass."""

    group = True
    provider = ""
    max_numbers = 200
    param_max_chars = 20

    def __init__(self, client: httpx.Client, timeout_s: float, *,
                 city_names: dict[str, str] | None = None, wallclock=time.time) -> None:
        """``wallclock`` is real time (the providers refuse requests whose timestamp is
        more than minutes off theirs), never the platform's possibly simulated clock."""
        self.client, self.timeout = client, timeout_s
        self.city_names = dict(city_names or {})
        self.wallclock = wallclock
        # numbers that already got a row's message when another number of the same request
        # failed (per idempotency key): a retry goes only to the others
        self._done: OrderedDict[str, set[str]] = OrderedDict()
        self._refused: OrderedDict[str, None] = OrderedDict()   # keys refused permanently
        self._lock = threading.Lock()

    # -- what subclasses give
    def call(self, d: Delivery, numbers: list[str], fields: dict[str, str]) -> Receipt:
        """One API request; a Receipt, or DeliveryError / PermanentDeliveryError."""
        raise NotImplementedError

    # -- shared
    def max_chars(self, d: Delivery) -> int:
        return int(d.options.get("param_max_chars") or self.param_max_chars)

    def fields(self, d: Delivery) -> dict[str, str]:
        n = self.max_chars(d)
        return {k: clean(v, n) for k, v in alert_fields(d.body, self.city_names).items()}

    def send(self, d: Delivery) -> Receipt:
        numbers = phone_numbers(d.options.get("to"), self.max_numbers)
        with self._lock:
            done = set(self._done.get(d.key, ()))
        todo = [n for n in numbers if n not in done]
        if not todo:
            return Receipt(200, f"{self.provider}: every number already sent")
        return self.call(d, todo, self.fields(d))

    def remember(self, key: str, numbers) -> None:
        with self._lock:
            self._done.setdefault(key, set()).update(numbers)
            self._done.move_to_end(key)
            while len(self._done) > 10_000:
                self._done.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._done.pop(key, None)
            self._refused.pop(key, None)

    def send_group(self, ds: list[Delivery], budget: int) -> tuple[list[int], Receipt, int]:
        with self._lock:   # rows refused before go last: the budget serves the others first
            ds = sorted(ds, key=lambda d: d.key in self._refused)
        sent: list[int] = []
        last, posts, refused, retry = Receipt(None, ""), 0, [], None
        for d in ds:
            if posts >= budget:
                break
            posts += 1
            try:
                last = self.send(d)
            except PermanentDeliveryError as exc:
                refused.append(exc)
                self._refuse(d.key)
                continue
            except DeliveryError as exc:
                retry = exc                    # throttled or down: stop here
                break
            self.forget(d.key)
            sent.append(d.id)
        if not sent:
            if refused and len(refused) == len(ds):
                for d in ds:
                    self.forget(d.key)
                raise refused[0]               # each row of the group was refused: dead
            if retry is not None:
                raise retry                    # every row waits its backoff
        return sent, last, posts

    def _refuse(self, key: str) -> None:
        with self._lock:
            self._refused[key] = None
            while len(self._refused) > 10_000:
                self._refused.popitem(last=False)
