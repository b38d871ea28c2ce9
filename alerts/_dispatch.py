"""Outbox dispatcher: claim due rows, send, record receipts, retry with backoff, dead-letter.

Stages per claimed batch: group (robots get all their rows at once, within their rate budget)
→ send in a thread pool → record (delivered / retry at backoff-with-jitter / dead). Rows are
claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (BEGIN IMMEDIATE on SQLite) and
a lease: a dispatcher killed mid-delivery leaves rows that the next one re-sends after the
lease; receivers de-duplicate by idempotency key.
"""
from __future__ import annotations

import collections
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from core.wire import iso

from ._db import outbox, receipts
from .channels import Channel, Delivery
from .errors import DeliveryError, PermanentDeliveryError

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with jitter: base·2^(n−1), capped, times a factor in [0.5, 1]."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random) -> None:
        self.base, self.max, self.rng = base_s, max_s, rng

    def delay(self, attempt: int) -> timedelta:
        raw = min(self.max, self.base * 2 ** max(0, attempt - 1))
        return timedelta(seconds=raw * (0.5 + self.rng.random() / 2))


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
                 rate: RateLimiter) -> None:
        self.engine, self.channels, self.clock = engine, channels, clock
        self.secrets, self.instance = secrets, instance
        self.max_attempts, self.backoff, self.lease = max_attempts, backoff, timedelta(
            seconds=lease_s)
        self.batch, self.poll, self.rate = batch, poll_interval_s, rate
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="alerts-send")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = self.failed = self.dead = 0

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
        rows = self._claim()
        if not rows:
            return 0
        tasks = []
        plain = [r for r in rows if not self._group(r)]
        groups: dict[tuple[str, str], list] = {}
        for r in rows:
            if self._group(r):
                groups.setdefault((r.channel, r.target), []).append(r)
        for r in plain:
            tasks.append(self.pool.submit(self._send_one, r))
        for (_, target), rs in groups.items():
            tasks.append(self.pool.submit(self._send_group, target, rs))
        results = []
        for t in tasks:
            results += t.result()
        self._record(results)
        return len(rows)

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

    def _delivery(self, row) -> Delivery:
        body = dict(row.body)
        body["sent_at"] = iso(self.clock.now())
        return Delivery(row.id, row.idempotency_key, row.event, row.target, row.options, body,
                        self.secrets(row.options.get("secret_ref")))

    def _send_one(self, row) -> list:
        ch = self.channels.get(row.channel)
        try:
            if ch is None:
                raise PermanentDeliveryError(f"channel {row.channel!r} not configured")
            return [(row, ch.send(self._delivery(row)), None)]
        except DeliveryError as exc:
            return [(row, None, exc)]
        except Exception as exc:  # noqa: BLE001 - a channel bug must not lose the row
            log.exception("channel %s crashed on outbox row %s", row.channel, row.id)
            return [(row, None, DeliveryError(f"internal error: {exc!r}"))]

    def _send_group(self, target: str, rows: list) -> list:
        ch = self.channels[rows[0].channel]
        budget, free_at = self.rate.budget(target)
        if budget <= 0:
            return [(r, None, "defer", free_at) for r in rows]
        ds = [self._delivery(r) for r in rows]
        try:
            sent_ids, receipt, posts = ch.send_group(ds, budget)
        except DeliveryError as exc:
            self.rate.spend(target, 1)
            return [(r, None, exc) for r in rows]
        self.rate.spend(target, posts)
        sent = set(sent_ids)
        _, free_at = self.rate.budget(target)
        return [(r, receipt, None) if r.id in sent else (r, None, "defer", free_at)
                for r in rows]

    # -- outcome
    def _record(self, results: list) -> None:
        now = self.clock.now()
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
                    self.delivered += 1
                    vals = dict(status="delivered", delivered_at=now, last_error=None)
                else:
                    dead = isinstance(exc, PermanentDeliveryError) or attempt >= self.max_attempts
                    self.failed += 1
                    self.dead += dead
                    vals = dict(status="dead" if dead else "pending", last_error=str(exc)[:1000],
                                next_attempt_at=now + self.backoff.delay(attempt))
                    log.log(logging.WARNING if dead else logging.INFO,
                            "delivery %s to %s %s (attempt %d): %s", row.idempotency_key,
                            row.channel, "dead-lettered" if dead else "failed", attempt, exc)
                conn.execute(outbox.update().where(mine).values(
                    attempts=attempt, claimed_by=None, claimed_until=None, **vals))
                conn.execute(receipts.insert().values(
                    outbox_id=row.id, attempt=attempt, at=now, ok=exc is None,
                    status_code=receipt.status_code if receipt else getattr(exc, "status", None),
                    detail=(receipt.detail if receipt else str(exc))[:1000],
                    instance=self.instance))


