"""The forecasting service: train (and promote), issue, backtest and verify over a store.

One object holds the store, the registry, the optional weather feed and the keys (cities,
river sections, ecological targets); each operation takes ``now`` (injected clock).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.catalogue import load_catalogue
from core.timeutil import cst_day_start

from ._air import AirModel, persistence_forecast
from ._backtest import BacktestResult, run_backtest
from ._features import HORIZON_H, FeatureBuilder
from ._flow import FLOW_DAYS, NAMES as FLOW_FEATURES, PLACEHOLDER_TARGETS, FlowModel, persistence_flow, upstream_of
from ._met import issue_tag
from ._output import air_frame, flow_frame, issue_row
from ._panel import POLLUTANTS, floor_hour, load_air, load_flow
from ._registry import Registry
from ._scores import rmse
from .errors import NoForecast, RegistryError

log = logging.getLogger(__name__)
from ._interface import BASELINE_ID  # noqa: E402
AIR_METRIC = "rmse_day1_model"
FLOW_METRIC = "rmse_log_flow"


def issue_positions(panel, start: int, end: int, hours=(0, 6, 12, 18)) -> np.ndarray:
    """Panel rows in [start, end) whose CST hour is one of ``hours``."""
    hod = panel.local_hour()
    idx = np.arange(max(start, 0), min(end, len(panel.index)))
    return idx[np.isin(hod[idx], hours)]


class ForecastService:
    def __init__(self, store, registry: Registry | str, *, catalogue=None, met_feed=None,
                 cities: list[str] | None = None, sections: list[str] | None = None,
                 targets: dict[str, float] | None = None, warn_p: float = 0.4) -> None:
        self.store = store
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.cat = catalogue or getattr(store, "cat", None) or load_catalogue()
        self.met_feed, self.warn_p = met_feed, warn_p
        self.cities = list(cities or self.cat.cities)
        self.sections = list(sections or self.cat.sections)
        self.targets = dict(PLACEHOLDER_TARGETS if targets is None else targets)

    # -- data ---------------------------------------------------------------------------
    def air_panel(self, start: datetime, end: datetime) -> tuple:
        panel = load_air(self.store, self.cities, start, end)
        lat = [self.cat.cities[c].lat for c in self.cities]
        lon = [self.cat.cities[c].lon for c in self.cities]
        return panel, FeatureBuilder(panel, lat, lon)

    def _met(self, fb, rows) -> list | None:
        if self.met_feed is None:
            return None
        return [self.met_feed.forecast(fb.p.index[i].to_pydatetime(), self.cities)
                if 0 <= i <= len(fb.p.index) else None for i in rows]

    def _met_at(self, issue: datetime):
        if self.met_feed is None:
            return None
        try:
            return self.met_feed.forecast(issue, self.cities)
        except Exception as exc:  # noqa: BLE001 - a broken feed must not stop the issue
            log.warning("weather feed failed, issuing without it: %s", exc)
            return None

    # -- models -------------------------------------------------------------------------
    def current(self, kind: str, *, issuing: bool = True):
        """(model, version) in service, or (None, reason) when only the baseline can run.
        ``issuing=False`` (training compares candidates with it): no model yet is no warning."""
        try:
            model, meta = self.registry.load(kind)
            return model, meta["version"]
        except RegistryError as exc:
            if issuing:
                log.warning("no usable %s model, using the baseline: %s", kind, exc)
            else:
                log.info("no current %s model to compare the candidate with: %s", kind, exc)
            return None, str(exc)

    def fit_air(self, fb, end_row: int, start_row: int = 72) -> AirModel:
        rows = issue_positions(fb.p, start_row, end_row - HORIZON_H + 1)
        return AirModel(self.cities).fit(fb.p, fb, rows, self._met(fb, rows))

    def fit_flow(self, panel, end_row: int) -> FlowModel:
        rows = np.arange(7, max(end_row - FLOW_DAYS + 1, 8))
        return FlowModel(self.sections, upstream_of(self.cat, self.sections)).fit(panel, rows)

    def train(self, now: datetime, *, history_days: int = 400, holdout_days: int = 14,
              progress: bool = False) -> dict:
        """Train candidates on history before a holdout, score them and the current models on
        the holdout, save the candidates and promote those that beat the current ones."""
        now = floor_hour(now)
        start = now - timedelta(days=history_days)
        panel, fb = self.air_panel(start, now)
        hold = panel.pos(now - timedelta(days=holdout_days))
        t = time.perf_counter()
        model = self.fit_air(fb, hold)
        flow_panel = load_flow(self.store, [self.cat.sections[s] for s in self.sections],
                               start, now)
        fhold = flow_panel.pos(cst_day_start(now - timedelta(days=holdout_days)))
        flow = self.fit_flow(flow_panel, fhold)
        train_s = time.perf_counter() - t
        origins = issue_positions(panel, hold, len(panel.index) - HORIZON_H + 1, hours=(0,))
        out = {"train_s": round(train_s, 1)}
        if len(origins):
            bt = run_backtest(model, fb, origins, self.met_feed, warn_p=self.warn_p,
                              progress=progress)
            current, _ = self.current("air", issuing=False)
            cur_score = None
            if current is not None:
                cur_score = run_backtest(current, fb, origins, self.met_feed, warn_p=self.warn_p,
                                         progress=False).summary()[AIR_METRIC]
            meta = {"training": {"start": str(panel.index[0]), "end": str(panel.index[hold])},
                    "features": model.features, "backtest": bt.summary(),
                    "cities": self.cities, "train_s": model.train_s}
            version = self.registry.save("air", model, meta, now)
            out.update(air_version=version, air=bt.summary(), air_current_score=cur_score,
                       air_promoted=self.registry.consider("air", version, AIR_METRIC, cur_score))
        fscore = flow_score(flow, flow_panel, np.arange(fhold, len(flow_panel.index) - 1))
        current_flow, _ = self.current("flow", issuing=False)
        fcur = flow_score(current_flow, flow_panel, np.arange(fhold, len(flow_panel.index) - 1)) \
            if current_flow is not None else None
        fmeta = {"training": {"start": str(flow_panel.index[0]),
                              "end": str(flow_panel.index[min(fhold, len(flow_panel.index) - 1)])},
                 "features": FLOW_FEATURES,
                 "backtest": {FLOW_METRIC: fscore}, "sections": self.sections}
        fversion = self.registry.save("flow", flow, fmeta, now)
        out.update(flow_version=fversion, flow_score=fscore,
                   flow_promoted=self.registry.consider("flow", fversion, FLOW_METRIC, fcur))
        return out

    # -- issuing ------------------------------------------------------------------------
    def issue(self, now: datetime, *, write: bool = True) -> dict:
        """Issue air (96 h, hourly quantiles) and flow (7 days) forecasts made at ``now``."""
        issue = floor_hour(now)
        t = time.perf_counter()
        panel, fb = self.air_panel(issue - timedelta(days=4), issue)
        i0 = np.array([len(panel.index)])
        if not np.isfinite(panel.data["pm25"][-24:]).any():
            raise NoForecast(f"no PM2.5 in the store during the 24 h before {issue}")
        model, version = self.current("air")
        met = self._met_at(issue)
        if model is not None:
            fc = model.predict(fb, i0, [met])
            model_id, profiles = f"{version}/{fc.variant[0]}", model.profiles
        else:
            fc, model_id, profiles = persistence_forecast(fb, i0, self.cities), BASELINE_ID, None
        air = air_frame(fc, 0, profiles, model_id)
        flow = self._issue_flow(issue)
        if write:
            self.store.write_frame("forecast_air", air, ["city", "pollutant", "issue"])
            self.store.write_frame("forecast_issue", issue_row(issue, "air", model_id,
                                                               len(self.cities)), ["kind"])
            if len(flow):
                self.store.write_frame("forecast_flow", flow, ["section", "issue"])
                self.store.write_frame("forecast_issue", issue_row(
                    issue, "flow", flow["model_id"].iloc[0], len(self.sections)), ["kind"])
        return {"issue": issue_tag(issue), "model_id": model_id, "air_rows": len(air),
                "flow_rows": len(flow), "seconds": round(time.perf_counter() - t, 2),
                "frame": air, "flow": flow, "day": fc}

    def _issue_flow(self, issue: datetime) -> pd.DataFrame:
        today = cst_day_start(issue)
        panel = load_flow(self.store, [self.cat.sections[s] for s in self.sections],
                          today - timedelta(days=10), today)
        i0 = np.array([len(panel.index)])
        if not np.isfinite(panel.data["discharge"][-1]).any():
            return pd.DataFrame()
        model, version = self.current("flow")
        if model is not None:
            ff, mid = model.predict(panel, i0, self.targets), version
        else:
            ff, mid = persistence_flow(panel, i0, self.sections, self.targets), BASELINE_ID
        idx = panel.index.append(pd.DatetimeIndex([today]))
        return flow_frame(ff, 0, idx[:1], self.targets, mid, issue)

    # -- evaluation ---------------------------------------------------------------------
    def backtest(self, start: datetime, end: datetime, *, train_end: datetime | None = None,
                 history_days: int = 400, progress: bool = True, use_met: bool = True,
                 train_start: datetime | None = None, met: str | None = None,
                 every_day: bool = False) -> tuple[BacktestResult, AirModel]:
        """Rolling-origin backtest over [start, end) (origins 00:00 CST). The model is the
        current one, or (``train_end`` given) one trained on history in
        [``train_start`` (default ``train_end - history_days``), ``train_end``).

        ``met``: ``"observed"`` feeds the weather later observed at the target hours (a
        perfect-prognosis stand-in, backtests only: :mod:`forecasting._observed`), ``"none"``
        no weather, default the service's feed (``use_met=False``: none). ``every_day``:
        an origin every day of the period, the last ones scored on the lead days observed."""
        hist0 = train_start or (train_end or start) - timedelta(days=history_days)
        tail = timedelta(days=HORIZON_H // 24) if every_day else timedelta(0)
        panel, fb = self.air_panel(min(hist0, start - timedelta(days=4)), end + tail)
        feed = self.met_feed if use_met else None
        if met == "observed":
            from ._observed import ObservedMetFeed
            feed = ObservedMetFeed(panel)
        elif met == "none":
            feed = None
        if train_end is not None:
            saved, self.met_feed = self.met_feed, feed
            try:
                model = self.fit_air(fb, panel.pos(train_end), max(panel.pos(hist0), 0) + 72)
            finally:
                self.met_feed = saved
        else:
            model, reason = self.current("air")
            if model is None:
                raise NoForecast(f"no model to backtest ({reason}); pass a training end")
        last = panel.pos(end) if every_day else panel.pos(end) - HORIZON_H + 1
        origins = issue_positions(panel, panel.pos(start), last, hours=(0,))
        return run_backtest(model, fb, origins, feed, warn_p=self.warn_p,
                            progress=progress), model

    def verify(self, now: datetime, days: int = 5) -> pd.DataFrame:
        """Score stored air forecasts whose lead-day windows ended in the last ``days`` days;
        writes measurement ``forecast_verification`` and returns the rows."""
        from ._verify import verify_air
        rows = verify_air(self.store, self.cities, floor_hour(now), days)
        if len(rows):
            self.store.write_frame("forecast_verification", rows,
                                   ["city", "pollutant", "issue"])
        return rows


def flow_score(model, panel, rows: np.ndarray) -> float | None:
    """RMSE of log daily flow (median forecast, all lead days) over issue rows."""
    if model is None or len(rows) == 0:
        return None
    ff = model.predict(panel, rows)
    lq = np.log(np.maximum(panel.data["discharge"], 0.01))
    idx = rows[:, None] + np.arange(FLOW_DAYS)[None]
    ok = idx < len(lq)
    obs = np.where(ok[:, None, :], lq[np.minimum(idx, len(lq) - 1)].transpose(0, 2, 1), np.nan)
    return round(rmse(np.log(ff.q[1]), obs), 4)


__all__ = ["ForecastService", "issue_positions", "issued_forecasts", "POLLUTANTS"]


def issued_forecasts(store, city: str, issues: list[datetime], *, train_end: datetime,
                     train_start: datetime | None = None, met: str = "none",
                     catalogue=None, history_days: int = 400) -> dict:
    """The model's forecasts for ``city`` as if issued at each of ``issues``
    (:class:`CityForecast` per issue time), from an air model trained only on data in
    [``train_start``, ``train_end``). ``met="observed"`` gives it the observed weather of the
    target hours as a perfect-prognosis stand-in (hindcasts and backtests only)."""
    import tempfile

    from ._interface import CityForecast
    from ._output import air_frame, pivot_cities
    if not issues:
        return {}
    svc = ForecastService(store, tempfile.mkdtemp(prefix="fenwei-hindcast-"),
                          catalogue=catalogue, cities=[city], sections=[])
    hist0 = train_start or train_end - timedelta(days=history_days)
    panel, fb = svc.air_panel(min(hist0, issues[0] - timedelta(days=4)),
                              issues[-1] + timedelta(hours=HORIZON_H))
    if met == "observed":
        from ._observed import ObservedMetFeed
        svc.met_feed = ObservedMetFeed(panel)
    model = svc.fit_air(fb, panel.pos(train_end), max(panel.pos(hist0), 0) + 72)
    rows = np.array([panel.pos(t) for t in issues])
    fc = model.predict(fb, rows, svc._met(fb, rows))
    out = {}
    for j, t in enumerate(issues):
        mid = f"hindcast:{fc.variant[j]}" + ("-observed" if met == "observed" else "")
        wide = pivot_cities(air_frame(fc, j, model.profiles, mid)).get(city)
        if wide is None:
            continue
        r0 = rows[j]
        ts = panel.index[max(r0 - 23, 0):r0]
        obs = pd.DataFrame({"ts": ts, **{p: panel.data[p][max(r0 - 23, 0):r0, 0]
                                         for p in POLLUTANTS}})
        out[t] = CityForecast(city, pd.Timestamp(t).tz_convert("UTC").to_pydatetime(), mid,
                              wide, obs)
    return out
