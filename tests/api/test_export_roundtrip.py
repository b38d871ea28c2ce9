"""Export round trip (issue 20): values, flags, units and times go from a real store (DuckDB
and InfluxDB) to CSV and to Excel .xlsx and back unchanged."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import ERRORS, create_app
from api.auth import FailureLimiter, KeyStore, RateLimiter
from api.routes import inspect as inspect_routes, reports
from core.store import open_store
from core.wire import Reading

# 2027-01-10 00:00 CST = 2027-01-09 16:00 UTC
T0 = datetime(2027, 1, 9, 16, tzinfo=timezone.utc)
FLAGS = {3: "M", 4: "C", 7: "T"}   # hours of 1462A with a flag on pm25


def build_client(store, catalogue, state_url):
    keys = KeyStore(state_url)
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                     auth_failures=FailureLimiter(1000, 1000))
    # what api/app.py will do (its owner adds the two routers to its list)
    for module in (reports, inspect_routes):
        app.include_router(module.router, responses=ERRORS)
    tokens = {r: keys.create(f"t-{r}", r, {"city-team": "xian", "bureau": "Shaanxi",
                                            "station": "1462A"}.get(r))[1]
              for r in ("inspector", "station", "city-team", "bureau", "admin")}
    return TestClient(app), {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def readings():
    rows = []
    for h in range(48):
        ts = T0 + timedelta(hours=h)
        rows.append(Reading("1462A", "xian", "air", ts, "PT1H",
                            {"pm25": 40.5 + h, "pm10": 80.25 + h},
                            {"pm25": FLAGS[h]} if h in FLAGS else {}))
        if h != 10:   # 1463A misses one hour
            rows.append(Reading("1463A", "xian", "air", ts, "PT1H", {"pm25": 30.0 + h / 4}))
    return rows


@pytest.fixture(params=["duckdb", "influxdb"])
def client(request, tmp_path, catalogue):
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 's.duckdb'}"
    else:
        url = request.getfixturevalue("influx_url")
    store = open_store(url, catalogue)
    store.write(readings())
    yield build_client(store, catalogue, f"sqlite:///{tmp_path / 'state.db'}")
    store.close()


QUERY = {"stations": "1462A,1463A", "params": "pm25,pm10",
         "start": "2027-01-10T00:00:00+08:00", "end": "2027-01-12T00:00:00+08:00"}


def parse_csv(text: str) -> tuple[list[str], pd.DataFrame]:
    header = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    return header, pd.read_csv(io.StringIO(text), comment="#", keep_default_na=False,
                               na_values=[""])


def check_header(header: list[str]) -> None:
    text = "\n".join(header)
    assert "source: Fenwei" in text and "1462A" in text and "1463A" in text
    assert "pm25 细颗粒物" in text or "pm25" in text
    assert "[µg/m³]" in text                       # units
    assert "M maintenance" in text and "C calibration" in text and "T above measuring range" in text
    assert "UTC+08:00" in text                     # time zone


def test_hourly_csv_round_trip(client):
    c, h = client
    r = c.get("/export", params={**QUERY, "aggregation": "hourly"}, headers=h["inspector"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    header, df = parse_csv(r.text)
    check_header(header)
    a = df[df.station == "1462A"].reset_index(drop=True)
    assert len(a) == 48
    # hour 0 is 2027-01-10 00:00 CST; hour h holds 40.5 + h and 80.25 + h
    assert a.time[0] == "2027-01-10T00:00:00+08:00" and a.time[47] == "2027-01-11T23:00:00+08:00"
    assert a.pm25.tolist() == [40.5 + h for h in range(48)]
    assert a.pm10.tolist() == [80.25 + h for h in range(48)]
    assert a.pm25_flag.tolist() == [FLAGS.get(h, "N") for h in range(48)]
    b = df[df.station == "1463A"]
    assert len(b) == 47 and "2027-01-10T10:00:00+08:00" not in b.time.tolist()
    assert b.pm10.isna().all() and b.pm10_flag.isna().all()   # no PM10 sent: empty, not 0


def test_raw_csv_keeps_period_and_flags(client):
    c, h = client
    r = c.get("/export", params={**QUERY, "stations": "1462A", "aggregation": "raw"},
              headers=h["inspector"])
    header, df = parse_csv(r.text)
    assert "readings as stored" in "\n".join(header)
    assert set(df.period) == {"PT1H"} and len(df) == 48
    assert df.pm25_flag[3] == "M" and df.pm25_flag[7] == "T" and df.pm25_flag[0] == "N"


def test_daily_csv_counts_only_valid_hours(client):
    c, h = client
    r = c.get("/export", params={**QUERY, "stations": "1462A", "aggregation": "daily"},
              headers=h["inspector"])
    _, df = parse_csv(r.text)
    assert df.time.tolist() == ["2027-01-10T00:00:00+08:00", "2027-01-11T00:00:00+08:00"]
    # day 1: hours 0..23 minus M (3) and C (4): 22 valid; T (7) counts (lower bound)
    # mean = (sum of 40.5 + h for h in 0..23 - 43.5 - 44.5) / 22 = (1248 - 88) / 22
    assert df.pm25_count.tolist() == [22, 24]
    assert df.pm25_mean[0] == pytest.approx((1248 - 88) / 22)
    assert df.pm25_min[0] == 40.5 and df.pm25_max[0] == 63.5
    # day 2: 40.5 + 24 .. 40.5 + 47, mean 40.5 + 35.5 = 76
    assert df.pm25_mean[1] == pytest.approx(76.0)
    assert df.pm25_valid.tolist() == [True, True]   # >= 20 valid hours each


def read_xlsx(content: bytes) -> list[list]:
    """Cells of the first sheet, by row (stdlib only: the test reads what Excel would)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    z = zipfile.ZipFile(io.BytesIO(content))
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns):
            shared.append("".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")))
    rows = []
    for row in ET.fromstring(z.read("xl/worksheets/sheet1.xml")).iter(f"{{{ns['m']}}}row"):
        cells = {}
        for cell in row.findall("m:c", ns):
            col = _col(re.match(r"[A-Z]+", cell.get("r")).group())
            t, v = cell.get("t"), cell.find("m:v", ns)
            if t == "s":
                cells[col] = shared[int(v.text)]
            elif t == "inlineStr":
                cells[col] = "".join(x.text or "" for x in cell.iter(f"{{{ns['m']}}}t"))
            elif t == "b":
                cells[col] = v.text == "1"
            else:
                cells[col] = float(v.text)
        number = int(row.get("r")) - 1   # a blank row has no element: keep row numbers
        rows += [[] for _ in range(number - len(rows))]
        rows.append([cells.get(i) for i in range(max(cells) + 1)] if cells else [])
    return rows


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def excel_time(serial: float) -> datetime:
    """An Excel serial date (days since 1899-12-30) as CST, the export's time zone."""
    cst = timezone(timedelta(hours=8))
    return (datetime(1899, 12, 30) + timedelta(days=serial)).replace(tzinfo=cst)


def test_hourly_xlsx_round_trip(client):
    c, h = client
    r = c.get("/export", params={**QUERY, "aggregation": "hourly", "format": "xlsx"},
              headers=h["inspector"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(r.content)
    head = [row[0] for row in rows[:7]]
    check_header(head)
    assert rows[7] == []
    names = rows[8]
    assert names[:3] == ["time (CST)", "station", "city"]
    data = [dict(zip(names, row)) for row in rows[9:]]
    a = [d for d in data if d["station"] == "1462A"]
    assert len(a) == 48
    for hour, d in enumerate(a):
        when = excel_time(d["time (CST)"])
        assert abs(when - (T0 + timedelta(hours=hour))) < timedelta(seconds=1)
        assert d["pm25"] == 40.5 + hour and d["pm10"] == 80.25 + hour
        assert d["pm25_flag"] == FLAGS.get(hour, "N")


def test_export_access_and_bad_selection(client):
    c, h = client
    assert c.get("/export", params=QUERY).status_code == 401
    assert c.get("/export", params=QUERY, headers=h["station"]).status_code == 403
    for role in ("city-team", "bureau", "admin"):
        assert c.get("/export", params=QUERY, headers=h[role]).status_code == 200
    assert c.get("/export", params={**QUERY, "stations": "nope"},
                 headers=h["inspector"]).status_code == 404
    assert c.get("/export", params={**QUERY, "params": "discharge"},
                 headers=h["inspector"]).status_code == 404
    assert c.get("/export", params={**QUERY, "aggregation": "weekly"},
                 headers=h["inspector"]).status_code == 422
