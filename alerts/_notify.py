"""Turning an alert event into outbox rows: route, render text and CAP, one row per channel.

Runs inside the transaction of the state change that causes it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from core.wire import iso

from ._cap import build_cap, cap_time
from ._db import alerts, audit, outbox, silences
from ._levels import NAME_ZH
from ._text import render

log = logging.getLogger(__name__)
CAP_EVENTS = ("issued", "updated", "lifted", "cancelled")
ACK_EVENTS = ("issued", "updated", "escalated", "renotified")


class Notifier:
    def __init__(self, catalogue, directory, signer, clock, *, cap_sender: str,
                 ack_base_url: str | None = None, ack_valid: timedelta = timedelta(days=3)):
        self.cat, self.dir, self.signer, self.clock = catalogue, directory, signer, clock
        self.cap_sender, self.ack_base_url, self.ack_valid = cap_sender, ack_base_url, ack_valid
        self.enabled: set[str] | None = None   # channel types this deployment runs (None: all)

    def silenced(self, conn, cur: dict, now) -> str | None:
        """Id of a silence covering this alert now, if any."""
        return conn.execute(sa.select(silences.c.id).where(
            silences.c.starts_at <= now, silences.c.ends_at > now,
            sa.or_(silences.c.rule_id.is_(None), silences.c.rule_id == cur["rule_id"]),
            sa.or_(silences.c.subject.is_(None), silences.c.subject == cur["subject"]),
        ).limit(1)).scalar()

    def notify(self, conn, rule, cur: dict, event: str) -> bool:
        """Write the outbox rows of one event; False when a silence suppressed it."""
        now = self.clock.now()
        sil = self.silenced(conn, cur, now)
        if sil is not None:
            conn.execute(audit.insert().values(
                alert_id=cur["id"], rule_id=cur["rule_id"], subject=cur["subject"], at=now,
                actor="silence", action="suppressed", from_state=cur["state"],
                to_state=cur["state"], level=cur["level"],
                reason=f"{event} notification suppressed by silence {sil}", evidence={}))
            return False
        seq = cur["seq"] + 1
        title = (rule.config.title_zh, rule.config.title_en) if rule else ("", "")
        refs = list(cur["cap_refs"])
        texts = render(self.cat, title, cur, event, step=cur["escalation_step"])
        if event in CAP_EVENTS:
            ident = f"fenwei-{cur['id']}-{seq}"
            xml = build_cap(self.cat, cur, event, identifier=ident, sender=self.cap_sender,
                            sent=now, references=[r["ref"] for r in refs], texts=texts,
                            title=title)
            refs.append({"ref": f"{self.cap_sender},{ident},{cap_time(now)}", "xml": xml,
                         "event": event})
        cap = refs[-1]["xml"] if refs else ""
        routes = self.dir.route(cur["kind"], cur["subject"], tuple(cur["cities"]),
                                step=cur["escalation_step"], exercise=cur["exercise"])
        n = 0
        for route in routes:
            n += self._rows(conn, cur, event, seq, route, title, cap, now)
        conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(
            seq=seq, cap_refs=refs, last_notified_at=now))
        cur.update(seq=seq, cap_refs=refs, last_notified_at=now)
        log.info("alert %s %s: %d notifications queued (rule=%s subject=%s)", cur["id"], event,
                 n, cur["rule_id"], cur["subject"])
        return True

    def _rows(self, conn, cur, event, seq, route, title, cap, now) -> int:
        rcpt = route.recipient
        meant = route.meant_for or rcpt
        ack_url = token = None
        if rcpt.role != "broadcast" and event in ACK_EVENTS:
            token = self.signer.sign(cur["id"], meant.id, now + self.ack_valid)
            if self.ack_base_url:
                ack_url = f"{self.ack_base_url}?token={token}"
        zh, en = render(self.cat, title, cur, event, ack_url=ack_url, step=cur["escalation_step"])
        n = 0
        for idx, ch in enumerate(rcpt.channels):
            if self.enabled is not None and ch.type not in self.enabled:
                continue
            key = f"{cur['id']}-{seq}-{rcpt.id}" + (f"-for-{meant.id}" if route.meant_for
                                                     else "") + f"-{idx}"
            body = self.body(cur, event, key, meant, zh, en, cap, ack_url, token)
            if route.meant_for is not None:
                body["copy_to"] = {"id": rcpt.id, "name": rcpt.name_zh}
            opts = ch.model_dump(exclude={"secret"}, exclude_none=True)
            opts["secret_ref"] = [rcpt.id, idx]
            opts["lang"] = ch.lang or rcpt.lang
            conn.execute(outbox.insert().values(
                idempotency_key=key, alert_id=cur["id"], event=event, recipient_id=rcpt.id,
                channel=ch.type, target=ch.target()[:500], options=opts, body=body,
                status="pending", attempts=0, next_attempt_at=now, created_at=now))
            n += 1
        return n

    def body(self, cur, event, key, rcpt, zh, en, cap, ack_url, token) -> dict:
        typ, _, ident = cur["subject"].partition(":")
        sec = self.dir.section_of(cur["subject"])
        out = {
            "schema": "fenwei.alert.v1",
            "idempotency_key": key,
            "alert_id": cur["id"],
            "event": event,
            "seq": cur["seq"] + 1 if event else cur["seq"],
            "kind": cur["kind"],
            "rule": cur["rule_id"],
            "level": cur["level"],
            "level_zh": NAME_ZH.get(cur["level"] or "", None),
            "state": cur["state"],
            "subject": {"id": cur["subject"], "type": typ, "cities": list(cur["cities"]),
                        "section": sec.id if sec else None,
                        "station": ident if typ == "station" else None},
            "recipient": {"id": rcpt.id, "name": rcpt.name_zh, "name_en": rcpt.name_en,
                          "role": rcpt.role},
            "observed_at": iso(cur["observed_at"]),
            "first_observed_at": iso(cur["first_observed_at"]),
            "sent_at": None,
            "exercise": bool(cur["exercise"]),
            "retrospective": bool(cur["retrospective"]),
            "escalation_step": cur["escalation_step"],
            "acknowledged_by": cur["ack_by"],
            "text_zh": zh,
            "text_en": en,
            "cap": cap,
            "evidence": cur["evidence"] or {},
        }
        if token:
            out["ack_token"] = token
        if ack_url:
            out["ack_url"] = ack_url
        return out
