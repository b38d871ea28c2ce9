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


@pytest.mark.parametrize("aqi,want", [
    (seq((201, 24)), "yellow"),
    (seq((201, 23)), None),
    (seq((200, 96)), "orange"),                  # 200 is not > 200, but > 150 for 96 h
    (seq((200, 24)), None),
    (seq((151, 48)), "yellow"),
    (seq((151, 47)), None),
    (seq((150, 96)), None),                      # 150 is not > 150
    (seq((201, 48)), "orange"),
    (seq((201, 47)), "yellow"),
    (seq((151, 72)), "orange"),
    (seq((151, 71)), "yellow"),
    (seq((301, 24), (201, 48)), "red"),
    (seq((301, 23), (201, 49)), "orange"),
    (seq((201, 24), (301, 24), (201, 24)), "red"),
    (seq((201, 71), (400, 0)), "orange"),
    (seq((301, 24), (201, 47)), "orange"),       # 71 h > 200: not red
], ids=lambda v: str(v) if isinstance(v, str) or v is None else
    "+".join(f"{int(a)}x{len(list(g))}" for a, g in __import__("itertools").groupby(v)))
def test_2024_default_boundaries(aqi, want):
    assert level(aqi) == want


@pytest.mark.parametrize("aqi,want", [
    (seq((201, 47)), None),
    (seq((201, 48)), "yellow"),
    (seq((151, 96)), None),                      # orange under 2024, nothing in 2019
    (seq((201, 71)), "yellow"),
    (seq((201, 72)), "orange"),
    (seq((301, 48), (201, 48)), "red"),
    (seq((301, 47), (201, 49)), "orange"),
    (seq((500, 1)), "red"),                      # AQI reaching 500
    (seq((499, 1)), None),
], ids=["201x47", "201x48", "151x96", "201x71", "201x72", "red", "300x47", "500", "499"])
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
    aqi = seq((201, 12), (100, gap_h), (201, 12))
    assert level(aqi, gap=merge) == want


def test_episodes_count_only_hours_above():
    mask = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1], bool)
    assert episodes(mask, 2) == [(0, 4, 3), (8, 8, 1)]
    assert episodes(mask, 3) == [(0, 8, 4)]


@pytest.mark.parametrize("city,aqi,want", [
    ("xian", seq((151, 48)), "orange"),
    ("xian", seq((151, 47)), None),
    ("xianyang", seq((151, 48)), "yellow"),
    ("baoji", seq((151, 36)), "yellow"),
    ("baoji", seq((151, 35)), None),
    ("yangling", seq((151, 36)), "yellow"),
    ("xianyang", seq((151, 36)), None),
    ("xian", seq((201, 72)), "orange"),          # stricter triggers add, never lower
    ("baoji", seq((301, 24), (201, 48)), "red"),
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
    fc = SeqForecast("xian", T0, seq((100, 24), (210, 30)), model_id="air-lgbm-7")
    a = Grader(get_grading()).assess(fc, "xian", T0 + pd.Timedelta(minutes=20))
    ev = a.evidence
    assert ev["forecast"] == {"issue_time": T0.isoformat(), "model_id": "air-lgbm-7",
                              "quantile": "q50"}
    assert ev["criterion"] == "AQI > 200 for ≥ 24 h" and ev["level"] == "yellow"
    assert ev["aqi"]["values"][:2] == [100, 100] and len(ev["aqi"]["values"]) == 96
    assert ev["aqi"]["p_gt_200"][24] == 1.0
    assert ev["onset"] == (T0 + pd.Timedelta(hours=24)).isoformat()
    assert ev["lead_h"] == pytest.approx(23.7) and ev["ahead"] is False  # 20 min late
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
