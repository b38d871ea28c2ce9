"""Turning an alert event into outbox rows: route, render text and CAP, one row per channel.

Runs inside the transaction of the state change that causes it. Before any row is written
the event passes two holds: a silence covering the alert, or an inhibition rule whose source
alert is open; a held event is audited and kept on the alert (``held``) to be sent when the
hold ends, if the alert is still active. Rows of a channel that groups get a group key
(recipient, channel and the ``group_by`` labels) and the due time of their group: the
dispatcher sends each group's due rows as one message.
"""
from __future__ import annotations

import fnmatch
import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa

from core.wire import iso

from ._cap import build_cap, cap_time
from ._db import alerts, audit, outbox, silences
from ._levels import NAME_ZH
from ._text import group_head, group_line, render
from .channels._base import mask_text

log = logging.getLogger(__name__)
CAP_EVENTS = ("issued", "updated", "lifted", "cancelled")
ACK_EVENTS = ("issued", "updated", "escalated", "renotified")
HOLDABLE = ("issued", "updated")   # held while silenced or inhibited; sent when it ends


def labels(directory, cur: dict) -> dict:
    """The labels silences, inhibition rules and group keys match on."""
    typ, _, ident = cur["subject"].partition(":")
    sec = directory.section_of(cur["subject"])
    return {"rule": cur["rule_id"], "kind": cur["kind"], "subject": cur["subject"],
            "city": sorted(cur["cities"] or []), "level": cur["level"],
            "station": ident if typ == "station" else None, "section": sec.id if sec else None}


def matches(matchers: dict, lab: dict) -> bool:
    """Every matcher holds: ``city`` is one of the alert's cities; ``*`` globs elsewhere."""
    for name, want in matchers.items():
        if want is None:
            continue
        have = lab.get(name)
        if name == "city":
            if not any(fnmatch.fnmatchcase(c, want) for c in have or []):
                return False
        elif have is None or not fnmatch.fnmatchcase(str(have), str(want)):
            return False
    return True


def _shared(name: str, a: dict, b: dict) -> bool:
    if name == "city":
        return bool(set(a["city"]) & set(b["city"]))
    return a.get(name) is not None and a.get(name) == b.get(name)


def regional_link(cur: dict, base_url: str | None = None) -> dict | None:
    """The regional (Fen-Wei) warning a city warning is part of: the one setting its
    minimum level (``evidence.regional``, written by the air_warning rule), with a link to
    it under ``base_url`` (the API's public address); None for any other alert."""
    ev = cur.get("evidence") or {}
    reg = ev.get("regional")
    if not isinstance(reg, dict) or not reg.get("alert_id"):
        return None
    return {"alert_id": reg["alert_id"], "level": reg.get("level"),
            "subject": reg.get("subject"), "source": reg.get("source"),
            "issued_by": reg.get("issued_by"), "raised": ev.get("basis") == "regional",
            "url": f"{base_url.rstrip('/')}/alerts/{reg['alert_id']}" if base_url else None}


class Notifier:
    def __init__(self, catalogue, directory, signer, clock, *, cap_sender: str,
                 ack_base_url: str | None = None, ack_valid: timedelta = timedelta(days=3)):
        self.cat, self.dir, self.signer, self.clock = catalogue, directory, signer, clock
        self.cap_sender, self.ack_base_url, self.ack_valid = cap_sender, ack_base_url, ack_valid
        self.enabled: set[str] | None = None   # channel types this deployment runs (None: all)
        self.inhibit: list = []                # InhibitRule objects (settings)
        self.group_by: tuple[str, ...] = ("rule", "city", "level")
        self.group_wait = timedelta(0)         # 0: no grouping
        self.group_interval = timedelta(0)
        self.group_channels: frozenset[str] = frozenset()
        self.group_catchall = False
        self.link_base_url: str | None = None   # the API's public address (regional links)

    # ------------------------------------------------------------------ holds
    def silenced(self, conn, cur: dict, now) -> str | None:
        """Id of a silence covering this alert now, if any."""
        lab = labels(self.dir, cur)
        rows = conn.execute(sa.select(silences).where(
            silences.c.starts_at <= now, silences.c.ends_at > now).order_by(
            silences.c.created_at)).mappings()
        for s in rows:
            m = {"rule": s["rule_id"], "subject": s["subject"], "kind": s["kind"],
                 "city": s["city"], "station": s["station"], "section": s["section"],
                 "level": s["level"]}
            if matches(m, lab):
                return s["id"]
        return None

    def inhibited(self, conn, cur: dict) -> str | None:
        """Id of an open alert that inhibits this one under an inhibition rule, if any."""
        if not self.inhibit:
            return None
        lab = labels(self.dir, cur)
        rules = [r for r in self.inhibit if matches(r.target, lab)]
        if not rules:
            return None
        # only what labels() reads: whole rows decoded every open alert's evidence (JSON)
        # for each held notification, a fifth of the demo's interpreter
        cols = (alerts.c.id, alerts.c.rule_id, alerts.c.kind, alerts.c.subject,
                alerts.c.cities, alerts.c.level)
        rows = conn.execute(sa.select(*cols).where(
            alerts.c.open, alerts.c.state.in_(("active", "acknowledged")),
            alerts.c.id != cur["id"], alerts.c.exercise == cur["exercise"])).mappings().all()
        for r in rules:
            for src in rows:
                sl = labels(self.dir, src)
                if matches(r.source, sl) and all(_shared(n, lab, sl) for n in r.equal):
                    return src["id"]
        return None

    def hold(self, conn, cur: dict, now) -> str | None:
        """Why this alert's notifications are held now ("silence <id>", "inhibited by alert
        <id>"), or None."""
        sil = self.silenced(conn, cur, now)
        if sil is not None:
            return f"silence {sil}"
        src = self.inhibited(conn, cur)
        return f"inhibited by alert {src}" if src is not None else None

    def _held(self, conn, cur: dict, event: str, why: str, now) -> None:
        held = event if event in HOLDABLE else \
            None if event in ("lifted", "cancelled") else cur.get("held")
        conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(held=held))
        cur["held"] = held
        action = "suppressed" if why.startswith("silence") else "inhibited"
        conn.execute(audit.insert().values(
            alert_id=cur["id"], rule_id=cur["rule_id"], subject=cur["subject"], at=now,
            actor="silence" if action == "suppressed" else "inhibition", action=action,
            from_state=cur["state"], to_state=cur["state"], level=cur["level"],
            reason=f"{event} notification " + ("held" if event in HOLDABLE else "suppressed")
                   + f": {why}", evidence={"event": event, "held": event in HOLDABLE}))

    # ------------------------------------------------------------------ rows
    def notify(self, conn, rule, cur: dict, event: str,
               acknowledged: frozenset[str] = frozenset(), *, new_since: int | None = None,
               hold: bool = True) -> bool:
        """Write the outbox rows of one event; False when a silence or an inhibition holds
        it. ``acknowledged``: cities whose recipients are left out (reminders, escalations);
        ``new_since``: only recipients the alert's route did not have at that escalation
        step (an escalation tells its new recipients)."""
        now = self.clock.now()
        why = self.hold(conn, cur, now) if hold else None
        if why is not None:
            self._held(conn, cur, event, why, now)
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
                                step=cur["escalation_step"], exercise=cur["exercise"],
                                acknowledged=frozenset(acknowledged))
        if new_since is not None:
            before = {_who(r) for r in self.dir.route(
                cur["kind"], cur["subject"], tuple(cur["cities"]), step=new_since,
                exercise=cur["exercise"])}
            routes = [r for r in routes if _who(r) not in before and
                      r.recipient.role != "broadcast"]
        n = 0
        line = group_line(self.cat, cur, event)
        head = group_head(title, cur, event)
        for route in routes:
            n += self._rows(conn, cur, event, seq, route, title, cap, now, line, head)
        conn.execute(alerts.update().where(alerts.c.id == cur["id"]).values(
            seq=seq, cap_refs=refs, last_notified_at=now, held=None))
        cur.update(seq=seq, cap_refs=refs, last_notified_at=now, held=None)
        log.info("alert %s %s: %d notifications queued (rule=%s subject=%s)", cur["id"], event,
                 n, cur["rule_id"], cur["subject"])
        return True

    def group_key(self, cur: dict, route, idx: int, channel: str) -> str | None:
        """The row's group: its recipient (and, on catch-all copies, whom it was meant
        for), channel and the ``group_by`` labels; None when it is sent alone."""
        if not self.group_wait or channel not in self.group_channels or \
                route.recipient.role == "broadcast" or \
                (route.meant_for is not None and not self.group_catchall):
            return None
        lab = labels(self.dir, cur)
        parts = [route.recipient.id, str(idx), route.meant_for.id if route.meant_for else ""]
        parts += [",".join(lab[n]) if n == "city" else str(lab.get(n) or "")
                  for n in self.group_by]
        key = "|".join(parts)
        return key if len(key) <= 300 else key[:250] + "#" + hashlib.sha256(
            key.encode()).hexdigest()[:40]

    def due(self, conn, gk: str | None, now):
        """When a row of group ``gk`` is due: with the group's waiting rows; a group_interval
        after the group's last message; else a group_wait from now."""
        if gk is None:
            return now
        last = conn.execute(sa.select(sa.func.max(outbox.c.next_attempt_at)).where(
            outbox.c.group_key == gk,
            outbox.c.created_at > now - self.group_interval - self.group_wait)).scalar()
        if last is not None and last > now:
            return last
        if last is not None and now - last < self.group_interval:
            return last + self.group_interval
        return now + self.group_wait

    @staticmethod
    def release_groups(conn, now, *, retries: bool = False) -> int:
        """Rows waiting for their group (pending, never tried, due later) are due ``now``;
        with ``retries`` also failed rows waiting out their backoff; returns how many. For
        a clock that stands still (a replay held at its period's end), where a wait in
        clock time would never end."""
        waiting = [outbox.c.status == "pending", outbox.c.next_attempt_at > now]
        if not retries:
            waiting += [outbox.c.group_key.is_not(None), outbox.c.attempts == 0]
        res = conn.execute(outbox.update().where(*waiting).values(next_attempt_at=now))
        return res.rowcount or 0

    def _rows(self, conn, cur, event, seq, route, title, cap, now, line=None, head=None) -> int:
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
            # credentials in URLs (a WeCom key, a DingTalk access token) stay in the directory:
            # the row keeps them masked and the dispatcher resolves them by secret_ref
            opts = ch.model_dump(exclude={"secret", "url"}, exclude_none=True)
            opts["secret_ref"] = [rcpt.id, idx]
            opts["lang"] = ch.lang or rcpt.lang
            gk = None if ch.format == "cap" else self.group_key(cur, route, idx, ch.type)
            if gk is not None and line is not None:
                opts["group"] = {"line_zh": line[0], "line_en": line[1], "head_zh": head[0],
                                 "head_en": head[1]}
            conn.execute(outbox.insert().values(
                idempotency_key=key, alert_id=cur["id"], event=event, recipient_id=rcpt.id,
                channel=ch.type, target=mask_text(ch.target())[:500], options=opts, body=body,
                status="pending", attempts=0, next_attempt_at=self.due(conn, gk, now),
                created_at=now, group_key=gk))
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
            "regional": regional_link(cur, self.link_base_url),
        }
        if token:
            out["ack_token"] = token
        if ack_url:
            out["ack_url"] = ack_url
        return out


def _who(route) -> tuple[str, str | None]:
    return route.recipient.id, route.meant_for.id if route.meant_for else None
