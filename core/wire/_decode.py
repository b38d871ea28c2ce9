"""Decode and validate wire-format v1 readings messages.

``decode`` never raises: it returns a :class:`Batch` or a :class:`Rejected` whose
``reason`` is one of :data:`REASONS`.

Two paths: ``_fast.py`` (msgspec into typed structs, precomputed catalogue lookups) accepts
the common valid message; anything else comes here, to the reference decoder below, which
finds the reason. 50-reading messages: 7.8 -> ~1.5 us of CPU per reading.
"""
from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone

from ..catalogue import Catalogue
from ..flags import FLAGS
from ._fast import fast_decode
from ._model import Batch, Reading, Rejected
from ._period import parse_period
from ._topics import parse_topic

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_READINGS = 1000
MAX_FUTURE_S = 86400
MIN_YEAR = 2000

REASONS = {
    "oversize": "payload larger than the configured limit",
    "not_utf8": "payload is not UTF-8",
    "malformed_json": "payload is not valid JSON",
    "not_object": "payload is not a JSON object",
    "bad_version": "missing or unsupported 'v' (must be 1)",
    "unknown_field": "a field not defined by wire format v1",
    "missing_field": "a required field is missing",
    "bad_station": "'station' is not a string",
    "unknown_station": "station not in the catalogue",
    "bad_topic": "topic is not fenwei/v1/{city}/{kind}/{station}/readings",
    "station_topic_mismatch": "payload station differs from the topic's station",
    "city_topic_mismatch": "topic city is not the station's city",
    "kind_topic_mismatch": "topic kind is not the station's kind",
    "bad_seq": "'seq' is not a non-negative integer",
    "bad_readings": "'readings' is not an array",
    "empty_readings": "'readings' is empty",
    "too_many_readings": "more readings than the per-message limit",
    "bad_reading": "a reading is not a JSON object",
    "bad_timestamp": "'ts' is not an ISO 8601 date-time",
    "missing_offset": "'ts' has no UTC offset",
    "future_timestamp": "'ts' is more than a day in the future",
    "bad_period": "'period' is not a supported ISO 8601 duration",
    "bad_values": "'values' is not an object",
    "empty_values": "'values' is empty",
    "unknown_parameter": "parameter not in the catalogue",
    "wrong_kind_parameter": "parameter belongs to the other kind of station",
    "bad_value": "value is not a finite number",
    "out_of_range": "value outside the parameter's physically possible range",
    "bad_flags": "'flags' is not an object",
    "bad_flag": "flag is not one of the HJ 212 letters",
    "flag_without_value": "flag given for a parameter without a value",
    "bad_agent_ts": "'agent_ts' is not an ISO 8601 date-time with offset",
    "bad_backfill": "'backfill' is not a boolean",
    "duplicate_reading": "the same ts and period appear twice in one message",
}

_TOP_FIELDS = {"v", "station", "seq", "readings"}
_READING_FIELDS = {"ts", "period", "values", "flags", "agent_ts", "backfill"}
_REQUIRED_READING = ("ts", "period", "values")


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def decode(topic: str, payload: bytes | str, catalogue: Catalogue, *,
           max_bytes: int = MAX_PAYLOAD_BYTES, max_readings: int = MAX_READINGS,
           now: float | None = None) -> Batch | Rejected:
    """Validate one readings message published on ``topic``."""
    now = time.time() if now is None else now
    if len(payload) <= max_bytes:
        try:
            batch = fast_decode(topic, payload, catalogue, max_readings, now + MAX_FUTURE_S,
                                MIN_YEAR)
        except Exception:  # noqa: BLE001 - the reference decoder decides
            batch = None
        if batch is not None:
            return batch
    return reference_decode(topic, payload, catalogue, max_bytes=max_bytes,
                            max_readings=max_readings, now=now)


def reference_decode(topic: str, payload: bytes | str, catalogue: Catalogue, *,
                     max_bytes: int = MAX_PAYLOAD_BYTES, max_readings: int = MAX_READINGS,
                     now: float) -> Batch | Rejected:
    """The reference decoder alone (every check in plain Python): what ``decode`` answers
    whenever its fast path does not accept the message, and what tests compare it with."""
    try:
        return _decode(topic, payload, catalogue, max_bytes, max_readings, now)
    except _Reject as rej:
        return Rejected(rej.reason, rej.detail, topic)
    except Exception as exc:  # noqa: BLE001 - the decoder must never raise
        return Rejected("malformed_json", f"unexpected decoding error: {exc!r}", topic)


def _decode(topic, payload, cat, max_bytes, max_readings, now) -> Batch:
    obj = _load(payload, max_bytes)
    station = _check_header(obj, topic, cat)
    seq = obj["seq"]
    if type(seq) is not int or seq < 0:
        raise _Reject("bad_seq", f"seq={seq!r}")
    rows = obj["readings"]
    if not isinstance(rows, list):
        raise _Reject("bad_readings", f"readings is {type(rows).__name__}")
    if not rows:
        raise _Reject("empty_readings", "no readings")
    if len(rows) > max_readings:
        raise _Reject("too_many_readings", f"{len(rows)} > {max_readings}")
    readings = tuple(_reading(i, r, station, cat, now) for i, r in enumerate(rows))
    if len({(r.ts, r.period) for r in readings}) != len(readings):
        raise _Reject("duplicate_reading", "two readings share ts and period")
    return Batch(station.id, station.city, station.kind, seq, readings)


def _load(payload, max_bytes) -> dict:
    if len(payload) > max_bytes:
        raise _Reject("oversize", f"{len(payload)} bytes > {max_bytes}")
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject("not_utf8", str(exc)) from None
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise _Reject("malformed_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise _Reject("not_object", f"top level is {type(obj).__name__}")
    return obj


def _check_header(obj: dict, topic: str, cat: Catalogue):
    v = obj.get("v")
    if type(v) is not int or v != 1:
        raise _Reject("bad_version", f"v={v!r}")
    extra = set(obj) - _TOP_FIELDS
    if extra:
        raise _Reject("unknown_field", f"fields {sorted(extra)}")
    for name in ("station", "seq", "readings"):
        if name not in obj:
            raise _Reject("missing_field", name)
    sid = obj["station"]
    if not isinstance(sid, str):
        raise _Reject("bad_station", f"station={sid!r}")
    parts = parse_topic(topic)
    if parts is None or parts[3] != "readings":
        raise _Reject("bad_topic", topic[:200])
    station = cat.stations.get(sid)
    if station is None:
        raise _Reject("unknown_station", sid[:64])
    city, kind, tsid, _ = parts
    if tsid != sid:
        raise _Reject("station_topic_mismatch", f"payload {sid!r}, topic {tsid!r}")
    if city != station.city:
        raise _Reject("city_topic_mismatch", f"topic {city!r}, station in {station.city!r}")
    if kind != station.kind:
        raise _Reject("kind_topic_mismatch", f"topic {kind!r}, station is {station.kind!r}")
    return station


def _reading(i: int, r, station, cat: Catalogue, now: float) -> Reading:
    if not isinstance(r, dict):
        raise _Reject("bad_reading", f"readings[{i}] is {type(r).__name__}")
    if not r.keys() <= _READING_FIELDS:
        extra = set(r) - _READING_FIELDS
        raise _Reject("unknown_field", f"readings[{i}] fields {sorted(extra)}")
    for name in _REQUIRED_READING:
        if name not in r:
            raise _Reject("missing_field", f"readings[{i}].{name}")
    ts = _timestamp(r["ts"], f"readings[{i}].ts", "bad_timestamp")
    if ts.timestamp() > now + MAX_FUTURE_S:
        raise _Reject("future_timestamp", f"readings[{i}].ts={r['ts']}")
    period = parse_period(r["period"]) if isinstance(r["period"], str) else None
    if period is None:
        raise _Reject("bad_period", f"readings[{i}].period={r['period']!r}")
    values = _values(i, r["values"], station.kind, cat)
    flags = _flags(i, r.get("flags", {}), values)
    agent_ts = None
    if r.get("agent_ts") is not None:
        agent_ts = _timestamp(r["agent_ts"], f"readings[{i}].agent_ts", "bad_agent_ts")
    backfill = r.get("backfill", False)
    if type(backfill) is not bool:
        raise _Reject("bad_backfill", f"readings[{i}].backfill={backfill!r}")
    return Reading(station.id, station.city, station.kind, ts, period[0], values, flags,
                   agent_ts, backfill)


def _timestamp(text, where: str, reason: str) -> datetime:
    if not isinstance(text, str) or len(text) > 40:
        raise _Reject(reason, f"{where}={text!r:.60}")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise _Reject(reason, f"{where}={text!r:.60}") from None
    if ts.tzinfo is None:
        raise _Reject("missing_offset" if reason == "bad_timestamp" else reason,
                      f"{where}={text!r} has no offset")
    if ts.year < MIN_YEAR:
        raise _Reject(reason, f"{where}={text!r} before {MIN_YEAR}")
    try:
        return ts.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:00
        raise _Reject(reason, f"{where}={text!r} out of range") from None


_LIMITS: dict[int, tuple[dict, dict[str, dict[str, tuple[float, float]]]]] = {}


def _limits(cat: Catalogue, kind: str) -> dict[str, tuple[float, float]]:
    """{parameter: (min, max)} of ``kind``'s parameters with finite bounds (cached)."""
    params = cat.parameters
    entry = _LIMITS.get(id(params))
    if entry is None or entry[0] is not params:
        table: dict[str, dict[str, tuple[float, float]]] = {}
        for name, p in params.items():
            if math.isfinite(p.min) and math.isfinite(p.max):
                table.setdefault(p.kind, {})[name] = (p.min, p.max)
        if len(_LIMITS) > 16:
            _LIMITS.clear()
        entry = _LIMITS[id(params)] = (params, table)
    return entry[1].get(kind, {})


def _values(i: int, values, kind: str, cat: Catalogue) -> dict[str, float]:
    if not isinstance(values, dict):
        raise _Reject("bad_values", f"readings[{i}].values is {type(values).__name__}")
    if not values:
        raise _Reject("empty_values", f"readings[{i}].values is empty")
    out: dict[str, float] = {}
    limits = _limits(cat, kind)
    for name, v in values.items():
        # fast path: a parameter of this kind, an int or float inside its finite range
        # (NaN fails the comparison); anything else takes the checks below
        b = limits.get(name)
        if b is not None and (type(v) is float or type(v) is int) and b[0] <= v <= b[1]:
            out[name] = float(v)
            continue
        p = cat.parameters.get(name)
        if p is None:
            raise _Reject("unknown_parameter", f"readings[{i}].values.{name[:40]}")
        if p.kind != kind:
            raise _Reject("wrong_kind_parameter", f"{name} is {p.kind}, station is {kind}")
        if type(v) not in (int, float) or (type(v) is float and not math.isfinite(v)):
            raise _Reject("bad_value", f"readings[{i}].values.{name}={v!r:.40}")
        if not p.min <= v <= p.max:
            raise _Reject("out_of_range", f"{name}={v} outside [{p.min}, {p.max}] {p.unit}")
        out[name] = float(v)
    return out


def _flags(i: int, flags, values: dict) -> dict[str, str]:
    if not isinstance(flags, dict):
        raise _Reject("bad_flags", f"readings[{i}].flags is {type(flags).__name__}")
    out: dict[str, str] = {}
    for name, f in flags.items():
        if not isinstance(f, str) or f not in FLAGS:
            raise _Reject("bad_flag", f"readings[{i}].flags.{name[:40]}={f!r:.20}")
        if name not in values:
            raise _Reject("flag_without_value", f"readings[{i}].flags.{name[:40]}")
        if f != "N":
            out[name] = f
    return out
