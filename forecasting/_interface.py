"""What the warning rules consume: a city's latest forecast and its rolling-24 h AQI.

    fc = latest_city_forecast(store, "xian", now)         # the issued model forecast
    fcs = latest_city_forecasts(store, ["xian", "weinan"], now)   # every city in two reads
    fc = persistence_city_forecast(store, "xian", now)    # same interface, persistence
    fc.hourly          # ts, lead_h, pm25_q10, pm25_q50, pm25_q90, ... (6 pollutants, 96 h)
    seq = fc.rolling_aqi()   # per forecast hour: the AQI of the 24 h ending with that hour
    seq["p_aqi_gt_200"]      # P(AQI > 200) per hour; fc.prob_aqi_above(150) for other levels

Windows reaching back before the issue use the observed city means (``observed``), so the
first forecast hour already has a full 24 h window. Quantile windows assume errors move
together across hours and pollutants (co-monotone), which makes the q10/q50/q90 AQI and
P(AQI > level) = max over pollutants of P(24 h indicator > its breakpoint) consistent.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ._aqi import TABLES, aqi, edition_of, iaqi, prob_aqi_above, window_indicators
from ._air import default_spread
from ._features import HORIZON_H
from ._output import Q_COLS, pivot_cities
from ._panel import POLLUTANTS, floor_hour, from_long, hour_index
from .errors import NoForecast

BASELINE_ID = "baseline:persistence"


@dataclass
class CityForecast:
    city: str
    issue_time: datetime
    model_id: str
    hourly: pd.DataFrame  # ts, lead_h, <p>_q10/_q50/_q90
    observed: pd.DataFrame = field(default_factory=pd.DataFrame)  # ts, <p>: 23 h before issue
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _series(self, qcol: str) -> dict[str, np.ndarray]:
        obs = self.observed.set_index("ts") if len(self.observed) else pd.DataFrame()
        before = pd.date_range(end=pd.Timestamp(self.issue_time) - pd.Timedelta(hours=1),
                               periods=23, freq="h", unit="s")
        out = {}
        for p in POLLUTANTS:
            past = obs[p].reindex(before).to_numpy(float) if p in obs else np.full(23, np.nan)
            out[p] = np.concatenate([past, self.hourly[f"{p}_{qcol}"].to_numpy(float)])[:, None]
        return out

    def rolling_aqi(self, level: float = 200.0) -> pd.DataFrame:
        """Per forecast hour ``ts``: the AQI (q10/q50/q90) of the 24 h window ending with it
        (``window_start`` .. ``ts`` inclusive), its primary pollutant at the median, and
        ``p_aqi_gt_<level>``. Computed once per level (treat the frames as read-only)."""
        if level not in self._memo:
            self._memo[level] = self._rolling_aqi(level)
        return self._memo[level].copy()

    def _rolling_aqi(self, level: float) -> pd.DataFrame:
        n = len(self.hourly)
        starts = np.arange(n)
        ind = {q: window_indicators(self._series(q), starts) for q in Q_COLS}
        ws = pd.DatetimeIndex(self.hourly["ts"]) - pd.Timedelta(hours=23)
        ed = edition_of(ws)[:, None]
        out = pd.DataFrame({"ts": self.hourly["ts"].to_numpy(), "window_start": ws})
        for q in Q_COLS:
            out[f"aqi_{q}"] = aqi(ind[q], ed)[:, 0]
        quant = {k: tuple(ind[q][k][:, 0] for q in Q_COLS) for k in TABLES}
        out[f"p_aqi_gt_{int(level)}"] = prob_aqi_above(quant, ed[:, 0], level)
        sub = np.stack([iaqi(k, ind["q50"][k][:, 0], ed[:, 0]) for k in TABLES])
        names = np.array(list(TABLES))
        out["primary"] = [names[np.nanargmax(col)] if np.isfinite(col).any() and
                          np.nanmax(col) > 50 else "" for col in sub.T]
        return out

    def prob_aqi_above(self, level: float = 200.0) -> pd.Series:
        """P(rolling-24 h AQI > level) per forecast hour (index ``ts``)."""
        r = self.rolling_aqi(level)
        return pd.Series(r[f"p_aqi_gt_{int(level)}"].to_numpy(), index=r["ts"], name="p")


def _observed_all(store, cities: list[str], issue: datetime) -> dict[str, pd.DataFrame]:
    """City hourly mean pollutants of the 24 h before ``issue``, one store read for all."""
    index = hour_index(issue - timedelta(hours=24), issue)
    df = store.aggregate("air", list(POLLUTANTS), index[0].to_pydatetime(),
                         (index[-1] + pd.Timedelta(hours=1)).to_pydatetime(), every="1h",
                         by="city", keys=list(cities))
    panel = from_long(df, "city", POLLUTANTS, index, list(cities), suffix="_mean")
    return {c: pd.DataFrame({"ts": index, **{p: panel.data[p][:, k] for p in POLLUTANTS}})
            for k, c in enumerate(cities)}


def _observed(store, city: str, issue: datetime) -> pd.DataFrame:
    return _observed_all(store, [city], issue)[city]


def latest_issue(store, kind: str, now: datetime, max_age: timedelta = timedelta(hours=36)):
    df = store.read_frame("forecast_issue", now - max_age, now + timedelta(seconds=1),
                          where={"kind": [kind]})
    if df.empty:
        return None
    return df.sort_values("time").iloc[-1]


def latest_city_forecast(store, city: str, now: datetime, *,
                         max_age: timedelta = timedelta(hours=36)) -> CityForecast:
    """The newest stored forecast for ``city`` issued at or before ``now``.

    Raises :class:`NoForecast` when none was issued within ``max_age``."""
    fcs = latest_city_forecasts(store, [city], now, max_age=max_age)
    if city not in fcs:
        raise NoForecast(f"the newest air forecast has no rows for {city}")
    return fcs[city]


class _IssueRows:
    """The stored rows of the few newest issues, pivoted per city (an issue never changes
    once written, so it is read once, not once per city and rule run)."""

    def __init__(self, size: int = 4) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()
        self.size = size

    def get(self, store, row) -> tuple[str, dict[str, pd.DataFrame]]:
        issue = pd.Timestamp(row["time"]).to_pydatetime()
        key = (id(store), str(row["issue"]), str(row.get("model_id", "")))
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] is store:
                self._items.move_to_end(key)
                return hit[1]
        df = store.read_frame("forecast_air", issue, issue + timedelta(hours=HORIZON_H),
                              where={"issue": [row["issue"]]})
        value = (str(df["model_id"].iloc[0]) if len(df) else "", pivot_cities(df))
        with self._lock:
            self._items[key] = (store, value, {})
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def made(self, store, row) -> dict:
        """The CityForecast objects already made from this issue (filled by the caller): their
        rolling AQI is computed once per issue, not once per rule run."""
        key = (id(store), str(row["issue"]), str(row.get("model_id", "")))
        with self._lock:
            hit = self._items.get(key)
            return hit[2] if hit is not None and hit[0] is store else {}


_ISSUES = _IssueRows()


def latest_city_forecasts(store, cities: list[str], now: datetime, *,
                          max_age: timedelta = timedelta(hours=36)) -> dict[str, CityForecast]:
    """The newest stored forecast issued at or before ``now``, for each of ``cities`` it
    covers (a city without rows in it is left out).

    Raises :class:`NoForecast` when none was issued within ``max_age``."""
    row = latest_issue(store, "air", now, max_age)
    if row is None:
        raise NoForecast(f"no air forecast issued in the {max_age} before {now.isoformat()}")
    issue = pd.Timestamp(row["time"]).to_pydatetime()
    model_id, wide = _ISSUES.get(store, row)
    have = [c for c in cities if c in wide]
    if not have:
        return {}
    made = _ISSUES.made(store, row)
    missing = [c for c in have if c not in made]
    if missing:   # the observed 24 h before the issue, read once per issue and city
        obs = _observed_all(store, missing, issue)
        for c in missing:
            made[c] = CityForecast(c, issue, model_id, wide[c], obs[c])
    return {c: made[c] for c in have}


def persistence_city_forecast(store, city: str, now: datetime, *,
                              profile: np.ndarray | None = None) -> CityForecast:
    """Persistence with the :class:`CityForecast` interface: each pollutant's last 24 h mean
    (optionally shaped by a (24,) CST-hour profile), spread widening with lead time."""
    issue = floor_hour(now)
    obs = _observed(store, city, issue)
    spread = default_spread()
    valid = pd.date_range(issue, periods=HORIZON_H, freq="h", unit="s")
    lead_d = np.arange(HORIZON_H) // 24
    shape = np.ones(HORIZON_H) if profile is None else \
        np.asarray(profile)[(valid.hour.to_numpy() + 8) % 24]
    hourly = pd.DataFrame({"ts": valid, "lead_h": np.arange(1, HORIZON_H + 1)})
    for p in POLLUTANTS:
        v = obs[p].to_numpy(float)
        last = np.nanmean(v) if np.isfinite(v).sum() >= 20 else np.nan
        for k, q in enumerate(Q_COLS):
            r = 0.0 if q == "q50" else spread[p][lead_d, k]
            hourly[f"{p}_{q}"] = last * np.exp(r) * shape
    return CityForecast(city, issue, BASELINE_ID, hourly, obs)
