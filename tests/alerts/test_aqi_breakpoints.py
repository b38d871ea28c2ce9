"""Every breakpoint segment of every table, both editions; expected values worked by hand.

IAQI = Ilo + (Ihi - Ilo) * (C - BPlo) / (BPhi - BPlo), rounded UP.
"""
from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from core.aqi import EDITIONS, TableError, edition_at, iaqi
from core.aqi._tables import load
from core.aqi._iaqi import grade

OLD = "2025-06-01T00:00:00+08:00"  # HJ 633-2012
NEW = "2026-06-01T00:00:00+08:00"  # HJ 633-2026
BOTH = (OLD, NEW)

# (table, concentration, expected IAQI, editions)  -- arithmetic in the comment
SEGMENTS = [
    # SO2 24 h: 0 50 150 475 800 1600 2100 2620
    ("so2_24h", 27.3, 28, BOTH),      # 50*27.3/50 = 27.3 -> 28
    ("so2_24h", 101, 76, BOTH),       # 50 + 50*51/100 = 75.5 -> 76
    ("so2_24h", 300, 124, BOTH),      # 100 + 50*150/325 = 123.08 -> 124
    ("so2_24h", 600, 170, BOTH),      # 150 + 50*125/325 = 169.23 -> 170
    ("so2_24h", 1000, 225, BOTH),     # 200 + 100*200/800 = 225
    ("so2_24h", 1850.5, 351, BOTH),   # 300 + 100*250.5/500 = 350.1 -> 351
    ("so2_24h", 2300, 439, BOTH),     # 400 + 100*200/520 = 438.46 -> 439
    # SO2 1 h: 0 150 500 650 800
    ("so2_1h", 100, 34, BOTH),        # 50*100/150 = 33.33 -> 34
    ("so2_1h", 333, 77, BOTH),        # 50 + 50*183/350 = 76.14 -> 77
    ("so2_1h", 600, 134, BOTH),       # 100 + 50*100/150 = 133.33 -> 134
    ("so2_1h", 700, 167, BOTH),       # 150 + 50*50/150 = 166.67 -> 167
    # NO2 24 h: 0 40 80 180 280 565 750 940
    ("no2_24h", 30, 38, BOTH),        # 50*30/40 = 37.5 -> 38
    ("no2_24h", 55, 69, BOTH),        # 50 + 50*15/40 = 68.75 -> 69
    ("no2_24h", 120, 120, BOTH),      # 100 + 50*40/100 = 120
    ("no2_24h", 250.5, 186, BOTH),    # 150 + 50*70.5/100 = 185.25 -> 186
    ("no2_24h", 400, 243, BOTH),      # 200 + 100*120/285 = 242.11 -> 243
    ("no2_24h", 700, 373, BOTH),      # 300 + 100*135/185 = 372.97 -> 373
    ("no2_24h", 800, 427, BOTH),      # 400 + 100*50/190 = 426.32 -> 427
    # NO2 1 h: 0 100 200 700 1200 2340 3090 3840
    ("no2_1h", 85, 43, BOTH),         # 50*85/100 = 42.5 -> 43
    ("no2_1h", 150, 75, BOTH),        # 50 + 50*50/100 = 75
    ("no2_1h", 333, 114, BOTH),       # 100 + 50*133/500 = 113.3 -> 114
    ("no2_1h", 1000, 180, BOTH),      # 150 + 50*300/500 = 180
    ("no2_1h", 2000, 271, BOTH),      # 200 + 100*800/1140 = 270.18 -> 271
    ("no2_1h", 3000, 388, BOTH),      # 300 + 100*660/750 = 388
    ("no2_1h", 3500, 455, BOTH),      # 400 + 100*410/750 = 454.67 -> 455
    # PM10 24 h 2012: 0 50 150 250 350 420 500 600; 2026: 0 50 120 250 ...
    ("pm10_24h", 33.1, 34, BOTH),     # 50*33.1/50 = 33.1 -> 34
    ("pm10_24h", 120, 85, (OLD,)),    # 50 + 50*70/100 = 85
    ("pm10_24h", 100, 86, (NEW,)),    # 50 + 50*50/70 = 85.71 -> 86
    ("pm10_24h", 200.2, 126, (OLD,)), # 100 + 50*50.2/100 = 125.1 -> 126
    ("pm10_24h", 200, 131, (NEW,)),   # 100 + 50*80/130 = 130.77 -> 131
    ("pm10_24h", 150, 100, (OLD,)),   # breakpoint: 100
    ("pm10_24h", 150, 112, (NEW,)),   # 100 + 50*30/130 = 111.54 -> 112
    ("pm10_24h", 300, 175, BOTH),     # 150 + 50*50/100 = 175
    ("pm10_24h", 400, 272, BOTH),     # 200 + 100*50/70 = 271.43 -> 272
    ("pm10_24h", 450, 338, BOTH),     # 300 + 100*30/80 = 337.5 -> 338
    ("pm10_24h", 555, 455, BOTH),     # 400 + 100*55/100 = 455
    # CO 24 h (mg/m3): 0 2 4 14 24 36 48 60
    ("co_24h", 1.3, 33, BOTH),        # 50*1.3/2 = 32.5 -> 33
    ("co_24h", 2.2, 55, BOTH),        # 50 + 50*0.2/2 = 55 (float gives 55.000000000000007)
    ("co_24h", 9.1, 126, BOTH),       # 100 + 50*5.1/10 = 125.5 -> 126
    ("co_24h", 20, 180, BOTH),        # 150 + 50*6/10 = 180
    ("co_24h", 30, 250, BOTH),        # 200 + 100*6/12 = 250
    ("co_24h", 40, 334, BOTH),        # 300 + 100*4/12 = 333.33 -> 334
    ("co_24h", 55, 459, BOTH),        # 400 + 100*7/12 = 458.33 -> 459
    # CO 1 h (mg/m3): 0 5 10 35 60 90 120 150
    ("co_1h", 3, 30, BOTH),           # 50*3/5 = 30
    ("co_1h", 7.7, 77, BOTH),         # 50 + 50*2.7/5 = 77 (float gives 77.00000000000001)
    ("co_1h", 20, 120, BOTH),         # 100 + 50*10/25 = 120
    ("co_1h", 50, 180, BOTH),         # 150 + 50*15/25 = 180
    ("co_1h", 75, 250, BOTH),         # 200 + 100*15/30 = 250
    ("co_1h", 100, 334, BOTH),        # 300 + 100*10/30 = 333.33 -> 334
    ("co_1h", 140, 467, BOTH),        # 400 + 100*20/30 = 466.67 -> 467
    # O3 1 h: 0 160 200 300 400 800 1000 1200
    ("o3_1h", 100, 32, BOTH),         # 50*100/160 = 31.25 -> 32
    ("o3_1h", 185, 82, BOTH),         # 50 + 50*25/40 = 81.25 -> 82
    ("o3_1h", 250, 125, BOTH),        # 100 + 50*50/100 = 125
    ("o3_1h", 333, 167, BOTH),        # 150 + 50*33/100 = 166.5 -> 167
    ("o3_1h", 600, 250, BOTH),        # 200 + 100*200/400 = 250
    ("o3_1h", 900, 350, BOTH),        # 300 + 100*100/200 = 350
    ("o3_1h", 1111, 456, BOTH),       # 400 + 100*111/200 = 455.5 -> 456
    # O3 8 h: 0 100 160 215 265 800
    ("o3_8h", 77.7, 39, BOTH),        # 50*77.7/100 = 38.85 -> 39
    ("o3_8h", 130, 75, BOTH),         # 50 + 50*30/60 = 75
    ("o3_8h", 200, 137, BOTH),        # 100 + 50*40/55 = 136.36 -> 137
    ("o3_8h", 240, 175, BOTH),        # 150 + 50*25/50 = 175
    ("o3_8h", 500, 244, BOTH),        # 200 + 100*235/535 = 243.93 -> 244
    # PM2.5 24 h 2012: 0 35 75 115 150 250 350 500; 2026: 0 35 60 115 ...
    ("pm25_24h", 20, 29, BOTH),       # 50*20/35 = 28.57 -> 29
    ("pm25_24h", 55, 75, (OLD,)),     # 50 + 50*20/40 = 75
    ("pm25_24h", 50, 80, (NEW,)),     # 50 + 50*15/25 = 80
    ("pm25_24h", 100, 132, (OLD,)),   # 100 + 50*25/40 = 131.25 -> 132
    ("pm25_24h", 100, 137, (NEW,)),   # 100 + 50*40/55 = 136.36 -> 137
    ("pm25_24h", 75, 100, (OLD,)),    # DOMAIN worked value: breakpoint 100
    ("pm25_24h", 75, 114, (NEW,)),    # DOMAIN worked value: 100 + 50*15/55 = 113.64 -> 114
    ("pm25_24h", 130, 172, BOTH),     # 150 + 50*15/35 = 171.43 -> 172
    ("pm25_24h", 156, 206, BOTH),     # DOMAIN worked value: 200 + 100*6/100 = 206
    ("pm25_24h", 200, 250, BOTH),     # 200 + 100*50/100 = 250
    ("pm25_24h", 300, 350, BOTH),     # 300 + 100*50/100 = 350
    ("pm25_24h", 400, 434, BOTH),     # 400 + 100*50/150 = 433.33 -> 434
]

CASES = [
    pytest.param(t, c, want, at, id=f"{t}-{c}-{at[:4]}")
    for t, c, want, eds in SEGMENTS
    for at in eds
]


@pytest.mark.parametrize(("table", "conc", "want", "at"), CASES)
def test_segment(table, conc, want, at):
    assert iaqi(conc, table, at) == want


IAQI = [0, 50, 100, 150, 200, 300, 400, 500]
BREAKPOINTS = {
    "2012": {
        "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
        "so2_1h": [0, 150, 500, 650, 800],
        "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
        "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
        "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600],
        "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
        "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
        "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
        "o3_8h": [0, 100, 160, 215, 265, 800],
        "pm25_24h": [0, 35, 75, 115, 150, 250, 350, 500],
    },
}
BREAKPOINTS["2026"] = {
    **BREAKPOINTS["2012"],
    "pm10_24h": [0, 50, 120, 250, 350, 420, 500, 600],
    "pm25_24h": [0, 35, 60, 115, 150, 250, 350, 500],
}
EDITION_AT = {"2012": OLD, "2026": NEW}
EXACT = [
    pytest.param(ed, t, bp, IAQI[i], id=f"{ed}-{t}-{bp}")
    for ed, tables in BREAKPOINTS.items()
    for t, bps in tables.items()
    for i, bp in enumerate(bps)
]


@pytest.mark.parametrize(("edition", "table", "conc", "want"), EXACT)
def test_exact_breakpoint_gives_exact_iaqi(edition, table, conc, want):
    assert iaqi(conc, table, EDITION_AT[edition]) == want


@pytest.mark.parametrize("edition", ["2012", "2026"])
def test_shipped_tables_match_domain(edition):
    shipped = next(e for e in EDITIONS if e.id == edition)
    got = {n: t.bp.tolist() for n, t in shipped.tables.items()}
    assert got == BREAKPOINTS[edition]
    assert shipped.source


@pytest.mark.parametrize(
    ("table", "conc", "want"),
    [
        ("pm25_24h", 35.1, 51),   # 50 + 50*0.1/40 = 50.125 -> 51
        ("pm25_24h", 0.01, 1),    # 50*0.01/35 = 0.014 -> 1
        ("so2_1h", 150.001, 51),  # 50 + 50*0.001/350 = 50.0001 -> 51
        ("co_24h", 0.1 + 0.2, 8), # 50*0.30000000000000004/2 = 7.5 -> 8
    ],
)
def test_rounds_up(table, conc, want):
    assert iaqi(conc, table, OLD) == want


@pytest.mark.parametrize(
    ("table", "conc"),
    [("pm25_24h", 500.1), ("pm25_24h", 900), ("co_24h", 61), ("no2_1h", 4000), ("o3_1h", 1500)],
)
def test_above_top_is_capped_at_500(table, conc):
    assert iaqi(conc, table, NEW) == 500


@pytest.mark.parametrize(("table", "conc"), [("so2_1h", 800.5), ("o3_8h", 801)])
def test_above_top_with_substitute_is_not_graded_alone(table, conc):
    assert iaqi(conc, table, OLD) is None


@pytest.mark.parametrize(
    ("at", "edition"),
    [
        ("2026-02-28T16:00:00Z", "2026"),
        ("2026-02-28T15:59:59Z", "2012"),
        ("2026-03-01T00:00:00", "2026"),          # no offset = CST
        ("2026-02-28T23:59:59+08:00", "2012"),
        ("2026-03-01T00:00:00+00:00", "2026"),
        ("2013-01-01T00:00:00+08:00", "2012"),
    ],
)
def test_edition_switch(at, edition):
    from core.aqi._scalar import parse_at

    assert edition_at(parse_at(at)).id == edition


def test_vectorised_grade_switches_edition_per_element():
    conc = np.array([75.0, 75.0, np.nan, 600.0])
    ed = np.array([0, 1, 1, 0])
    out, unresolved = grade(conc, "pm25_24h", ed)
    # 2012: 75 -> 100; 2026: 75 -> 114; NaN stays NaN; above 500 -> cap 500
    np.testing.assert_array_equal(out, [100, 114, np.nan, 500])
    assert not unresolved.any()


def _doc(**edits):
    text = resources.files("core.aqi").joinpath("breakpoints.json").read_text("utf-8")
    doc = json.loads(text)
    for path, value in edits.items():
        node = doc
        *head, last = path.split(".")
        for key in head:
            node = node[int(key)] if key.isdigit() else node[key]
        node[last] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param({"editions.0.tables.pm25_24h.breakpoints": [0, 35, 30, 115]}, id="not-increasing"),
        pytest.param({"editions.0.tables.pm25_24h.beyond_top": "nothing"}, id="bad-beyond"),
        pytest.param({"editions.0.source": ""}, id="no-source"),
        pytest.param({"editions.1.valid_from": "2026-03-01T00:00:00"}, id="naive-valid-from"),
        pytest.param({"editions.1.valid_from": None}, id="second-without-valid-from"),
        pytest.param({"editions.0.tables.co_1h.breakpoints": [0, 5, 10]}, id="capped-short"),
        pytest.param({"editions.0.tables.so2_24h.beyond_top": "o3_1h"}, id="chained-substitute"),
    ],
)
def test_malformed_tables_are_rejected(edits):
    with pytest.raises(TableError):
        load(_doc(**edits))


def test_shipped_file_loads():
    editions, categories = load(_doc())
    assert [e.id for e in editions] == ["2012", "2026"]
    assert len(categories) == 6
