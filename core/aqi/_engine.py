"""Hourly, daily and rolling-24 h AQI over frames of hourly station concentrations."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.flags import VALID_FLAGS

from ._combine import ORDER, bit_codes, combine, join_names, labels
from ._grid import DAY_H, HOUR_NS, POLLUTANTS, Grid, to_grid
from ._iaqi import DAILY_TABLES, HOURLY_TABLES, grade
from ._tables import EDITIONS, edition_index
from ._windows import (max_8h_in_windows, pad_to, trailing_mean, window_count, window_max,
                       window_mean)

MEAN_24H_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co")


@dataclass(frozen=True)
class Validity:
    """Data-capture rules (GB 3095 / HJ 663): a mean counts only with enough valid values.

    ``o3_8h_windows``: the daily max 8 h O3 needs this many valid 8 h means out of the 17
    that start inside the day, unless the max already exceeds the IAQI-100 breakpoint.
    """

    hours_24h: int = 20
    hours_8h: int = 6
    o3_8h_windows: int = 14


DEFAULT_VALIDITY = Validity()
_O3_8H_LIMIT = np.array([e.tables["o3_8h"].bp[2] for e in EDITIONS])


def _grade_all(conc, tables, ed, subs):
    """Flat IAQI and unresolved masks for each indicator in ``conc`` ((S, n) arrays)."""
    shape = next(iter(conc.values())).shape
    ed_flat = np.broadcast_to(ed, shape).ravel()
    iaqi, unresolved = {}, {}
    for ind in (i for i in ORDER if i in conc):
        sub = {k: v.ravel() for k, v in subs.get(ind, {}).items()}
        iaqi[ind], unresolved[ind] = grade(conc[ind].ravel(), tables[ind], ed_flat, sub)
    return iaqi, unresolved


def _frame(grid: Grid, start_idx: np.ndarray, ed: np.ndarray, conc, iaqi, cols, extra=None):
    n_st, n_t = len(grid.stations), len(start_idx)
    data = {
        "station": pd.Categorical.from_codes(np.repeat(np.arange(n_st), n_t), grid.stations),
        "ts": pd.DatetimeIndex(np.tile(grid.hour_ns(start_idx), n_st).view("M8[ns]"), tz="UTC"),
        "edition": pd.Categorical.from_codes(np.tile(ed, n_st), [e.id for e in EDITIONS]),
    }
    data.update(extra or {})
    data.update({f"conc_{k}": v.ravel() for k, v in conc.items()})
    data.update({f"iaqi_{k}": v for k, v in iaqi.items()})
    data.update(cols)
    return pd.DataFrame(data)


def hourly_aqi(
    frame: pd.DataFrame,
    *,
    valid_flags: Iterable[str] = VALID_FLAGS,
    include_o3_8h: bool = False,
    allow_partial: bool = False,
    validity: Validity = DEFAULT_VALIDITY,
) -> pd.DataFrame:
    """Real-time AQI for every station and hour between the first and last input hour.

    1 h rows grade SO2, NO2, CO and O3; PM is graded on the 24 h rows. SO2 1 h > 800 uses
    the trailing 24 h SO2 mean; ``include_o3_8h`` adds the trailing 8 h O3 moving mean.
    """
    return grid_hourly_aqi(to_grid(frame, valid_flags), include_o3_8h=include_o3_8h,
                           allow_partial=allow_partial, validity=validity)


def grid_hourly_aqi(grid: Grid, *, include_o3_8h: bool = False, allow_partial: bool = False,
                    validity: Validity = DEFAULT_VALIDITY) -> pd.DataFrame:
    """:func:`hourly_aqi` of an already built grid (one grid serves several frames)."""
    hours = np.arange(grid.first, grid.last + 1)
    cut = slice(grid.first, grid.last + 1)
    conc = {p: grid.values[p][:, cut] for p in POLLUTANTS}
    so2_24h = trailing_mean(grid.values["so2"], 24, validity.hours_24h)[:, cut]
    subs = {"so2": {"so2_24h": so2_24h}, "o3_8h": {"o3_1h": conc["o3"]}}
    if include_o3_8h:
        conc["o3_8h"] = trailing_mean(grid.values["o3"], 8, validity.hours_8h)[:, cut]
    ed = edition_index(grid.hour_ns(hours))
    iaqi, unresolved = _grade_all(conc, HOURLY_TABLES, ed, subs)
    cols = combine(iaqi, unresolved, allow_partial)
    above = {p: grid.above_range[p][:, cut].ravel() for p in POLLUTANTS}
    cols["above_range"] = labels(bit_codes(above, above["so2"].shape), join_names)
    return _frame(grid, hours, ed, conc, iaqi, cols)


def _window_conc(grid: Grid, starts: slice, validity: Validity, ed: np.ndarray):
    """24 h means, max 8 h O3 and max 1 h O3 for 24 h windows starting at ``starts``."""
    conc, counts = {}, {}
    for p in MEAN_24H_POLLUTANTS:
        conc[p], counts[p] = window_mean(grid.values[p], 24, validity.hours_24h, starts)
    m8, _ = window_mean(grid.values["o3"], 8, validity.hours_8h)
    top, n_win = max_8h_in_windows(pad_to(m8, grid.hours), 24, starts)
    enough = (n_win >= validity.o3_8h_windows) | (top > _O3_8H_LIMIT[ed])
    conc["o3_8h"], counts["o3_8h"] = np.where(enough, top, np.nan), n_win
    o3_1h_max = window_max(grid.values["o3"], 24, starts)
    return conc, counts, {"o3_8h": {"o3_1h": o3_1h_max}}


def _window_above_range(grid: Grid, starts: slice) -> pd.Categorical:
    """Indicators with a T-flagged hour in the window (their mean is a lower bound)."""
    def any_t(p: str) -> np.ndarray:
        marks = np.where(grid.above_range[p], 1.0, np.nan)
        return (window_count(marks, DAY_H, starts) > 0).ravel()
    above = {p: any_t(p) for p in MEAN_24H_POLLUTANTS} | {"o3_8h": any_t("o3")}
    return labels(bit_codes(above, above["pm25"].shape), join_names)


def _windowed_aqi(grid, starts, validity, allow_partial, extra_cols):
    start_idx = np.arange(grid.hours)[starts]
    ed = edition_index(grid.hour_ns(start_idx))
    conc, counts, subs = _window_conc(grid, starts, validity, ed)
    iaqi, unresolved = _grade_all(conc, DAILY_TABLES, ed, subs)
    cols = combine(iaqi, unresolved, allow_partial)
    cols["above_range"] = _window_above_range(grid, starts)
    extra = extra_cols(grid, start_idx)
    extra.update({f"n_{k}": v.ravel() for k, v in counts.items()})
    return _frame(grid, start_idx, ed, conc, iaqi, cols, extra)


def daily_aqi(
    frame: pd.DataFrame,
    *,
    valid_flags: Iterable[str] = VALID_FLAGS,
    allow_partial: bool = False,
    validity: Validity = DEFAULT_VALIDITY,
) -> pd.DataFrame:
    """Daily AQI per station and CST calendar day (``ts`` = the day's start in UTC).

    24 h means of PM2.5, PM10, SO2, NO2, CO and the daily max 8 h O3 moving mean
    (8 h windows starting 00:00..16:00 CST); ``n_*`` count the valid hours (windows for O3).
    """
    return grid_daily_aqi(to_grid(frame, valid_flags), allow_partial=allow_partial,
                          validity=validity)


def grid_daily_aqi(grid: Grid, *, allow_partial: bool = False,
                   validity: Validity = DEFAULT_VALIDITY) -> pd.DataFrame:
    """:func:`daily_aqi` of an already built grid."""
    starts = slice(grid.first // DAY_H * DAY_H, grid.last + 1, DAY_H)
    return _windowed_aqi(grid, starts, validity, allow_partial, _date_column)


def rolling_aqi(
    frame: pd.DataFrame,
    *,
    valid_flags: Iterable[str] = VALID_FLAGS,
    allow_partial: bool = False,
    validity: Validity = DEFAULT_VALIDITY,
) -> pd.DataFrame:
    """AQI of every 24 consecutive hours inside the input span (for warnings).

    Same rules as :func:`daily_aqi` on a window that may cross midnight; ``ts`` is the
    window start and ``ts_end`` its exclusive end.
    """
    grid = to_grid(frame, valid_flags)
    starts = slice(grid.first, max(grid.first, grid.last - DAY_H + 2))
    return _windowed_aqi(grid, starts, validity, allow_partial, _end_column)


def _date_column(grid: Grid, start_idx: np.ndarray) -> dict[str, object]:
    local = pd.DatetimeIndex(grid.hour_ns(start_idx).view("M8[ns]")) + pd.Timedelta(hours=8)
    return {"date": np.tile(local.date, len(grid.stations))}


def _end_column(grid: Grid, start_idx: np.ndarray) -> dict[str, object]:
    end = grid.hour_ns(start_idx + DAY_H).view("M8[ns]")
    return {"ts_end": pd.DatetimeIndex(np.tile(end, len(grid.stations)), tz="UTC")}
