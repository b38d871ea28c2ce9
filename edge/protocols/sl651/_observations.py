"""Flatten a decoded report into time-stamped observations."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ._consts import NAMES, ElementId
from ._model import Element, Frame

#: Flag recorded for an element sent as all FF (invalid or missing).
INVALID_FLAG = "D"
#: Period of a sampled (instantaneous) value and of a 5-minute rain total.
INSTANT, FIVE_MINUTES = "PT0S", "PT5M"
STEP = timedelta(minutes=5)


def observations(frame: Frame, *, stage_base: float | None = None) -> list[dict[str, Any]]:
    """One dict per observation time and period, in frame order::

        {"ts": aware datetime, "period": "PT0S", "station": "0011223344", "function": 0x34,
         "values": {"stage": 10.49, "voltage": 10.99}, "flags": {"discharge": "D"}}

    Element 39 -> stage (m), 27 -> discharge (m3/s), 38 -> voltage (V), all ``PT0S`` at their
    observation time; values without an F0 observation time take the send time.

    The 5-minute arrays of an hourly (34) report are kept, 12 values each. Their observation
    time T is the first 5-minute point (10:05 for the hour 10:00-11:00; the 12th point, T + 55
    min, is the hour the report's other elements carry). F4: ``rain`` (mm) fallen in the 5
    minutes up to T + 5k min (k = 0..11), a ``PT5M`` total whose ``ts`` is the start of those 5
    minutes (T + 5k - 5 min), each byte a count of 0.1 mm. F5..FC: relative stage 1..8 sampled
    at T + 5k min, 2 bytes of whole centimetres, ``PT0S`` (a sample, not a mean), named
    ``stage_relative`` (m) for F5 and ``stage_relative_2`` .. ``_8`` for F6..FC; with
    ``stage_base`` (the gauge's base level, m) F5 gives ``stage`` = base + relative instead.

    Invalid values (all FF) are left out of ``values`` and flagged ``"D"`` in ``flags``.
    """
    groups: dict[tuple[datetime, str], dict[str, Any]] = {}
    for element in frame.elements:
        ts = element.ts or frame.sent
        if ts is None:
            continue
        for name, period, when, value in _points(element, ts, stage_base):
            group = groups.get((when, period))
            if group is None:
                group = groups[(when, period)] = {
                    "ts": when, "period": period, "station": frame.station,
                    "function": frame.function, "values": {}, "flags": {}}
            if value is None:
                group["flags"][name] = INVALID_FLAG
                group["values"].pop(name, None)
            else:
                group["values"][name] = value
                group["flags"].pop(name, None)
    return list(groups.values())


Point = tuple[str, str, datetime, "float | None"]


def _points(element: Element, ts: datetime, stage_base: float | None) -> list[Point]:
    name = NAMES.get(element.id)
    if name is not None:
        return [(name, INSTANT, ts, element.value)]
    if element.id == ElementId.RAIN_5MIN:
        return [("rain", FIVE_MINUTES, ts + (k - 1) * STEP, _scaled(v, 1, None))
                for k, v in enumerate(element.value)]
    if 0xF5 <= element.id <= 0xFC:
        number = element.id - 0xF4
        if number == 1 and stage_base is not None:
            name, base = "stage", stage_base
        else:
            name, base = "stage_relative" + ("" if number == 1 else f"_{number}"), None
        return [(name, INSTANT, ts + k * STEP, _scaled(v, 2, base))
                for k, v in enumerate(element.value)]
    return []


def _scaled(count: int | None, decimals: int, base: float | None) -> float | None:
    """``count`` tenths (1) or hundredths (2), plus ``base``, computed in decimal."""
    if count is None:
        return None
    value = Decimal(count).scaleb(-decimals)
    return float(value if base is None else Decimal(str(base)) + value)
