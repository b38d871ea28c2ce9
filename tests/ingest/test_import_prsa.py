"""`fenwei import prsa` on the committed Beijing excerpt (tests/data/beijing-prsa: Dongsi and
Huairou, 2015-11-01..2016-02-29): every valid value stored exactly once, counted against the
raw files read here with the csv module; conversions on hand-picked rows; re-runs store
nothing; an interrupted import resumes where it stopped."""
from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.catalogue import EXTRA_ENV
from core.store import StoreUnavailable, open_store
from ingest.importer import ImportState, Importer, name_lookup
from ingest.importer import _formats
from ingest.importer.cli import app

from .conftest import run_cli   # the fixture beijing comes from conftest too

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "beijing-prsa"
FILES = sorted(DATA.glob("PRSA_Data_*.csv.gz"))
CODES = {"Dongsi": "1003A", "Huairou": "1009A"}
COLUMN = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3",
          "TEMP": "temp", "PRES": "pressure", "RAIN": "precip", "wd": "wind_dir",
          "WSPM": "wind_speed"}
PARAMS = [*COLUMN.values(), "rh"]
START, END = datetime(2015, 10, 1, tzinfo=timezone.utc), datetime(2016, 3, 2, tzinfo=timezone.utc)


def expected_counts() -> tuple[Counter, Counter, int]:
    """(valid values per (station, parameter), refused values by reason, rows) from the raw
    files: a cell counts unless it is NA; RH needs both DEWP and TEMP and a dew point not above
    the temperature (RH <= 100 %)."""
    want, refused, rows = Counter(), Counter(), 0
    for path in FILES:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows += 1
                code = CODES[row["station"]]
                for col, param in COLUMN.items():
                    if row[col].strip() not in ("NA", ""):
                        want[(code, param)] += 1
                dew, temp = row["DEWP"].strip(), row["TEMP"].strip()
                if dew not in ("NA", ""):
                    if temp in ("NA", ""):
                        refused["rh_without_temperature"] += 1
                    elif float(dew) > float(temp):
                        refused["out_of_range"] += 1
                    else:
                        want[(code, "rh")] += 1
    return want, refused, rows


def stored_counts(url: str, cat) -> Counter:
    store = open_store(url, cat)
    try:
        raw = store.raw("air", list(CODES.values()), PARAMS, START, END)
    finally:
        store.close()
    assert set(raw["period"]) == {"PT1H"}
    return Counter({(sid, p): int(g[p].notna().sum()) for sid, g in raw.groupby("station")
                    for p in PARAMS})



def test_every_valid_value_is_stored_once_and_a_rerun_stores_nothing(tmp_path, beijing):
    url, state = f"duckdb://{tmp_path / 'bj.duckdb'}", str(tmp_path / "state.json")
    want, refused, rows = expected_counts()
    first = run_cli("prsa", *map(str, FILES), "--store-url", url, "--state", state, "--json")
    assert first["rows_read"] == rows == 2 * 2904          # 121 days x 24 h, two stations
    assert first["values_stored"] == sum(want.values())
    assert first["rejected"] == dict(refused)
    assert first["missing"] + first["values_read"] == rows * 12
    assert stored_counts(url, beijing) == want
    # again with the resume state: both files are done and not read
    again = run_cli("prsa", *map(str, FILES), "--store-url", url, "--state", state, "--json")
    assert (again["files_skipped"], again["values_stored"], again["rows_read"]) == (2, 0, 0)
    # read again from scratch: every value is found stored already, nothing written
    fresh = run_cli("prsa", *map(str, FILES), "--store-url", url, "--state", state,
                    "--restart", "--json")
    assert fresh["values_stored"] == fresh["values_replaced"] == fresh["readings_stored"] == 0
    assert fresh["values_unchanged"] == first["values_stored"]
    assert stored_counts(url, beijing) == want


# Hand-picked rows of Dongsi (1003A), converted by hand:
#  2015-11-01 hour 0 (label, CST) = 2015-10-31 16:00 UTC; the period 23:00-24:00 CST starts
#  15:00 UTC. CO 1300 ug/m3 / 1000 = 1.3 mg/m3; PRES 1023.2 hPa / 10 = 102.32 kPa;
#  TEMP 2.9, DEWP 0.6 -> RH 84.84 % (Magnus, worked in test_import_units); wd E = 4 x 22.5 = 90
#  2016-02-29 hour 23 -> period from 22:00 CST = 14:00 UTC: CO 1100 -> 1.1; PRES 1024.9 ->
#  102.49; TEMP 0.7, DEWP -15.3 -> RH 29.09 %; wd S = 8 x 22.5 = 180
ROWS = [(datetime(2015, 10, 31, 15, tzinfo=timezone.utc),
         {"pm25": 114, "pm10": 162, "so2": 17, "no2": 90, "co": 1.3, "o3": 2, "temp": 2.9,
          "pressure": 102.32, "rh": 84.84, "precip": 0, "wind_dir": 90, "wind_speed": 1.1}),
        (datetime(2016, 2, 29, 14, tzinfo=timezone.utc),
         {"pm25": 56, "pm10": 67, "so2": 16, "no2": 48, "co": 1.1, "o3": 36, "temp": 0.7,
          "pressure": 102.49, "rh": 29.09, "precip": 0, "wind_dir": 180, "wind_speed": 1.1})]


@pytest.mark.parametrize("ts,values", ROWS, ids=["2015-11-01T00", "2016-02-29T23"])
def test_hand_picked_rows_in_catalogue_units(tmp_path, beijing, ts, values):
    url = f"duckdb://{tmp_path / 'bj.duckdb'}"
    run_cli("prsa", str(DATA / "PRSA_Data_Dongsi_20151101-20160229.csv.gz"), "--store-url",
            url, "--state", str(tmp_path / "s.json"), "--json")
    store = open_store(url, beijing)
    try:
        raw = store.raw("air", ["1003A"], PARAMS, START, END)
    finally:
        store.close()
    row = raw[raw["time"] == ts]
    assert len(row) == 1 and row["city"].iat[0] == "beijing"
    assert {p: row[p].iat[0] for p in values} == pytest.approx(values, abs=0.005)
    assert raw["time"].min() == ROWS[0][0] and raw["time"].max() == ROWS[1][0]


class FailingStore:
    """Passes writes to ``store`` until the ``fail_at``-th, which raises StoreUnavailable."""

    def __init__(self, store, fail_at: int) -> None:
        self.store, self.fail_at, self.calls = store, fail_at, 0

    def write(self, readings):
        self.calls += 1
        if self.calls == self.fail_at:
            raise StoreUnavailable("store went away (test)")
        return self.store.write(readings)

    def raw(self, *a, **kw):
        return self.store.raw(*a, **kw)


def test_an_interrupted_import_resumes_where_it_stopped(tmp_path, beijing, monkeypatch):
    monkeypatch.setattr(_formats, "CHUNK_ROWS", 1000)     # 2904 rows a file: 3 chunks each
    want, _, rows = expected_counts()
    store = open_store(f"duckdb://{tmp_path / 'bj.duckdb'}", beijing)
    state = ImportState(tmp_path / "state.json")
    broken = Importer(FailingStore(store, fail_at=5), beijing, state=state, progress=False)
    with pytest.raises(StoreUnavailable):
        broken.run("prsa", FILES, name_lookup(beijing))
    # file 1 done (3 chunks), file 2: its first chunk stored, the second failed
    second = json.loads((tmp_path / "state.json").read_text())
    assert sorted(e["rows_done"] for e in second.values()) == [1000, 2904]
    resumed = Importer(store, beijing, state=ImportState(tmp_path / "state.json"),
                       progress=False).run("prsa", FILES, name_lookup(beijing))
    assert resumed.files_skipped == 1 and resumed.rows_read == 2904 - 1000
    assert resumed.values_unchanged == 0          # nothing read twice
    store.close()
    assert stored_counts(f"duckdb://{tmp_path / 'bj.duckdb'}", beijing) == want
    assert rows == 2 * 2904


def test_station_map_and_unknown_stations(tmp_path, beijing, monkeypatch):
    url = f"duckdb://{tmp_path / 'bj.duckdb'}"
    dongsi = str(DATA / "PRSA_Data_Dongsi_20151101-20160229.csv.gz")
    # without Beijing in the catalogue the station is unknown: every value refused, counted
    monkeypatch.delenv(EXTRA_ENV)
    out = run_cli("prsa", dongsi, "--store-url", url, "--state", str(tmp_path / "a.json"),
                  "--json")
    assert out["values_stored"] == 0 and out["rejected"]["unknown_station"] == \
        out["values_read"] > 0
    # a map naming a catalogue station sends Dongsi there (here: Xi'an's 1462A, as a test)
    (tmp_path / "map.csv").write_text("name,station\nDongsi,1462A\n", encoding="utf-8")
    out2 = run_cli("prsa", dongsi, "--store-url", url, "--state", str(tmp_path / "b.json"),
                   "--station-map", str(tmp_path / "map.csv"), "--json")
    assert out2["values_stored"] == out["values_read"] - out2["values_rejected"]
    res = CliRunner().invoke(app, ["prsa", dongsi, "--store-url", url, "--station-map",
                                   str(tmp_path / "bad.json")])
    assert res.exit_code == 2


@pytest.mark.services
def test_into_influxdb_every_value_once_and_a_rerun_stores_nothing(tmp_path, beijing,
                                                                   influx_url):
    want, refused, _ = expected_counts()
    state = str(tmp_path / "state.json")
    first = run_cli("prsa", *map(str, FILES), "--store-url", influx_url, "--state", state,
                    "--json")
    assert first["values_stored"] == sum(want.values()) and first["rejected"] == dict(refused)
    assert stored_counts(influx_url, beijing) == want
    again = run_cli("prsa", *map(str, FILES), "--store-url", influx_url, "--state", state,
                    "--restart", "--json")
    assert again["values_stored"] == again["values_replaced"] == 0
    assert again["values_unchanged"] == first["values_stored"]
