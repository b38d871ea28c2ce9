"""The decoder's fast path (core/wire/_fast.py) never changes a verdict: on generated and
mutated messages ``decode`` (fast path first) answers exactly what the reference decoder
answers alone: the same Batch, or the same reason and detail."""
from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.catalogue import load_catalogue
from core.wire import CST, Batch, Rejected, decode
from core.wire._decode import reference_decode
from core.wire._fast import fast_decode

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=CST).timestamp()
_CAT = load_catalogue()
TOPIC = "fenwei/v1/xian/air/1462A/readings"
HYDRO_TOPIC = "fenwei/v1/xian/hydro/lintong/readings"
FUZZ = settings(max_examples=400, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def both(topic: str, payload) -> tuple:
    return (decode(topic, payload, _CAT, now=NOW),
            reference_decode(topic, payload, _CAT, now=NOW))


def reading(ts: str = "2026-11-25T08:00:00+08:00", **kw) -> dict:
    return {"ts": ts, "period": "PT1H", "values": {"pm25": 156.0, "pm10": 210}, **kw}


def message(*readings: dict, station: str = "1462A", seq: int = 17) -> dict:
    return {"v": 1, "station": station, "seq": seq, "readings": list(readings)}


def test_fast_path_accepts_a_plain_message():
    # 08:00+08:00 is 00:00 UTC; pm25 156 and pm10 210 (an int on the wire) are inside
    # their catalogue ranges; the N flag is normal and so is not kept
    payload = json.dumps(message(reading(flags={"pm25": "N", "pm10": "T"}))).encode()
    fast = fast_decode(TOPIC, payload, _CAT, 1000, NOW + 86400, 2000)
    assert isinstance(fast, Batch)
    r = fast.readings[0]
    assert r.ts.isoformat() == "2026-11-25T00:00:00+00:00"
    assert r.values == {"pm25": 156.0, "pm10": 210.0} and type(r.values["pm10"]) is float
    assert r.flags == {"pm10": "T"}
    assert fast == reference_decode(TOPIC, payload, _CAT, now=NOW)


@pytest.mark.parametrize("payload", [
    pytest.param(message(reading(), reading()), id="duplicate_reading"),
    # the catalogue bounds pm25 to [0, 2000] ug/m3: 2000.5 is outside
    pytest.param(message(reading(values={"pm25": 2000.5})), id="out_of_range"),
    pytest.param(message(reading(values={"pm25": True})), id="bad_value-bool"),
    pytest.param(message(reading(ts="2026-11-27T08:00:00+08:00")), id="future_timestamp"),
    pytest.param(message(reading(ts="1999-12-31T23:00:00+00:00")), id="bad_timestamp-1999"),
    pytest.param(message(reading(ts="2026-11-25T08:00:00")), id="missing_offset"),
    pytest.param(message(reading(flags={"so2": "N"})), id="flag_without_value"),
    pytest.param({**message(reading()), "v": 1.0}, id="bad_version-float"),
    pytest.param(b'\xef\xbb\xbf' + json.dumps(message(reading())).encode(), id="bom"),
    pytest.param(json.dumps(message(reading())).replace("156.0", "NaN").encode(),
                 id="NaN-literal"),
])
def test_fast_path_leaves_bad_messages_to_the_reference(payload):
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    assert fast_decode(TOPIC, payload, _CAT, 1000, NOW + 86400, 2000) is None
    out, ref = both(TOPIC, payload)
    assert isinstance(out, Rejected) and out == ref


_TS = st.sampled_from(["2026-11-25T08:00:00+08:00", "2026-11-25T00:00:00Z",
                       "2026-11-25T00:00:00+00:00", "2026-11-25T00:00:00.5+00:00",
                       "2026-11-26T12:00:01+00:00", "2026-11-26T11:59:59+00:00",
                       "2026-11-25 08:00:00+08:00", "2026-11-25T08:00:00", "1999-12-31T23:00Z",
                       "2000-01-01T00:00:00+00:00", "9999-12-31T23:59:59-23:00", "x", ""])
_NUM = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30)
        | st.sampled_from([0, -0.0, 1e-7, 999.999, 1000, 1000.0001, True, None, "1"]))
_PARAM = st.sampled_from(["pm25", "pm10", "so2", "no2", "o3", "co", "rh", "temp", "wind_dir",
                          "discharge", "stage", "nope"])
_FLAG = st.sampled_from(["N", "T", "M", "B", "n", "", 1])
_PERIOD = st.sampled_from(["PT1H", "PT5M", "P1D", "PT0S", "PT60M", "P", "PT", "1H", 3600])


@st.composite
def _readings(draw) -> dict:
    values = draw(st.dictionaries(_PARAM, _NUM, min_size=0, max_size=5))
    r = {"ts": draw(_TS), "period": draw(_PERIOD), "values": values}
    if draw(st.booleans()):
        r["flags"] = draw(st.dictionaries(_PARAM, _FLAG, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        r["agent_ts"] = draw(_TS | st.none())
    if draw(st.integers(0, 3)) == 0:
        r["backfill"] = draw(st.sampled_from([True, False, 0, None]))
    if draw(st.integers(0, 9)) == 0:
        r["extra"] = 1
    return r


@FUZZ
@given(topic=st.sampled_from([TOPIC, TOPIC, HYDRO_TOPIC, "fenwei/v1/weinan/air/1462A/readings"]),
       station=st.sampled_from(["1462A", "1462A", "lintong", 5]),
       v=st.sampled_from([1, 1, 1, 2, 1.0, True]),
       seq=st.sampled_from([0, 17, -1, 2**70, 1.0]),
       rows=st.lists(_readings(), min_size=0, max_size=4))
def test_decode_answers_as_the_reference_decoder(topic, station, v, seq, rows):
    payload = json.dumps({"v": v, "station": station, "seq": seq, "readings": rows}).encode()
    out, ref = both(topic, payload)
    assert out == ref


@FUZZ
@given(data=st.data())
def test_valid_messages_take_the_fast_path_with_the_same_batch(data):
    # in-range values of air parameters, HJ 212 letters, distinct hours: always valid
    n = data.draw(st.integers(1, 30))
    rows = []
    for i in range(n):
        values = {"pm25": data.draw(st.floats(0, 1000)), "o3": data.draw(st.integers(0, 1000))}
        r = {"ts": f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00+08:00", "period": "PT1H",
             "values": values}
        if data.draw(st.booleans()):
            r["flags"] = {"pm25": data.draw(st.sampled_from(sorted("NFMSDCTB")))}
        rows.append(r)
    payload = json.dumps({"v": 1, "station": "1462A", "seq": 3, "readings": rows}).encode()
    fast = fast_decode(TOPIC, payload, _CAT, 1000, NOW + 86400, 2000)
    assert isinstance(fast, Batch)
    assert fast == reference_decode(TOPIC, payload, _CAT, now=NOW)


@FUZZ
@given(data=st.data())
def test_mutated_valid_payloads_answer_as_the_reference(data):
    obj = copy.deepcopy(message(reading(flags={"pm25": "N"})))
    r = obj["readings"][0]
    field = st.sampled_from([None, True, 1, -1, 1.5, "N", "PT1H", [], {}, "2026-11-25T08:00Z"])
    for target, keys in ((obj, ["v", "station", "seq", "readings"]),
                         (r, ["ts", "period", "values", "flags", "agent_ts", "backfill"]),
                         (r["values"], ["pm25", "pm10", "rh", "discharge"]),
                         (r["flags"], ["pm25", "pm10", "so2"])):
        for key in data.draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            target[key] = data.draw(field)
    out, ref = both(TOPIC, json.dumps(obj).encode())
    assert out == ref
