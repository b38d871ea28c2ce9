"""AlertService: the alert platform wired together, usable in-process or as ``fenwei alerts run``.

Start sink-first (state, dispatcher, scheduler, then the readings subscription); stop
source-first so nothing in flight is lost.
"""
from __future__ import annotations

from core.mqtt import TlsFiles
from core.wire import READINGS_FILTER

import logging
import random
from datetime import datetime
from pathlib import Path
from typing import Sequence

import httpx
import sqlalchemy as sa

from ._config import AlertSettings, RuleSet
from ._directory import Directory
from ._dispatch import Backoff, Dispatcher, RateLimiter
from ._ingest import ReadingSubscriber
from ._metrics import AlertMetrics
from ._reports import Bulletin, Reporter
from ._state import AlertState
from .channels import (AliyunSms, Broadcaster, DingTalkRobot, EmailChannel, MqttChannel,
                       SmsGateway, SseChannel, TencentSms, WebhookChannel, WeComRobot)
from .rules._base import RuleContext, duration

log = logging.getLogger(__name__)


class AlertService(AlertState):
    """The alert platform: :class:`AlertState` plus the dispatcher, the scheduler (ticks and
    periodic rules) and the readings subscription. ``start()`` opens everything, ``stop()``
    drains and closes.

    Tests and simulations inject ``clock`` (``.now() -> aware datetime``) and ``rng``; set
    ``settings.mqtt_enabled=False`` to feed readings with :meth:`ingest` instead of MQTT.
    """

    def __init__(self, settings: AlertSettings | None = None, *, catalogue=None,
                 rules: RuleSet | dict | str | Path | None = None,
                 recipients: Directory | str | Path | None = None, clock=None,
                 rng: random.Random | None = None, extra_webhook: str | None = None,
                 extra_webhook_secret: str | None = None, store=None,
                 broadcaster: Broadcaster | None = None, forecasts=None,
                 targets=None) -> None:
        super().__init__(settings, catalogue=catalogue, rules=rules, recipients=recipients,
                         clock=clock, extra_webhook=extra_webhook,
                         extra_webhook_secret=extra_webhook_secret)
        self.rng = rng or random.Random()
        self.store = store
        if forecasts is None:
            from .warnings import default_forecasts as forecasts
        self.forecasts = forecasts    # (store, city, now) -> CityForecast-like
        self.broadcaster = broadcaster or Broadcaster()
        self.dispatcher: Dispatcher | None = None
        self._http: httpx.Client | None = None
        self._channels: dict = {}
        self._scheduler = None
        self.subscriber: ReadingSubscriber | None = None
        self.metrics = AlertMetrics()
        self.metrics.count_dead_from(self._dead_or_nan)
        self.targets = targets        # eco-flow targets (TargetStore/Table); default: state db
        self.reporter = Reporter(self)
        self._mailer = None

    def __repr__(self) -> str:
        return f"AlertService({self.settings!r})"

    # ------------------------------------------------------------------ lifecycle
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
                                                                self.clock),
            targets=self._target, on_dead=self.check_dead_letters)
        if dispatch:
            self.dispatcher.start()
        if schedule:
            self._start_scheduler()
        if subscribe if subscribe is not None else s.mqtt_enabled:
            topic = f"$share/{s.share_group}/{READINGS_FILTER}" if s.share_group \
                else READINGS_FILTER
            self.subscriber = ReadingSubscriber(
                s.mqtt_url, self.cat, self.ingest, self.clock, topic=topic,
                tls=TlsFiles.from_settings(s), client_id=s.client_id,
                retry_initial_s=s.intake_retry_initial_s, retry_max_s=s.intake_retry_max_s,
                rand=self.rng.random, metrics=self.metrics)
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
            "email": EmailChannel(s.smtp_url, s.smtp_from, t, ca_file=s.smtp_ca_file),
            "sse": SseChannel(self.broadcaster),
            "wecom": WeComRobot(self._http, t, self.clock),
            "dingtalk": DingTalkRobot(self._http, t, self.clock),
            "sms": SmsGateway(self._http, t),
        }
        city_names = {slug: c.name_zh for slug, c in self.cat.cities.items()}
        self._channels["aliyun_sms"] = AliyunSms(self._http, t, city_names=city_names)
        self._channels["tencent_sms"] = TencentSms(self._http, t, city_names=city_names)
        if s.mqtt_enabled:
            self._channels["mqtt"] = MqttChannel(s.mqtt_url, self.snapshot, instance=s.instance,
                                                 tls=TlsFiles.from_settings(s))

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
        if self.settings.reports_enabled:
            # bulletins are due at CST times of the service's clock: check at a period of
            # clock time fitted to its speed, as the periodic rules are
            sch.add_job(self._safe(self.reporter.check), "interval",
                        seconds=max(self.settings.schedule_min_interval_s,
                                    duration(self.settings.report_check_every).total_seconds()
                                    / max(self.settings.schedule_speed, 1e-9)),
                        id="reports", max_instances=1, coalesce=True, misfire_grace_time=None)
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

    def _channel_spec(self, ref):
        if not ref:
            return None
        rcpt = self.directory.by_id.get(ref[0])
        if rcpt is None or ref[1] >= len(rcpt.channels):
            return None
        return rcpt.channels[ref[1]]

    def _secret(self, ref) -> str | None:
        spec = self._channel_spec(ref)
        return spec.resolve_secret() if spec is not None else None

    def _target(self, ref) -> str | None:
        """The channel's unmasked target (outbox rows keep it masked)."""
        spec = self._channel_spec(ref)
        return spec.target() if spec is not None else None

    # ------------------------------------------------------------------ inputs
    def ingest(self, readings: Sequence) -> int:
        """Evaluate readings (wire-format ``Reading`` objects) with every streaming rule."""
        return self.lifecycle.process(readings)

    def tick(self) -> None:
        """Time passes: quiet subjects, re-notification, escalation, ended silences, and the
        operators' alert on dead-lettered notifications."""
        self.lifecycle.tick()
        self.check_dead_letters()

    def stats(self) -> dict:
        """Counters of this process for ``/health``: the readings intake (``stalled`` while
        a batch cannot be evaluated), deliveries and dead-lettered notifications."""
        out: dict = {"intake": self.subscriber.stats() if self.subscriber else None,
                     "intake_stalled": bool(self.subscriber and self.subscriber.stalled)}
        d = self.dispatcher
        if d is not None:
            out.update(delivered=d.delivered, delivery_failures=d.failed,
                       dead_lettered=d.dead)
        dead = self._dead_or_nan()
        out["dead_notifications"] = None if dead != dead else int(dead)
        return out

    def _dead_or_nan(self) -> float:
        """The dead count, NaN while the state database does not answer (a probe or scrape
        must not fail with it)."""
        try:
            return float(self.dead_count())
        except sa.exc.SQLAlchemyError:
            return float("nan")

    def _open_store(self):
        if self.store is None:
            from core.settings import load_settings
            from core.store import open_store
            self.store = open_store(load_settings().store_url, self.cat)
        return self.store

    def run_periodic(self, rule_id: str | None = None) -> int:
        """Run periodic rules (all, or one) over the store now."""
        self._open_store()
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

    def dispatch_once(self) -> int:
        """One dispatcher pass (for tests and tools); returns the rows handled."""
        if self.dispatcher is None:
            raise RuntimeError("start() the service first")
        return self.dispatcher.run_once()

    # ------------------------------------------------------------------ bulletins
    def run_reports(self) -> int:
        """One check of the bulletins now (what the scheduler does); returns deliveries."""
        return self.reporter.check()

    def bulletin(self, kind: str, period: str, *, store=None, targets=None, forecasts=None,
                 cities: list[str] | None = None, now: datetime | None = None) -> Bulletin:
        """A bulletin (see :meth:`AlertState.bulletin`) from the store, targets and forecasts
        given (the API passes its own), else this service's."""
        return super().bulletin(
            kind, period, store=store if store is not None else self._open_store(),
            targets=targets if targets is not None else (
                self._targets if kind != "daily" else None),
            forecasts=forecasts if forecasts is not None else self.forecasts,
            cities=cities, now=now)

    def _targets(self):
        if self.targets is None:
            from core.ecoflow import TargetStore
            self.targets = TargetStore(self.settings.state_url, self.cat)
        return self.targets

    def report_cities(self, r) -> tuple[str, ...]:
        """The cities of a recipient's daily bulletin: its city, else its province's, else
        every city of the catalogue."""
        if r.city:
            return (r.city,)
        if r.province:
            return tuple(c for c, x in self.cat.cities.items() if x.province == r.province)
        return tuple(self.cat.cities)

    def report_mailer(self):
        """The SMTP sender of bulletins (the e-mail channel's server, TLS and credentials)."""
        if self._mailer is None:
            s = self.settings

            class Mailer(EmailChannel):
                def message(self, d):
                    return d.body["message"]
            self._mailer = Mailer(s.smtp_url, s.smtp_from, s.http_timeout_s,
                                  ca_file=s.smtp_ca_file)
        return self._mailer

    def report_channel(self, kind: str):
        if not self._channels:
            self._build_channels()
        return self._channels[kind]
