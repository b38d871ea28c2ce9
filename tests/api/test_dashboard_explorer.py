"""The history explorer's pure logic under Node (api/dashboard/explore.js): the export CSV read
back (against Python's csv module), series and their flags, gaps, neighbourhoods and their
median, the GB 3095 limits by stage, the selection as a query; values worked by hand."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_dashboard import _node, needs_node


def _js(expr: str, **values) -> object:
    decl = "".join(f"const {k} = {json.dumps(v)};" for k, v in values.items())
    return _node(f"""import * as E from "./explore.js"; {decl}
        console.log(JSON.stringify({expr}));""")


# --- CSV: the page reads what Python's csv module writes ---------------------------------------

# Fields hold no lone CR: Python's writer leaves one unquoted and then cannot read it back
# (and the export never writes one); CRLF line ends are drawn below.
fields = st.text(alphabet=st.sampled_from('ab1 ,"\n;#é'), max_size=6)
tables = st.lists(st.lists(fields, min_size=1, max_size=5), min_size=1, max_size=8)


@needs_node
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(tables, st.sampled_from(["\n", "\r\n"])), min_size=1, max_size=10))
def test_csv_parser_reads_what_python_writes(cases):
    texts, want = [], []
    for rows, end in cases:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=end).writerows(rows)
        texts.append(buf.getvalue())
        want.append(list(csv.reader(io.StringIO(buf.getvalue(), newline=""))))
    assert want == [[list(r) for r in rows] for rows, _ in cases]   # the writer round-trips
    assert _js("texts.map(E.parseCsv)", texts=texts) == want


# The export's shape (docs/services/workbench.md): "# " header lines, then the columns.
DAILY = ("# source: Fenwei monitoring store\n# time zone: China Standard Time, UTC+08:00\n"
         "time,station,city,pm25_mean,pm25_min,pm25_max,pm25_count,pm25_valid\n"
         "2027-01-01T00:00:00+08:00,1462A,xian,50.5,20.0,80.0,24,True\n"
         "2027-01-02T00:00:00+08:00,1462A,xian,61.0,40.0,90.0,18,False\n"
         "2027-01-03T00:00:00+08:00,1462A,xian,,,,0,False\n")


@needs_node
def test_export_csv_is_read_with_its_header_types_and_times():
    got = _js("E.readExport(text)", text=DAILY)
    assert got["header"] == ["source: Fenwei monitoring store",
                             "time zone: China Standard Time, UTC+08:00"]
    # 2027-01-01 00:00 CST is 2026-12-31 16:00 UTC = 1798732800000 ms (1798761600 s is
    # 2027-01-01 00:00 UTC; minus 8 h = 28800 s)
    assert got["rows"][0] == {"time": 1798732800000, "station": "1462A", "city": "xian",
                              "pm25_mean": 50.5, "pm25_min": 20, "pm25_max": 80,
                              "pm25_count": 24, "pm25_valid": True}
    assert got["rows"][2]["pm25_mean"] is None and got["rows"][2]["pm25_valid"] is False


@needs_node
def test_daily_values_below_the_rule_are_marked_and_off_the_line():
    # day 1: 24 valid hours (>= 20): on the line; day 2: 18 (< 20): marked "insufficient" with
    # its count; day 3: no mean at all: no point
    got = _js("""(() => { const rows = E.readExport(text).rows;
        const [s] = E.buildSeries(rows, "daily", ["1462A"], ["pm25"]);
        return [s.points, E.splitByFlag(s.points, E.stepOf("daily", s.points))]; })()""",
              text=DAILY)
    points, split = got
    day = 86400000
    assert points == [[1798732800000, 50.5, None, 24], [1798732800000 + day, 61, "insufficient", 18]]
    assert split["line"] == [[1798732800000, 50.5], [1798732800000 + day, None]]
    assert split["marks"]["insufficient"] == [[1798732800000 + day, 61, "insufficient", 18]]


@needs_node
def test_flags_are_classed_as_the_standard_says():
    # HJ 212 (DOMAIN.md section 5): N valid, T valid as a lower bound, M maintenance and C
    # calibration, F D S B invalid; an unknown letter is never taken as valid
    got = _js("['N', null, 'T', 'M', 'C', 'F', 'D', 'S', 'B', 'X'].map(E.flagClass)")
    assert got == ["valid", "valid", "above_range", "maintenance", "maintenance", "invalid",
                   "invalid", "invalid", "invalid", "invalid"]


@needs_node
def test_hourly_line_breaks_at_invalid_values_and_missing_hours():
    h = 3600000
    pts = [[0, 10, "N"], [h, 11, "M"], [2 * h, 12, "T"], [5 * h, 13, "N"], [6 * h, 14, "D"]]
    got = _js("E.splitByFlag(pts, E.stepOf('hourly', pts))", pts=pts)
    # M and D are off the line (null); T stays on it and is marked; hours 3 and 4 are missing:
    # a null at hour 3 breaks the line between hour 2 and hour 5
    assert got["line"] == [[0, 10], [h, None], [2 * h, 12], [3 * h, None], [5 * h, 13],
                           [6 * h, None]]
    assert got["marks"] == {"above_range": [[2 * h, 12, "T", None]],
                            "maintenance": [[h, 11, "M", None]],
                            "invalid": [[6 * h, 14, "D", None]], "insufficient": []}


# --- the standard's limits ---------------------------------------------------------------------

MAR_2026 = 1772294400000   # 2026-03-01 00:00 CST = 2026-02-28 16:00 UTC (1772323200 s - 8 h)
JAN_2026 = 1767196800000   # 2026-01-01 00:00 CST
JAN_2027 = 1798732800000   # 2027-01-01 00:00 CST


@needs_node
@pytest.mark.parametrize("param,agg,start,end,want", [
    # GB 3095-2012 secondary class: PM2.5 24 h 75 until the 2026 stage, then 60 (DOMAIN.md §3)
    ("pm25", "daily", JAN_2026, JAN_2027, [[JAN_2026, MAR_2026, 75, "day"],
                                           [MAR_2026, JAN_2027, 60, "day"]]),
    ("pm10", "monthly", JAN_2026, MAR_2026, [[JAN_2026, MAR_2026, 150, "day"]]),
    ("pm10", "hourly", MAR_2026, JAN_2027, [[MAR_2026, JAN_2027, 120, "day"]]),  # no 1 h limit
    ("so2", "hourly", JAN_2026, MAR_2026, [[JAN_2026, MAR_2026, 500, "hour"]]),
    ("no2", "raw", JAN_2026, MAR_2026, [[JAN_2026, MAR_2026, 200, "hour"]]),
    ("o3", "daily", JAN_2026, MAR_2026, [[JAN_2026, MAR_2026, 160, "8h"]]),
    ("co", "daily", JAN_2026, MAR_2026, [[JAN_2026, MAR_2026, 4, "day"]]),
    ("temp", "hourly", JAN_2026, JAN_2027, []),
], ids=["pm25-across-stages", "pm10-2012", "pm10-2026-hourly", "so2-1h", "no2-1h", "o3-8h",
        "co-mg", "no-limit"])
def test_limits_by_stage(param, agg, start, end, want):
    got = _js("E.limitSegments(p, a, s, e).map((l) => [l.from, l.to, l.value, l.span])",
              p=param, a=agg, s=start, e=end)
    assert got == want


# --- neighbourhoods and their median -----------------------------------------------------------

def _km(a, b) -> float:
    """Great-circle distance on a 6371 km sphere (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


@needs_node
@pytest.mark.parametrize("station", ["1462A", "1470A", "lintong"])
def test_neighbours_are_the_nearest_eight_within_60_km(catalogue, station):
    me = catalogue.stations[station]
    want = [s.id for _, s in sorted(
        ((_km(me, s), s) for s in catalogue.stations.values()
         if s.id != station and s.kind == me.kind and _km(me, s) <= 60),
        key=lambda x: (x[0], x[1].id))][:8]
    stations = {k: {"id": k, "kind": s.kind, "lat": s.lat, "lon": s.lon}
                for k, s in catalogue.stations.items()}
    assert _js("E.neighboursOf(id, stations)", id=station, stations=stations) == want


@needs_node
def test_median_of_neighbours_counts_valid_values_only():
    series = [{"points": [[1, 10, "N"], [2, 10, "N"], [3, 100, "M"]]},
              {"points": [[1, 30, "N"], [2, 40, "T"]]},
              {"points": [[1, 20, None], [2, 100, "D"]]}]
    # t=1: median(10, 30, 20) = 20; t=2: 100 (D) does not count: median(10, 40) = 25;
    # t=3: only a maintenance value: no median
    assert _js("E.medianLine(series)", series=series) == [[1, 20], [2, 25]]


# --- the selection as a query -------------------------------------------------------------------

@needs_node
@pytest.mark.parametrize("sel,want", [
    ({"stations": ["1462A", "1463A"], "params": ["pm25"], "from": "2027-01-01",
      "to": "2027-01-31", "aggregation": "hourly"},
     {"query": {"kind": "air", "start": "2027-01-01T00:00:00+08:00",
                "end": "2027-02-01T00:00:00+08:00", "stations": "1462A,1463A", "params": "pm25"},
      "aggregation": "hourly", "startMs": JAN_2027, "endMs": JAN_2027 + 31 * 86400000}),
    ({"sections": ["lintong"], "from": "2027-01-01", "to": "2027-01-01", "aggregation": "daily"},
     {"query": {"kind": "hydro", "start": "2027-01-01T00:00:00+08:00",
                "end": "2027-01-02T00:00:00+08:00", "sections": "lintong"},
      "aggregation": "daily", "startMs": JAN_2027, "endMs": JAN_2027 + 86400000}),
    ({"stations": ["1462A"], "from": "2027-01-31", "to": "2027-01-01"}, {"error": "badRange"}),
    ({"stations": ["1462A"], "from": "2027-01-01", "to": "2027-02-01", "aggregation": "raw"},
     {"error": "tooLong", "days": 31}),          # 32 days of raw readings
    ({"cities": [], "from": "2027-01-01", "to": "2027-01-02"}, {"error": "noStations"}),
], ids=["two-stations-a-month", "section-is-hydro", "reversed", "raw-too-long", "nothing"])
def test_selection_query(sel, want):
    assert _js("E.selectionQuery(sel)", sel=sel) == want


@needs_node
def test_a_city_and_a_section_resolve_as_the_api_does(catalogue):
    cat = {"stations": {k: {"id": k, "city": s.city, "kind": s.kind}
                        for k, s in catalogue.stations.items()},
           "sections": {k: {"station": s.station} for k, s in catalogue.sections.items()}}
    xian = [s.id for s in catalogue.stations_of("xian", "air")]
    assert len(xian) == 13   # DOMAIN.md section 2: Xi'an's 13 national stations
    got = _js("[E.resolveStations({stations: ['1463A'], cities: ['xian']}, cat),"
              " E.resolveStations({sections: ['lintong']}, cat)]", cat=cat)
    assert got == [["1463A"] + [s for s in xian if s != "1463A"],
                   [catalogue.sections["lintong"].station]]


@needs_node
def test_completeness_rows_sum_gap_hours_by_cause_and_show_shares():
    report = {"stations": [{"station": "1462A", "param": "pm25", "city": "xian",
                            "hours": {"valid": 735, "expected": 744, "share": 0.9879},
                            "days": {"valid": 30, "expected": 31, "share": 0.9677},
                            "months": {"valid": 0, "expected": 0, "share": None},
                            "gaps": [{"cause": "maintenance", "hours": 6},
                                     {"cause": "invalid_flag", "hours": 1},
                                     {"cause": "maintenance", "hours": 2}]}]}
    got = _js("[E.completenessRows(r)[0].gapHours, E.shareText(E.completenessRows(r)[0].hours),"
              " E.shareText(E.completenessRows(r)[0].months)]", r=report)
    assert got == [{"maintenance": 8, "invalid_flag": 1}, "98.8%", "–"]


@needs_node
@pytest.mark.parametrize("me,can", [
    ({"role": "inspector"}, True), ({"role": "bureau"}, True), ({"role": "admin"}, True),
    ({"role": "city-team"}, False), ({"role": "station"}, False), (None, True)],
    ids=["inspector", "bureau", "admin", "city-team", "station", "no-me-server-decides"])
def test_screening_is_offered_to_the_api_s_roles(me, can):
    # api/routes/inspect.py: require("inspector", "bureau"), admin always passes
    assert _js("E.canScreen(me)", me=me) is can
