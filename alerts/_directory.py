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
  every notification, marked with the recipient it was meant for.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

Role = Literal["city_team", "province_env", "water_bureau", "coordinator", "operator",
               "broadcast", "catchall"]
CHANNEL_TYPES = ("webhook", "email", "mqtt", "sse", "wecom", "dingtalk", "sms")


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook", "email", "mqtt", "sse", "wecom", "dingtalk", "sms"]
    url: str | None = None
    to: list[str] = []
    format: Literal["json", "cap"] = "json"
    msgtype: Literal["text", "markdown"] = "markdown"
    secret: str | None = Field(default=None, repr=False)
    secret_env: str | None = None
    timeout_s: float | None = None
    lang: Literal["zh", "en"] | None = None
    template: str | None = None

    def target(self) -> str:
        if self.type == "email":
            return ",".join(self.to)
        return self.url or self.type

    def resolve_secret(self) -> str | None:
        if self.secret_env:
            return os.environ.get(self.secret_env) or self.secret
        return self.secret


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

    def name(self) -> str:
        return self.name_zh

    def check(self) -> None:
        for ch in self.channels:
            if ch.type in ("webhook", "wecom", "dingtalk", "sms") and not ch.url:
                raise ConfigError(f"recipient {self.id}: {ch.type} channel needs a url")
            if ch.type == "email" and not ch.to:
                raise ConfigError(f"recipient {self.id}: email channel needs 'to'")


@dataclass(frozen=True)
class Route:
    recipient: Recipient
    meant_for: Recipient | None = None   # set on catch-all copies


class Directory:
    def __init__(self, recipients: list[Recipient], catalogue) -> None:
        self.cat = catalogue
        self.by_id: dict[str, Recipient] = {}
        for r in recipients:
            if r.id in self.by_id:
                raise ConfigError(f"recipients: id {r.id!r} used twice")
            if r.city is not None and r.city not in catalogue.cities:
                raise ConfigError(f"recipients: {r.id}: unknown city {r.city!r}")
            r.check()
            self.by_id[r.id] = r

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
              exercise: bool = False) -> list[Route]:
        """Recipients of an alert at escalation ``step``, catch-all copies included."""
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
        chosen = [r for r in {r.id: r for r in chosen}.values() if r.exercise == exercise]
        routes = [Route(r) for r in chosen]
        if not exercise:  # drills are never broadcast
            routes += [Route(r) for r in self._role("broadcast")]
        for c in self._role("catchall"):
            routes += [Route(c, meant_for=x) for x in chosen]
        return routes

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
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            raise ConfigError(f"recipients file {path or 'recipients.json'}: {exc}") from None
        raise ConfigError(f"recipients file {path or 'recipients.json'}: {exc}") from exc
    return Directory(recipients, catalogue)
