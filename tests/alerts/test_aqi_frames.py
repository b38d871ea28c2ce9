"""Vectorised hourly / daily / rolling / city AQI over frames."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.aqi import InputError, city_aqi, city_concentrations, daily_aqi, hourly_aqi, rolling_aqi
from core.aqi.bench import run_bench

CLEAN = {"pm25": 20.0, "pm10": 20.0, "so2": 5.0, "no2": 10.0, "co": 0.3, "o3": 40.0}  # pm25 dominates (29)


def wide(hours=24, start="2025-12-10T00:00:00+08:00", station="A", **over):
    """One station's hourly wide frame: CLEAN values, overridden by scalars or arrays."""
    ts = pd.date_range(pd.Timestamp(start), periods=hours, freq="h").tz_convert("UTC")
    data = {"station": station, "ts": ts}
    for p, v in {**CLEAN, **over}.items():
        data[p] = np.broadcast_to(np.asarray(v, dtype=object if p.endswith("_flag") else float), hours)
    return pd.DataFrame(data)


def with_nan(n_missing, hours=24, value=20.0):
    arr = np.full(hours, value)
    arr[:n_missing] = np.nan
    return arr


# ---- daily validity -------------------------------------------------------------

@pytest.mark.parametrize(("missing", "status"), [(4, "ok"), (5, "insufficient_data")])
def test_daily_needs_20_valid_hours(missing, status):
    day = daily_aqi(wide(pm25=with_nan(missing))).iloc[0]
    assert day["n_pm25"] == 24 - missing and day["status"] == status
    if status == "ok":
        assert day["aqi"] == 29  # pm25 20 -> 50*20/35 = 28.6 -> 29
    else:
        assert np.isnan(day["aqi"]) and "pm25" in day["reason"] and pd.isna(day["level"])


@pytest.mark.parametrize(("bad", "status"), [(4, "ok"), (5, "insufficient_data")])
@pytest.mark.parametrize("flag", list("FMSDCB"))
def test_invalid_flags_are_excluded(flag, bad, status):
    flags = np.array(["N"] * 24, dtype=object)
    flags[:bad] = flag
    values = np.full(24, 20.0)
    values[:bad] = 999.0  # would dominate the mean if it counted
    day = daily_aqi(wide(pm25=values, pm25_flag=flags)).iloc[0]
    assert day["status"] == status
    if status == "ok":
        assert day["conc_pm25"] == 20.0


def test_t_flag_counts_and_is_marked():
    flags = np.array(["N"] * 23 + ["T"], dtype=object)
    frame = wide(pm25=np.r_[np.full(23, 20.0), 500.0], pm25_flag=flags)
    assert daily_aqi(frame).iloc[0]["n_pm25"] == 24
    hourly = hourly_aqi(frame)
    assert list(hourly["above_range"].astype(str)) == [""] * 23 + ["pm25"]
    assert hourly["iaqi_pm25"].iloc[-1] == 500  # 500 = top breakpoint -> 500


def test_missing_flag_value_means_normal():
    flags = np.array([None] * 24, dtype=object)
    assert daily_aqi(wide(pm25_flag=flags)).iloc[0]["status"] == "ok"


def test_missing_data_is_never_clean_air():
    frame = wide(o3=np.nan)
    for out in (hourly_aqi(frame), daily_aqi(frame)):
        assert out["aqi"].isna().all()
        assert (out["status"] == "insufficient_data").all()
        assert out["category"].isna().all()


def test_allow_partial_reports_partial():
    out = daily_aqi(wide(co=np.nan, pm25=75.0), allow_partial=True).iloc[0]
    assert (out["aqi"], out["status"], out["reason"]) == (100, "partial", "insufficient data: co")


def test_missing_hours_appear_as_rows_with_status():
    frame = wide(hours=6).drop(index=[2, 3])
    out = hourly_aqi(frame)
    assert len(out) == 6
    assert list(out["status"]) == ["ok", "ok", "insufficient_data", "insufficient_data", "ok", "ok"]


# ---- O3 8 h --------------------------------------------------------------------

@pytest.mark.parametrize(("valid", "graded"), [(6, True), (5, False)])
def test_8h_mean_needs_6_valid_hours(valid, graded):
    o3 = np.r_[np.full(8 - valid, np.nan), np.full(valid, 130.0)]
    out = hourly_aqi(wide(hours=8, o3=o3), include_o3_8h=True).iloc[-1]
    if graded:
        assert out["iaqi_o3_8h"] == 75  # 50 + 50*30/60
    else:
        assert np.isnan(out["iaqi_o3_8h"]) and "o3_8h" in out["reason"]


@pytest.mark.parametrize(
    ("invalid_from", "windows", "status"),
    # windows start 00..16 CST and cover 8 h; a window needs 6 valid hours
    [(19, 14, "ok"), (16, 11, "insufficient_data")],
)
def test_daily_max_8h_needs_14_windows(invalid_from, windows, status):
    o3 = np.full(24, 100.0)
    o3[invalid_from:] = np.nan
    day = daily_aqi(wide(o3=o3)).iloc[0]
    assert (day["n_o3_8h"], day["status"]) == (windows, status)


def test_daily_max_8h_with_few_windows_counts_when_already_exceeding():
    o3 = np.full(24, 200.0)
    o3[16:] = np.nan
    day = daily_aqi(wide(o3=o3)).iloc[0]
    assert day["iaqi_o3_8h"] == 137  # 100 + 50*40/55 = 136.4


def test_daily_max_8h_is_max_of_windows_inside_the_day():
    o3 = np.full(24, 50.0)
    o3[10:18] = 130.0  # one 8 h window averages 130 -> 75
    day = daily_aqi(wide(o3=o3)).iloc[0]
    assert (day["conc_o3_8h"], day["iaqi_o3_8h"]) == (130.0, 75)


def test_daily_o3_8h_above_800_uses_daily_max_1h():
    o3 = np.full(24, 900.0)
    day = daily_aqi(wide(o3=o3)).iloc[0]
    assert day["iaqi_o3_8h"] == 350  # 1 h 900 -> 300 + 100*100/200


# ---- special cases, ties, editions in frames ---------------------------------------

def test_hourly_so2_above_800_uses_trailing_24h_mean():
    so2 = np.r_[np.full(24, 100.0), 900.0]
    last = hourly_aqi(wide(hours=25, so2=so2)).iloc[-1]
    # trailing mean (23*100 + 900)/24 = 133.33 -> 50 + 50*(133.33-50)/100 = 91.7 -> 92
    assert last["iaqi_so2"] == 92 and last["status"] == "ok"


def test_hourly_so2_above_800_without_history_is_reported():
    out = hourly_aqi(wide(hours=3, so2=900.0)).iloc[0]
    assert np.isnan(out["aqi"]) and out["status"] == "insufficient_data"
    assert out["reason"] == "so2 1h > 800 and no valid 24h mean"


def test_hourly_ties_and_exceeding():
    out = hourly_aqi(wide(hours=1, pm25=75.0, pm10=150.0, no2=333.0)).iloc[0]
    # 2012: pm25 100, pm10 100, no2 1 h 114 -> AQI 114 by no2 only
    assert (out["aqi"], out["primary"], out["exceeding"]) == (114, "no2", "no2")
    out = hourly_aqi(wide(hours=1, pm25=75.0, pm10=150.0)).iloc[0]
    assert (out["aqi"], out["primary"], out["exceeding"]) == (100, "pm25,pm10", "")


def test_hourly_edition_switch_at_2026_03_01_cst():
    frame = wide(hours=2, start="2026-02-28T23:00:00+08:00", pm25=75.0)
    out = hourly_aqi(frame)
    assert list(out["ts"].astype(str)) == ["2026-02-28 15:00:00+00:00", "2026-02-28 16:00:00+00:00"]
    assert list(out["edition"]) == ["2012", "2026"]
    assert list(out["aqi"]) == [100, 114]  # 75 -> 100 (2012), 100 + 50*15/55 -> 114 (2026)


@pytest.mark.parametrize(
    ("start", "edition", "aqi_75", "aqi_156"),
    [("2026-02-28T00:00:00+08:00", "2012", 100, 206), ("2026-03-01T00:00:00+08:00", "2026", 114, 206)],
)
def test_daily_domain_values_both_editions(start, edition, aqi_75, aqi_156):
    for pm25, want in ((75.0, aqi_75), (156.0, aqi_156)):
        day = daily_aqi(wide(start=start, pm25=pm25)).iloc[0]
        assert (day["edition"], day["aqi"], day["category_zh"]) == (
            edition, want, "良" if want == 100 else "轻度污染" if want == 114 else "重度污染"
        )


def test_daily_days_are_cst_days():
    frame = wide(hours=48, start="2025-12-10T00:00:00+08:00", pm25=np.r_[np.full(24, 20.0), np.full(24, 55.0)])
    out = daily_aqi(frame)
    assert [str(d) for d in out["date"]] == ["2025-12-10", "2025-12-11"]
    assert list(out["ts"].astype(str)) == ["2025-12-09 16:00:00+00:00", "2025-12-10 16:00:00+00:00"]
    assert list(out["aqi"]) == [29, 75]  # 50*20/35 -> 29; 50 + 50*20/40 = 75 (2012)


def test_rolling_24h_windows_cross_midnight():
    pm25 = np.r_[np.full(24, 20.0), np.full(6, 156.0)]
    out = rolling_aqi(wide(hours=30, start="2025-12-10T00:00:00+08:00", pm25=pm25))
    assert len(out) == 7  # windows starting at hours 0..6
    last = out.iloc[-1]
    assert str(last["ts"]) == "2025-12-09 22:00:00+00:00"  # 06:00 CST on the 10th
    assert str(last["ts_end"]) == "2025-12-10 22:00:00+00:00"  # 06:00 CST on the 11th
    # mean (18*20 + 6*156)/24 = 54 -> 50 + 50*19/40 = 73.75 -> 74
    assert (last["conc_pm25"], last["aqi"]) == (54.0, 74)


def test_rolling_shorter_than_a_day_is_empty():
    assert rolling_aqi(wide(hours=10)).empty


# ---- input shapes ---------------------------------------------------------------

def test_long_and_wide_frames_agree():
    w = wide(hours=48, pm25=np.linspace(10, 200, 48))
    long = w.melt(id_vars=["station", "ts"], var_name="pollutant", value_name="value")
    long["flag"] = "N"
    pd.testing.assert_frame_equal(daily_aqi(long), daily_aqi(w))
    pd.testing.assert_frame_equal(hourly_aqi(long), hourly_aqi(w))


def test_hj212_codes_and_datetime_index_accepted():
    w = wide(hours=24).rename(columns={"pm25": "a34004"}).set_index("ts")
    assert daily_aqi(w).iloc[0]["status"] == "ok"


def test_several_stations():
    frame = pd.concat([wide(station="B", pm25=156.0), wide(station="A")])
    out = daily_aqi(frame).set_index("station")
    assert (out.loc["A", "aqi"], out.loc["B", "aqi"]) == (29, 206)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda f: f.assign(ts=f["ts"].dt.tz_localize(None)), id="naive-ts"),
        pytest.param(lambda f: f.assign(ts=f["ts"] + pd.Timedelta(minutes=30)), id="off-hour"),
        pytest.param(lambda f: pd.concat([f, f]), id="duplicates"),
        pytest.param(lambda f: f.drop(columns="station"), id="no-station"),
        pytest.param(lambda f: f.iloc[:0], id="empty"),
    ],
)
def test_bad_frames_raise(mutate):
    with pytest.raises(InputError):
        hourly_aqi(mutate(wide(hours=3)))


def test_unknown_pollutant_in_long_frame_raises():
    long = pd.DataFrame({"station": "A", "ts": pd.Timestamp("2025-01-01", tz="UTC"),
                         "pollutant": ["tsp"], "value": [1.0]})
    with pytest.raises(InputError):
        hourly_aqi(long)


# ---- city -----------------------------------------------------------------------

def test_city_aqi_from_mean_station_concentrations():
    frame = pd.concat([
        wide(station="1462A", pm25=100.0),
        wide(station="1463A", pm25=50.0),
        wide(station="X1", pm25=500.0),  # not mapped: ignored
    ])
    mapping = {"1462A": "Xi'an", "1463A": "Xi'an"}
    conc = city_concentrations(frame, mapping)
    assert set(conc["station"]) == {"Xi'an"} and (conc["pm25"] == 75.0).all()
    day = city_aqi(frame, mapping, "daily").iloc[0]
    assert (day["station"], day["aqi"]) == ("Xi'an", 100)  # mean 75 -> 100 (2012)


def test_city_mean_ignores_invalid_station_values():
    bad = wide(station="B", pm25=900.0, pm25_flag=np.array(["D"] * 24, dtype=object))
    frame = pd.concat([wide(station="A", pm25=55.0), bad])
    out = city_aqi(frame, {"A": "Baoji", "B": "Baoji"}, "hourly")
    assert (out["aqi"] == 75).all()  # only A counts: 50 + 50*20/40


# ---- benchmark ------------------------------------------------------------------

def test_run_bench_small():
    out = run_bench(stations=2, seed=1)
    assert out["rows"] == 2 * 8760 and out["seconds"] > 0
    assert out["daily_rows"] >= 2 * 365
