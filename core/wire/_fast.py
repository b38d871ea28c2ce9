"""The decoder's fast path: msgspec decodes a readings message straight into typed structs
and the common case (a known station on its own topic, in-range numeric values of its kind,
HJ 212 flags, ISO 8601 times with an offset) is validated against lookups precomputed per
catalogue.

It only ever *accepts*: anything it does not recognise as valid (a msgspec error, an
unknown or out-of-range parameter, a bad time, ...) returns ``None`` and the caller runs the
reference decoder (``_decode.py``), which finds the dead-letter reason. So the fast path can
never change a reason, and what it accepts is what the reference decoder accepts (a
property test in tests/core/test_wire_fast.py compares both on generated messages).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

import msgspec

from ..flags import FLAGS
from ._model import Batch, Reading
from ._period import parse_period
from ._topics import readings_topic

_UTC = timezone.utc
_FLAGS = frozenset(FLAGS)


class _R(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    ts: str
    period: str
    values: dict[str, float]
    flags: dict[str, str] = {}
    agent_ts: str | None = None
    backfill: bool = False


class _M(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    v: int
    station: str
    seq: int
    readings: list[_R]


_DECODER = msgspec.json.Decoder(_M)


class _Lookups:
    """Per catalogue: readings topic -> station, and per kind {parameter: (min, max)}."""

    __slots__ = ("params", "stations", "topics", "limits", "checks")

    def __init__(self, cat) -> None:
        self.params, self.stations = cat.parameters, cat.stations
        self.topics = {readings_topic(s.city, s.kind, s.id): s for s in cat.stations.values()}
        self.limits: dict[str, dict[str, tuple[float, float]]] = {}
        for name, p in cat.parameters.items():
            if math.isfinite(p.min) and math.isfinite(p.max):
                self.limits.setdefault(p.kind, {})[name] = (p.min, p.max)
        self.checks: dict[tuple[str, tuple[str, ...]], object] = {}

    def check(self, kind: str, names: tuple[str, ...]):
        """A function of the values in ``names``' order: True when each is a parameter of
        ``kind`` with finite bounds and inside them (NaN fails); None if a name is not one.
        Generated once per set of names: one call compares them all inline."""
        key = (kind, names)
        fn = self.checks.get(key)
        if fn is None and key not in self.checks:
            limits = self.limits.get(kind, {})
            if all(n in limits for n in names) and len(self.checks) < 4096:
                args = [f"v{i}" for i in range(len(names))]
                body = " and ".join(f"{limits[n][0]!r} <= v{i} <= {limits[n][1]!r}"
                                    for i, n in enumerate(names))
                scope: dict = {}
                # only numbers from the catalogue and generated argument names go in
                exec(f"def check({', '.join(args)}):\n    return {body}\n", scope)  # noqa: S102
                fn = scope["check"]
            self.checks[key] = fn
        return fn


_LOOKUPS: dict[int, _Lookups] = {}
_TIMES: dict[str, tuple[datetime, float] | None] = {}   # ISO text -> (UTC time, epoch s)


def _lookups(cat) -> _Lookups:
    lk = _LOOKUPS.get(id(cat))
    if lk is None or lk.params is not cat.parameters or lk.stations is not cat.stations:
        if len(_LOOKUPS) > 16:
            _LOOKUPS.clear()
        lk = _LOOKUPS[id(cat)] = _Lookups(cat)
    return lk


def _time(text: str, min_year: int) -> tuple[datetime, float] | None:
    """(UTC datetime, epoch seconds) of a valid wire time; None for anything else."""
    hit = _TIMES.get(text)
    if hit is not None or text in _TIMES:
        return hit
    out = None
    if len(text) <= 40:
        try:
            ts = datetime.fromisoformat(text)
            if ts.tzinfo is not None and ts.year >= min_year:
                ts = ts.astimezone(_UTC)
                out = (ts, ts.timestamp())
        except (ValueError, OverflowError):
            out = None
    if len(_TIMES) >= 8192:
        _TIMES.clear()
    _TIMES[text] = out
    return out


_PERIODS: dict[str, tuple[str, int] | None] = {}


def _period(text: str) -> tuple[str, int] | None:
    if len(_PERIODS) >= 1024:
        _PERIODS.clear()
    p = _PERIODS[text] = parse_period(text)
    return p


def fast_decode(topic: str, payload, cat, max_readings: int, now_limit: float,
                min_year: int) -> Batch | None:
    """The Batch of a valid message, or None (then the reference decoder decides)."""
    lk = _lookups(cat)
    station = lk.topics.get(topic)
    if station is None:
        return None
    try:
        m = _DECODER.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    rows = m.readings
    if (m.v != 1 or m.station != station.id or m.seq < 0 or not rows
            or len(rows) > max_readings):
        return None
    sid, city, kind = station.id, station.city, station.kind
    check, names = None, None
    out = []
    last = -math.inf               # strictly increasing times cannot repeat a (ts, period)
    ordered = True
    times, periods = _TIMES, _PERIODS
    for r in rows:
        t = times.get(r.ts) or _time(r.ts, min_year)
        if t is None or t[1] > now_limit:
            return None
        period = periods.get(r.period) or _period(r.period)
        values = r.values
        if period is None or not values:
            return None
        keys = tuple(values)
        if keys != names:
            names, check = keys, lk.check(kind, keys)
        if check is None or not check(*values.values()):
            return None
        flags = r.flags
        if flags:
            for name, f in flags.items():
                if f not in _FLAGS or name not in values:
                    return None
            flags = {k: f for k, f in flags.items() if f != "N"}
        agent_ts = None
        if r.agent_ts is not None:
            a = _time(r.agent_ts, min_year)
            if a is None:
                return None
            agent_ts = a[0]
        out.append(Reading(sid, city, kind, t[0], period[0], values, flags, agent_ts,
                           r.backfill))
        if t[1] <= last:
            ordered = False
        last = t[1]
    if not ordered and len({(r.ts, r.period) for r in out}) != len(out):
        return None
    return Batch(sid, city, kind, m.seq, tuple(out))
