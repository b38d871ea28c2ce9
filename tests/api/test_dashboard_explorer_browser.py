"""The history explorer in headless Chromium: an inspector selects two stations and a month,
sees both series with their flags, the completeness and the screening findings for them, and
downloads the selection as CSV (checked against the data written) and as Excel.

The API is the real one served by uvicorn on a loopback port over a DuckDB store into which
the test writes a month of hourly readings (some flagged, some missing); the browser setup is
tests/api/test_dashboard_browser.py's (Debian chromium + chromedriver, New York time), with
Chromium's download directory set to a temporary folder.
"""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from ._serve import served
from .test_dashboard_browser import _shot, _wait, browser  # noqa: F401  (a fixture)

CST = timezone(timedelta(hours=8))
START = datetime(2027, 1, 1, tzinfo=CST)          # January 2027, China Standard Time
HOURS = 31 * 24                                    # 744 hours
A, B = "1462A", "1463A"                            # two Xi'an stations (the catalogue's)


def _at(day: int, hour: int) -> datetime:
    return datetime(2027, 1, day, hour, tzinfo=CST)


# Flags written (HJ 212, DOMAIN.md section 5); every other hour is N.
# A: maintenance M on 15 January 10:00-15:00 (6 hours), calibration C on 20 January 03:00 and
#    04:00 (2 hours), fault D on 25 January 12:00 (1 hour): 9 invalid hours, 735 valid.
# B: nothing written on 10 January 00:00-03:00 (4 hours missing), manual value S on 28 January
#    06:00 (1 hour): 739 of its 740 written hours valid.
FLAGS = {A: {**{_at(15, h): "M" for h in range(10, 16)}, _at(20, 3): "C", _at(20, 4): "C",
             _at(25, 12): "D"},
         B: {_at(28, 6): "S"}}
MISSING = {A: set(), B: {_at(10, h) for h in range(4)}}
# B reads PM2.5 20 µg/m³ above its PM10 on 5 January 10:00-13:00 (4 hours): more than
# max(5 µg/m³, 10 % of PM10) for >= 3 h, the screening's pm25_above_pm10 rule
# (docs/services/workbench.md); elsewhere PM10 is 1.3-2 times PM2.5.
PM25_ABOVE = {_at(5, h) for h in range(10, 14)}


def _data() -> dict[str, list[tuple[datetime, float, float, str]]]:
    rng = random.Random(20)
    out: dict[str, list] = {A: [], B: []}
    for sid in (A, B):
        for i in range(HOURS):
            t = START + timedelta(hours=i)
            pm25 = round(rng.uniform(20, 90), 1)
            pm10 = round(pm25 * rng.uniform(1.3, 2.0), 1)
            if t in MISSING[sid]:
                continue
            if sid == B and t in PM25_ABOVE:
                pm10 = round(pm25 - 20, 1)
            out[sid].append((t, pm25, pm10, FLAGS[sid].get(t, "N")))
    return out


DATA = _data()

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def api(catalogue, tmp_path):

    from api.app import create_app
    from api.auth import KeyStore, RateLimiter
    from core.store import open_store
    from core.wire import Reading

    store = open_store("duckdb://:memory:", catalogue)
    store.write([Reading(sid, "xian", "air", t.astimezone(timezone.utc), "PT1H",
                         {"pm25": pm25, "pm10": pm10}, {"pm25": flag, "pm10": flag})
                 for sid, rows in DATA.items() for t, pm25, pm10, flag in rows])
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    key = keys.create("inspector-wang", "inspector")[1]
    app = create_app(store, catalogue, keys, limiter=RateLimiter(1000, 1000),
                     clock=lambda: datetime(2027, 2, 1, 2, tzinfo=timezone.utc).timestamp())
    with served(app) as url:
        yield {"url": url, "key": key}
    store.close()


def _js(driver, script, *args):
    return driver.execute_script(script, *args)


def _downloaded(folder: Path, suffix: str) -> Path:
    def done():
        files = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        partial = [p for p in folder.iterdir() if p.name.endswith(".crdownload")]
        return files[0] if files and not partial else None
    return _wait(done, 30, f"a {suffix} file in {folder}")


def test_inspector_explores_two_stations_over_a_month_and_downloads_the_csv(
        api, browser, tmp_path):   # noqa: F811
    from selenium.webdriver.support.select import Select

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{api['url']}/dashboard/?key={api['key']}&lang=zh")
    _wait(lambda: _js(browser, "return document.body.dataset.ready === '1'"), 30,
          "the dashboard to load")
    panel = browser.find_element("id", "explorer")
    _js(browser, "arguments[0].scrollIntoView()", panel)
    assert panel.find_element("css selector", "h2").text == "历史数据浏览"
    form = panel.find_element("css selector", "form")
    # two stations, PM2.5, January 2027 (CST days), hourly values
    stations = Select(form.find_element("name", "stations"))
    for sid in (A, B):
        stations.select_by_value(sid)
    params = Select(form.find_element("name", "params"))
    params.deselect_all()
    params.select_by_value("pm25")
    _js(browser, "const f = arguments[0].elements; f.from.value = '2027-01-01';"
                 "f.to.value = '2027-01-31';", form)
    Select(form.find_element("name", "aggregation")).select_by_value("hourly")
    form.find_element("css selector", "button[type=submit]").click()
    _wait(lambda: _js(browser, "return document.getElementById('explorer-chart')"
                               ".dataset.status") == "ready", 60, "the explorer's chart")
    got = _js(browser, "return window.fenwei.explorer()")
    # the query is the month in CST: 1 January 00:00 to 1 February 00:00, +08:00
    assert (got["query"]["start"], got["query"]["end"]) == ("2027-01-01T00:00:00+08:00",
                                                            "2027-02-01T00:00:00+08:00")
    assert got["stations"] == [A, B]
    series = {s["station"]: s for s in got["series"]}
    # A: 744 hours written, 6 M + 2 C + 1 D, the rest (744 - 9 = 735) N
    assert series[A]["points"] == 744
    assert series[A]["flags"] == {"N": 735, "M": 6, "C": 2, "D": 1}
    # B: 744 - 4 missing = 740 hours, 1 S, 739 N
    assert series[B]["points"] == 740
    assert series[B]["flags"] == {"N": 739, "S": 1}
    drawn = {s["id"]: s for s in got["drawn"]}
    # both stations drawn; the line holds the valid values only (its other points are null)
    assert drawn[f"line:{A}:pm25"]["name"] == f"{A} 高压开关厂"
    assert drawn[f"line:{B}:pm25"]["name"] == f"{B} 兴庆小区"
    # flagged values marked: M and C as maintenance (6 + 2), D and S as invalid (1 + 1)
    assert drawn["flag:maintenance:pm25"]["n"] == 8
    assert drawn["flag:invalid:pm25"]["n"] == 2
    marks = _js(browser, """const c = echarts.getInstanceByDom(document.getElementById(
        'explorer-chart')); const s = c.getOption().series;
        const line = s.find((x) => x.id === 'line:1462A:pm25');
        return {nulls: line.data.filter((p) => p[1] === null).length,
                gapB: s.find((x) => x.id === 'line:1463A:pm25').data.filter((p) => p[1] === null).length,
                flags: s.find((x) => x.id === 'flag:maintenance:pm25').data.map((p) => p.flag),
                limit: [...new Set(s.find((x) => x.id === 'limit:pm25').data.map((p) => p[1])
                  .filter((v) => v !== null))]};""")
    assert marks["nulls"] == 9            # A's 9 invalid hours break its line
    assert marks["gapB"] == 1 + 1         # B's line breaks at its S hour and its 4-hour gap
    assert sorted(marks["flags"]) == ["C"] * 2 + ["M"] * 6
    # January 2027 is in GB 3095-2026's transitional stage (from 2026-03-01): the PM2.5 24 h
    # limit is 60 µg/m³ (DOMAIN.md section 3); PM2.5 has no 1 h limit, so the 24 h one shows
    assert marks["limit"] == [60]

    # completeness for the selection (whole CST days; a day needs >= 20 valid hours)
    def cells(sid):
        row = panel.find_element("css selector", f".explorer-completeness tr[data-station='{sid}']")
        return {c: row.find_element("css selector", f"td.{c}").text
                for c in ("hours", "days", "months", "gaps")}
    _wait(lambda: panel.find_elements("css selector", ".explorer-completeness tr[data-station]"),
          10, "the completeness table")
    a, b = cells(A), cells(B)
    # A: 735/744 = 98.79 % of hours; 15 January has 24 - 6 = 18 valid hours (< 20), every
    # other day 24 or 22 or 23: 30 of 31 days; January has >= 27 valid days: 1 of 1 month
    assert a["hours"] == "98.8% (735/744)" and a["days"] == "96.8% (30/31)"
    assert a["months"] == "100.0% (1/1)"
    assert a["gaps"] == "维护（M 标记）: 6 小时; 校准（C 标记）: 2 小时; 无效数据标记: 1 小时"
    # B: 739/744 = 99.33 %; 10 January has 20 valid hours (counts): 31 of 31 days. Its 4
    # missing hours are site_offline (A reported then), its S hour an invalid flag
    assert b["hours"] == "99.3% (739/744)" and b["days"] == "100.0% (31/31)"
    assert b["gaps"] == "站点离线：其他站点有数据而本站无数据: 4 小时; 无效数据标记: 1 小时"
    # screening for the inspector: B's PM2.5 above its PM10 on 5 January 10:00-14:00 CST
    row = _wait(lambda: panel.find_elements(
        "css selector", f".explorer-screening tr[data-rule='pm25_above_pm10'][data-station='{B}']"),
        10, "the screening finding")[0]
    assert "2027-01-05 10:00 – 2027-01-05 14:00" in row.text, row.text
    # the inspector reviews it from the page: the API keeps the review with the key's name
    fid = row.get_attribute("data-finding-id")
    review = row.find_element("css selector", "form.review-form")
    Select(review.find_element("name", "verdict")).select_by_value("false_alarm")
    review.find_element("name", "note").send_keys("PM10 切割头更换，已核实")
    review.find_element("css selector", "button[type=submit]").click()
    _wait(lambda: "误报" in (_js(browser, "const n = document.querySelector(`.explorer-"
                                          "screening tr[data-finding-id=\"${arguments[0]}\"] "
                                          ".review-state`); return n && n.textContent", fid)
                           or ""), 10, "the review on the finding")
    (kept,) = httpx.get(f"{api['url']}/inspect/findings/{fid}/reviews",
                        headers={"Authorization": f"Bearer {api['key']}"}).json()
    assert (kept["verdict"], kept["note"], kept["reviewer"]) == (
        "false_alarm", "PM10 切割头更换，已核实", "inspector-wang"), kept
    _shot(browser, "dashboard-explorer.png")

    # the same selection as CSV: its header and every value and flag written, times in CST
    panel.find_element("css selector", "button[data-export=csv]").click()
    path = _downloaded(downloads, ".csv")
    assert path.name == "fenwei-air-hourly-20270101.csv"
    text = path.read_text(encoding="utf-8")
    header = [ln[2:] for ln in text.splitlines() if ln.startswith("# ")]
    assert any(h.startswith("time zone: China Standard Time, UTC+08:00") for h in header), header
    assert any("pm25 细颗粒物 [µg/m³]" in h for h in header), header
    rows = list(csv.DictReader(io.StringIO("\n".join(
        ln for ln in text.splitlines() if not ln.startswith("# ")))))
    assert list(rows[0]) == ["time", "station", "city", "pm25", "pm25_flag"]
    want = [(sid, t.isoformat(), pm25, flag) for sid in (A, B) for t, pm25, _, flag in DATA[sid]]
    assert [(r["station"], r["time"], float(r["pm25"]), r["pm25_flag"]) for r in rows] == want
    assert want[0][1] == "2027-01-01T00:00:00+08:00" and len(want) == 744 + 740
    # and as Excel (its content is the back end's test: tests/api/test_export_roundtrip.py)
    panel.find_element("css selector", "button[data-export=xlsx]").click()
    xlsx = _downloaded(downloads, ".xlsx")
    assert xlsx.name == "fenwei-air-hourly-20270101.xlsx" and xlsx.read_bytes()[:2] == b"PK"

    # in English
    browser.find_element("id", "lang").click()
    _wait(lambda: panel.find_element("css selector", "h2").text == "History explorer", 5,
          "English labels")
    assert "Valid hours" in panel.find_element("css selector", ".explorer-completeness").text
    _shot(browser, "dashboard-explorer-en.png")
    browser.find_element("id", "lang").click()   # back to Chinese for the next test
