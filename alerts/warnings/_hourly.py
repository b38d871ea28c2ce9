"""An hourly series from a file, graded exactly as the warning rules grade a city forecast.

A CSV with a ``time`` column (China Standard Time unless an offset is given, one row per hour)
and either an ``aqi`` column (the AQI of the 24 h window ending with that hour, what a
forecast's ``rolling_aqi()`` gives) or pollutant columns (``pm25 pm10 so2 no2 co o3``, µg/m³,
CO mg/m³). Pollutant columns are turned into 24 h-window AQI by the AQI engine
(``core.aqi.rolling_aqi``, HJ 633 means and data capture); a window with an indicator missing
counts at its lower bound (the largest valid IAQI), as for alerting. The result is a
:class:`HourlySeries` with the ``forecasting.CityForecast`` interface, so
:meth:`Grader.assess` grades it on the rules' own code path.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.aqi import AqiError, rolling_aqi
from core.timeutil import CST

from ._grading import POLLUTANTS

HOUR = pd.Timedelta(hours=1)


class HourlyInputError(ValueError):
    """The hourly file cannot be graded; the message says which column or row and why."""


def _times(raw: pd.Series) -> pd.DatetimeIndex:
    """``time`` values as UTC; naive values are CST, explicit offsets are honoured."""
    out = []
    for row, value in enumerate(raw.astype(str), start=2):          # row 1 is the header
        try:
            ts = pd.Timestamp(value.strip())
        except (ValueError, TypeError) as exc:
            raise HourlyInputError(f"row {row}: time {value!r} is not a date-time") from exc
        if ts is pd.NaT or pd.isna(ts):
            raise HourlyInputError(f"row {row}: time is empty")
        out.append(ts.tz_localize(CST) if ts.tzinfo is None else ts)
    return pd.DatetimeIndex([t.tz_convert("UTC") for t in out]).as_unit("ns")


def _check_hourly(ts: pd.DatetimeIndex) -> None:
    if not len(ts):
        raise HourlyInputError("no rows")
    off = np.flatnonzero((ts.minute != 0) | (ts.second != 0) | (ts.microsecond != 0))
    if len(off):
        raise HourlyInputError(f"row {off[0] + 2}: time {ts[off[0]]} is not on the hour "
                               "(hourly values expected)")
    step = np.flatnonzero(np.diff(ts.asi8) != HOUR.value)
    if len(step):
        i = step[0]
        raise HourlyInputError(
            f"row {i + 3}: time {ts[i + 1].tz_convert(CST)} follows {ts[i].tz_convert(CST)}: "
            "rows must be consecutive hours (leave values empty for a missing hour)")


def _numbers(frame: pd.DataFrame, col: str) -> np.ndarray:
    vals = pd.to_numeric(frame[col].replace(r"^\s*$", np.nan, regex=True), errors="coerce")
    bad = np.flatnonzero(vals.isna() & frame[col].notna()
                         & (frame[col].astype(str).str.strip() != ""))
    if len(bad):
        raise HourlyInputError(f"row {bad[0] + 2}: {col} {frame[col].iloc[bad[0]]!r} is not "
                               "a number")
    return vals.to_numpy(float)


@dataclass
class HourlySeries:
    """A series with the CityForecast interface (``rolling_aqi()``, ``hourly``)."""

    city: str
    issue_time: datetime
    model_id: str
    windows: pd.DataFrame                  # ts (window end hour), window_start, aqi, primary
    hourly: pd.DataFrame                   # ts, <pollutant>_q50
    missing: tuple[str, ...] = ()          # pollutants absent from the file
    partial: int = 0                       # windows whose AQI is a lower bound

    def rolling_aqi(self, level: float = 200.0) -> pd.DataFrame:
        return self.windows.copy()


def read_hourly(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HourlyInputError(f"{path}: {exc}") from exc


def hourly_series(frame: pd.DataFrame, *, city: str = "", issued: datetime | None = None,
                  source: str = "file") -> HourlySeries:
    """Validate an hourly frame (``time`` + ``aqi`` or pollutant columns, strings or numbers)
    and build the series; ``issued`` defaults to the first hour."""
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    if "time" not in frame:
        raise HourlyInputError(f"missing column 'time' (columns: {', '.join(frame.columns)})")
    pols = [p for p in POLLUTANTS if p in frame]
    if "aqi" in frame and pols:
        raise HourlyInputError(f"give either an 'aqi' column or pollutant columns, not both "
                               f"(found aqi and {', '.join(pols)})")
    if "aqi" not in frame and not pols:
        raise HourlyInputError("missing column 'aqi' or pollutant columns "
                               f"({', '.join(POLLUTANTS)})")
    ts = _times(frame["time"])
    _check_hourly(ts)
    issue = issued or ts[0].to_pydatetime()
    model = f"hourly-file:{source}"
    if "aqi" in frame:
        aqi = _numbers(frame, "aqi")
        windows = pd.DataFrame({"ts": ts, "window_start": ts - 23 * HOUR, "aqi": aqi})
        return HourlySeries(city, issue, model, windows, pd.DataFrame({"ts": ts}))
    conc = {p: _numbers(frame, p) for p in pols}
    windows, partial = _windows(ts, conc)
    hourly = pd.DataFrame({"ts": ts, **{f"{p}_q50": v for p, v in conc.items()}})
    missing = tuple(p for p in POLLUTANTS if p not in conc)
    return HourlySeries(city, issue, model, windows, hourly, missing, partial)


def _windows(ts: pd.DatetimeIndex, conc: dict[str, np.ndarray]) -> tuple[pd.DataFrame, int]:
    """24 h-window AQI (lower bound where an indicator is missing) per window END hour."""
    if len(ts) < 24:
        raise HourlyInputError(f"{len(ts)} hours: pollutant columns need at least 24 hours "
                               "(one 24 h window)")
    frame = pd.DataFrame({"station": "file", "ts": ts, **conc})
    try:
        r = rolling_aqi(frame, allow_partial=True)
    except AqiError as exc:
        raise HourlyInputError(f"AQI: {exc}") from exc
    end = pd.DatetimeIndex(r["ts_end"]) - HOUR
    out = pd.DataFrame({"ts": end, "window_start": pd.DatetimeIndex(r["ts"]),
                        "aqi": r["aqi"].to_numpy(float),
                        "primary": r["primary"].astype(str).to_numpy()})
    keep = (out["ts"] >= ts[23]) & (out["ts"] <= ts[-1])
    partial = int(((r["status"].astype(str) == "partial").to_numpy() & keep.to_numpy()).sum())
    return out[keep].reset_index(drop=True), partial


def cst(ts: datetime | str | None) -> str | None:
    """An ISO time with the CST offset (the wire form of the command's output)."""
    if ts is None:
        return None
    t = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return t.astimezone(CST).isoformat()


def parse_issued(value: str | None) -> datetime | None:
    """``--issued``: ISO date-time, CST unless it carries an offset."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise HourlyInputError(f"--issued {value!r} is not an ISO date-time") from exc
    return t.replace(tzinfo=CST) if t.tzinfo is None else t


