"""From a city forecast to a warning assessment with its evidence.

A forecast is anything with the :class:`forecasting.CityForecast` interface: ``city``,
``issue_time``, ``model_id``, ``rolling_aqi()`` (a frame with ``ts``, ``aqi_q10/q50/q90``,
``primary`` and optionally ``p_aqi_gt_200``) and ``hourly`` (``ts`` and ``<pollutant>_<q>``
columns; used by ``<pollutant>_1h`` conditions). An optional ``cause`` attribute (``dust``,
``wildfire``, ``ozone``, ``cross_border``) overrides the episode type read from the primary
pollutant.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core.timeutil import CST

from .._levels import NAME_ZH, RESPONSE_ZH
from ._episode import AqiSequence, Grade, episode_type, grade, hold, primary_of
from ._grading import POLLUTANTS, CityTriggers, Grading

log = logging.getLogger(__name__)
RESPONSE_EN = {"blue": "IV", "yellow": "III", "orange": "II", "red": "I"}


def _utc(values) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(values))
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def floor_hour(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def forecast_sequence(fc, now: datetime, quantile: str = "q50") -> AqiSequence:
    """The forecast's rolling-24 h AQI from the hour containing ``now`` on."""
    r = fc.rolling_aqi()
    ts = _utc(r["ts"])
    start = pd.Timestamp(floor_hour(now))
    keep = np.asarray(ts >= start)
    if not keep.any():
        return AqiSequence(floor_hour(now), np.array([]))
    idx = pd.date_range(ts[keep][0], ts[keep][-1], freq="h")

    def col(frame, name, index):
        s = pd.Series(np.asarray(frame[name]), index=index)
        return s[~s.index.duplicated()].reindex(idx)

    col_aqi = f"aqi_{quantile}" if f"aqi_{quantile}" in r else "aqi"
    aqi = col(r, col_aqi, ts).to_numpy(float)
    primary = tuple(col(r, "primary", ts).fillna("").astype(str)) if "primary" in r else ()
    p200 = col(r, "p_aqi_gt_200", ts).to_numpy(float) if "p_aqi_gt_200" in r else None
    conc = {}
    hourly = getattr(fc, "hourly", None)
    if hourly is not None and len(hourly) and "ts" in hourly:
        hts = _utc(hourly["ts"])
        for p in POLLUTANTS:
            if f"{p}_{quantile}" in hourly:
                conc[f"{p}_1h"] = col(hourly, f"{p}_{quantile}", hts).to_numpy(float)
    return AqiSequence(idx[0].to_pydatetime(), aqi, primary, conc, p200)


@dataclass(frozen=True)
class Assessment:
    """One city's warning level now, why, and the evidence a warning carries."""

    city: str
    level: str | None
    basis: str                 # forecast | hold | regional | insufficient
    grade: Grade
    own: str | None            # the level the forecast alone gives (with holding)
    evidence: dict


def _t(ts: datetime) -> str:
    return ts.astimezone(CST).strftime("%m-%d %H:%M")


def _ints(a: np.ndarray) -> list:
    return [int(x) if np.isfinite(x) else None for x in a]


def _probs(a: np.ndarray) -> list:
    return [round(float(x), 3) if np.isfinite(x) else None for x in a]


class Grader:
    """A grading, per-city stricter triggers, gap merging and lifting, in one place."""

    def __init__(self, grading: Grading, city_triggers: CityTriggers | None = None, *,
                 merge_gap_h: int = 12, lift_after_h: int = 36, quantile: str = "q50",
                 min_lead_h: int = 24) -> None:
        self.grading, self.triggers = grading, dict(city_triggers or {})
        self.merge_gap_h, self.lift_after_h = merge_gap_h, lift_after_h
        self.quantile, self.min_lead_h = quantile, min_lead_h
        self._by_city: dict[str, Grading] = {}

    def for_city(self, city: str) -> Grading:
        if city not in self._by_city:
            self._by_city[city] = self.grading.with_extra(self.triggers.get(city), city)
        return self._by_city[city]

    def assess(self, fc, city: str, now: datetime, prior: str | None = None) -> Assessment:
        """Grade ``fc`` for ``city`` given the level in force (``prior``)."""
        seq = forecast_sequence(fc, now, self.quantile) if fc is not None else None
        if seq is None or seq.empty:
            ev = {"city": city, "reason": "no usable forecast"}
            return Assessment(city, prior, "insufficient", Grade(None), prior, ev)
        table = self.for_city(city)
        g = grade(seq, table, self.merge_gap_h)
        level, basis = hold(prior, g.level, seq, table, self.lift_after_h)
        ev = self.evidence(fc, city, now, seq, g, table, level, basis)
        return Assessment(city, level, basis, g, level, ev)

    def evidence(self, fc, city, now, seq: AqiSequence, g: Grade, table: Grading, level,
                 basis) -> dict:
        cause = getattr(fc, "cause", None)
        primary = primary_of(seq, g.first, g.last)
        ev = {
            "city": city,
            "forecast": {"issue_time": pd.Timestamp(fc.issue_time).isoformat(),
                         "model_id": str(fc.model_id), "quantile": self.quantile},
            "grading": {**self.grading.summary(), "city_triggers": city in self.triggers},
            "aqi": {"start": seq.start.isoformat(), "step": "PT1H", "values": _ints(seq.aqi)},
            "certainty": "Likely", "level": level, "basis": basis, "criterion": g.criterion or None,
            "primary": primary or None, "episode": episode_type(primary, cause),
        }
        if seq.p_gt_200 is not None:
            ev["aqi"]["p_gt_200"] = _probs(seq.p_gt_200)
        if g.first is not None:
            onset, end = g.onset, g.end
            lead = (onset - now).total_seconds() / 3600
            ev.update(onset=onset.isoformat(), end=end.isoformat(), lead_h=round(lead, 1),
                      ahead=lead >= self.min_lead_h,
                      peak_aqi=int(np.nanmax(seq.aqi[g.first:g.last + 1])))
        if level:
            ev.update(response_zh=RESPONSE_ZH[level], response_en=RESPONSE_EN[level])
            ev.update(self._detail(fc, ev, level, basis))
        return ev

    @staticmethod
    def _detail(fc, ev: dict, level: str, basis: str) -> dict:
        issued = _t(pd.Timestamp(fc.issue_time).to_pydatetime())
        epi = ev["episode"]
        zh = f"预报（模型 {fc.model_id}，{issued} 发布）"
        en = f"Forecast (model {fc.model_id}, issued {issued} CST)"
        if ev.get("onset"):
            zh += (f"：{_t(datetime.fromisoformat(ev['onset']))} 起 AQI 最高 {ev['peak_aqi']}，"
                   f"满足“{ev['criterion']}”")
            en += (f": from {_t(datetime.fromisoformat(ev['onset']))} CST, AQI up to "
                   f"{ev['peak_aqi']}, meets '{ev['criterion']}'")
        if basis == "hold":
            zh += "；尚未持续低于启动条件36小时以上，维持预警"
            en += "; not yet forecast below the trigger for more than 36 h, warning held"
        if ev.get("primary"):
            zh += f"；首要污染物 {ev['primary']}；{epi['note_zh']}"
            en += f"; primary pollutant {ev['primary']}; {epi['note_en']}"
        zh += f"。{NAME_ZH[level]}预警对应{RESPONSE_ZH[level]}响应。"
        en += f". {level.capitalize()} warning: response level {RESPONSE_EN[level]}."
        return {"detail_zh": zh, "detail_en": en}


class StoredForecasts:
    """The default forecast provider: the newest stored model forecast, else persistence
    (same interface).

    The rules ask city by city; the stored forecast of every catalogue city is read at once
    and kept for that ``now`` (one rule run), so a run over all cities costs two store
    reads, not two per city (at accelerated demo speeds the rules must keep up)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple | None = None      # (store, now, {city: CityForecast})

    def __call__(self, store, city: str, now: datetime):
        from forecasting import persistence_city_forecast
        fc = self.batch(store, now, city).get(city)
        if fc is None:
            log.info("no stored air forecast for %s at %s: using persistence", city, now)
            fc = persistence_city_forecast(store, city, now)
        return fc

    def batch(self, store, now: datetime, city: str) -> dict:
        from forecasting import NoForecast, latest_city_forecasts
        cat = getattr(store, "cat", None)
        cities = list(cat.cities) if cat is not None and city in cat.cities else [city]
        with self._lock:
            last = self._last
            if last is not None and last[0] is store and last[1] == now and city in last[3]:
                return last[2]
            try:
                out = latest_city_forecasts(store, cities, now)
            except NoForecast:
                out = {}
            self._last = (store, now, out, set(cities))
            return out


default_forecasts = StoredForecasts()
