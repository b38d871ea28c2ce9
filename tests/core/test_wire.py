"""Wire format v1: topics, the decoder's verdicts, and the schema and docs that describe them.

Every rejection reason in REASONS has at least one row in BAD; docs/wire-format.md examples
are validated against the JSON Schema and decoded; the schema's parameters equal the catalogue's.
"""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.catalogue import load_catalogue
from core.catalogue._model import STATION_ID
from core.flags import FLAGS
from core.wire import (CST, MAX_READINGS, READINGS_FILTER, REASONS, STATUS_FILTER, Batch,
                       Rejected, decode, encode, format_period, json_schema, parse_period,
                       parse_topic, reading_dict, readings_topic, status_topic)

DOC = Path(__file__).resolve().parents[2] / "docs" / "wire-format.md"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=CST).timestamp()  # the decoder's injected clock
_CAT = load_catalogue()
TOPIC = "fenwei/v1/xian/air/1462A/readings"
HYDRO_TOPIC = "fenwei/v1/xian/hydro/lintong/readings"


def good() -> dict:
    return {"v": 1, "station": "1462A", "seq": 17, "readings": [
        {"ts": "2026-11-25T08:00:00+08:00", "period": "PT1H",
         "values": {"pm25": 156.0, "pm10": 210.0}, "flags": {"pm25": "N"}}]}


def dec(obj, topic: str = TOPIC, **kw):
    payload = obj if isinstance(obj, (bytes, str)) else json.dumps(obj).encode()
    return decode(topic, payload, _CAT, now=NOW, **kw)


def top(**changes) -> dict:
    obj = good()
    for k, v in changes.items():
        if v is _DROP:
            obj.pop(k)
        else:
            obj[k] = v
    return obj


def rd(**changes) -> dict:
    obj = good()
    r = obj["readings"][0]
    for k, v in changes.items():
        if v is _DROP:
            r.pop(k)
        else:
            r[k] = v
    return obj


_DROP = object()
_MANY = top(readings=[{"ts": (datetime(2026, 1, 1, tzinfo=CST) + timedelta(hours=i)).isoformat(),
                       "period": "PT1H", "values": {"pm25": 1.0}} for i in range(MAX_READINGS + 1)])

# (id, reason, payload, topic, decode keyword arguments)
BAD = [
    ("oversize", "oversize", good(), TOPIC, {"max_bytes": 64}),
    ("not-utf8", "not_utf8", b'{"v": 1, "station": "\xff\xfe"}', TOPIC, {}),
    ("truncated-json", "malformed_json", b'{"v": 1, "station": ', TOPIC, {}),
    ("empty-payload", "malformed_json", b"", TOPIC, {}),
    ("deeply-nested", "malformed_json", b"[" * 100_000 + b"]" * 100_000, TOPIC,
     {"max_bytes": 10**6}),
    ("array-top-level", "not_object", [good()], TOPIC, {}),
    ("string-top-level", "not_object", "\"hello\"", TOPIC, {}),
    ("version-2", "bad_version", top(v=2), TOPIC, {}),
    ("version-missing", "bad_version", top(v=_DROP), TOPIC, {}),
    ("version-string", "bad_version", top(v="1"), TOPIC, {}),
    ("version-bool", "bad_version", top(v=True), TOPIC, {}),
    ("top-extra-field", "unknown_field", top(extra=1), TOPIC, {}),
    ("reading-extra-field", "unknown_field", rd(note="x"), TOPIC, {}),
    ("seq-missing", "missing_field", top(seq=_DROP), TOPIC, {}),
    ("station-missing", "missing_field", top(station=_DROP), TOPIC, {}),
    ("period-missing", "missing_field", rd(period=_DROP), TOPIC, {}),
    ("values-missing", "missing_field", rd(values=_DROP), TOPIC, {}),
    ("station-number", "bad_station", top(station=1462), TOPIC, {}),
    ("station-unknown", "unknown_station", top(station="9999Z"),
     "fenwei/v1/xian/air/9999Z/readings", {}),
    ("topic-v2", "bad_topic", good(), "fenwei/v2/xian/air/1462A/readings", {}),
    ("topic-status-leaf", "bad_topic", good(), "fenwei/v1/xian/air/1462A/status", {}),
    ("topic-kind-water", "bad_topic", good(), "fenwei/v1/xian/water/1462A/readings", {}),
    ("topic-too-short", "bad_topic", good(), "fenwei/v1/xian/1462A/readings", {}),
    ("topic-other-station", "station_topic_mismatch", good(),
     "fenwei/v1/xian/air/1463A/readings", {}),
    ("topic-other-city", "city_topic_mismatch", good(), "fenwei/v1/baoji/air/1462A/readings", {}),
    ("topic-other-kind", "kind_topic_mismatch", good(), "fenwei/v1/xian/hydro/1462A/readings",
     {}),
    ("seq-negative", "bad_seq", top(seq=-1), TOPIC, {}),
    ("seq-float", "bad_seq", top(seq=1.5), TOPIC, {}),
    ("seq-string", "bad_seq", top(seq="17"), TOPIC, {}),
    ("seq-bool", "bad_seq", top(seq=True), TOPIC, {}),
    ("readings-object", "bad_readings", top(readings={"ts": "x"}), TOPIC, {}),
    ("readings-empty", "empty_readings", top(readings=[]), TOPIC, {}),
    ("readings-over-limit", "too_many_readings", _MANY, TOPIC, {}),
    ("readings-over-custom-limit", "too_many_readings",
     top(readings=good()["readings"] * 3), TOPIC, {"max_readings": 2}),
    ("reading-number", "bad_reading", top(readings=[1]), TOPIC, {}),
    ("reading-null", "bad_reading", top(readings=[None]), TOPIC, {}),
    ("ts-words", "bad_timestamp", rd(ts="yesterday at eight"), TOPIC, {}),
    ("ts-epoch-number", "bad_timestamp", rd(ts=1764028800), TOPIC, {}),
    ("ts-before-2000", "bad_timestamp", rd(ts="1999-12-31T23:00:00+08:00"), TOPIC, {}),
    ("ts-overflows-utc", "bad_timestamp", rd(ts="9999-12-31T23:59:59-23:00"), TOPIC, {}),
    ("ts-too-long", "bad_timestamp", rd(ts="2026-11-25T08:00:00.000000+08:00" + " " * 20),
     TOPIC, {}),
    ("ts-naive", "missing_offset", rd(ts="2026-11-25T08:00:00"), TOPIC, {}),
    ("ts-date-only", "missing_offset", rd(ts="2026-11-25"), TOPIC, {}),
    ("ts-two-days-ahead", "future_timestamp", rd(ts="2026-11-27T13:00:00+08:00"), TOPIC, {}),
    ("period-hours-word", "bad_period", rd(period="1h"), TOPIC, {}),
    ("period-bare-PT", "bad_period", rd(period="PT"), TOPIC, {}),
    ("period-over-31-days", "bad_period", rd(period="P32D"), TOPIC, {}),
    ("period-number", "bad_period", rd(period=3600), TOPIC, {}),
    ("period-negative", "bad_period", rd(period="-PT1H"), TOPIC, {}),
    ("values-list", "bad_values", rd(values=[156.0]), TOPIC, {}),
    ("values-empty", "empty_values", rd(values={}, flags=_DROP), TOPIC, {}),
    ("parameter-unknown", "unknown_parameter", rd(values={"pm1": 3.0}, flags=_DROP), TOPIC, {}),
    ("parameter-uppercase", "unknown_parameter", rd(values={"PM25": 3.0}, flags=_DROP), TOPIC,
     {}),
    ("parameter-hydro-on-air", "wrong_kind_parameter",
     rd(values={"discharge": 3.0}, flags=_DROP), TOPIC, {}),
    ("parameter-air-on-hydro", "wrong_kind_parameter",
     {"v": 1, "station": "lintong", "seq": 0, "readings": [
         {"ts": "2026-11-25T08:00:00+08:00", "period": "PT5M", "values": {"pm25": 3.0}}]},
     HYDRO_TOPIC, {}),
    ("value-string", "bad_value", rd(values={"pm25": "156"}, flags=_DROP), TOPIC, {}),
    ("value-null", "bad_value", rd(values={"pm25": None}, flags=_DROP), TOPIC, {}),
    ("value-bool", "bad_value", rd(values={"pm25": True}, flags=_DROP), TOPIC, {}),
    ("value-nan", "bad_value", json.dumps(good()).replace("156.0", "NaN"), TOPIC, {}),
    ("value-infinity", "bad_value", json.dumps(good()).replace("156.0", "1e400"), TOPIC, {}),
    ("value-negative", "out_of_range", rd(values={"pm25": -1.0}, flags=_DROP), TOPIC, {}),
    ("value-rh-over-100", "out_of_range", rd(values={"rh": 100.5}, flags=_DROP), TOPIC, {}),
    ("value-huge-int", "out_of_range",
     json.dumps(good()).replace("156.0", "1" + "0" * 400), TOPIC, {}),
    ("flags-string", "bad_flags", rd(flags="N"), TOPIC, {}),
    ("flags-list", "bad_flags", rd(flags=["N"]), TOPIC, {}),
    ("flag-unknown-letter", "bad_flag", rd(flags={"pm25": "X"}), TOPIC, {}),
    ("flag-lowercase", "bad_flag", rd(flags={"pm25": "n"}), TOPIC, {}),
    ("flag-number", "bad_flag", rd(flags={"pm25": 1}), TOPIC, {}),
    ("flag-without-value", "flag_without_value", rd(flags={"so2": "M"}), TOPIC, {}),
    ("agent-ts-garbage", "bad_agent_ts", rd(agent_ts="soon"), TOPIC, {}),
    ("agent-ts-naive", "bad_agent_ts", rd(agent_ts="2026-11-25T08:00:00"), TOPIC, {}),
    ("backfill-string", "bad_backfill", rd(backfill="yes"), TOPIC, {}),
    ("backfill-int", "bad_backfill", rd(backfill=1), TOPIC, {}),
    ("duplicate-same-instant", "duplicate_reading", top(readings=[
        {"ts": "2026-11-25T08:00:00+08:00", "period": "PT1H", "values": {"pm25": 1.0}},
        {"ts": "2026-11-25T00:00:00Z", "period": "PT60M", "values": {"pm10": 2.0}}]), TOPIC, {}),
]


@pytest.mark.parametrize("reason,payload,topic,kw", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_payload_gets_its_specific_reason(reason, payload, topic, kw):
    out = dec(payload, topic, **kw)
    assert isinstance(out, Rejected), out
    assert (out.reason, bool(out)) == (reason, False), out.detail
    assert out.detail and not out.detail.startswith("unexpected"), out.detail
    assert out.topic == topic


def test_the_table_covers_every_reason_with_at_least_twenty_kinds():
    assert {b[1] for b in BAD} == set(REASONS)
    assert len(BAD) >= 20 and len({b[0] for b in BAD}) == len(BAD)


def test_str_payload_is_measured_and_decoded_like_bytes():
    assert dec(json.dumps(good())) and dec(json.dumps(good()).encode())
    assert dec(json.dumps(good()), max_bytes=64).reason == "oversize"


# -- valid payloads --------------------------------------------------------------------
def test_issue_example_decodes_to_a_utc_batch():
    out = dec(good())
    assert isinstance(out, Batch) and out
    assert (out.station, out.city, out.kind, out.seq) == ("1462A", "xian", "air", 17)
    (r,) = out.readings
    assert r.ts == datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc)
    assert r.period == "PT1H" and r.values == {"pm25": 156.0, "pm10": 210.0}
    assert r.flags == {} and r.flag("pm25") == "N" and r.flag("pm10") == "N"  # missing means N
    assert (r.agent_ts, r.backfill) == (None, False)


def test_optional_fields_flags_and_period_are_normalised():
    out = dec(rd(period="PT60M", values={"pm25": 5, "co": 1.2}, flags={"pm25": "M", "co": "N"},
                 agent_ts="2026-11-25T08:00:07+08:00", backfill=True))
    (r,) = out.readings
    assert r.period == "PT1H" and r.values == {"pm25": 5.0, "co": 1.2}
    assert type(r.values["pm25"]) is float
    assert r.flags == {"pm25": "M"} and r.flag("co") == "N"
    assert r.agent_ts == datetime(2026, 11, 25, 0, 0, 7, tzinfo=timezone.utc) and r.backfill


def test_range_limits_are_inclusive_and_every_flag_letter_is_accepted():
    for letter in FLAGS:
        assert dec(rd(values={"rh": 100, "temp": -50}, flags={"rh": letter}))
    assert dec(rd(ts="2026-11-26T11:59:59+08:00"))  # up to a day ahead of the clock


def test_hydro_station_with_instantaneous_reading():
    obj = {"v": 1, "station": "lintong", "seq": 0, "readings": [
        {"ts": "2026-11-25T06:00:00Z", "period": "PT0S", "values": {"stage": 351.2,
                                                                     "discharge": 120.5}}]}
    out = dec(obj, HYDRO_TOPIC)
    assert out and out.kind == "hydro" and out.readings[0].period == "PT0S"


def test_encode_round_trips_through_decode():
    ts = datetime(2026, 11, 25, 0, tzinfo=timezone.utc)
    body = encode("1462A", 3, [reading_dict(ts, "PT1H", {"pm25": 35.0}, {"pm25": "T"}),
                               reading_dict(ts, "PT0S", {"o3": 80.0}, {"o3": "N"},
                                            agent_ts=ts, backfill=True)])
    out = dec(body)
    assert out and out.seq == 3 and [r.ts for r in out.readings] == [ts, ts]
    assert out.readings[0].flags == {"pm25": "T"} and out.readings[1].backfill
    assert "+08:00" in body.decode()  # offsets are explicit, CST by default
    with pytest.raises(ValueError):
        reading_dict(datetime(2026, 1, 1), "PT1H", {"pm25": 1.0})


@pytest.mark.parametrize("text,canonical,secs", [
    ("PT0S", "PT0S", 0), ("PT1H", "PT1H", 3600), ("PT60M", "PT1H", 3600), ("PT5M", "PT5M", 300),
    ("P1D", "P1D", 86400), ("PT24H", "P1D", 86400), ("P1DT1H", "PT25H", 90000),
    ("PT90S", "PT1M30S", 90), ("P31D", "P31D", 31 * 86400)])
def test_periods_parse_to_canonical_text(text, canonical, secs):
    assert parse_period(text) == (canonical, secs)
    assert format_period(secs) == canonical


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "PT1.5H", "1H", "pt1h", "P1W", "P32D"])
def test_unsupported_periods(text):
    assert parse_period(text) is None


def test_topics():
    assert readings_topic("xian", "air", "1462A") == TOPIC
    assert status_topic("xian", "air", "1462A") == "fenwei/v1/xian/air/1462A/status"
    assert parse_topic(TOPIC) == ("xian", "air", "1462A", "readings")
    assert parse_topic("fenwei/v1/xian/air/1462A/status")[3] == "status"
    for bad in ("fenwei/v1/xian/air/1462A", "fenwei/v1//air/1462A/readings",
                "fenwei/v1/xian/soil/1462A/readings", "other/v1/xian/air/1462A/readings"):
        assert parse_topic(bad) is None
    assert READINGS_FILTER == "fenwei/v1/+/+/+/readings"
    assert STATUS_FILTER == "fenwei/v1/+/+/+/status"


# -- the JSON Schema and the docs ------------------------------------------------------
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _doc_examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    docs = [json.loads(b) for b in blocks]
    return [d for d in docs if isinstance(d, dict) and "readings" in d]


def _topic_for(obj: dict) -> str:
    s = _CAT.station(obj["station"])
    return readings_topic(s.city, s.kind, s.id)


EXAMPLES = [("issue-example", good())] + [
    (f"doc-{i}", d) for i, d in enumerate(_doc_examples())] + [
    ("encoded", json.loads(encode("lintong", 0, [reading_dict(
        datetime(2026, 11, 25, tzinfo=timezone.utc), "PT5M",
        {"stage": 351.2, "discharge": 120.0, "voltage": 12.6}, {"voltage": "D"})])))]


def test_schema_is_valid_draft_2020_12_and_doc_has_examples():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert len(_doc_examples()) >= 3, "docs/wire-format.md should show readings examples"


@pytest.mark.parametrize("obj", [e[1] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_example_is_valid_for_schema_and_decoder(obj):
    VALIDATOR.validate(obj)
    out = dec(obj, _topic_for(obj))
    assert isinstance(out, Batch), out


# Shape-level rejections that the schema can see as well (the rest need the catalogue,
# the topic or the clock).
SCHEMA_SEES = {"not_object", "bad_version", "unknown_field", "missing_field", "bad_station",
               "bad_seq", "bad_readings", "empty_readings", "too_many_readings",
               "bad_reading", "missing_offset", "bad_values", "empty_values",
               "unknown_parameter", "bad_value", "out_of_range", "bad_flags", "bad_flag",
               "bad_agent_ts", "bad_backfill"}
SCHEMA_CASES = [b for b in BAD if b[1] in SCHEMA_SEES and not isinstance(b[2], (str, bytes))
                and not b[4]] + [
    ("ts-words-schema", "bad_timestamp", rd(ts="yesterday"), TOPIC, {}),
    ("period-words-schema", "bad_period", rd(period="1h"), TOPIC, {})]


@pytest.mark.parametrize("payload", [c[2] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_rejects_what_the_decoder_rejects_by_shape(payload):
    assert not VALIDATOR.is_valid(payload)


def test_schema_parameters_and_ranges_equal_the_catalogue(catalogue):
    values = SCHEMA["$defs"]["reading"]["properties"]["values"]
    assert values["additionalProperties"] is False
    got = {n: (p["type"], p["minimum"], p["maximum"]) for n, p in values["properties"].items()}
    want = {p.name: ("number", p.min, p.max) for p in catalogue.parameters.values()}
    assert got == want
    for p in catalogue.parameters.values():
        assert p.unit in values["properties"][p.name]["description"]
        assert f"({p.kind})" in values["properties"][p.name]["description"]


def test_schema_flags_limits_and_identifiers_equal_the_code(catalogue):
    reading = SCHEMA["$defs"]["reading"]
    flags = reading["properties"]["flags"]
    assert set(flags["properties"]) == set(catalogue.parameters)
    assert all(f["enum"] == list(FLAGS) for f in flags["properties"].values())
    assert SCHEMA["properties"]["readings"]["maxItems"] == MAX_READINGS
    assert SCHEMA["properties"]["station"]["pattern"] == STATION_ID.pattern
    assert SCHEMA["properties"]["v"] == {"const": 1}
    from core.wire._decode import _READING_FIELDS, _REQUIRED_READING, _TOP_FIELDS
    assert set(SCHEMA["properties"]) == set(SCHEMA["required"]) == _TOP_FIELDS
    assert set(reading["properties"]) == _READING_FIELDS
    assert tuple(reading["required"]) == _REQUIRED_READING


def test_doc_lists_every_reason_and_parameter(catalogue):
    text = DOC.read_text(encoding="utf-8")
    missing = [r for r in REASONS if f"`{r}`" not in text]
    assert not missing, f"docs/wire-format.md does not list {missing}"
    assert all(f"`{p}`" in text for p in catalogue.parameters)
    assert "core/wire/readings.schema.json" in text


# -- the decoder never raises ----------------------------------------------------------
def _check_verdict(out) -> None:
    assert isinstance(out, (Batch, Rejected))
    if isinstance(out, Rejected):
        assert out.reason in REASONS
        assert not out.detail.startswith("unexpected"), out.detail


FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=20)


@FUZZ
@given(topic=st.sampled_from([TOPIC, HYDRO_TOPIC, "x"]) | st.text(max_size=40),
       payload=st.binary(max_size=512))
def test_decoder_never_raises_on_arbitrary_bytes(topic, payload):
    _check_verdict(decode(topic, payload, _CAT, now=NOW))


@FUZZ
@given(JSON)
def test_decoder_never_raises_on_arbitrary_json(obj):
    _check_verdict(decode(TOPIC, json.dumps(obj), _CAT, now=NOW))


_FIELD = JSON | st.sampled_from(["2026-11-25T08:00:00+08:00", "PT1H", "P0D", "N", "M", 1, -1])


@FUZZ
@given(data=st.data())
def test_decoder_never_raises_on_mutated_valid_payloads(data):
    obj = copy.deepcopy(good())
    r = obj["readings"][0]
    for target, keys in ((obj, ["v", "station", "seq", "readings"]),
                         (r, ["ts", "period", "values", "flags", "agent_ts", "backfill"]),
                         (r["values"], ["pm25", "pm10", "rh", "discharge"]),
                         (r["flags"], ["pm25", "pm10", "so2"])):
        for key in data.draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            target[key] = data.draw(_FIELD)
    _check_verdict(decode(TOPIC, json.dumps(obj), _CAT, now=NOW))
