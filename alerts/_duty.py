"""Who is on duty: per team, a rotation (every N days, or a list of dated shifts) and
overrides, read from the recipients file (``people`` and ``duty``).

A team is a recipient of the directory (a city team, a bureau, the operators). At time ``at``
the person on duty is: the last listed override covering ``at``; else, by the team's plan
(one of the two), the dated shift that started last at or before ``at`` (a shift runs until
the next one starts) or the rotation's member ``floor((at - start) / every) mod n``. Dates without a time mean
the team's ``handover`` time (default 09:00) of that China Standard Time day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from core.timeutil import CST, parse_duration

from .errors import ConfigError


def _instant(value: str, handover: time) -> datetime:
    """A date (``2026-01-05``: the handover time of that CST day) or a date-time; a date-time
    without an offset is China Standard Time."""
    value = value.strip()
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), handover, CST)
    t = datetime.fromisoformat(value)
    return t if t.tzinfo is not None else t.replace(tzinfo=CST)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str                      # first member's first shift (date or date-time)
    every: str = "7d"               # "7d": weekly
    people: list[str]

    @field_validator("every")
    @classmethod
    def _every(cls, v: str) -> str:
        if parse_duration(v) <= timedelta(0):
            raise ValueError("every must be positive")
        return v

    @field_validator("people")
    @classmethod
    def _people(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a rotation needs at least one person")
        return v


class Shift(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    person: str


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str
    person: str
    reason: str = ""


class TeamDuty(BaseModel):
    """One team's duty plan (an entry of the recipients file's ``duty`` list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str                       # a recipient id
    handover: str = "09:00"         # CST time of day dates stand for
    rotation: Rotation | None = None
    shifts: list[Shift] = []        # by date list
    overrides: list[Override] = []

    @field_validator("handover")
    @classmethod
    def _handover(cls, v: str) -> str:
        time.fromisoformat(v)
        return v

    @model_validator(mode="after")
    def _some_plan(self) -> "TeamDuty":
        if self.rotation is None and not self.shifts and not self.overrides:
            raise ValueError(f"duty of {self.team}: give a rotation, shifts or overrides")
        if self.rotation is not None and self.shifts:
            raise ValueError(f"duty of {self.team}: a rotation or a list of shifts, not both")
        h = time.fromisoformat(self.handover)
        for s in [self.rotation] if self.rotation else []:
            _instant(s.start, h)
        for s in self.shifts:
            _instant(s.start, h)
        for o in self.overrides:
            if _instant(o.end, h) <= _instant(o.start, h):
                raise ValueError(f"duty of {self.team}: override {o.start}..{o.end} ends "
                                 "before it starts")
        return self

    def people(self) -> set[str]:
        out = {s.person for s in self.shifts} | {o.person for o in self.overrides}
        return out | set(self.rotation.people if self.rotation else ())


@dataclass(frozen=True)
class OnDuty:
    team: str
    person: str
    source: Literal["override", "shift", "rotation"]
    since: datetime
    until: datetime | None
    reason: str = ""


class DutyPlan:
    """Every team's duty plan; :meth:`on_duty` answers who is on duty at a time."""

    def __init__(self, teams: list[TeamDuty], people: set[str], team_ids: set[str]) -> None:
        self.teams: dict[str, TeamDuty] = {}
        for t in teams:
            if t.team not in team_ids:
                raise ConfigError(f"recipients: duty: unknown team {t.team!r}")
            if t.team in self.teams:
                raise ConfigError(f"recipients: duty: team {t.team!r} listed twice")
            unknown = sorted(t.people() - people)
            if unknown:
                raise ConfigError(f"recipients: duty of {t.team}: unknown people {unknown} "
                                  "(list them under 'people')")
            self.teams[t.team] = t

    def on_duty(self, team: str, at: datetime) -> OnDuty | None:
        """Who is on duty for ``team`` at ``at`` (None: the team has no plan, or nobody)."""
        t = self.teams.get(team)
        if t is None:
            return None
        h = time.fromisoformat(t.handover)
        for o in reversed(t.overrides):          # the last listed wins
            s, e = _instant(o.start, h), _instant(o.end, h)
            if s <= at < e:
                return OnDuty(team, o.person, "override", s, e, o.reason)
        started = sorted(((_instant(s.start, h), s.person) for s in t.shifts),
                         key=lambda x: x[0])
        past = [x for x in started if x[0] <= at]
        if past:
            later = [x[0] for x in started if x[0] > at]
            return OnDuty(team, past[-1][1], "shift", past[-1][0], later[0] if later else None)
        r = t.rotation
        if r is None:
            return None
        start, every = _instant(r.start, h), parse_duration(r.every)
        if at < start:
            return None
        k = int((at - start) // every)
        since = start + k * every
        return OnDuty(team, r.people[k % len(r.people)], "rotation", since, since + every)

    def teams_of(self, person: str) -> list[str]:
        return [t.team for t in self.teams.values() if person in t.people()]
