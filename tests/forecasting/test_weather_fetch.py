"""The live model's weather: Open-Meteo forecasts fetched over HTTP (a local server answers with
the recorded answer in tests/data/open-meteo/, constructed in the API's documented shape),
converted to catalogue units, stored as ``met_forecast`` and read back by the production feed
(``StoreMetFeed``); CSV import of forecast fields; the runner's periodic fetch."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from core.store import open_store
from forecasting import StoreMetFeed, fetch_open_meteo, import_weather_csv

RECORDED = Path(__file__).parents[1] / "data" / "open-meteo" / "forecast_xian_20261210.json"
T0 = datetime(2026, 12, 10, tzinfo=timezone.utc)


class Server:
    """Answers /v1/forecast with the recorded JSON; ``fail`` = {latitude: [status, ...]}
    answers those statuses first, ``forever`` = {latitude: status} always."""

    def __init__(self) -> None:
        self.queries: list[dict] = []
        self.fail: dict[str, list[int]] = {}
        self.forever: dict[str, int] = {}
        self.body = RECORDED.read_bytes()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                outer.queries.append(q)
                lat = q.get("latitude", "")
                if lat in outer.forever:
                    status = outer.forever[lat]
                elif outer.fail.get(lat):
                    status = outer.fail[lat].pop(0)
                else:
                    status = 200
                body = outer.body if status == 200 else b'{"error":true,"reason":"x"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/forecast"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def store(catalogue, tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/w.duckdb", catalogue)
    yield s
    s.close()


def test_fetch_converts_units_and_the_live_feed_reads_it(server, store, catalogue):
    server.fail["34.2600"] = [503]          # one server error, then the answer: retried
    fetched = T0 + timedelta(hours=5, minutes=40, seconds=10)
    res = fetch_open_meteo(store, catalogue, ["xian"], url=server.url, now=fetched, wait_s=0)
    assert res.failed == {}
    # stamped with the fetch time rounded up to the minute: 05:40:10 -> 05:41
    assert res.as_dict()["issue"] == "20261210T0541Z"
    assert len(server.queries) == 2
    q = server.queries[-1]
    assert (q["latitude"], q["longitude"], q["timezone"]) == ("34.2600", "108.9400", "UTC")
    assert q["hourly"].split(",") == ["temperature_2m", "relative_humidity_2m",
                                      "surface_pressure", "wind_speed_10m",
                                      "wind_direction_10m", "precipitation"]
    # stored: the hours from 05:00 (the fetch hour) to the answer's last hour 119: 115 rows
    assert res.stored == {"xian": 115}
    rows = store.read_frame("met_forecast", T0, T0 + timedelta(days=6), where={"city": ["xian"]})
    assert len(rows) == 115 and rows["time"].min() == T0 + timedelta(hours=5)
    assert set(rows["source"]) == {"open-meteo"} and set(rows["issue"]) == {"20261210T0541Z"}
    six = rows[rows["time"] == T0 + timedelta(hours=6)].iloc[0]
    # hour index 6 of the answer (README rules): temp -5 + 0.5*6 = -2.0 °C; rh 60 + 6 = 66 %;
    # pressure 960 + 0.6 = 960.6 hPa = 96.06 kPa; wind 3.6*(1+1) = 7.2 km/h = 2.0 m/s;
    # direction 15*6 = 90°; precipitation labelled 07:00 (i = 7) is the sum over 06:00-07:00,
    # 0.1*(7 mod 4) = 0.3 mm, stored at 06:00; lead hour 2 (05:00 is lead 1)
    assert six["temp"] == pytest.approx(-2.0)
    assert six["rh"] == pytest.approx(66.0)
    assert six["pressure"] == pytest.approx(96.06)
    assert six["wind_speed"] == pytest.approx(2.0)
    assert six["wind_dir"] == pytest.approx(90.0)
    assert six["precip"] == pytest.approx(0.3)
    assert six["lead_h"] == 2
    # the production feed at the 06:00 issue: hour 0 is 06:00's wind; 24 h on (i = 30)
    # wind 3.6*(1 + 30 mod 5)/3.6 = 1.0 m/s, pressure (960 + 3.0)/10 = 96.3 kPa
    fc = StoreMetFeed(store).forecast(T0 + timedelta(hours=6), ["xian"], horizon_h=96)
    assert fc is not None
    assert fc.data["wind_speed"][0, 0] == pytest.approx(2.0)
    assert fc.data["wind_speed"][24, 0] == pytest.approx(1.0)
    assert fc.data["pressure"][24, 0] == pytest.approx(96.3)
    # an air forecast issued at 05:00 (before the fetch) never sees it
    assert StoreMetFeed(store).forecast(T0 + timedelta(hours=5), ["xian"], 24) is None


def test_a_failing_city_loses_nothing_else(server, store, catalogue):
    lin = catalogue.cities["linfen"]
    server.forever[f"{lin.lat:.4f}"] = 500
    res = fetch_open_meteo(store, catalogue, ["linfen", "xian"], url=server.url,
                           now=T0 + timedelta(hours=1), attempts=3, wait_s=0)
    assert res.failed == {"linfen": "HTTP 500"}
    # 3 tries for linfen, 1 for xian; xian stored: hours 01:00..119 = 119 rows
    assert len(server.queries) == 4 and res.stored == {"xian": 119}
    # a 404 is not retried
    server.forever[f"{lin.lat:.4f}"] = 404
    res = fetch_open_meteo(store, catalogue, ["linfen"], url=server.url,
                           now=T0 + timedelta(hours=1), attempts=3, wait_s=0)
    assert res.failed == {"linfen": "HTTP 404"} and len(server.queries) == 5


def test_an_unknown_unit_is_refused_not_guessed(server, store, catalogue):
    doc = json.loads(RECORDED.read_text(encoding="utf-8"))
    doc["hourly_units"]["wind_speed_10m"] = "mph"
    server.body = json.dumps(doc).encode()
    res = fetch_open_meteo(store, catalogue, ["xian"], url=server.url, now=T0, wait_s=0)
    assert "mph" in res.failed["xian"] and res.stored == {}
    doc["hourly_units"]["wind_speed_10m"] = "m/s"     # asked with wind_speed_unit=ms
    server.body = json.dumps(doc).encode()
    res = fetch_open_meteo(store, catalogue, ["xian"], url=server.url, now=T0, wait_s=0)
    rows = store.read_frame("met_forecast", T0, T0 + timedelta(hours=1))
    # i = 0: 3.6*(1+0) = 3.6, already m/s
    assert res.stored == {"xian": 120} and rows["wind_speed"].iloc[0] == pytest.approx(3.6)


def test_csv_import_of_forecast_fields(store, catalogue, tmp_path):
    f = tmp_path / "wrf.csv"
    f.write_text(
        "city,issued,time,temp,rh,pressure,wind_speed,wind_dir,precip\n"
        # naive times are CST: 08:00 CST = 00:00 UTC
        + "".join(f"linfen,2026-12-10T08:00,2026-12-10T{8 + h:02d}:00,{h}.5,70,95.5,"
                  f"{1 + h},180,0\n" for h in range(4))
        + "linfen,2026-12-10T00:00Z,2026-12-09T23:00Z,1,70,95.5,1,180,0\n"  # before issue
        + "nowhere,2026-12-10T00:00Z,2026-12-10T01:00Z,1,70,95.5,1,180,0\n"
        + "linfen,2026-12-10T00:00Z,not a time,1,70,95.5,1,180,0\n",
        encoding="utf-8")
    counts = import_weather_csv(store, catalogue, f)
    assert counts == {"rows": 7, "stored": 4, "issues": 1,
                      "rejected": {"unknown_city": 1, "bad_time": 1, "before_issue": 1}}
    rows = store.read_frame("met_forecast", T0, T0 + timedelta(days=1))
    assert list(rows["temp"]) == [0.5, 1.5, 2.5, 3.5]
    assert set(rows["issue"]) == {"20261210T0000Z"} and set(rows["source"]) == {"csv:wrf.csv"}
    fc = StoreMetFeed(store).forecast(T0, ["linfen"], horizon_h=4)
    assert list(fc.data["wind_speed"][:, 0]) == [1.0, 2.0, 3.0, 4.0]
    # re-importing writes the same points again: nothing new
    import_weather_csv(store, catalogue, f)
    assert len(store.read_frame("met_forecast", T0, T0 + timedelta(days=1))) == 4


def test_cli_fetch_weather(server, tmp_path, monkeypatch):
    from forecasting.cli import app
    url = f"duckdb:///{tmp_path}/cli.duckdb"
    out = CliRunner().invoke(app, ["fetch-weather", "--city", "xian", "--url", server.url,
                                   "--store", url, "--now", "2026-12-10T13:00"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output.strip().splitlines()[-1])
    # 13:00 CST = 05:00 UTC: hours 05..119 of the answer
    assert doc == {"issue": "20261210T0500Z", "stored": {"xian": 115}, "failed": {}}
    out = CliRunner().invoke(app, ["fetch-weather", "--city", "atlantis", "--url", server.url,
                                   "--store", url])
    assert out.exit_code != 0


def test_runner_fetches_before_each_issue_slot(server, store, catalogue, tmp_path):
    from forecasting import ForecastSettings
    from stack.forecast import ForecastRunner
    settings = ForecastSettings(weather_url=server.url, weather_every_h=6)
    clock = [T0.timestamp()]
    runner = ForecastRunner(store, catalogue, lambda: clock[0], registry=tmp_path / "reg",
                            settings=settings)
    # 00:00 UTC = 08:00 CST: fetched at start (slot 06:00 CST)
    runner.weather_due(T0)
    # 09:30 CST: same slot, nothing fetched; 11:40 CST: 20 min before the 12:00 CST slot
    runner.weather_due(T0 + timedelta(hours=1, minutes=30))
    runner.weather_due(T0 + timedelta(hours=3, minutes=40))
    lats = [q["latitude"] for q in server.queries]
    assert len(lats) == 2 * len(catalogue.cities) and runner.weather_fetches == 2
    # the 12:00 CST (04:00 UTC) issue finds the 11:40 CST weather issue
    fc = StoreMetFeed(store).forecast(T0 + timedelta(hours=4), ["xian"], 24)
    assert fc is not None and fc.data["wind_speed"][0, 0] == pytest.approx(5.0)  # i=4: 3.6*5
