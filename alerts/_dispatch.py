"""Outbox dispatcher: claim due rows, send, record receipts, retry with backoff, dead-letter.

Stages per claimed batch: group (rows of one group key become one message: the webhook
body of a group lists every alert's own body under ``alerts``, e-mail, SMS and robots get one
text listing every subject; robots get all their messages at once, within their rate budget)
→ send in a thread pool → record each send's outcome at once, in the thread that sent it
(delivered / retry at backoff-with-jitter / dead), so a kill leaves at most the sends in flight
unrecorded, not the whole batch. Rows are
claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (BEGIN IMMEDIATE on SQLite) and
a lease: a dispatcher killed mid-delivery leaves rows that the next one re-sends after the
lease; receivers de-duplicate by idempotency key.
"""
from __future__ import annotations

import collections
import hashlib
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from core.backoff import backoff_delay
from core.wire import iso

from ._db import outbox, receipts
from ._text import group_text
from .channels import Channel, Delivery
from .channels._base import mask_text
from .errors import DeliveryError, PermanentDeliveryError

log = logging.getLogger(__name__)


class Backoff:
    """The one backoff policy (:func:`core.backoff.backoff_delay`); attempt 1 is the first
    retry."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random) -> None:
        self.base, self.max, self.rng = base_s, max_s, rng

    def delay(self, attempt: int) -> timedelta:
        return timedelta(seconds=backoff_delay(attempt - 1, self.base, self.max,
                                               self.rng.random))


class RateLimiter:
    """Sliding one-minute window per target, on the injected clock."""

    def __init__(self, per_minute: int, clock) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._sent: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def budget(self, target: str) -> tuple[int, object]:
        now = self.clock.now()
        with self._lock:
            q = self._sent[target]
            while q and now - q[0] >= timedelta(minutes=1):
                q.popleft()
            free_at = q[0] + timedelta(minutes=1) if q else now
            return self.per_minute - len(q), free_at

    def spend(self, target: str, n: int) -> None:
        now = self.clock.now()
        with self._lock:
            self._sent[target].extend([now] * n)


class Dispatcher:
    def __init__(self, engine, channels: dict[str, Channel], clock, *, secrets, instance: str,
                 max_attempts: int = 8, backoff: Backoff, lease_s: float = 30.0,
                 batch: int = 200, workers: int = 16, poll_interval_s: float = 0.2,
                 rate: RateLimiter, targets=lambda ref: None,
                 on_dead=lambda: None) -> None:
        """``secrets(ref)`` and ``targets(ref)`` give a row's secret and unmasked URL from the
        recipients directory at send time (rows store the URL masked); ``on_dead()`` is called
        after a pass that dead-lettered anything."""
        self.engine, self.channels, self.clock = engine, channels, clock
        self.secrets, self.targets, self.on_dead = secrets, targets, on_dead
        self.instance = instance
        self.max_attempts, self.backoff, self.lease = max_attempts, backoff, timedelta(
            seconds=lease_s)
        self.batch, self.poll, self.rate = batch, poll_interval_s, rate
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="alerts-send")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = self.failed = self.dead = 0
        self._unrecorded: dict[str, tuple] = {}   # idempotency key -> a result to record
        self._lock = threading.Lock()

    # -- lifecycle
    def start(self) -> None:
        self._release_own()
        self._thread = threading.Thread(target=self._loop, name="alerts-dispatch", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(30)
        self.pool.shutdown(wait=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.run_once()
            except Exception:  # noqa: BLE001 - keep dispatching; the row stays in the outbox
                log.exception("dispatcher pass failed")
                n = 0
            if n == 0:
                self._wake.wait(self.poll)
                self._wake.clear()

    def _release_own(self) -> None:
        """Rows this instance claimed before a restart are due again now."""
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(
                outbox.c.status == "sending", outbox.c.claimed_by == self.instance
            ).values(status="pending", claimed_by=None, claimed_until=None))

    # -- one pass
    def run_once(self) -> int:
        with self._lock:
            left, self._unrecorded = list(self._unrecorded.values()), {}
        if left:   # sent before the state database went away: record, not resend
            try:
                self._record(left)
            except Exception:
                self._keep(left)
                raise
        rows = self._claim()
        if not rows:
            return 0
        tasks = []
        units = self._units(rows)
        robots: dict[tuple[str, str], list] = {}
        for u in units:
            if self._group(u[0]):
                robots.setdefault((u[0].channel, self._target(u[0])), []).append(u)
            else:
                tasks.append(self.pool.submit(self._sent_and_recorded, self._send_one, u))
        for (_, target), us in robots.items():
            tasks.append(self.pool.submit(self._sent_and_recorded, self._send_group, target, us))
        died, error = 0, None
        for t in tasks:
            n, exc = t.result()
            died += n
            error = error or exc
        if died:
            try:
                self.on_dead()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("raising the dead-letter alert failed")
        if error is not None:
            raise error
        return len(rows)

    def _sent_and_recorded(self, send, *args) -> tuple[int, Exception | None]:
        """Send, then record the outcome straight away (the window in which a kill leaves a
        delivery unrecorded, to be sent again after the lease, is one send long)."""
        results = send(*args)
        try:
            return self._record(results), None
        except Exception as exc:  # noqa: BLE001 - reported by run_once after the others
            self._keep(results)
            return 0, exc

    def _keep(self, results: list) -> None:
        """The deliveries happened: keep them to record once the database answers, so the rows
        are not sent again when their lease runs out (the same key twice)."""
        with self._lock:
            self._unrecorded.update({r[0].idempotency_key: r for r in results
                                     if len(r) == 3 and r[2] is None})

    def _target(self, row) -> str:
        """The row's URL, unmasked from the directory (the stored one is masked)."""
        return self.targets(row.options.get("secret_ref")) or row.target

    def _group(self, row) -> bool:
        ch = self.channels.get(row.channel)
        return ch is not None and ch.group

    def _claim(self) -> list:
        now = self.clock.now()
        due = sa.or_(sa.and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
                     sa.and_(outbox.c.status == "sending", outbox.c.claimed_until < now))
        with self.engine.begin() as conn:
            q = sa.select(outbox).where(due).order_by(outbox.c.id).limit(self.batch)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = conn.execute(q).all()
            if rows:
                conn.execute(outbox.update().where(outbox.c.id.in_([r.id for r in rows])).values(
                    status="sending", claimed_by=self.instance, claimed_until=now + self.lease))
        return rows

    @staticmethod
    def _units(rows) -> list[list]:
        """The messages of a batch: each row alone, or the rows of one group key together
        (in row order)."""
        out: list[list] = []
        groups: dict[str, list] = {}
        for r in rows:
            if r.group_key is None:
                out.append([r])
            elif r.group_key in groups:
                groups[r.group_key].append(r)
            else:
                groups[r.group_key] = [r]
                out.append(groups[r.group_key])
        return out

    def _delivery(self, unit) -> Delivery:
        row = unit[0]
        now = iso(self.clock.now())
        if len(unit) == 1:
            body = dict(row.body)
            body["sent_at"] = now
            return Delivery(row.id, row.idempotency_key, row.event, self._target(row),
                            row.options, body, self.secrets(row.options.get("secret_ref")))
        key, body = group_body(unit, now)
        events = {r.event for r in unit}
        return Delivery(row.id, key, events.pop() if len(events) == 1 else "group",
                        self._target(row), row.options, body,
                        self.secrets(row.options.get("secret_ref")))

    def _send_one(self, unit) -> list:
        row = unit[0]
        ch = self.channels.get(row.channel)
        try:
            if ch is None:
                raise PermanentDeliveryError(f"channel {row.channel!r} not configured")
            receipt = ch.send(self._delivery(unit))
            return [(r, receipt, None) for r in unit]
        except DeliveryError as exc:
            return [(r, None, exc) for r in unit]
        except Exception as exc:  # noqa: BLE001 - a channel bug must not lose the row
            log.exception("channel %s crashed on outbox row %s", row.channel, row.id)
            return [(r, None, DeliveryError(f"internal error: {exc!r}")) for r in unit]

    def _send_group(self, target: str, units: list) -> list:
        ch = self.channels[units[0][0].channel]
        rows = [r for u in units for r in u]
        budget, free_at = self.rate.budget(target)
        if budget <= 0:
            return [(r, None, "defer", free_at) for r in rows]
        ds = [self._delivery(u) for u in units]
        try:
            sent_ids, receipt, posts = ch.send_group(ds, budget)
        except DeliveryError as exc:
            self.rate.spend(target, 1)
            return [(r, None, exc) for r in rows]
        self.rate.spend(target, posts)
        sent = set(sent_ids)
        _, free_at = self.rate.budget(target)
        return [(r, receipt, None) if u[0].id in sent else (r, None, "defer", free_at)
                for u in units for r in u]

    # -- outcome
    def _record(self, results: list) -> int:
        """Write the outcomes; returns how many rows were dead-lettered."""
        now = self.clock.now()
        died = 0
        with self.engine.begin() as conn:
            for res in results:
                row = res[0]
                mine = sa.and_(outbox.c.id == row.id, outbox.c.claimed_by == self.instance)
                if len(res) == 4:  # rate-limited: wait, not an attempt
                    conn.execute(outbox.update().where(mine).values(
                        status="pending", next_attempt_at=max(res[3], now), claimed_by=None,
                        claimed_until=None))
                    continue
                _, receipt, exc = res
                attempt = row.attempts + 1
                if exc is None:
                    with self._lock:
                        self.delivered += 1
                    vals = dict(status="delivered", delivered_at=now, last_error=None)
                else:
                    dead = isinstance(exc, PermanentDeliveryError) or attempt >= self.max_attempts
                    with self._lock:
                        self.failed += 1
                        self.dead += dead
                    died += dead
                    vals = dict(status="dead" if dead else "pending",
                                last_error=mask_text(str(exc))[:1000],
                                next_attempt_at=now + self.backoff.delay(attempt))
                    log.log(logging.WARNING if dead else logging.INFO,
                            "delivery %s to %s %s (attempt %d): %s", row.idempotency_key,
                            row.channel, "dead-lettered" if dead else "failed", attempt,
                            mask_text(str(exc)))
                conn.execute(outbox.update().where(mine).values(
                    attempts=attempt, claimed_by=None, claimed_until=None, **vals))
                conn.execute(receipts.insert().values(
                    outbox_id=row.id, attempt=attempt, at=now, ok=exc is None,
                    status_code=receipt.status_code if receipt else getattr(exc, "status", None),
                    detail=mask_text(receipt.detail if receipt else str(exc))[:1000],
                    instance=self.instance))
        return died




def group_body(rows: list, sent_at: str) -> tuple[str, dict]:
    """(idempotency key, body) of one message for the rows of a group: every alert's own
    body (with its own idempotency key) under ``alerts``, one text listing them all. The key
    is the same for the same rows (a retry); it never equals a single notification's."""
    keys = sorted(r.idempotency_key for r in rows)
    key = "group-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
    members = [dict(r.body, sent_at=sent_at) for r in rows]
    heads = [(r.options["group"]["head_zh"], r.options["group"]["head_en"]) for r in rows]
    lines = [(r.options["group"]["line_zh"], r.options["group"]["line_en"]) for r in rows]
    zh, en = group_text(heads, lines)
    first = members[0]
    levels = {m["level"] for m in members}
    kinds = {m["kind"] for m in members}
    body = {"schema": "fenwei.alert.group.v1", "idempotency_key": key,
            "group_key": rows[0].group_key, "count": len(members),
            "events": sorted({m["event"] for m in members}),
            "alert_id": ",".join(dict.fromkeys(m["alert_id"] for m in members)),
            "kind": kinds.pop() if len(kinds) == 1 else None,
            "level": levels.pop() if len(levels) == 1 else None,
            "level_zh": first.get("level_zh") if len({m["level"] for m in members}) == 1
            else None,
            "recipient": first["recipient"], "sent_at": sent_at,
            "exercise": any(m["exercise"] for m in members),
            "text_zh": zh, "text_en": en, "cap": "", "alerts": members}
    if "copy_to" in first:
        body["copy_to"] = first["copy_to"]
    return key, body
