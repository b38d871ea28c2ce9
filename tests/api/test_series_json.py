"""rows_json, the column-at-a-time row encoder, against the row-at-a-time reference."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from api.routes.series import json_response, records, rows_json


def _reference(df: pd.DataFrame) -> list:
    return json.loads(json.dumps(records(df), ensure_ascii=False, allow_nan=False))


FRAMES = {
    "raw-with-gaps": pd.DataFrame({
        "time": pd.to_datetime([1751299200, 1751302800, 1751306400], unit="s", utc=True),
        "station": ["1462A", "1462A", "1462A"], "pm25": [59.31, np.nan, 0.1 + 0.2],
        "pm25_flag": ["N", None, "C"]}),
    "aggregate-ints": pd.DataFrame({
        "time": pd.to_datetime(["2026-01-01T16:00:00Z", "2026-01-02T16:00:00Z"], utc=True),
        "city": ["xian", "xianyang"], "pm25_mean": [35.666666666666664, 1e-7],
        "pm25_count": np.array([24, 23], dtype="int64")}),
    "mixed-objects": pd.DataFrame({
        "time": pd.to_datetime([None, "2026-01-01T00:00:00+08:00"], utc=True),
        "label": pd.Series(["重度污染", 'quote " and \\ back'], dtype="object"),
        "odd": pd.Series([True, 1], dtype="object"), "flag": [True, False],
        "level": pd.Series([3.0, np.inf])}),
    "str-dtype": pd.DataFrame({"station": pd.Series(["a", None], dtype="str"),
                               "aqi": pd.array([1, None], dtype="Int64")}),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_rows_json_equals_the_record_reference(name):
    df = FRAMES[name]
    expected = _reference(df.replace([np.inf], np.nan))
    got = json.loads(rows_json(df))
    assert got == expected
    # same values, same types: True stays true, 1 stays 1
    assert [[type(v) for v in r.values()] for r in got] == \
        [[type(v) for v in r.values()] for r in expected]


def test_times_are_china_standard_time_strings():
    df = FRAMES["raw-with-gaps"]
    assert json.loads(rows_json(df))[0]["time"] == "2025-07-01T00:00:00+08:00"


def test_empty_frame_is_an_empty_array():
    assert rows_json(pd.DataFrame({"time": []})) == "[]"


def test_json_response_envelope_keeps_key_order():
    body = json_response({"kind": "air", "count": 1}, '[{"a":1}]', {"station": "1462A"}).body
    assert list(json.loads(body)) == ["kind", "count", "rows", "station"]
    assert json.loads(body)["rows"] == [{"a": 1}]
