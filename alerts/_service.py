"""AlertService: the alert platform wired together, usable in-process or as ``fenwei alerts run``.

Start sink-first (state, dispatcher, scheduler, then the readings subscription); stop
source-first so nothing in flight is lost.
"""
from __future__ import annotations

from core.wire import READINGS_FILTER

import logging
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import httpx
import sqlalchemy as sa

from core.catalogue import load_catalogue

from ._ack import AckSigner
from ._clock import SystemClock
from ._config import AlertSettings, RuleSet, load_rules, parse_rules
from ._db import alerts, audit, make_engine, migrate, outbox, receipts, rule_state
from ._directory import Directory, Recipient, load_directory
from ._dispatch import Backoff, Dispatcher, RateLimiter
from ._ingest import ReadingSubscriber
from ._lifecycle import Lifecycle
from ._notify import Notifier
from .channels import (Broadcaster, DingTalkRobot, EmailChannel, MqttChannel, SmsGateway,
                       SseChannel, WebhookChannel, WeComRobot)
from .errors import NotFound
from .rules._base import RuleContext, duration

log = logging.getLogger(__name__)
CATCHALL_ID = "catchall-webhook"


class AlertService:
    """The alert platform. ``start()`` opens everything, ``stop()`` drains and closes.

    Tests and simulations inject ``clock`` (``.now() -> aware datetime``) and ``rng``; set
    ``settings.mqtt_enabled=False`` to feed readings with :meth:`ingest` instead of MQTT.
    """

    def __init__(self, settings: AlertSettings | None = None, *, catalogue=None,
                 rules: RuleSet | dict | str | Path | None = None,
                 recipients: Directory | str | Path | None = None, clock=None,
                 rng: random.Random | None = None, extra_webhook: str | None = None,
                 extra_webhook_secret: str | None = None, store=None,
                 broadcaster: Broadcaster | None = None, forecasts=None) -> None:
        self.settings = (settings or AlertSettings()).resolved()
        self.cat = catalogue or load_catalogue()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.store = store
        if forecasts is None:
            from .warnings import default_forecasts as forecasts
        self.forecasts = forecasts    # (store, city, now) -> CityForecast-like
        s = self.settings
        if isinstance(rules, RuleSet):
            self.rules = rules
        elif isinstance(rules, dict):
            self.rules = parse_rules(rules, self.cat)
        else:
            self.rules = load_rules(rules or s.rules_file, self.cat)
        self.directory = recipients if isinstance(recipients, Directory) else \
            load_directory(recipients or s.recipients_file, self.cat)
        if extra_webhook:
            self.directory.add(Recipient(
                id=CATCHALL_ID, role="catchall", exercise=s.catchall_exercise,
                name_zh="演练接收端（全部通知副本）", name_en="Catch-all exercise recipient",
                channels=[{"type": "webhook", "url": extra_webhook,
                           "secret": extra_webhook_secret}]))
        self.broadcaster = broadcaster or Broadcaster()
        self.engine = make_engine(s.state_url)
        self.signer = AckSigner(s.ack_secret)
        self.notifier = Notifier(self.cat, self.directory, self.signer, self.clock,
                                 cap_sender=s.cap_sender, ack_base_url=s.ack_base_url)
        self.notifier.enabled = {"webhook", "email", "sse", "wecom", "dingtalk", "sms"} | (
            {"mqtt"} if s.mqtt_enabled else set())
        self.dispatcher: Dispatcher | None = None
        self.lifecycle = Lifecycle(self.engine, self.rules, self.directory, self.notifier,
                                   self.clock, duration(s.retrospective_after),
                                   exercise=s.exercise, on_commit=self._wake)
        self._http: httpx.Client | None = None
        self._channels: dict = {}
        self._scheduler = None
        self.subscriber: ReadingSubscriber | None = None
        self._migrated = False

    def __repr__(self) -> str:
        return f"AlertService({self.settings!r})"

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> None:
        if not self._migrated:
            migrate(self.engine)
            self._migrated = True

    def start(self, *, dispatch: bool = True, schedule: bool = True,
              subscribe: bool | None = None) -> "AlertService":
        s = self.settings
        self.migrate()
        self._build_channels()
        self.dispatcher = Dispatcher(
            self.engine, self._channels, self.clock, secrets=self._secret, instance=s.instance,
            max_attempts=s.max_attempts, backoff=Backoff(s.backoff_base_s, s.backoff_max_s,
                                                          self.rng),
            lease_s=s.lease_s, batch=s.dispatch_batch, workers=s.dispatch_workers,
            poll_interval_s=s.poll_interval_s, rate=RateLimiter(s.robot_rate_per_min,
                                                                self.clock))
        if dispatch:
            self.dispatcher.start()
        if schedule:
            self._start_scheduler()
        if subscribe if subscribe is not None else s.mqtt_enabled:
            topic = f"$share/{s.share_group}/{READINGS_FILTER}" if s.share_group \
                else READINGS_FILTER
            self.subscriber = ReadingSubscriber(s.mqtt_url, self.cat, self.ingest, self.clock,
                                                topic=topic)
            self.subscriber.start()
        log.info("alert service started: %d rules, %d recipients", len(self.rules.rules),
                 len(self.directory.by_id))
        return self

    def stop(self) -> None:
        if self.subscriber is not None:
            self.subscriber.stop()
            self.subscriber = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for ch in self._channels.values():
            ch.close()
        if self._http is not None:
            self._http.close()
        self.engine.dispose()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _build_channels(self) -> None:
        s = self.settings
        self._http = httpx.Client(limits=httpx.Limits(max_connections=64,
                                                      max_keepalive_connections=64))
        t = s.http_timeout_s
        self._channels = {
            "webhook": WebhookChannel(self._http, t),
            "email": EmailChannel(s.smtp_url, s.smtp_from, t),
            "sse": SseChannel(self.broadcaster),
            "wecom": WeComRobot(self._http, t, self.clock),
            "dingtalk": DingTalkRobot(self._http, t, self.clock),
            "sms": SmsGateway(self._http, t),
        }
        if s.mqtt_enabled:
            self._channels["mqtt"] = MqttChannel(s.mqtt_url, self.snapshot, instance=s.instance)

    def _start_scheduler(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        # rule passes are CPU-bound store reads: run in turn on their own worker(s), they do
        # not fight each other (and the ticks, readings and deliveries) for the interpreter
        sch = BackgroundScheduler(timezone="UTC", executors={
            "default": ThreadPoolExecutor(4),
            "rules": ThreadPoolExecutor(max(1, self.settings.rule_workers))})
        sch.add_job(self._safe(self.tick), "interval", seconds=self.settings.tick_interval_s,
                    id="tick", max_instances=1, coalesce=True)
        for rule in self.rules.periodic:
            sch.add_job(self._safe(lambda r=rule: self.run_periodic(r.id)), "interval",
                        seconds=max(self.settings.schedule_min_interval_s,
                                    rule.every.total_seconds() /
                                    max(self.settings.schedule_speed, 1e-9)),
                        id=f"rule:{rule.id}", executor="rules",
                        max_instances=1, coalesce=True, misfire_grace_time=None)
        sch.start()
        self._scheduler = sch

    def run_soon(self, rule_id: str) -> None:
        """Run one periodic rule as soon as the rule worker is free (in turn with the
        scheduled passes); at once, in the caller's thread, when nothing is scheduled."""
        if self._scheduler is None:
            self.run_periodic(rule_id)
            return
        self._scheduler.add_job(self._safe(lambda: self.run_periodic(rule_id)),
                                id=f"soon:{rule_id}", executor="rules", replace_existing=True,
                                misfire_grace_time=None)

    @staticmethod
    def _safe(fn):
        def run():
            try:
                fn()
            except Exception:  # noqa: BLE001 - the next run tries again
                log.exception("scheduled job %s failed", getattr(fn, "__name__", fn))
        return run

    def _wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def _secret(self, ref) -> str | None:
        if not ref:
            return None
        rcpt = self.directory.by_id.get(ref[0])
        if rcpt is None or ref[1] >= len(rcpt.channels):
            return None
        return rcpt.channels[ref[1]].resolve_secret()

    # ------------------------------------------------------------------ inputs
    def ingest(self, readings: Sequence) -> int:
        """Evaluate readings (wire-format ``Reading`` objects) with every streaming rule."""
        return self.lifecycle.process(readings)

    def tick(self) -> None:
        """Time passes: quiet subjects, re-notification, escalation, ended silences."""
        self.lifecycle.tick()

    def run_periodic(self, rule_id: str | None = None) -> int:
        """Run periodic rules (all, or one) over the store now."""
        if self.store is None:
            from core.settings import load_settings
            from core.store import open_store
            self.store = open_store(load_settings().store_url, self.cat)
        n = 0
        now = self.clock.now()
        cache: dict = {}   # forecasts are read once per run, shared by the rules
        for rule in self.rules.periodic:
            if rule_id is None or rule.id == rule_id:
                ctx = RuleContext(self.store, now, lambda: self.alerts(open_only=True),
                                  self.forecasts,
                                  self.rules.rules, cache)
                for subject, sig in rule.evaluate_context(ctx):
                    n += self.lifecycle.apply_signal(rule.id, subject, sig)
        return n

    def signal(self, rule_id: str, subject: str, signal) -> int:
        """Apply an externally produced signal (e.g. a regional prompt)."""
        return self.lifecycle.apply_signal(rule_id, subject, signal)

    def regional_prompt(self, level: str, cities: Sequence[str], issued_by: str,
                        note: str = "", valid_until: datetime | None = None, *,
                        valid_hours: float | None = None, rule_id: str | None = None) -> dict:
        """An externally issued regional prompt (区域应急联动提示): an ``air.regional`` alert
        that sets ``level`` as the minimum warning level of ``cities`` until ``valid_until``
        (or ``valid_hours`` from now; default the rule's ``prompt_hours``). Goes through the
        first ``air_regional`` rule (or ``rule_id``); returns the alert row."""
        from .rules.regional import RegionalRule
        rule = next((r for r in self.rules.rules.values() if isinstance(r, RegionalRule) and
                     rule_id in (None, r.id)), None)
        if rule is None:
            raise NotFound(f"no air_regional rule {rule_id or ''} in the rule set".strip())
        now = self.clock.now()
        if valid_until is None and valid_hours is not None:
            valid_until = now + timedelta(hours=valid_hours)
        subject, sig = rule.prompt_signal(level, cities, issued_by, note, valid_until, now)
        self.lifecycle.apply_signal(rule.id, subject, sig)
        return next(a for a in self.alerts(open_only=True, rule_id=rule.id)
                    if a["subject"] == subject)

    def dispatch_once(self) -> int:
        """One dispatcher pass (for tests and tools); returns the rows handled."""
        if self.dispatcher is None:
            raise RuntimeError("start() the service first")
        return self.dispatcher.run_once()

    # ------------------------------------------------------------------ people
    def acknowledge(self, alert_id: str, responder: str, note: str = "", *,
                    via: str = "api") -> dict:
        return self.lifecycle.acknowledge(alert_id, responder, note, via)

    def acknowledge_token(self, token: str, responder: str, note: str = "") -> dict:
        """Acknowledge through a signed link's token (BadToken when forged or expired)."""
        alert_id, recipient_id = self.signer.verify(token, self.clock.now())
        return self.lifecycle.acknowledge(alert_id, responder, note, f"link:{recipient_id}")

    def cancel(self, alert_id: str, actor: str, reason: str) -> dict:
        return self.lifecycle.cancel(alert_id, actor, reason)

    def silence(self, *, rule_id: str | None = None, subject: str | None = None,
                starts: datetime | None = None, ends: datetime | None = None,
                duration_: timedelta | None = None, by: str, reason: str) -> str:
        starts = starts or self.clock.now()
        ends = ends or starts + (duration_ or timedelta(hours=2))
        return self.lifecycle.add_silence(rule_id=rule_id, subject=subject, starts=starts,
                                          ends=ends, by=by, reason=reason)

    # ------------------------------------------------------------------ reads
    def _rows(self, q) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def alerts(self, *, open_only: bool = False, rule_id: str | None = None) -> list[dict]:
        q = sa.select(alerts).order_by(alerts.c.opened_at)
        if open_only:
            q = q.where(alerts.c.open)
        if rule_id:
            q = q.where(alerts.c.rule_id == rule_id)
        return self._rows(q)

    def alert(self, alert_id: str) -> dict:
        rows = self._rows(sa.select(alerts).where(alerts.c.id == alert_id))
        if not rows:
            raise NotFound(f"no alert {alert_id!r}")
        return rows[0]

    def audit(self, alert_id: str | None = None) -> list[dict]:
        q = sa.select(audit).order_by(audit.c.id)
        if alert_id:
            q = q.where(audit.c.alert_id == alert_id)
        return self._rows(q)

    def outbox(self, status: str | None = None, alert_id: str | None = None) -> list[dict]:
        q = sa.select(outbox).order_by(outbox.c.id)
        if status:
            q = q.where(outbox.c.status == status)
        if alert_id:
            q = q.where(outbox.c.alert_id == alert_id)
        return self._rows(q)

    def dead_letters(self) -> list[dict]:
        return self.outbox("dead")

    def receipts(self, outbox_id: int | None = None) -> list[dict]:
        q = sa.select(receipts).order_by(receipts.c.id)
        if outbox_id is not None:
            q = q.where(receipts.c.outbox_id == outbox_id)
        return self._rows(q)

    def subject_status(self, rule_id: str, subject: str) -> dict[str, Any] | None:
        rows = self._rows(sa.select(rule_state.c.status, rule_state.c.level,
                                    rule_state.c.observed_at, rule_state.c.retrospective).where(
            rule_state.c.rule_id == rule_id, rule_state.c.subject == subject))
        return rows[0] if rows else None

    def snapshot(self, city: str) -> dict:
        """The city's current alert state (the retained MQTT message)."""
        rows = [a for a in self.alerts(open_only=True) if city in a["cities"] and not
                a["exercise"]]
        return {"city": city, "updated_at": self.clock.now().isoformat(),
                "alerts": [{"alert_id": a["id"], "kind": a["kind"], "rule": a["rule_id"],
                            "subject": a["subject"], "level": a["level"], "state": a["state"],
                            "observed_at": a["observed_at"].isoformat(),
                            "acknowledged_by": a["ack_by"]}
                           for a in rows if a["state"] != "pending"]}
