"""Scoring the screening against known interference: recall over injected windows, false
alarms over clean station-weeks, precision over findings.

The data are hourly values as stations report them (``ts`` or ``time``, ``station``,
``city``, ``<p>``, ``<p>_flag``), the truth a table of injected windows (``station``,
``kind``, ``params`` comma-separated or empty for every parameter, ``start``, ``end``,
``interference``): the simulator writes both (``fenwei sim hourly``), and nothing here
depends on where they come from. Screening runs week by week, as an inspector would.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pandas as pd

from core.catalogue import Catalogue
from core.flags import VALID_FLAGS

from ._rules import ScreenConfig
from ._screen import screen_hourly

MIN_HOURS = 6.0
PAD = pd.Timedelta(hours=12)   # a finding this near an injected window is explained by it
WEEK = timedelta(days=7)


def as_screened(frame: pd.DataFrame) -> pd.DataFrame:
    """Reported hourly values -> the screening's hourly frame (``time``, ``<p>_valid``)."""
    h = frame.rename(columns={"ts": "time"}).copy()
    h["time"] = pd.to_datetime(h["time"], utc=True)
    for p in [c[:-5] for c in h.columns if c.endswith("_flag")]:
        h[f"{p}_valid"] = h[p].notna() & h[f"{p}_flag"].isin(VALID_FLAGS)
    return h


def _windows(truth: pd.DataFrame) -> pd.DataFrame:
    w = truth.copy()
    w["start"] = pd.to_datetime(w["start"], utc=True)
    w["end"] = pd.to_datetime(w["end"], utc=True)
    w["params"] = w["params"].fillna("").astype(str)
    w["interference"] = w["interference"].astype(str).str.lower().isin(["true", "1"])
    w["hours"] = (w["end"] - w["start"]) / pd.Timedelta(hours=1)
    return w.reset_index(drop=True)


def _overlap(f: dict, station: str, t0, t1, params: str = "") -> bool:
    return (f["station"] == station and (not params or f["param"] in params.split(","))
            and pd.Timestamp(f["start"]) < t1 and pd.Timestamp(f["end"]) > t0)


def screen_weeks(h: pd.DataFrame, cat: Catalogue, stations: list[str], start: datetime,
                 end: datetime, cfg: ScreenConfig) -> tuple[list[dict], list[tuple]]:
    """Findings of every week of ``[start, end)`` (the last one may be short), unique by id."""
    found, weeks, t = {}, [], pd.Timestamp(start)
    while t < pd.Timestamp(end):
        t1 = min(t + WEEK, pd.Timestamp(end))
        out = screen_hourly(h, cat, stations, t.to_pydatetime(), t1.to_pydatetime(), cfg)
        for f in out["findings"]:
            found.setdefault(f["id"], f)
        weeks.append((t, t1))
        t = t1
    return list(found.values()), weeks


def score(frame: pd.DataFrame, truth: pd.DataFrame, cat: Catalogue, start: datetime,
          end: datetime, cfg: ScreenConfig = ScreenConfig(), *,
          min_hours: float = MIN_HOURS) -> dict:
    """Screen ``[start, end)`` week by week and score the findings against ``truth``.

    - recall: interference windows of at least ``min_hours`` in the range with a finding of
      the same station (and one of the window's parameters) overlapping them;
    - false alarms: station-weeks without any injected fault (of any kind) with a finding
      that no injected window explains;
    - precision: findings overlapping an interference window (of any length) / findings.
    A finding within 12 h of an injected window at its station is explained by it (a level
    shift is located where the step is best seen, just after a window ends, say).
    """
    t_run = time.perf_counter()
    h = frame if "time" in frame else as_screened(frame)
    air = {s.id for s in cat.stations.values() if s.kind == "air"}
    stations = sorted(set(h["station"].unique()) & air)
    findings, weeks = screen_weeks(h, cat, stations, start, end, cfg)
    w = _windows(truth)
    w = w[w["station"].isin(stations) & (w["start"] < pd.Timestamp(end))
          & (w["end"] > pd.Timestamp(start))]
    inter = w[w["interference"]]
    rows = []
    for r in inter.itertuples():
        hits = [f["id"] for f in findings if _overlap(f, r.station, r.start, r.end, r.params)]
        rows.append({"station": r.station, "kind": r.kind, "params": r.params,
                     "start": r.start.isoformat(), "end": r.end.isoformat(),
                     "hours": float(r.hours), "scored": bool(r.hours >= min_hours),
                     "found": bool(hits), "findings": hits})
    scored = [r for r in rows if r["scored"]]
    true = [f for f in findings if any(_overlap(f, r.station, r.start - PAD, r.end + PAD)
                                       for r in inter.itertuples())]
    other = [f for f in findings if f not in true and any(
        _overlap(f, r.station, r.start - PAD, r.end + PAD)
        for r in w[~w["interference"]].itertuples())]
    explained = {f["id"] for f in true + other}
    clean, flagged = 0, []
    for t0, t1 in weeks:
        faulted = set(w[(w["start"] < t1) & (w["end"] > t0)]["station"])
        for sid in stations:
            if sid in faulted:
                continue
            clean += 1
            hits = [f["id"] for f in findings
                    if f["id"] not in explained and _overlap(f, sid, t0, t1)]
            if hits:
                flagged.append({"station": sid, "week": t0.isoformat(), "findings": hits})
    return {
        "start": pd.Timestamp(start).isoformat(), "end": pd.Timestamp(end).isoformat(),
        "stations": len(stations), "weeks": len(weeks), "min_hours": min_hours,
        "params": list(cfg.params),
        "windows": len(scored), "found": sum(r["found"] for r in scored),
        "recall": _share(sum(r["found"] for r in scored), len(scored)),
        "missed": [r for r in scored if not r["found"]],
        "clean_station_weeks": clean, "flagged_clean_station_weeks": len(flagged),
        "false_alarm_rate": _share(len(flagged), clean), "false_alarms": flagged,
        "findings": len(findings), "true_findings": len(true),
        "findings_at_other_faults": len(other),
        "precision": _share(len(true), len(findings)),
        "interference": rows, "rules": _by_rule(findings, true),
        "seconds": round(time.perf_counter() - t_run, 2)}


def _share(a: int, b: int) -> float | None:
    return None if not b else round(a / b, 4)


def _by_rule(findings: list[dict], true: list[dict]) -> dict:
    ids = {f["id"] for f in true}
    out: dict = {}
    for f in findings:
        d = out.setdefault(f["rule"], {"findings": 0, "true": 0})
        d["findings"] += 1
        d["true"] += int(f["id"] in ids)
    return dict(sorted(out.items()))

