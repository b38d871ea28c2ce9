"""Weather forecasts into the store for the live model: the Open-Meteo forecast API and CSV.

Both write measurement ``met_forecast`` (tags ``city``, ``issue``; fields ``lead_h``, the
:data:`MET_VARS`, ``precip`` and the string ``source``), which :class:`StoreMetFeed` reads
for every live issue. Units are the catalogue's: temp °C, rh %, pressure kPa, wind_speed m/s,
wind_dir degrees, precip mm per hour.

Open-Meteo (https://open-meteo.com/en/docs, ``/v1/forecast``): one request per city at the
catalogue's lat/lon with ``hourly=temperature_2m,relative_humidity_2m,surface_pressure,
wind_speed_10m,wind_direction_10m,precipitation`` and ``timezone=UTC``; the answer's
``hourly.time`` are UTC hours starting at 00:00 today, its ``hourly_units`` name each
variable's unit (by default °C, %, hPa, km/h, °, mm), and each unit is converted from what
the answer says (a unit not known here is refused, never guessed). Temperature, humidity,
pressure and wind are instantaneous values at the hour and are stored at that hour;
precipitation is the sum over the preceding hour and is stored at that hour's start.

The issue time of a fetch is the fetch time rounded *up* to the whole minute: a forecast
asked for at an issue time before the fetch can never see it (the live system never uses a
weather forecast obtained after its own issue time). Hours before the fetch hour (the
answer's earlier part of today) are not stored.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from tenacity import (retry, retry_if_exception, stop_after_attempt, wait_exponential)

from ._met import MET_VARS, issue_tag
from ._observed import stagnation_proxy
from .errors import FeedError

log = logging.getLogger(__name__)

OPEN_METEO_URL = "https://api.open-meteo.com/v1/forecast"
SOURCE_OPEN_METEO = "open-meteo"
#: Open-Meteo hourly variable -> catalogue field
OPEN_METEO_VARS = {"temperature_2m": "temp", "relative_humidity_2m": "rh",
                   "surface_pressure": "pressure", "wind_speed_10m": "wind_speed",
                   "wind_direction_10m": "wind_dir", "precipitation": "precip"}
#: (field, unit as the answer spells it) -> factor to the catalogue unit
UNIT_FACTORS = {
    ("temp", "°C"): 1.0,
    ("rh", "%"): 1.0,
    ("pressure", "hPa"): 0.1,            # 1 kPa = 10 hPa
    ("wind_speed", "km/h"): 1 / 3.6,     # 1 m/s = 3.6 km/h
    ("wind_speed", "m/s"): 1.0,
    ("wind_dir", "°"): 1.0,
    ("precip", "mm"): 1.0,
}
FIELDS = (*[v for v in MET_VARS if v != "stagnation"], "precip")
CSV_COLUMNS = ("city", "issued", "time")


class WeatherFetchError(FeedError):
    """A weather forecast could not be fetched or read (after the retries)."""


@dataclass
class FetchResult:
    issue: datetime
    stored: dict[str, int] = field(default_factory=dict)      # city -> rows stored
    failed: dict[str, str] = field(default_factory=dict)      # city -> reason

    def as_dict(self) -> dict:
        return {"issue": issue_tag(self.issue), "stored": self.stored, "failed": self.failed}


def issue_time(fetched: datetime) -> datetime:
    """The fetch time rounded up to the whole minute (UTC)."""
    t = fetched.astimezone(timezone.utc)
    up = t.replace(second=0, microsecond=0)
    return up if up == t else up + timedelta(minutes=1)


def _convert(doc: dict) -> pd.DataFrame:
    """An Open-Meteo answer -> frame of ``time`` (UTC hour starts) and catalogue fields."""
    hourly, units = doc.get("hourly"), doc.get("hourly_units") or {}
    if not isinstance(hourly, dict) or "time" not in hourly:
        raise WeatherFetchError("answer without hourly.time")
    if doc.get("utc_offset_seconds", 0) != 0:
        raise WeatherFetchError("answer not in UTC (ask with timezone=UTC)")
    times = pd.to_datetime(pd.Series(hourly["time"]), utc=True, format="ISO8601")
    out = pd.DataFrame({"time": times})
    for name, fld in OPEN_METEO_VARS.items():
        if name not in hourly:
            raise WeatherFetchError(f"answer without hourly.{name}")
        unit = units.get(name)
        factor = UNIT_FACTORS.get((fld, unit))
        if factor is None:
            raise WeatherFetchError(f"unit {unit!r} of {name} not known")
        vals = np.array([np.nan if v is None else v for v in hourly[name]], dtype="float64")
        if len(vals) != len(times):
            raise WeatherFetchError(f"hourly.{name} has {len(vals)} values for "
                                    f"{len(times)} times")
        out[fld] = vals * factor
    # precipitation: sum over the preceding hour -> the hour that ends at the label
    prev = out[["time", "precip"]].assign(time=out["time"] - pd.Timedelta(hours=1))
    out = out.drop(columns="precip").merge(prev, on="time", how="left")
    return out


def forecast_frame(fields: pd.DataFrame, city: str, issue: datetime, source: str
                   ) -> pd.DataFrame:
    """Rows of ``met_forecast`` for one city and issue: the hours from the issue's hour on,
    ``lead_h`` 1 for that hour (as :meth:`MetForecast.to_frame`), stagnation derived from
    wind and humidity as for observed weather."""
    start = pd.Timestamp(issue).tz_convert("UTC").floor("h")
    df = fields[pd.to_datetime(fields["time"], utc=True) >= start].copy()
    df["time"] = pd.to_datetime(df["time"], utc=True)
    for f in FIELDS:
        if f not in df:
            df[f] = np.nan
    df["stagnation"] = stagnation_proxy(df["wind_speed"].to_numpy(float),
                                        df["rh"].to_numpy(float))
    df["city"], df["issue"], df["source"] = city, issue_tag(issue), source
    df["lead_h"] = ((df["time"] - start) // pd.Timedelta(hours=1) + 1).astype("float64")
    return df[["time", "city", "issue", "lead_h", *FIELDS, "stagnation", "source"]]


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (httpx.TransportError, httpx.TimeoutException)):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and (
        exc.response.status_code >= 500 or exc.response.status_code == 429)


def _get(client: httpx.Client, url: str, params: dict, attempts: int, wait_s: float) -> dict:
    @retry(retry=retry_if_exception(_retryable), stop=stop_after_attempt(attempts),
           wait=wait_exponential(multiplier=wait_s, max=30 * wait_s), reraise=True)
    def once() -> dict:
        resp = client.get(url, params=params)
        resp.raise_for_status()
        return resp.json()
    return once()


def fetch_open_meteo(store, catalogue, cities: list[str] | None = None, *,
                     url: str = OPEN_METEO_URL, now: datetime | None = None,
                     forecast_days: int = 5, attempts: int = 4, wait_s: float = 1.0,
                     timeout_s: float = 20.0) -> FetchResult:
    """Fetch and store one issue per city. A city whose fetch fails (after ``attempts``
    tries of a connection error, timeout, 429 or 5xx) is reported in ``failed`` with the
    reason; the other cities are still fetched and stored."""
    fetched = now or datetime.now(timezone.utc)
    result = FetchResult(issue_time(fetched))
    slugs = list(cities or catalogue.cities)
    with httpx.Client(timeout=timeout_s, headers={"User-Agent": "fenwei"}) as client:
        for slug in slugs:
            city = catalogue.cities.get(slug)
            if city is None:
                result.failed[slug] = "not a catalogue city"
                continue
            params = {"latitude": f"{city.lat:.4f}", "longitude": f"{city.lon:.4f}",
                      "hourly": ",".join(OPEN_METEO_VARS), "timezone": "UTC",
                      "forecast_days": forecast_days}
            try:
                doc = _get(client, url, params, attempts, wait_s)
                frame = forecast_frame(_convert(doc), slug, result.issue, SOURCE_OPEN_METEO)
            except (httpx.HTTPError, ValueError) as exc:
                reason = (f"HTTP {exc.response.status_code}" if isinstance(
                    exc, httpx.HTTPStatusError) else f"{type(exc).__name__}: {exc}")
                log.warning("weather forecast for %s not fetched from %s: %s", slug, url,
                            reason)
                result.failed[slug] = reason
                continue
            result.stored[slug] = store.write_frame("met_forecast", frame, ["city", "issue"])
    return result


def _parse_time(text: pd.Series, what: str) -> pd.Series:
    """ISO 8601 with an offset (or Z); a naive time is China Standard Time."""
    naive = ~text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if (~naive).any():
        out[~naive] = pd.to_datetime(text[~naive], utc=True, format="ISO8601",
                                     errors="coerce")
    if naive.any():
        out[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce"
                                    ).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    return out


def import_weather_csv(store, catalogue, path: Path, source: str | None = None) -> dict:
    """``city, issued, time`` and any of temp, rh, pressure, wind_speed, wind_dir, precip
    (catalogue units; stagnation optional, else derived). Stores one issue per
    (city, issued); refuses, with a count per reason, rows of unknown cities, unreadable
    times and valid times before the issue hour. Returns the counts."""
    df = pd.read_csv(path, dtype={"city": "string", "issued": "string", "time": "string"})
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise FeedError(f"{path.name}: needs columns {list(CSV_COLUMNS)}, missing {missing}")
    if not any(f in df.columns for f in FIELDS):
        raise FeedError(f"{path.name}: no field column (any of {list(FIELDS)})")
    src = source or f"csv:{Path(path).name}"
    df["city"] = df["city"].fillna("").str.strip()
    issued = _parse_time(df["issued"].fillna("").str.strip(), "issued")
    times = _parse_time(df["time"].fillna("").str.strip(), "time")
    counts = {"rows": len(df), "stored": 0, "issues": 0, "rejected": {}}
    bad = {"unknown_city": ~df["city"].isin(list(catalogue.cities)),
           "bad_time": issued.isna() | times.isna()}
    bad["before_issue"] = ~bad["bad_time"] & (times < issued.dt.floor("h"))
    refused = np.zeros(len(df), bool)
    for reason, mask in bad.items():
        mask = mask.to_numpy(bool) & ~refused
        if mask.any():
            counts["rejected"][reason] = int(mask.sum())
        refused |= mask
    df, issued, times = df[~refused], issued[~refused], times[~refused]
    df = df.assign(time=times, _issued=issued)
    for (city, iss), group in df.groupby(["city", "_issued"], sort=True):
        frame = forecast_frame(group, city, iss.to_pydatetime(), src)
        if "stagnation" in group:
            given = group.set_index("time")["stagnation"].astype(float)
            frame["stagnation"] = given.reindex(frame["time"]).fillna(
                frame.set_index("time")["stagnation"]).to_numpy()
        counts["stored"] += store.write_frame("met_forecast", frame, ["city", "issue"])
        counts["issues"] += 1
    return counts
