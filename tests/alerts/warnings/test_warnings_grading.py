"""Gradings as data: every threshold and duration boundary, gap merging, city triggers, SO2,
episode types, the 2019 preset against the 2024 default, and the real CityForecast."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alerts.warnings import (Grader, episode_type, episodes, get_grading, load_gradings,
                             majority_level)

from .helpers import T0, SeqForecast, seq

CITY_TRIGGERS = {  # as shipped in default_rules.toml
    "xian": {"orange": [{"above": 150, "hours": 48}]},
    "baoji": {"yellow": [{"above": 150, "hours": 36}]},
    "yangling": {"yellow": [{"above": 150, "hours": 36}]},
}


def level(aqi, *, grading="", city="xianyang", gap=12, triggers=None, **kw):
    from alerts.warnings import Criterion
    trig = {c: {lv: [Criterion.model_validate(x) for x in xs] for lv, xs in t.items()}
            for c, t in (triggers or {}).items()}
    g = Grader(get_grading(grading), trig, merge_gap_h=gap)
    return g.assess(SeqForecast(city, T0, aqi, **kw), city, T0).level


# The sequences below are the forecast's 24 h-window AQI per window END hour (DOMAIN.md
# section 4): "AQI > T for H h" (H >= 24) needs k >= H - 23 consecutive window ends above T,
# because k consecutive windows cover k + 23 hours; for H = 24 one window is enough.
#   24 h -> k >= 1;  36 h -> 36 - 23 = 13;  48 h -> 48 - 23 = 25;  72 h -> 72 - 23 = 49;
#   96 h -> 96 - 23 = 73.  AQI is compared with ">": 200 is not > 200.
IDS = (lambda v: str(v) if isinstance(v, str) or v is None else
       "+".join(f"{int(a)}x{len(list(g))}" for a, g in __import__("itertools").groupby(v)))


@pytest.mark.parametrize("aqi,want", [
    (seq((201, 1)), "yellow"),                   # > 200 for 24 h: one window
    (seq((200, 1)), None),                       # 200 is not > 200
    (seq((200, 96)), "orange"),                  # > 150 for 96 + 23 h >= 72 h: 96 >= 49 ends
    (seq((151, 25)), "yellow"),                  # > 150 for 48 h: 25 ends
    (seq((151, 24)), None),                      # 24 ends = 47 h < 48 h
    (seq((150, 96)), None),                      # 150 is not > 150
    (seq((201, 25)), "orange"),                  # > 200 for 48 h: 25 ends
    (seq((201, 24)), "yellow"),                  # 47 h > 200: still yellow (> 200 for 24 h)
    (seq((151, 49)), "orange"),                  # > 150 for 72 h: 49 ends
    (seq((151, 48)), "yellow"),                  # 71 h > 150: yellow (>= 25 ends)
    (seq((301, 1), (201, 48)), "red"),           # 49 ends > 200 (72 h) and 1 > 300 (24 h)
    (seq((300, 1), (201, 48)), "orange"),        # 300 is not > 300
    (seq((201, 24), (301, 1), (201, 24)), "red"),
    (seq((301, 1), (201, 47)), "orange"),        # 48 ends = 71 h > 200: not red
    (seq((201, 48)), "orange"),                  # 71 h > 200, nothing > 300
], ids=IDS)
def test_2024_default_boundaries(aqi, want):
    assert level(aqi) == want


@pytest.mark.parametrize("aqi,want", [
    (seq((201, 24)), None),                      # 47 h < 48 h
    (seq((201, 25)), "yellow"),                  # > 200 for 48 h
    (seq((151, 96)), None),                      # orange under 2024, nothing in 2019
    (seq((201, 48)), "yellow"),                  # 71 h
    (seq((201, 49)), "orange"),                  # > 200 for 72 h
    (seq((301, 25), (201, 48)), "red"),          # 73 ends > 200 (96 h), 25 > 300 (48 h)
    (seq((301, 24), (201, 49)), "orange"),       # only 47 h > 300
    (seq((301, 25), (201, 47)), "orange"),       # only 72 ends = 95 h > 200
    (seq((500, 1)), "red"),                      # AQI reaching 500
    (seq((499, 1)), None),
], ids=["201x24", "201x25", "151x96", "201x48", "201x49", "red", "301x24", "200-95h", "500",
        "499"])
def test_2019_preset(aqi, want):
    assert level(aqi, grading="unified-2019") == want


def test_gradings_record_their_source():
    tables = load_gradings()
    assert set(tables) == {"hdq-2024-6", "unified-2019"}
    assert get_grading().id == "hdq-2024-6"
    for g in tables.values():
        assert g.source and "verify" in g.source and g.verified is False


@pytest.mark.parametrize("gap_h,merge,want", [
    (12, 12, "yellow"), (13, 12, None), (1, 0, None), (6, 6, "yellow"),
])
def test_short_clean_gaps_merge_into_one_episode(gap_h, merge, want):
    # 13 + 12 = 25 window ends > 150 = 48 h when the gap merges; 13 or 12 alone are not
    aqi = seq((151, 13), (100, gap_h), (151, 12))
    assert level(aqi, gap=merge) == want


def test_episodes_count_only_hours_above():
    mask = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1], bool)
    assert episodes(mask, 2) == [(0, 4, 3), (8, 8, 1)]
    assert episodes(mask, 3) == [(0, 8, 4)]


@pytest.mark.parametrize("city,aqi,want", [
    ("xian", seq((151, 25)), "orange"),          # Xi'an orange: > 150 for 48 h = 25 ends
    ("xian", seq((151, 24)), None),              # 47 h
    ("xianyang", seq((151, 25)), "yellow"),      # the 2024 grading alone: yellow
    ("baoji", seq((151, 13)), "yellow"),         # Baoji yellow: > 150 for 36 h = 36-23 = 13
    ("baoji", seq((151, 12)), None),             # 35 h
    ("yangling", seq((151, 13)), "yellow"),
    ("xianyang", seq((151, 13)), None),
    ("xian", seq((201, 49)), "orange"),          # stricter triggers add, never lower
    ("baoji", seq((301, 1), (201, 48)), "red"),
])
def test_stricter_city_triggers(city, aqi, want):
    assert level(aqi, city=city, triggers=CITY_TRIGGERS) == want


@pytest.mark.parametrize("so2,want", [([501] + [20] * 95, "yellow"), ([500] + [20] * 95, None)])
def test_so2_one_hour_criterion(so2, want):
    trig = {"xian": {"yellow": [{"indicator": "so2_1h", "above": 500, "hours": 1}]}}
    assert level(seq(), city="xian", triggers=trig, so2=so2) == want


def test_so2_criterion_without_so2_in_the_forecast_is_not_met():
    trig = {"xian": {"yellow": [{"indicator": "so2_1h", "above": 500, "hours": 1}]}}
    assert level(seq(), city="xian", triggers=trig) is None


@pytest.mark.parametrize("primary,cause,typ,response", [
    ("pm25", None, "pm25", "emission_cuts"),
    ("o3_8h", None, "ozone", "health_advice"),
    ("pm10", None, "dust", "health_advice"),
    ("pm25", "wildfire", "wildfire", "health_advice"),
    ("so2", None, "combustion", "emission_cuts"),
])
def test_episode_type_by_primary_pollutant(primary, cause, typ, response):
    assert episode_type(primary, cause)["type"] == typ
    assert episode_type(primary, cause)["response"] == response
    g = Grader(get_grading())
    a = g.assess(SeqForecast("xian", T0, seq((100, 24), (210, 30)), primary=primary,
                             cause=cause), "xian", T0)
    ev = a.evidence
    assert (ev["primary"], ev["episode"]["type"], ev["episode"]["response"]) == \
        (primary, typ, response)


def test_evidence_carries_run_sequence_criterion_and_lead():
    # window ends 47..70 above 200 (24 ends = 47 h: yellow, not 48 h); the first qualifying
    # window ends with hour 47 and starts 23 h earlier: onset T0 + 24 h; the last ends with
    # hour 70: end T0 + 71 h
    fc = SeqForecast("xian", T0, seq((100, 47), (210, 24)), model_id="air-lgbm-7")
    a = Grader(get_grading()).assess(fc, "xian", T0 + pd.Timedelta(minutes=20))
    ev = a.evidence
    assert ev["forecast"] == {"issue_time": T0.isoformat(), "model_id": "air-lgbm-7",
                              "quantile": "q50"}
    assert ev["criterion"] == "AQI > 200 for ≥ 24 h" and ev["level"] == "yellow"
    assert ev["aqi"]["values"][:2] == [100, 100] and len(ev["aqi"]["values"]) == 96
    assert ev["aqi"]["p_gt_200"][47] == 1.0 and ev["aqi"]["p_gt_200"][46] == 0.0
    assert ev["onset"] == (T0 + pd.Timedelta(hours=24)).isoformat()
    assert ev["end"] == (T0 + pd.Timedelta(hours=71)).isoformat()
    assert ev["lead_h"] == pytest.approx(23.7) and ev["ahead"] is False  # 24 h - 20 min
    assert ev["response_zh"] == "Ⅲ级" and "Ⅲ级" in ev["detail_zh"]


@pytest.mark.parametrize("levels,want", [
    (["yellow", "yellow", "orange"], "yellow"), (["orange", "yellow", "orange"], "orange"),
    (["red", "orange", "yellow"], "orange"), (["orange", "orange", "yellow", "yellow"], "yellow"),
])
def test_majority_level(levels, want):
    assert majority_level(levels) == want


def test_real_city_forecast_interface():
    """The forecasting package's own CityForecast graded end to end (PM2.5 156 → IAQI 206)."""
    from forecasting import CityForecast
    ts = pd.date_range(T0, periods=96, freq="h")
    hourly = pd.DataFrame({"ts": ts, "lead_h": np.arange(1, 97)})
    base = {"pm25": 156.0, "pm10": 100.0, "so2": 10.0, "no2": 30.0, "co": 1.0, "o3": 40.0}
    for p, v in base.items():
        for q, f in (("q10", 0.8), ("q50", 1.0), ("q90", 1.2)):
            hourly[f"{p}_{q}"] = v * f
    obs_ts = pd.date_range(T0 - pd.Timedelta(hours=23), periods=23, freq="h")
    observed = pd.DataFrame({"ts": obs_ts, **{p: v for p, v in base.items()}})
    fc = CityForecast("xian", T0, "lgbm-test", hourly, observed)
    a = Grader(get_grading()).assess(fc, "xian", T0)
    assert a.evidence["aqi"]["values"][0] == 206
    assert (a.level, a.evidence["primary"], a.evidence["criterion"]) == \
        ("orange", "pm25", "AQI > 200 for ≥ 48 h")


# T0 is 08:00 CST, so the window ending with hour i is a CST calendar day when
# T0 + i h = 23:00 CST, i.e. i = 15, 39, 63, 87 (days 01-10 .. 01-13).
def _days(value, at):
    out = seq()
    for i in at:
        out[i] = float(value)
    return out


@pytest.mark.parametrize("aqi,want", [
    (_days(151, [15, 39]), "yellow"),            # 2 days > 150 = 48 h
    (_days(151, [16, 40]), None),                # two windows 24 h apart, not calendar days
    (_days(151, [15, 39, 63]), "orange"),        # 3 days > 150 = 72 h
    (_days(201, [15, 39]), "orange"),            # 2 days > 200 = 48 h
    (_days(151, [15, 63]), None),                # not consecutive days
], ids=["151-2days", "151-offset", "151-3days", "201-2days", "151-apart"])
def test_n_calendar_days_count_as_n_times_24h(aqi, want):
    """DOMAIN.md: N consecutive calendar days with daily AQI > T always count as N x 24 h,
    even when the windows between them dip below T (gap of 23 window ends > merge_gap)."""
    assert level(aqi) == want


def test_calendar_days_onset_is_the_first_days_midnight():
    fc = SeqForecast("xianyang", T0, _days(151, [15, 39]))
    ev = Grader(get_grading()).assess(fc, "xianyang", T0).evidence
    # window ending with hour 15 (23:00 CST 01-10) starts at 00:00 CST 01-10 = T0 - 8 h;
    # the one ending with hour 39 ends at 00:00 CST 01-12 = T0 + 40 h
    assert ev["onset"] == (T0 - pd.Timedelta(hours=8)).isoformat()
    assert ev["end"] == (T0 + pd.Timedelta(hours=40)).isoformat()
    assert ev["lead_h"] == -8.0


# DOMAIN.md section 4, transcribed by hand: level -> criteria, a criterion being
# ((threshold, hours), ...) that must all hold
DOMAIN_2024 = {"yellow": {((200, 24),), ((150, 48),)},
               "orange": {((200, 48),), ((150, 72),)},
               "red": {((200, 72), (300, 24))}}
DOMAIN_2019 = {"yellow": {((200, 48),)},
               "orange": {((200, 72),)},
               "red": {((200, 96), (300, 48)), ((499, 1),)}}   # "reaching 500": AQI >= 500


@pytest.mark.parametrize("gid,table", [("hdq-2024-6", DOMAIN_2024), ("unified-2019", DOMAIN_2019)])
def test_shipped_gradings_match_domain(gid, table):
    g = load_gradings()[gid]
    got = {lv: {tuple((c.above, c.hours) for c in crit.all) for crit in crits}
           for lv, crits in g.levels.items()}
    assert got == table
    assert all(c.indicator == "aqi" for crits in g.levels.values() for k in crits for c in k.all)
