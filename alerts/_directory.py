"""The recipients directory (a data file) and routing by geography.

Routing:

* a city or station alert → that city's team;
* a regional alert (subject ``region:*`` or kind ``*.regional``) → every affected city's team,
  their provincial environment bureaus and the Fen-Wei coordinator;
* a river-section alert (subject ``section:*``, or a hydro station that is a section's gauge)
  → the teams of the cities along the reach and the provinces' water bureaus;
* escalation step 1 adds the provincial bureaus (environment; water for river alerts), step 2
  the regional coordinator;
* ``operator`` recipients get every ``liveness.*`` and ``quality.*`` alert and, alone,
  ``pipeline:*`` ones (no city is affected by our own outage);
* ``broadcast`` recipients (MQTT, server-sent events) get every event;
* exercise alerts go only to recipients marked ``exercise``; catch-all recipients get a copy of
  every notification, marked with the recipient it was meant for;
* the person on duty for a chosen team (``duty`` plans over ``people``, :mod:`._duty`) gets
  the notification too, beside the team's own channels; on the directory's clock;
* reminders and escalations leave out whoever has acknowledged already (``acknowledged``: the
  cities acknowledged so far): a city's team, a bureau once all its province's covered cities
  have, the coordinator once every city has — and the catch-all copies meant for them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._duty import DutyPlan, OnDuty, TeamDuty
from .errors import ConfigError

Role = Literal["city_team", "province_env", "water_bureau", "coordinator", "operator",
               "broadcast", "catchall", "on_call"]
CHANNEL_TYPES = ("webhook", "email", "mqtt", "sse", "wecom", "dingtalk", "sms", "aliyun_sms",
                 "tencent_sms")


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook", "email", "mqtt", "sse", "wecom", "dingtalk", "sms", "aliyun_sms",
                  "tencent_sms"]
    url: str | None = None
    to: list[str] = []
    format: Literal["json", "cap"] = "json"
    msgtype: Literal["text", "markdown"] = "markdown"
    secret: str | None = Field(default=None, repr=False)
    secret_env: str | None = None
    timeout_s: float | None = None
    lang: Literal["zh", "en"] | None = None
    template: str | None = None
    # Alibaba Cloud / Tencent Cloud SMS (docs/services/alerts.md "SMS providers"); the key pair
    # is the secret ("<key id>:<key secret>", best from secret_env)
    template_id: str | None = None
    sign_name: str | None = None
    sdk_app_id: str | None = None
    params: dict[str, str] | list[str] | None = None
    region: str | None = None
    param_max_chars: int | None = None

    def target(self) -> str:
        if self.type == "email":
            return ",".join(self.to)
        return self.url or self.type

    def resolve_secret(self) -> str | None:
        if self.secret_env:
            return os.environ.get(self.secret_env) or self.secret
        return self.secret


class ReportSub(BaseModel):
    """A bulletin a recipient receives (docs/services/alerts.md "Reports"); a plain string
    names the bulletin with the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report: Literal["daily", "monday", "monthly", "yearly"]
    cities: list[str] = []      # daily: default the recipient's city, else its province's
    lang: Literal["zh", "en"] | None = None
    channels: list[Literal["email", "wecom", "dingtalk"]] = []   # default: all of these


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    role: Role
    name_zh: str
    name_en: str
    city: str | None = None
    province: str | None = None
    lang: Literal["zh", "en"] = "zh"
    exercise: bool = False
    channels: list[ChannelSpec] = []
    reports: list[ReportSub] = []

    @field_validator("reports", mode="before")
    @classmethod
    def _reports(cls, v):
        return [{"report": x} if isinstance(x, str) else x for x in v or []]

    def name(self) -> str:
        return self.name_zh

    def check(self) -> None:
        for ch in self.channels:
            if ch.type in ("webhook", "wecom", "dingtalk", "sms") and not ch.url:
                raise ConfigError(f"recipient {self.id}: {ch.type} channel needs a url")
            if ch.type == "email" and not ch.to:
                raise ConfigError(f"recipient {self.id}: email channel needs 'to'")
            if ch.type in ("aliyun_sms", "tencent_sms"):
                need = ["url", "to", "template_id", "sign_name"] + (
                    ["sdk_app_id"] if ch.type == "tencent_sms" else [])
                missing = [k for k in need if not getattr(ch, k)]
                if missing:
                    raise ConfigError(f"recipient {self.id}: {ch.type} channel needs "
                                      + ", ".join(repr(k) for k in missing))


@dataclass(frozen=True)
class Route:
    recipient: Recipient
    meant_for: Recipient | None = None   # set on catch-all copies


class Directory:
    # a drill of the whole system (a replay on a warped clock) is broadcast to its own
    # dashboards and MQTT events, each event marked exercise; in a live system never
    broadcast_exercises = False

    def __init__(self, recipients: list[Recipient], catalogue, *,
                 people: list[Recipient] = (), duty: list[TeamDuty] = ()) -> None:
        self.cat = catalogue
        self.by_id: dict[str, Recipient] = {}
        self.clock = None          # .now(); the alert state sets its own (duty is by time)
        for r in list(recipients) + list(people):
            if r.id in self.by_id:
                raise ConfigError(f"recipients: id {r.id!r} used twice")
            if r.city is not None and r.city not in catalogue.cities:
                raise ConfigError(f"recipients: {r.id}: unknown city {r.city!r}")
            bad = sorted({c for sub in r.reports for c in sub.cities} - set(catalogue.cities))
            if bad:
                raise ConfigError(f"recipients: {r.id}: reports: unknown cities {bad}")
            r.check()
            self.by_id[r.id] = r
        self.people = {p.id for p in people}
        self.duty = DutyPlan(list(duty), self.people,
                             {r.id for r in recipients if r.role not in ("on_call",)})

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(timezone.utc)

    def on_duty(self, team: str, at: datetime | None = None) -> OnDuty | None:
        """Who is on duty for ``team`` at ``at`` (default: now on the directory's clock)."""
        return self.duty.on_duty(team, at or self.now())

    def _with_duty(self, teams: list[Recipient]) -> list[Recipient]:
        """``teams`` and, after each, its person on duty now (standing for the team: its
        city, province and drill flag), each person once."""
        out: dict[str, Recipient] = {}
        at = self.now() if self.duty.teams else None
        for r in teams:
            out.setdefault(r.id, r)
            d = self.duty.on_duty(r.id, at) if at is not None else None
            if d is not None and d.person in self.by_id and d.person not in out:
                out[d.person] = self.by_id[d.person].model_copy(update={
                    "city": r.city, "province": r.province, "exercise": r.exercise})
        return list(out.values())

    def add(self, recipient: Recipient) -> None:
        recipient.check()
        self.by_id[recipient.id] = recipient

    def _role(self, role: str) -> list[Recipient]:
        return [r for r in self.by_id.values() if r.role == role]

    # -- geography
    def subject_cities(self, subject: str, given: tuple[str, ...] = ()) -> tuple[str, ...]:
        if given:
            return tuple(given)
        typ, _, ident = subject.partition(":")
        if typ == "city":
            return (ident,)
        if typ == "section" and ident in self.cat.sections:
            return self.cat.sections[ident].cities_along
        if typ == "station" and ident in self.cat.stations:
            sec = self.section_of(subject)
            return sec.cities_along if sec else (self.cat.stations[ident].city,)
        if typ == "region":
            return tuple(c.slug for c in self.cat.fenwei_cities())
        return ()

    def section_of(self, subject: str):
        typ, _, ident = subject.partition(":")
        if typ == "section":
            return self.cat.sections.get(ident)
        if typ == "station":
            return next((s for s in self.cat.sections.values() if s.station == ident), None)
        return None

    def route(self, kind: str, subject: str, cities: tuple[str, ...], *, step: int = 0,
              exercise: bool = False, acknowledged: frozenset[str] = frozenset()
              ) -> list[Route]:
        """Recipients of an alert at escalation ``step``, catch-all copies included, less
        those who have nothing left to acknowledge (``acknowledged``: cities done)."""
        river = self.section_of(subject) is not None and kind.startswith("river.")
        regional = subject.startswith("region:") or kind.endswith(".regional")
        provinces = {self.cat.cities[c].province for c in cities if c in self.cat.cities}
        chosen = [r for r in self._role("city_team") if r.city in cities]
        if river:
            chosen += [r for r in self._role("water_bureau") if r.province in provinces]
        if regional or step >= 1:
            chosen += [r for r in self._role("province_env") if r.province in provinces]
            if river and step >= 1:
                chosen += [r for r in self._role("water_bureau") if r.province in provinces]
        if regional or step >= 2:
            chosen += self._role("coordinator")
        if subject.startswith("pipeline:") or kind.split(".")[0] in ("liveness", "quality"):
            chosen += self._role("operator")  # platform operators: no-data and data quality
        every = self._with_duty([r for r in {r.id: r for r in chosen}.values()
                                 if self._waiting(r, cities, acknowledged)])
        chosen = [r for r in every if r.exercise == exercise]
        routes = [Route(r) for r in chosen]
        if not exercise or self.broadcast_exercises:  # a live system's drills are not
            routes += [Route(r) for r in self._role("broadcast")]
        # the catch-all (exercise) inbox gets a copy for each recipient an alert is meant
        # for; in a drill, for each team the real alert would have reached
        for c in self._role("catchall"):
            routes += [Route(c, meant_for=x) for x in (every if exercise else chosen)]
        return routes

    def _waiting(self, r: Recipient, cities: tuple[str, ...], acked) -> bool:
        """Does ``r`` still have a city to acknowledge for, ``acked`` being done?"""
        if not acked:
            return True
        if r.role == "city_team" or (r.role == "on_call" and r.city):
            return r.city not in acked
        if r.role in ("province_env", "water_bureau"):
            return any(c not in acked for c in cities
                       if c in self.cat.cities and self.cat.cities[c].province == r.province)
        if r.role == "coordinator":
            return any(c not in acked for c in cities)
        return True   # operators: their own alerts are not acknowledged city by city

    def new_recipients(self, kind, subject, cities, step, exercise) -> list[Route]:
        """Recipients added by moving from ``step - 1`` to ``step``."""
        before = {(r.recipient.id, r.meant_for.id if r.meant_for else None)
                  for r in self.route(kind, subject, cities, step=step - 1, exercise=exercise)}
        return [r for r in self.route(kind, subject, cities, step=step, exercise=exercise)
                if (r.recipient.id, r.meant_for.id if r.meant_for else None) not in before
                and r.recipient.role != "broadcast"]


def load_directory(path: Path | str | None, catalogue,
                   extra: list[dict[str, Any]] | None = None) -> Directory:
    """Read a recipients file (the packaged one when ``path`` is None)."""
    try:
        if path is None:
            text = resources.files(__package__).joinpath("data", "recipients.json").read_text(
                encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text)
        rows = doc["recipients"] + list(extra or [])
        recipients = [Recipient.model_validate(r) for r in rows]
        people = [Recipient.model_validate({"role": "on_call", **p})
                  for p in doc.get("people", [])]
        duty = [TeamDuty.model_validate(d) for d in doc.get("duty", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            raise ConfigError(f"recipients file {path or 'recipients.json'}: {exc}") from None
        raise ConfigError(f"recipients file {path or 'recipients.json'}: {exc}") from exc
    return Directory(recipients, catalogue, people=people, duty=duty)
