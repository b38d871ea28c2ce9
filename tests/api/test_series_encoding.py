"""rows_json's shortcuts (each distinct string or repeated float encoded once) against the
row-at-a-time reference ``json.dumps(records(df))``, on generated frames (hypothesis)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from api.routes.series import records, rows_json

# few distinct values, so that frames over 64 rows take the repeated-value path; -0.0
# (equal to 0.0 for a hash, "-0.0" in JSON) and the non-finite ones (null) included
FLOATS = st.sampled_from([0.0, -0.0, 1.0, 0.1 + 0.2, 35.5, 1e-7, 1e22, -3.25,
                          float("nan"), float("inf"), float("-inf")])
TEXT = st.one_of(st.none(), st.sampled_from(["N", "C", "重度污染", 'q"uote', "back\\slash",
                                             "NA", "", "nan"]), st.text(max_size=4))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 150))
    floats = draw(st.lists(st.one_of(FLOATS, st.floats(allow_nan=True, allow_infinity=True)),
                           min_size=n, max_size=n))
    text = draw(st.lists(TEXT, min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 4_000_000_000), min_size=n, max_size=n))
    dtype = draw(st.sampled_from(["object", "str"]))
    return pd.DataFrame({
        "time": pd.to_datetime(pd.Series(times, dtype="int64"), unit="s", utc=True),
        "value": pd.Series(floats, dtype="float64"),
        "flag": pd.Series(text, dtype=dtype)})


def _reference(df: pd.DataFrame) -> str:
    clean = df.replace([np.inf, -np.inf], np.nan)
    return json.dumps(records(clean), ensure_ascii=False, allow_nan=False)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(frames())
def test_rows_json_is_the_reference_text(df):
    got, expected = rows_json(df), _reference(df)
    assert json.loads(got) == json.loads(expected)
    # the same numbers as written: -0.0 stays -0.0, 0.30000000000000004 keeps its digits
    assert [r["value"] for r in json.loads(got, parse_float=str)] == \
        [r["value"] for r in json.loads(expected, parse_float=str)]


def test_a_repeated_value_column_keeps_minus_zero():
    # 100 rows of 0.0 and one -0.0: the shortcut (one format per distinct value) would
    # give the -0.0 row the text of 0.0, so this column is formatted value by value
    df = pd.DataFrame({"value": [0.0] * 100 + [-0.0]})
    assert rows_json(df).endswith('{"value":-0.0}]')
