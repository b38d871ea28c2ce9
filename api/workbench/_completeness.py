"""Completeness (有效数据率): per station and parameter the share of valid hours, days and
months, the gaps with their causes, and per city and month."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence

import numpy as np
import pandas as pd

from core.catalogue import Catalogue
from core.store import Store
from core.timeutil import CST

from ._hourly import hourly, read_raw
from ._validity import CAUSES, ValidityRules, cause_of, flag_meaning


def day_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` widened to whole China Standard Time days (as UTC)."""
    s = start.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    e = end.astimezone(CST)
    e_day = e.replace(hour=0, minute=0, second=0, microsecond=0)
    if e_day < e:
        e_day += timedelta(days=1)
    return s.astimezone(timezone.utc), e_day.astimezone(timezone.utc)


def completeness(store: Store, cat: Catalogue, stations: Sequence[str], params: Sequence[str],
                 start: datetime, end: datetime, rules: ValidityRules = ValidityRules()
                 ) -> dict:
    """The report over whole CST days covering ``[start, end)`` (see :func:`report`)."""
    t0, t1 = day_range(start, end)
    kind = cat.stations[stations[0]].kind
    h = hourly(read_raw(store, kind, stations, params, t0, t1), params)
    alive = _alive_hours(store, kind, params, t0, t1)
    return report(h, cat, stations, params, t0, t1, alive, rules)


def _alive_hours(store, kind, params, t0, t1) -> dict[str, np.ndarray]:
    """Per parameter, the hours in which any station of the kind reported it."""
    out = {}
    agg = store.aggregate(kind, list(params), t0, t1, every="1h", by="city")
    for p in params:
        hours = agg.loc[agg[f"{p}_count"] > 0, "time"]
        out[p] = np.unique(hours.dt.floor("h").to_numpy())
    return out


def report(h: pd.DataFrame, cat: Catalogue, stations: Sequence[str], params: Sequence[str],
           t0: datetime, t1: datetime, alive: dict[str, np.ndarray],
           rules: ValidityRules = ValidityRules()) -> dict:
    grid = pd.date_range(t0, t1, freq="h", inclusive="left", tz="UTC")
    local = grid.tz_convert(CST)
    days = local.normalize()
    months = local.tz_localize(None).to_period("M") if len(grid) else pd.PeriodIndex([], freq="M")
    rows, by_city = [], {}
    for sid in stations:
        mine = h[h["station"] == sid].set_index("time")
        for p in params:
            row, monthly = _station_param(mine, sid, p, grid, days, months, alive.get(p), rules)
            row["city"] = cat.stations[sid].city
            rows.append(row)
            for m in monthly:
                _add_city(by_city, row["city"], p, m)
    return {"start": t0.astimezone(CST).isoformat(), "end": t1.astimezone(CST).isoformat(),
            "time_zone": "+08:00 (China Standard Time): days and months are CST",
            "rules": rules.as_dict(), "causes": {k: {"en": v[0], "zh": v[1]}
                                                 for k, v in CAUSES.items()},
            "stations": rows, "cities": _city_rows(by_city)}


def _share(valid: int, expected: int) -> dict:
    return {"valid": int(valid), "expected": int(expected),
            "share": round(valid / expected, 4) if expected else None}


def _station_param(mine, sid, p, grid, days, months, alive, rules):
    if mine.empty:
        valid = np.zeros(len(grid), bool)
        has = np.zeros(len(grid), bool)
        flags = np.full(len(grid), None, object)
    else:
        valid = mine[f"{p}_valid"].reindex(grid, fill_value=False).to_numpy(bool)
        has = mine[p].reindex(grid).notna().to_numpy()
        flags = mine[f"{p}_flag"].reindex(grid).astype(object).to_numpy()
    per_day = pd.Series(valid, index=grid).groupby(days).sum()
    day_ok = per_day >= rules.day_min_hours
    month_rows = []
    for month, ok in day_ok.groupby(day_ok.index.tz_localize(None).to_period("M")):
        n_days = month.days_in_month
        partial = len(ok) < n_days
        month_rows.append({"month": str(month), "days": _share(ok.sum(), len(ok)),
                           "hours": _share(valid[months == month].sum(), (months == month).sum()),
                           "partial": partial, "min_days": rules.month_min(month.month),
                           "valid": bool(ok.sum() >= rules.month_min(month.month))})
    whole = [m for m in month_rows if not m["partial"]]
    anyone = np.isin(grid.to_numpy(), alive) if alive is not None else np.ones(len(grid), bool)
    return {"station": sid, "param": p, "hours": _share(valid.sum(), len(grid)),
            "days": _share(day_ok.sum(), len(day_ok)),
            "months": _share(sum(m["valid"] for m in whole), len(whole)),
            "by_month": month_rows, "gaps": _gaps(grid, valid, has, flags, anyone)}, month_rows


def _gaps(grid, valid, has, flags, anyone) -> list[dict]:
    """Runs of invalid hours with one cause (and flag) each."""
    out: list[dict] = []
    bad = np.flatnonzero(~valid)
    last_key, run = None, None
    for i in bad.tolist():
        flag = flags[i] if has[i] and isinstance(flags[i], str) else None
        key = (cause_of(flag, bool(has[i]), bool(anyone[i])), flag)
        if run is not None and key == last_key and i == run["_i"] + 1:
            run["_i"], run["hours"] = i, run["hours"] + 1
            continue
        run = {"_i": i, "_s": i, "hours": 1, "cause": key[0], "flag": key[1],
               "flag_meaning": flag_meaning(key[1])}
        out.append(run)
        last_key = key
    for g in out:
        g["start"] = grid[g.pop("_s")].tz_convert(CST).isoformat()
        g["end"] = (grid[g.pop("_i")] + pd.Timedelta(hours=1)).tz_convert(CST).isoformat()
    return [{k: g[k] for k in ("start", "end", "hours", "cause", "flag", "flag_meaning")}
            for g in out]


def _add_city(acc, city, p, m) -> None:
    c = acc.setdefault((city, m["month"], p), {"hv": 0, "he": 0, "dv": 0, "de": 0, "n": 0,
                                                "mv": 0, "partial": m["partial"]})
    c["hv"] += m["hours"]["valid"]
    c["he"] += m["hours"]["expected"]
    c["dv"] += m["days"]["valid"]
    c["de"] += m["days"]["expected"]
    c["n"] += 1
    c["mv"] += int(m["valid"])


def _city_rows(acc) -> list[dict]:
    return [{"city": city, "month": month, "param": p, "partial": c["partial"],
             "hours": _share(c["hv"], c["he"]), "days": _share(c["dv"], c["de"]),
             "stations": c["n"], "stations_month_valid": c["mv"]}
            for (city, month, p), c in sorted(acc.items())]
