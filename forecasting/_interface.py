"""What the warning rules consume: a city's latest forecast and its rolling-24 h AQI.

    fc = latest_city_forecast(store, "xian", now)         # the issued model forecast
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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ._aqi import TABLES, aqi, edition_of, iaqi, prob_aqi_above, window_indicators
from ._air import default_spread
from ._features import HORIZON_H
from ._output import Q_COLS, pivot_air
from ._panel import POLLUTANTS, floor_hour, load_air
from .errors import NoForecast

BASELINE_ID = "baseline:persistence"


@dataclass
class CityForecast:
    city: str
    issue_time: datetime
    model_id: str
    hourly: pd.DataFrame  # ts, lead_h, <p>_q10/_q50/_q90
    observed: pd.DataFrame = field(default_factory=pd.DataFrame)  # ts, <p>: 23 h before issue

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
        ``p_aqi_gt_<level>``."""
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


def _observed(store, city: str, issue: datetime) -> pd.DataFrame:
    panel = load_air(store, [city], issue - timedelta(hours=24), issue)
    return pd.DataFrame({"ts": panel.index, **{p: panel.data[p][:, 0] for p in POLLUTANTS}})


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
    row = latest_issue(store, "air", now, max_age)
    if row is None:
        raise NoForecast(f"no air forecast issued in the {max_age} before {now.isoformat()}")
    issue = pd.Timestamp(row["time"]).to_pydatetime()
    df = store.read_frame("forecast_air", issue, issue + timedelta(hours=HORIZON_H),
                          where={"city": [city], "issue": [row["issue"]]})
    if df.empty:
        raise NoForecast(f"forecast {row['issue']} has no rows for {city}")
    return CityForecast(city, issue, str(df["model_id"].iloc[0]), pivot_air(df),
                        _observed(store, city, issue))


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
