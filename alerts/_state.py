"""AlertState: the alert platform's state in the state database, and what people do to it.

Reads (alerts, audit, outbox, receipts, events), acknowledgements, notes, cancellations,
silences and regional prompts, with no dispatcher, scheduler or subscription: any number of
processes (the API's, the alert service's) may hold one on the same state URL. Every write is
a lifecycle transaction whose outbox rows the alert service's dispatcher picks up by polling
the outbox (``on_commit`` only wakes a dispatcher in the same process).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa

from core.catalogue import load_catalogue
from core.settings import mask_url
from core.timeutil import CST
from core.wire import iso

from ._ack import AckSigner
from ._clock import SystemClock
from ._config import AlertSettings, RuleSet, load_rules, parse_rules
from ._db import (alerts, audit, make_engine, migrate, outbox, receipts, rule_state,
                  schema_current, silences)
from ._directory import Directory, Recipient, load_directory
from ._lifecycle import Lifecycle
from ._notify import Notifier
from ._reports import (Bulletin, daily_bulletin, ecoflow_bulletin, read_aqi_daily,
                       tomorrow_forecast)
from .errors import ConfigError, NotFound
from .rules._base import duration
from .rules.dead_letters import DeadLetterRule, builtin_rule

log = logging.getLogger(__name__)
CATCHALL_ID = "catchall-webhook"
EVENT_CHANNEL = "sse"   # the outbox rows of the broadcast event stream


class AlertState:
    """Alert state on ``settings.state_url``. ``clock`` is injected (``.now()``); rules and
    recipients must be the alert service's own, so that a write made here (e.g. an
    acknowledgement) notifies the same people with the same texts."""

    def __init__(self, settings: AlertSettings | None = None, *, catalogue=None,
                 rules: RuleSet | dict | str | Path | None = None,
                 recipients: Directory | str | Path | None = None, clock=None,
                 extra_webhook: str | None = None,
                 extra_webhook_secret: str | None = None) -> None:
        self.settings = (settings or AlertSettings()).resolved()
        self.cat = catalogue or load_catalogue()
        self.clock = clock or SystemClock()
        s = self.settings
        if isinstance(rules, RuleSet):
            self.rules = rules
        elif isinstance(rules, dict):
            self.rules = parse_rules(rules, self.cat)
        else:
            self.rules = load_rules(rules or s.rules_file, self.cat)
        if not any(isinstance(r, DeadLetterRule) for r in self.rules.rules.values()):
            dead = builtin_rule(self.cat)     # operators hear of dead-lettered notifications
            self.rules.rules.setdefault(dead.id, dead)
        self.directory = recipients if isinstance(recipients, Directory) else \
            load_directory(recipients or s.recipients_file, self.cat)
        if extra_webhook:
            self.directory.add(Recipient(
                id=CATCHALL_ID, role="catchall", exercise=s.catchall_exercise,
                name_zh="演练接收端（全部通知副本）", name_en="Catch-all exercise recipient",
                channels=[{"type": "webhook", "url": extra_webhook,
                           "secret": extra_webhook_secret}]))
        self.engine = make_engine(s.state_url)
        self.signer = AckSigner(s.ack_secret)
        self.directory.broadcast_exercises = s.broadcast_exercises
        self.directory.clock = self.clock      # who is on duty follows the injected clock
        self.notifier = Notifier(self.cat, self.directory, self.signer, self.clock,
                                 cap_sender=s.cap_sender, ack_base_url=s.ack_base_url)
        self.notifier.link_base_url = s.link_base_url
        self.notifier.enabled = {"webhook", "email", "sse", "wecom", "dingtalk", "sms",
                                 "aliyun_sms", "tencent_sms"} | (
            {"mqtt"} if s.mqtt_enabled else set())
        self.notifier.inhibit = list(s.inhibit)
        self.notifier.group_by = tuple(s.group_by)
        self.notifier.group_wait = duration(s.group_wait)
        self.notifier.group_interval = duration(s.group_interval)
        self.notifier.group_channels = frozenset(s.group_channels)
        self.notifier.group_catchall = s.group_catchall
        self.lifecycle = Lifecycle(self.engine, self.rules, self.directory, self.notifier,
                                   self.clock, duration(s.retrospective_after),
                                   exercise=s.exercise, on_commit=self._wake)
        self._migrated = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"

    def migrate(self, *, upgrade: bool = True) -> None:
        """Upgrade the state schema to the newest migration (safe from several processes);
        with ``upgrade=False`` only check it, raising ConfigError when it is older."""
        if self._migrated:
            return
        if upgrade:
            migrate(self.engine)
        elif not schema_current(self.engine):
            raise ConfigError(f"the alert state database {mask_url(self.settings.state_url)} "
                              "is not migrated to this version: start the alert service (or "
                              "this process with migrations allowed) to upgrade it")
        self._migrated = True

    def close(self) -> None:
        self.engine.dispose()

    def _wake(self) -> None:
        """Called after each committed transaction; the alert service wakes its dispatcher."""

    # ------------------------------------------------------------------ signals
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

    # ------------------------------------------------------------------ people
    def acknowledge(self, alert_id: str, responder: str, note: str = "", *,
                    via: str = "api", cities=None) -> dict:
        """Acknowledge for ``cities`` (None: for every city the alert covers)."""
        return self.lifecycle.acknowledge(alert_id, responder, note, via, cities=cities)

    def acknowledge_token(self, token: str, responder: str, note: str = "") -> dict:
        """Acknowledge through a signed link's token, once, for the cities its recipient
        stands for (BadToken when forged, expired, used, or sent for another level;
        NotFound, InvalidTransition as :meth:`acknowledge`)."""
        alert_id, recipient_id = self.signer.verify(token, self.clock.now())
        return self.lifecycle.acknowledge(alert_id, responder, note, f"link:{recipient_id}",
                                          cities=self.link_cities(alert_id, recipient_id),
                                          token=token)

    def check_token(self, token: str) -> tuple[dict, str]:
        """(alert, recipient id) of a link token whose signature is good, spending nothing:
        what the confirmation page shows (BadToken, NotFound)."""
        alert_id, recipient_id = self.signer.verify(token, self.clock.now())
        return self.alert(alert_id), recipient_id

    def link_cities(self, alert_id: str, recipient_id: str) -> set[str] | None:
        """The cities a link's recipient acknowledges for: a city team its city, a bureau
        its province's; None (all) for the coordinator and operators."""
        r = self.directory.by_id.get(recipient_id)
        if r is None:
            return set()   # no longer in the directory: acknowledges for nobody
        if r.role == "on_call":   # a person on duty stands for the teams it is on duty for
            out: set[str] = set()
            for team in self.directory.duty.teams_of(recipient_id):
                t = self.directory.by_id[team]
                if t.role not in ("city_team", "province_env", "water_bureau"):
                    return None
                out |= self.link_cities(alert_id, team) or set()
            return out
        if r.role not in ("city_team", "province_env", "water_bureau"):
            return None
        if r.city:
            return {r.city}
        cities = self.alert(alert_id)["cities"] or []
        return {c for c in cities if c in self.cat.cities and
                self.cat.cities[c].province == r.province}

    def add_note(self, alert_id: str, actor: str, note: str) -> dict:
        return self.lifecycle.add_note(alert_id, actor, note)

    def cancel(self, alert_id: str, actor: str, reason: str) -> dict:
        return self.lifecycle.cancel(alert_id, actor, reason)

    def silence(self, *, rule_id: str | None = None, subject: str | None = None,
                starts: datetime | None = None, ends: datetime | None = None,
                duration_: timedelta | None = None, by: str, reason: str,
                kind: str | None = None, city: str | None = None, station: str | None = None,
                section: str | None = None, level: str | None = None) -> str:
        """Add a silence; returns its id. Matchers left None match everything; ``*``
        globs (``kind="liveness.*"``); ``city`` matches any of an alert's cities."""
        starts = starts or self.clock.now()
        ends = ends or starts + (duration_ or timedelta(hours=2))
        return self.lifecycle.add_silence(rule_id=rule_id, subject=subject, kind=kind,
                                          city=city, station=station, section=section,
                                          level=level, starts=starts, ends=ends, by=by,
                                          reason=reason)

    def silences(self, *, active_only: bool = False, city: str | None = None) -> list[dict]:
        """Silences, newest first (``active_only``: those in force now or to come;
        ``city``: those whose city matcher is this city)."""
        q = sa.select(silences).order_by(silences.c.created_at.desc())
        if active_only:
            q = q.where(silences.c.ends_at > self.clock.now())
        if city is not None:
            q = q.where(silences.c.city == city)
        now = self.clock.now()
        out = self._rows(q)
        for s in out:
            s["status"] = "expired" if s["ends_at"] <= now else \
                "pending" if s["starts_at"] > now else "active"
        return out

    def silence_get(self, silence_id: str) -> dict:
        rows = [s for s in self.silences() if s["id"] == silence_id]
        if not rows:
            raise NotFound(f"no silence {silence_id!r}")
        return rows[0]

    def expire_silence(self, silence_id: str, by: str) -> dict:
        out = self.lifecycle.expire_silence(silence_id, by)
        self._wake()
        return out

    def delete_silence(self, silence_id: str, by: str) -> dict:
        return self.lifecycle.delete_silence(silence_id, by)

    def silence_audit(self, silence_id: str | None = None) -> list[dict]:
        q = sa.select(audit).where(audit.c.rule_id == "silence",
                                   audit.c.alert_id.is_(None)).order_by(audit.c.id)
        if silence_id:
            q = q.where(audit.c.subject == silence_id)
        return self._rows(q)

    # ------------------------------------------------------------------ duty
    def duty(self, team: str | None = None, at: datetime | None = None) -> list[dict]:
        """Who is on duty at ``at`` (default now) for ``team``, or for every team with a
        duty plan: team, person (id and names, no contact details), source (override,
        shift, rotation), since/until, reason and who comes next. NotFound for an unknown
        team or one without a plan."""
        at = at or self.clock.now()
        d = self.directory
        if team is not None and team not in d.duty.teams:
            raise NotFound(f"no duty plan for team {team!r}" if team in d.by_id
                           else f"no team {team!r}")
        return [self._duty_row(t, at) for t in ([team] if team else sorted(d.duty.teams))]

    def _duty_row(self, team: str, at: datetime) -> dict:
        d = self.directory
        t = d.by_id[team]

        def person(od):
            if od is None:
                return None
            p = d.by_id.get(od.person)
            return {"id": od.person, "name_zh": p.name_zh if p else od.person,
                    "name_en": p.name_en if p else od.person, "source": od.source,
                    "since": iso(od.since), "until": iso(od.until) if od.until else None,
                    "reason": od.reason}
        now = d.on_duty(team, at)
        nxt = d.on_duty(team, now.until) if now is not None and now.until else None
        return {"team": team, "name_zh": t.name_zh, "name_en": t.name_en, "role": t.role,
                "city": t.city, "province": t.province, "at": iso(at),
                "on_duty": person(now), "next": person(nxt)}

    # ------------------------------------------------------------------ bulletins
    @staticmethod
    def ecoflow_bulletin(store, catalogue, targets, kind: str, period: str,
                         now: datetime) -> Bulletin:
        """The Monday list (period: the Monday), a month's (YYYY-MM) or a year's (YYYY)
        compliance from ``store`` against ``targets`` (TargetStore/TargetTable); a period not
        yet over is reported so far. ValueError for a bad period. Needs no alert state."""
        b = ecoflow_bulletin(store, catalogue, targets, kind, period,
                             today=now.astimezone(CST).date())
        b.generated_at = now
        return b

    def bulletin(self, kind: str, period: str, *, store, targets=None, forecasts=None,
                 cities: list[str] | None = None, now: datetime | None = None) -> Bulletin:
        """Build a bulletin: ``daily`` (period: the CST day summarised; ``cities`` default
        all; ``forecasts(store, city, now)`` gives a CityForecast-like object or raises),
        else an eco-flow one (``targets``: a TargetStore/Table or a callable giving one)."""
        now = now or self.clock.now()
        if kind != "daily":
            return self.ecoflow_bulletin(store, self.cat, targets() if callable(targets)
                                         else targets, kind, period, now)
        day = date.fromisoformat(period)
        cities = list(cities or self.cat.cities)
        fcs = {}
        for c in cities:
            try:
                fcs[c] = tomorrow_forecast(forecasts(store, c, now) if forecasts else None,
                                           day + timedelta(days=2))
            except Exception as exc:  # noqa: BLE001 - a city without forecast shows none
                log.info("no forecast for %s in the daily bulletin: %s", c, exc)
                fcs[c] = None
        titles = {r.id: (r.config.title_zh, r.config.title_en)
                  for r in self.rules.rules.values()}
        b = daily_bulletin(self.cat, cities, day, read_aqi_daily(store, cities, day),
                           self.alerts(open_only=True), fcs, titles,
                           kinds=tuple(self.settings.report_warning_kinds))
        b.generated_at = now
        return b

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

    def dead_count(self) -> int:
        """Notifications dead-lettered and not redriven."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.status == "dead")).scalar() or 0

    def redrive(self, ids: Sequence[int] | None = None, *, actor: str = "cli") -> list[int]:
        """Dead notifications (those of ``ids``, or all when None) back to pending: attempts
        reset, due at once, same idempotency key (a receiver that did get one drops the copy).
        Each is noted in its alert's audit trail; returns the ids redriven."""
        now = self.clock.now()
        q = sa.select(outbox.c.id, outbox.c.channel, outbox.c.recipient_id, outbox.c.attempts,
                      alerts.c.id.label("alert_id"), alerts.c.rule_id, alerts.c.subject,
                      alerts.c.state, alerts.c.level).join(
            alerts, alerts.c.id == outbox.c.alert_id, isouter=True).where(
            outbox.c.status == "dead")
        if ids is not None:
            q = q.where(outbox.c.id.in_(list(ids)))
        with self.engine.begin() as conn:
            rows = conn.execute(q).all()
            done = [r.id for r in rows]
            if done:
                conn.execute(outbox.update().where(outbox.c.id.in_(done),
                                                   outbox.c.status == "dead").values(
                    # due at once for every dispatcher, whatever its clock (a drill's is
                    # warped): its creation time is in every dispatcher's past
                    status="pending", attempts=0, next_attempt_at=outbox.c.created_at,
                    claimed_by=None, claimed_until=None))
            for r in rows:
                if r.alert_id is None:
                    continue
                conn.execute(audit.insert().values(
                    alert_id=r.alert_id, rule_id=r.rule_id, subject=r.subject, at=now,
                    actor=actor, action="redriven", from_state=r.state, to_state=r.state,
                    level=r.level, evidence={"outbox_id": r.id, "attempts": r.attempts},
                    reason=f"dead notification {r.id} to {r.recipient_id} via {r.channel} "
                           "sent again"))
        if done:
            log.info("%d dead notifications redriven by %s", len(done), actor)
            self._wake()
        return done

    def check_dead_letters(self) -> int:
        """Raise (or lift) the operators' alert on dead-lettered notifications; returns the
        signals applied."""
        now = self.clock.now()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox.c.channel, sa.func.count(),
                                          sa.func.min(outbox.c.created_at)).where(
                outbox.c.status == "dead").group_by(outbox.c.channel)).all()
        by_channel = {ch: n for ch, n, _ in rows}
        oldest = min((t for _, _, t in rows if t is not None), default=None)
        n = 0
        for rule in self.rules.rules.values():
            if isinstance(rule, DeadLetterRule):
                n += self.lifecycle.apply_signal(rule.id, rule.subject,
                                                 rule.signal(by_channel, oldest, now))
        return n

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

    # ------------------------------------------------------------------ the event stream
    def last_event_id(self) -> int:
        """Id of the newest broadcast event (0 when none): a new stream starts after it."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(outbox.c.id)).where(
                outbox.c.channel == EVENT_CHANNEL)).scalar() or 0

    def events(self, after: int = 0, limit: int = 500) -> list[dict]:
        """Broadcast events (the ``sse`` outbox rows: one per notification of the broadcast
        recipient) with ids above ``after``, oldest first: ``{"id", "event", "body"}``, the
        body as the SSE channel sends it. Ids are taken at insert, so a row may commit after
        a higher one was read: readers re-read a short window (see ``api.routes.events``)."""
        q = sa.select(outbox.c.id, outbox.c.event, outbox.c.body, outbox.c.created_at,
                      outbox.c.delivered_at).where(
            outbox.c.channel == EVENT_CHANNEL, outbox.c.id > after
        ).order_by(outbox.c.id).limit(limit)
        out = []
        for r in self._rows(q):
            body = dict(r["body"])
            body["sent_at"] = body.get("sent_at") or iso(r["delivered_at"] or r["created_at"])
            out.append({"id": r["id"], "event": r["event"], "body": body})
        return out
