"""The durable alert lifecycle: signals in, state transitions, audit and outbox rows out.

pending → active → acknowledged → resolved, plus level up/down and cancel. One open alert per
(rule, subject): transitions for a subject run under that subject's ``rule_state`` row lock
(SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) and a partial unique index
backs it up. Every transition writes its audit row and the notifications it causes in the same
transaction.
"""
from __future__ import annotations

import copy
import logging
import uuid
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ._db import SILENCE_MATCHERS, alerts, audit, outbox, rule_state, silences
from ._notify import Notifier
from .errors import BadToken, InvalidTransition, NotFound
from .rules import Signal

log = logging.getLogger(__name__)


def _insert(conn):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)


# the columns a tick decides by (Lifecycle._tick_due) before it locks an alert
_TICK_COLUMNS = ("id", "open", "state", "retrospective", "notified", "held", "rule_id",
                 "level", "activated_at", "opened_at", "escalation_step", "last_notified_at")


class Lifecycle:
    def __init__(self, engine, ruleset, directory, notifier: Notifier, clock,
                 retrospective_after: timedelta, exercise: bool = False,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.engine, self.rules, self.dir = engine, ruleset, directory
        self.notifier, self.clock = notifier, clock
        self.retro_after = ruleset.retrospective_after or retrospective_after
        self.exercise = exercise
        self.on_commit = on_commit

    # ------------------------------------------------------------------ transactions
    def _txn(self, fn, *args, retries: int = 3):
        for attempt in range(retries):
            try:
                with self.engine.begin() as conn:
                    out = fn(conn, *args)
                self.on_commit()
                return out
            except sa.exc.IntegrityError:
                if attempt == retries - 1:
                    raise
                log.info("concurrent update of the same alert; retrying")
            except sa.exc.OperationalError as exc:  # deadlock / serialization on PostgreSQL
                if attempt == retries - 1 or "deadlock" not in str(exc).lower():
                    raise

    def _lock_state(self, conn, rule_id: str, subject: str) -> dict:
        now = self.clock.now()
        conn.execute(_insert(conn)(rule_state).values(
            rule_id=rule_id, subject=subject, state={}, status=None, level=None,
            retrospective=False, observed_at=None, updated_at=now
        ).on_conflict_do_nothing(index_elements=["rule_id", "subject"]))
        row = conn.execute(sa.select(rule_state).where(
            rule_state.c.rule_id == rule_id, rule_state.c.subject == subject
        ).with_for_update()).mappings().one()
        return dict(row)

    def _save_state(self, conn, st: dict) -> None:
        conn.execute(rule_state.update().where(
            rule_state.c.rule_id == st["rule_id"], rule_state.c.subject == st["subject"]
        ).values(state=st["state"], status=st["status"], level=st["level"],
                 retrospective=st["retrospective"], observed_at=st["observed_at"],
                 updated_at=self.clock.now()))

    # ------------------------------------------------------------------ streaming input
    def process(self, readings) -> int:
        """Feed readings to every streaming rule; returns the number of signals applied."""
        groups: dict[tuple[str, str], list] = {}
        for r in readings:
            for rule in self.rules.streaming:
                for subject in rule.subjects(r):
                    groups.setdefault((rule.id, subject), []).append(r)
        n = 0
        for (rule_id, subject), rs in groups.items():
            rs.sort(key=lambda x: x.ts)
            n += self._txn(self._process_group, self.rules.rules[rule_id], subject, rs)
        return n

    def _process_group(self, conn, rule, subject, readings) -> int:
        st = self._lock_state(conn, rule.id, subject)
        st["state"] = copy.deepcopy(st["state"] or {})
        n = 0
        for r in readings:
            sig = rule.step(subject, st["state"], r)
            if sig is not None:
                n += self._apply(conn, rule, subject, st, sig)
        self._save_state(conn, st)
        return n

    def apply_signal(self, rule_id: str, subject: str, signal: Signal) -> int:
        """Apply one signal (periodic rules, external prompts)."""
        rule = self.rules.rules[rule_id]

        def run(conn):
            st = self._lock_state(conn, rule_id, subject)
            n = self._apply(conn, rule, subject, st, signal)
            self._save_state(conn, st)
            return n
        return self._txn(run)

    # ------------------------------------------------------------------ the state machine
    def _apply(self, conn, rule, subject: str, st: dict, sig: Signal) -> int:
        now = self.clock.now()
        retro = sig.observed_at < now - self.retro_after
        prev = (st["status"], st["level"], st["retrospective"])
        st.update(status=sig.status, level=sig.level, retrospective=retro,
                  observed_at=max(filter(None, (st["observed_at"], sig.observed_at))))
        went_live = prev[2] and not retro
        if (prev[0], prev[1]) == (sig.status, sig.level) and not went_live:
            return 0
        cur = conn.execute(sa.select(alerts).where(
            alerts.c.rule_id == rule.id, alerts.c.subject == subject, alerts.c.open
        ).with_for_update()).mappings().one_or_none()
        cur = dict(cur) if cur else None
        handler = getattr(self, f"_on_{sig.status}")
        handler(conn, rule, subject, cur, sig, retro, went_live)
        return 1

    def _on_firing(self, conn, rule, subject, cur, sig, retro, went_live) -> None:
        if cur is None:
            cur = self._open(conn, rule, subject, sig, "active", retro)
            self._notify_issue(conn, rule, cur, retro)
            return
        if cur["state"] == "pending":
            self._update(conn, cur, sig, "rule", "activated", "active", level=sig.level,
                         activated_at=self.clock.now(),
                         reason=f"{sig.level} condition held for its duration")
            self._notify_issue(conn, rule, cur, retro)
            return
        if sig.level != cur["level"]:
            up = self._rank(sig.level) > self._rank(cur["level"])
            vals = {"level": sig.level}
            state = cur["state"]
            if up:
                vals["activated_at"] = self.clock.now()
                state = "active"  # a higher level needs a new acknowledgement
                peak = cur.get("peak_level") or cur["level"]
                if self._rank(sig.level) > self._rank(peak):
                    # a new peak re-arms the escalation ladder, once per level reached
                    vals.update(escalation_step=0, peak_level=sig.level)
            self._update(conn, cur, sig, "rule", "level_up" if up else "level_down", state,
                         reason=f"level {cur['level']} → {sig.level}", **vals)
            if cur["notified"]:
                self.notifier.notify(conn, rule, cur, "updated")
            elif not retro:
                self._notify_issue(conn, rule, cur, retro)
            return
        if went_live and not cur["notified"]:
            self._update(conn, cur, sig, "rule", "confirmed_live", cur["state"],
                         reason="condition continues in live data")
            self._notify_issue(conn, rule, cur, False)

    def _on_pending(self, conn, rule, subject, cur, sig, retro, went_live) -> None:
        if cur is None:
            self._open(conn, rule, subject, sig, "pending", retro)
        elif cur["state"] == "pending" and sig.level != cur["level"]:
            self._update(conn, cur, sig, "rule", "pending_level", "pending", level=sig.level,
                         reason=f"pending level {cur['level']} → {sig.level}")

    def _on_clear(self, conn, rule, subject, cur, sig, retro, went_live) -> None:
        if cur is None:
            return
        if cur["state"] == "pending":
            self._update(conn, cur, sig, "rule", "resolved", "resolved", open=False,
                         resolved_at=self.clock.now(),
                         reason="condition ended before its duration: never active")
            return
        self._update(conn, cur, sig, "rule", "resolved", "resolved", open=False,
                     resolved_at=self.clock.now(),
                     reason="value below the clear threshold (hysteresis)" +
                            ("; retrospective" if retro else ""))
        if cur["notified"]:
            self.notifier.notify(conn, rule, cur, "lifted")

    def _on_insufficient(self, conn, rule, subject, cur, sig, retro, went_live) -> None:
        self._audit(conn, cur["id"] if cur else None, rule.id, subject, "rule", "insufficient_data",
                    cur["state"] if cur else None, cur["state"] if cur else None,
                    cur["level"] if cur else None,
                    "insufficient valid data: the rule cannot say all clear", sig.evidence)

    @staticmethod
    def _rank(level):
        from ._levels import RANK
        return RANK.get(level, -1)

    def _notify_issue(self, conn, rule, cur, retro: bool) -> None:
        if retro:
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], "rule", "not_paged",
                        cur["state"], cur["state"], cur["level"],
                        "retrospective: observed too long ago to page", {})
            return
        if self.notifier.notify(conn, rule, cur, "issued"):
            conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(notified=True))
            cur["notified"] = True

    # ------------------------------------------------------------------ rows
    def _open(self, conn, rule, subject, sig: Signal, state: str, retro: bool) -> dict:
        now = self.clock.now()
        cities = self.dir.subject_cities(subject, sig.cities)
        row = dict(id=uuid.uuid4().hex, rule_id=rule.id, subject=subject, kind=rule.kind,
                   level=sig.level, state=state, open=True, cities=list(cities),
                   exercise=bool(rule.config.exercise or self.exercise), retrospective=retro,
                   notified=False, opened_at=now, activated_at=now if state == "active" else None,
                   updated_at=now, resolved_at=None, first_observed_at=sig.observed_at,
                   observed_at=sig.observed_at, ack_by=None, ack_note=None, ack_at=None,
                   escalation_step=0, last_notified_at=None, seq=0, cap_refs=[],
                   evidence=sig.evidence, held=None, peak_level=sig.level)
        conn.execute(alerts.insert().values(**row))
        self._audit(conn, row["id"], rule.id, subject, "rule", "opened", None, state, sig.level,
                    f"{sig.status} at level {sig.level}" + (" (retrospective)" if retro else ""),
                    sig.evidence)
        return row

    def _update(self, conn, cur: dict, sig: Signal | None, actor: str, action: str,
                to_state: str, *, reason: str, **values) -> None:
        now = self.clock.now()
        values.update(state=to_state, updated_at=now)
        if sig is not None:
            values.update(observed_at=max(cur["observed_at"], sig.observed_at),
                          evidence=sig.evidence)
        conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(**values))
        frm = cur["state"]
        cur.update(values)
        self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], actor, action, frm,
                    to_state, cur["level"], reason, sig.evidence if sig else values.get(
                        "evidence", {}))

    def _audit(self, conn, alert_id, rule_id, subject, actor, action, frm, to, level, reason,
               evidence) -> None:
        conn.execute(audit.insert().values(
            alert_id=alert_id, rule_id=rule_id, subject=subject, at=self.clock.now(),
            actor=actor, action=action, from_state=frm, to_state=to, level=level,
            reason=reason, evidence=evidence or {}))

    # ------------------------------------------------------------------ people
    def _locked_alert(self, conn, alert_id: str) -> dict:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)
                           .with_for_update()).mappings().one_or_none()
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        return dict(row)

    def acknowledge(self, alert_id: str, responder: str, note: str = "", via: str = "api", *,
                    cities=None, token: str | None = None) -> dict:
        """Acknowledge for ``cities`` (None: for everyone; a city team gives its own city, a
        bureau its province's). The alert is acknowledged once every city it covers is; until
        then each city's acknowledgement is an ``acknowledged_for`` audit row. ``token``: a
        link's token (signature already checked), spent here once (BadToken otherwise)."""
        def run(conn):
            cur = self._locked_alert(conn, alert_id)
            spent = self._check_token(conn, cur, token) if token is not None else {}
            actor = f"{responder} via {via}"
            if cur["state"] == "acknowledged":
                return self._spent(conn, cur, actor, spent)   # by everyone already
            if cur["state"] != "active":
                raise InvalidTransition(f"alert {alert_id} is {cur['state']}: cannot acknowledge")
            covered = set(cur["cities"] or [])
            mine = None if cities is None or not covered else set(cities) & covered
            if mine is not None and not mine:
                raise InvalidTransition(f"alert {alert_id} covers {', '.join(sorted(covered))}: "
                                        f"not {', '.join(sorted(cities)) or 'no city'}")
            if mine is not None:
                done = self.acknowledged_cities(conn, cur)
                if not covered - done - mine:
                    pass   # the last city: the alert is acknowledged below
                elif mine - done:
                    self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], actor,
                                "acknowledged_for", "active", "active", cur["level"],
                                f"acknowledged for {', '.join(sorted(mine))}"
                                + (f": {note}" if note else ""), {"cities": sorted(mine), **spent})
                    cur["acknowledged_cities"] = sorted(done | mine)
                    return cur   # the other cities' teams still have to acknowledge
                else:
                    cur["acknowledged_cities"] = sorted(done)
                    return self._spent(conn, cur, actor, spent)
            now = self.clock.now()
            values = dict(state="acknowledged", updated_at=now, ack_by=responder, ack_note=note,
                          ack_at=now)
            conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(**values))
            frm = cur["state"]
            cur.update(values)
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], actor, "acknowledged",
                        frm, "acknowledged", cur["level"], note or "acknowledged", spent)
            if cur["notified"]:
                self.notifier.notify(conn, self.rules.rules.get(cur["rule_id"]), cur,
                                     "acknowledged")
            return cur
        return self._txn(run)

    def acknowledged_cities(self, conn, cur: dict) -> set[str]:
        """Cities whose teams acknowledged the alert since its last activation (a level up
        needs a new acknowledgement)."""
        since = cur["activated_at"] or cur["opened_at"]
        rows = conn.execute(sa.select(audit.c.evidence).where(
            audit.c.alert_id == cur["id"], audit.c.action == "acknowledged_for",
            audit.c.at >= since)).scalars()
        return {c for ev in rows for c in (ev or {}).get("cities", [])}

    def _spent(self, conn, cur: dict, actor: str, spent: dict) -> dict:
        """An acknowledgement that changes nothing still spends its link's token."""
        if spent:
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], actor, "link_used",
                        cur["state"], cur["state"], cur["level"], "acknowledged already",
                        spent)
        return cur

    def _check_token(self, conn, cur: dict, token: str) -> dict:
        """``{"token": <id>}`` for the audit row that spends a link token, when the token is
        unused, the token of a notification of this alert, sent at its current level;
        BadToken otherwise (the alert row is locked: uses are serialised)."""
        from ._ack import token_id
        from ._notify import ACK_EVENTS
        tid = token_id(token)
        trail = conn.execute(sa.select(audit.c.evidence).where(
            audit.c.alert_id == cur["id"],
            audit.c.action.in_(("acknowledged", "acknowledged_for", "link_used")))).scalars()
        if any((ev or {}).get("token") == tid for ev in trail):
            raise BadToken("this acknowledgement link was already used")
        sent = [r for r in conn.execute(sa.select(outbox.c.body, outbox.c.created_at).where(
            outbox.c.alert_id == cur["id"], outbox.c.event.in_(ACK_EVENTS)
        ).order_by(outbox.c.id.desc())).mappings() if r["body"].get("ack_token") == token]
        if not sent:
            raise BadToken("this acknowledgement link was not sent for this alert")
        since = cur["activated_at"] or cur["opened_at"]
        if sent[0]["body"].get("level") != cur["level"] or sent[0]["created_at"] < since:
            raise BadToken(f"this link was sent for the {sent[0]['body'].get('level')} level; "
                           f"the alert is now {cur['level']}: use the newest notification")
        return {"token": tid}

    def add_note(self, alert_id: str, actor: str, note: str) -> dict:
        """A note in the alert's audit trail; the alert's state does not change."""
        def run(conn):
            cur = self._locked_alert(conn, alert_id)
            self._audit(conn, alert_id, cur["rule_id"], cur["subject"], actor, "note",
                        cur["state"], cur["state"], cur["level"], note, {})
            return cur
        return self._txn(run)

    def cancel(self, alert_id: str, actor: str, reason: str) -> dict:
        def run(conn):
            cur = self._locked_alert(conn, alert_id)
            if not cur["open"]:
                raise InvalidTransition(f"alert {alert_id} is {cur['state']}: cannot cancel")
            self._update(conn, cur, None, actor, "cancelled", "cancelled", open=False,
                         resolved_at=self.clock.now(), reason=reason)
            if cur["notified"]:
                self.notifier.notify(conn, self.rules.rules.get(cur["rule_id"]), cur,
                                     "cancelled")
            return cur
        return self._txn(run)

    # ------------------------------------------------------------------ time passing
    def tick(self) -> None:
        """Re-assess quiet subjects, re-notify, escalate, page alerts whose silence ended."""
        now = self.clock.now()
        self._tick_rules(now)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*(alerts.c[n] for n in _TICK_COLUMNS)).where(
                alerts.c.open, sa.or_(
                    alerts.c.state == "active", sa.and_(alerts.c.state == "acknowledged",
                                                        alerts.c.held.is_not(None))))
            ).mappings().all()
        for row in rows:
            # an alert with nothing due (notified, nothing held, no escalation step or
            # reminder reached) is left alone without a transaction: _tick_alert would lock
            # it, find the same and change nothing (was: a transaction and a hold check,
            # which reads every open alert, per open alert and tick: quadratic)
            if self._tick_due(row, self.clock.now()):
                self._txn(self._tick_alert, row["id"])

    def _tick_rules(self, now: datetime) -> None:
        streaming = {r.id: r for r in self.rules.streaming}
        if not streaming:
            return
        with self.engine.connect() as conn:
            keys = conn.execute(sa.select(rule_state.c.rule_id, rule_state.c.subject).where(
                rule_state.c.rule_id.in_(list(streaming)))).all()
        for rule_id, subject in keys:
            rule = streaming[rule_id]

            def run(conn, rule=rule, subject=subject):
                st = self._lock_state(conn, rule.id, subject)
                st["state"] = copy.deepcopy(st["state"] or {})
                sig = rule.on_tick(subject, st["state"], now)
                if sig is None:
                    return 0
                n = self._apply(conn, rule, subject, st, sig)
                self._save_state(conn, st)
                return n
            self._txn(run)

    def _tick_alert(self, conn, alert_id: str) -> None:
        cur = self._locked_alert(conn, alert_id)
        # a retrospective alert is never paged, unless live data confirmed it: then its issue
        # was tried, and held (silence, inhibition) if it was not sent
        if not cur["open"] or cur["state"] not in ("active", "acknowledged") or \
                cur["retrospective"] and not cur["notified"] and not cur["held"]:
            return
        rule = self.rules.rules.get(cur["rule_id"])
        if rule is None:
            return
        now = self.clock.now()
        if not self._tick_due(cur, now):
            return  # nothing is due: whether a hold applies would change nothing
        if self.notifier.hold(conn, cur, now):
            return  # state is tracked; notifications wait for the silence or source to end
        if not cur["notified"]:
            self._notify_issue(conn, rule, cur, False)  # e.g. its silence has ended
            return
        if cur["held"]:   # an update held by a silence or an inhibition, the alert still on
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], "silence",
                        "released", cur["state"], cur["state"], cur["level"],
                        f"held {cur['held']} notification sent: the hold has ended", {})
            self.notifier.notify(conn, rule, cur, cur["held"], hold=False)
            return
        if cur["state"] != "active":
            return
        policy = self.rules.policy(cur["rule_id"], cur["level"])
        elapsed = now - (cur["activated_at"] or cur["opened_at"])
        step = sum(1 for t in policy.ladder if elapsed >= t)
        # a city that acknowledged hears no more reminders or escalations of this alert
        acked = frozenset(self.acknowledged_cities(conn, cur)) if len(cur["cities"] or []) > 1 \
            else frozenset()
        if step > cur["escalation_step"]:
            before = cur["escalation_step"]
            self._update(conn, cur, None, "escalation", "escalated", "active",
                         escalation_step=step,
                         reason=f"not acknowledged after {elapsed}: escalation step {step}"
                                + self._waiting_for(cur, acked))
            # each step tells its new recipients once; the others hear the reminders
            self.notifier.notify(conn, rule, cur, "escalated", acked, new_since=before,
                                 hold=False)
            return
        last = cur["last_notified_at"] or cur["activated_at"]
        if policy.renotify_every and last and now - last >= policy.renotify_every:
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], "escalation",
                        "renotified", "active", "active", cur["level"],
                        f"not acknowledged: reminder after {now - last}"
                        + self._waiting_for(cur, acked), {})
            self.notifier.notify(conn, rule, cur, "renotified", acked, hold=False)

    def _tick_due(self, cur, now: datetime) -> bool:
        """Whether a tick may act on this alert (row with ``_TICK_COLUMNS``): it is open and
        active, or acknowledged with a notification held, not a retrospective alert that was
        never tried, its rule known, and either not notified yet, an update held, or an
        escalation step or a reminder reached. The checks of :meth:`_tick_alert` that need
        no database read, so alerts with nothing due cost neither a lock nor a hold check."""
        if not cur["open"] or cur["state"] not in ("active", "acknowledged") or \
                cur["retrospective"] and not cur["notified"] and not cur["held"]:
            return False
        if cur["rule_id"] not in self.rules.rules:
            return False
        if not cur["notified"] or cur["held"]:
            return True
        if cur["state"] != "active":
            return False
        policy = self.rules.policy(cur["rule_id"], cur["level"])
        elapsed = now - (cur["activated_at"] or cur["opened_at"])
        if sum(1 for t in policy.ladder if elapsed >= t) > cur["escalation_step"]:
            return True
        last = cur["last_notified_at"] or cur["activated_at"]
        return bool(policy.renotify_every and last and now - last >= policy.renotify_every)

    @staticmethod
    def _waiting_for(cur: dict, acked: frozenset[str]) -> str:
        if not acked:
            return ""
        left = [c for c in cur["cities"] or [] if c not in acked]
        return f" (waiting for {', '.join(left)})"

    def acknowledged_for(self, cur: dict) -> list[str]:
        """Cities of ``cur`` (an alert row) acknowledged so far: all once it is acknowledged,
        none unless it is active."""
        if cur["state"] == "acknowledged":
            return list(cur["cities"] or [])
        if cur["state"] != "active" or len(cur["cities"] or []) < 2:
            return []
        with self.engine.connect() as conn:
            done = self.acknowledged_cities(conn, cur)
        return [c for c in cur["cities"] if c in done]

    # ------------------------------------------------------------------ silences
    def add_silence(self, *, starts: datetime, ends: datetime, by: str, reason: str,
                    **matchers) -> str:
        """A silence (a maintenance window): notifications of alerts matching every given
        matcher (rule_id, subject, kind, city, station, section, level) are held from
        ``starts`` to ``ends``; audited."""
        if ends <= starts:
            raise InvalidTransition("a silence must end after it starts")
        sid = uuid.uuid4().hex
        now = self.clock.now()
        row = {k: matchers.get(k) for k in SILENCE_MATCHERS}
        row.update(id=sid, starts_at=starts, ends_at=ends, created_by=by, reason=reason,
                   created_at=now)

        def run(conn):
            conn.execute(silences.insert().values(**row))
            self._silence_audit(conn, sid, by, "silence_created", reason, row)
            return sid
        return self._txn(run)

    def expire_silence(self, silence_id: str, by: str) -> dict:
        """End a silence now (held notifications go out at the next tick); audited."""
        def run(conn):
            row = self._silence(conn, silence_id)
            now = self.clock.now()
            if row["ends_at"] <= now:
                raise InvalidTransition(f"silence {silence_id} has ended already")
            vals = dict(ends_at=max(now, row["starts_at"]), expired_by=by, expired_at=now)
            conn.execute(silences.update().where(silences.c.id == silence_id).values(**vals))
            row.update(vals)
            self._silence_audit(conn, silence_id, by, "silence_expired", "expired", row)
            return row
        return self._txn(run)

    def delete_silence(self, silence_id: str, by: str) -> dict:
        """Remove a silence (its audit rows stay)."""
        def run(conn):
            row = self._silence(conn, silence_id)
            conn.execute(silences.delete().where(silences.c.id == silence_id))
            self._silence_audit(conn, silence_id, by, "silence_deleted", "deleted", row)
            return row
        return self._txn(run)

    def _silence(self, conn, silence_id: str) -> dict:
        row = conn.execute(sa.select(silences).where(silences.c.id == silence_id)
                           .with_for_update()).mappings().one_or_none()
        if row is None:
            raise NotFound(f"no silence {silence_id!r}")
        return dict(row)

    def _silence_audit(self, conn, sid: str, by: str, action: str, reason: str,
                       row: dict) -> None:
        ev = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        self._audit(conn, None, "silence", sid, by, action, None, None, row.get("level"),
                    reason, ev)
