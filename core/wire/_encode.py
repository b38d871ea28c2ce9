"""Encode wire-format v1 readings messages (what edge agents and the demo publish)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from core.timeutil import CST


def iso(ts: datetime, tz: timezone = CST) -> str:
    """An ISO 8601 timestamp with an explicit offset (China Standard Time by default)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    return ts.astimezone(tz).isoformat()


def reading_dict(ts: datetime, period: str, values: dict[str, float],
                 flags: dict[str, str] | None = None, *, agent_ts: datetime | None = None,
                 backfill: bool = False) -> dict:
    out: dict = {"ts": iso(ts), "period": period, "values": values}
    flags = {k: v for k, v in (flags or {}).items() if v != "N"}
    if flags:
        out["flags"] = flags
    if agent_ts is not None:
        out["agent_ts"] = iso(agent_ts)
    if backfill:
        out["backfill"] = True
    return out


def encode(station: str, seq: int, readings: list[dict]) -> bytes:
    """Serialise a readings message; ``readings`` are dicts from :func:`reading_dict`."""
    return json.dumps({"v": 1, "station": station, "seq": seq, "readings": readings},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
