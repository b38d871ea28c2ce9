"""Neighbourhoods: the air stations within a radius, nearest first."""
from __future__ import annotations

import math

from core.catalogue import Catalogue


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def neighbours(cat: Catalogue, station: str, radius_km: float, limit: int,
               pool: set[str] | None = None) -> list[str]:
    """Air stations (of ``pool`` when given) within ``radius_km`` of ``station``, nearest
    first, at most ``limit``."""
    me = cat.stations[station]
    near = []
    for s in cat.stations.values():
        if s.id == station or s.kind != me.kind or (pool is not None and s.id not in pool):
            continue
        d = distance_km(me.lat, me.lon, s.lat, s.lon)
        if d <= radius_km:
            near.append((d, s.id))
    return [sid for _, sid in sorted(near)[:limit]]
