"""Real-time pollution alert (kind ``air.realtime``): hourly AQI into 重度/严重污染 unforecast.

Periodic: reads the newest hour of the ``aqi_hourly`` derived series (computed from the raw
readings when the series is empty, ``source = "auto"``) per city (``city:<slug>``) and/or
station (``station:<id>``). An hourly AQI above a level's ``above`` (default orange > 200
重度污染, red > 300 严重污染) raises an alert unless a warning (``covered_by`` kinds) already
covers the city: then the forecast did not miss it and nobody needs paging. An alert already
raised keeps going until the AQI falls below ``clear_below``. Hours older than ``max_age``
never page; subjects with an open alert and no fresh hour are "insufficient" (never clear).

An hour whose published AQI is blank because an indicator lacks valid data (HJ 633) is
judged on its lower bound, the largest valid IAQI (``aqi_lower_bound``; DOMAIN.md section 3):
PM2.5 at IAQI 310 with SO2 invalid is a red alert. The evidence then says ``lower_bound``
and names the ``missing`` indicators; an hour with T-flagged values (above the instrument's
range) is a lower bound too (``above_range``). A lower bound can raise or hold a level but
never lowers or clears one: that is "insufficient".
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from core.timeutil import CST

from .._levels import RANK, check_level, higher
from ..warnings import covering
from ._base import PeriodicRule, RuleConfig, RuleContext, Signal, duration

HOUR = timedelta(hours=1)


class RtLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str
    above: float
    clear_below: float | None = None

    @model_validator(mode="after")
    def _check(self):
        check_level(self.level)
        return self


class RealtimeConfig(RuleConfig):
    scopes: list[Literal["city", "station"]] = ["city", "station"]
    cities: list[str] = []                  # default: every catalogue city
    levels: list[RtLevel] = [RtLevel(level="orange", above=200),
                             RtLevel(level="red", above=300)]
    max_age: str = "2h"                     # the newest hour must have ended this recently
    source: Literal["auto", "derived", "computed"] = "auto"
    covered_by: list[str] = ["air.warning", "air.regional"]
    every: str = "10m"


class AqiRealtimeRule(PeriodicRule):
    config_model = RealtimeConfig

    def __init__(self, config: RealtimeConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        if not config.levels or not config.scopes:
            raise ValueError("at least one level and one scope")
        self.specs = sorted(config.levels, key=lambda s: RANK[s.level])
        self.max_age = duration(config.max_age)
        self.every = duration(config.every)
        self.cities = set(config.cities or catalogue.cities)

    # ------------------------------------------------------------------ data
    def latest(self, store, now: datetime) -> tuple[pd.DataFrame, str]:
        """Newest hour per (scope, station): columns scope, station, time, aqi, primary,
        aqi_alert (the AQI, else its lower bound) and missing_list."""
        start = now - self.max_age - 2 * HOUR
        src = "aqi_hourly"
        df = pd.DataFrame()
        if self.config.source != "computed":
            df = store.read_frame("aqi_hourly", start, now + timedelta(seconds=1),
                                  where={"scope": list(self.config.scopes)})
        if df.empty and self.config.source != "derived":
            df, src = self._computed(store, start, now), "computed"
        if df.empty:
            return df, src
        df = _with_bound(df[df["scope"].isin(self.config.scopes)]).dropna(subset=["aqi_alert"])
        # the newest row as a whole (last() would take each column's last non-null value)
        df = df.sort_values("time", kind="stable").groupby(["scope", "station"]).tail(1)
        return df, src

    def _computed(self, store, start: datetime, now: datetime) -> pd.DataFrame:
        from core.aqi import city_aqi, hourly_aqi, load_hourly
        frame = load_hourly(store, self.cat, start - timedelta(hours=24), now)
        if frame.empty:
            return pd.DataFrame()
        st_city = {s.id: s.city for s in self.cat.stations.values()}
        parts = []
        if "station" in self.config.scopes:
            parts.append(hourly_aqi(frame).assign(scope="station"))
        if "city" in self.config.scopes:
            parts.append(city_aqi(frame, st_city, "hourly").assign(scope="city"))
        out = pd.concat(parts, ignore_index=True).rename(columns={"ts": "time"})
        return out[out["time"] >= start][["scope", "station", "time", "aqi", "primary",
                                            "aqi_lower_bound", "missing", "above_range"]]

    # ------------------------------------------------------------------ evaluation
    def evaluate_context(self, ctx: RuleContext) -> list[tuple[str, Signal]]:
        df, src = self.latest(ctx.store, ctx.now)
        out, seen = [], set()
        for row in df.itertuples(index=False):
            subject, city = self._subject(row.scope, row.station)
            if city not in self.cities:
                continue
            seen.add(subject)
            sig = self._assess(ctx, subject, city, row, src)
            if sig is not None:
                out.append((subject, sig))
        for a in ctx.open_alerts:   # an open alert whose data stopped: never "all clear"
            if a["rule_id"] == self.id and a["subject"] not in seen:
                out.append((a["subject"], Signal("insufficient", ctx.now, a["level"],
                                                 {"reason": "no fresh hourly AQI"})))
        return out

    def _subject(self, scope: str, key: str) -> tuple[str, str]:
        if scope == "city":
            return f"city:{key}", key
        st = self.cat.stations.get(key)
        return f"station:{key}", st.city if st else ""

    def _assess(self, ctx, subject, city, row, src) -> Signal | None:
        cur = ctx.open_alert(self.id, subject)
        hour = pd.Timestamp(row.time).to_pydatetime()
        aqi, missing, above = float(row.aqi_alert), row.missing_list, row.above_list
        ev = {"scope": row.scope, "station" if row.scope == "station" else "city": row.station,
              "hour": hour.isoformat(), "aqi": int(aqi), "primary": row.primary or None,
              "source": src}
        if missing:
            ev.update(lower_bound=True, missing=missing)
        if above:   # T-flagged: the true concentration is at least the one measured
            ev.update(lower_bound=True, above_range=above)
        if ctx.now - (hour + HOUR) > self.max_age or math.isnan(aqi):
            return Signal("insufficient", ctx.now, cur["level"], ev) if cur else None
        level = self._level(aqi, cur["level"] if cur else None)
        if (missing or above) and cur is not None and not higher(level, cur["level"]) \
                and level != cur["level"]:
            return Signal("insufficient", ctx.now, cur["level"], ev)
        if level is None:
            return Signal("clear", ctx.now, None, ev)
        if cur is None:
            cover = covering(ctx.open_alerts, city, self.config.covered_by, ctx.now)
            if cover:
                ev["covered_by"] = [a["id"] for a in cover]
                return Signal("clear", ctx.now, None, ev)
        spec = next(s for s in self.specs if s.level == level)
        cat = "严重污染" if aqi > 300 else "重度污染" if aqi > 200 else "污染"
        at_least_zh = f"至少 {int(aqi)}（{'、'.join(missing)} 无有效数据）" if missing \
            else str(int(aqi))
        at_least_en = f"at least {int(aqi)} ({', '.join(missing)} without valid data)" \
            if missing else str(int(aqi))
        ev.update(threshold=spec.above, category_zh=cat, detail_zh=(
            f"{hour.astimezone(CST):%m-%d %H}时小时 AQI {at_least_zh}（{cat}），首要污染物 "
            f"{row.primary or '—'}；当前无覆盖该市的预警（预报未预见），请立即处置。"),
            detail_en=(f"Hourly AQI {at_least_en} at {hour.astimezone(CST):%m-%d %H}:00 CST "
                       f"(primary {row.primary or '-'}) with no warning in force: the "
                       "forecast missed it."))
        return Signal("firing", ctx.now, level, ev)

    def _level(self, aqi: float, prior: str | None) -> str | None:
        up = None
        for s in self.specs:
            if aqi > s.above:
                up = s.level
        if prior is None or (up is not None and RANK[up] >= RANK[prior]):
            return up
        for s in reversed(self.specs):   # hysteresis: stay while above clear_below
            if RANK[s.level] <= RANK[prior]:
                stay = aqi >= s.clear_below if s.clear_below is not None else aqi > s.above
                if stay and (up is None or RANK[s.level] > RANK[up]):
                    return s.level
        return up


def _with_bound(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``aqi_alert`` (the AQI, else its lower bound), ``missing_list`` and ``above_list``
    (indicators with T-flagged values: the AQI is then a lower bound too).

    Rows written before the lower bound existed have neither column: their AQI is used.
    """
    df = df.copy()
    aqi = pd.to_numeric(df["aqi"], errors="coerce")
    bound = pd.to_numeric(df["aqi_lower_bound"], errors="coerce") \
        if "aqi_lower_bound" in df else pd.Series(float("nan"), index=df.index)
    df["aqi_alert"] = aqi.where(aqi.notna(), bound)
    names = df["missing"] if "missing" in df else pd.Series("", index=df.index)
    df["missing_list"] = [
        [] if pd.notna(a) or not isinstance(m, str) or not m else m.split(",")
        for a, m in zip(aqi, names)]
    above = df["above_range"] if "above_range" in df else pd.Series("", index=df.index)
    df["above_list"] = [a.split(",") if isinstance(a, str) and a else [] for a in above]
    return df
