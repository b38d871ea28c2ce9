"""Flatten a decoded report into time-stamped observations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._consts import NAMES
from ._model import Frame

#: Flag recorded for an element sent as all FF (invalid or missing).
INVALID_FLAG = "D"


def observations(frame: Frame) -> list[dict[str, Any]]:
    """One dict per observation time, in frame order::

        {"ts": aware datetime, "station": "0011223344", "function": 0x34,
         "values": {"stage": 10.49, "voltage": 10.99}, "flags": {"discharge": "D"}}

    Element 39 -> stage (m), 27 -> discharge (m3/s), 38 -> voltage (V); other elements are
    ignored. Values without an F0 observation time take the send time. Invalid (all FF) values
    are left out of ``values`` and flagged ``"D"`` in ``flags``.
    """
    groups: dict[datetime, dict[str, Any]] = {}
    for element in frame.elements:
        name = NAMES.get(element.id)
        ts = element.ts or frame.sent
        if name is None or ts is None:
            continue
        group = groups.get(ts)
        if group is None:
            group = groups[ts] = {"ts": ts, "station": frame.station,
                                  "function": frame.function, "values": {}, "flags": {}}
        if element.value is None:
            group["flags"][name] = INVALID_FLAG
            group["values"].pop(name, None)
        else:
            group["values"][name] = element.value
            group["flags"].pop(name, None)
    return list(groups.values())
