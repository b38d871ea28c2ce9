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

from ._db import alerts, audit, rule_state, silences
from ._notify import Notifier
from .errors import InvalidTransition, NotFound
from .rules import Signal

log = logging.getLogger(__name__)


def _insert(conn):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)


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
                vals.update(activated_at=self.clock.now(), escalation_step=0)
                state = "active"  # a higher level needs a new acknowledgement
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
                   evidence=sig.evidence)
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

    def acknowledge(self, alert_id: str, responder: str, note: str = "", via: str = "api") -> dict:
        def run(conn):
            cur = self._locked_alert(conn, alert_id)
            if cur["state"] == "acknowledged":
                return cur  # a second click on the same link changes nothing
            if cur["state"] != "active":
                raise InvalidTransition(f"alert {alert_id} is {cur['state']}: cannot acknowledge")
            now = self.clock.now()
            self._update(conn, cur, None, f"{responder} via {via}", "acknowledged",
                         "acknowledged", ack_by=responder, ack_note=note, ack_at=now,
                         reason=note or "acknowledged")
            if cur["notified"]:
                self.notifier.notify(conn, self.rules.rules.get(cur["rule_id"]), cur,
                                     "acknowledged")
            return cur
        return self._txn(run)

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
            ids = conn.execute(sa.select(alerts.c.id).where(
                alerts.c.open, alerts.c.state == "active")).scalars().all()
        for alert_id in ids:
            self._txn(self._tick_alert, alert_id)

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
        if not cur["open"] or cur["state"] != "active" or cur["retrospective"] and \
                not cur["notified"]:
            return
        rule = self.rules.rules.get(cur["rule_id"])
        if rule is None:
            return
        now = self.clock.now()
        if self.notifier.silenced(conn, cur, now):
            return  # state is tracked; notifications wait for the silence to end
        if not cur["notified"]:
            self._notify_issue(conn, rule, cur, False)  # e.g. its silence has ended
            return
        policy = self.rules.policy(cur["rule_id"], cur["level"])
        elapsed = now - (cur["activated_at"] or cur["opened_at"])
        step = sum(1 for t in policy.ladder if elapsed >= t)
        if step > cur["escalation_step"]:
            self._update(conn, cur, None, "escalation", "escalated", "active",
                         escalation_step=step,
                         reason=f"not acknowledged after {elapsed}: escalation step {step}")
            self.notifier.notify(conn, rule, cur, "escalated")
            return
        last = cur["last_notified_at"] or cur["activated_at"]
        if policy.renotify_every and last and now - last >= policy.renotify_every:
            self._audit(conn, cur["id"], cur["rule_id"], cur["subject"], "escalation",
                        "renotified", "active", "active", cur["level"],
                        f"not acknowledged: reminder after {now - last}", {})
            self.notifier.notify(conn, rule, cur, "renotified")

    # ------------------------------------------------------------------ silences
    def add_silence(self, *, rule_id: str | None, subject: str | None, starts: datetime,
                    ends: datetime, by: str, reason: str) -> str:
        sid = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(silences.insert().values(
                id=sid, rule_id=rule_id, subject=subject, starts_at=starts, ends_at=ends,
                created_by=by, reason=reason, created_at=self.clock.now()))
        return sid
