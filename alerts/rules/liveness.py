"""Liveness: no-data alerts with a cause, one alert per cause.

One assessment (:func:`assess`) over the store's newest reading per station and the edge
agents' retained status messages (:class:`EdgeStatusBoard`) decides, in this order:

1. **pipeline down** (``pipeline:ingest``, operators): at least ``pipeline_fraction`` of the
   monitored stations are silent at once. Agents that still send status show the sites are
   up, so the break is on our side. Station and site alerts are then not raised.
2. **site offline** (``site:{agent}``, the teams of the site's cities): the agent's status
   says ``offline`` (clean stop or last will), or no status from it for ``agent_silent_after``.
   While the pipeline is down only an explicit ``offline`` counts.
3. **station silent** (``station:{id}``): silent past ``max(silent_intervals x interval_s,
   min_silence)`` and not covered by 1 or 2.

Silence is never "clean": a silent station is never assessed clear on its values. Stations
that never reported are not monitored (not yet commissioned). Restarting an agent (status
``online``) or ingest (readings flow again) clears the alert on the next run.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from core.wire import STATUS_FILTER, parse_topic

from .._levels import check_level
from ._base import PeriodicRule, RuleConfig, Signal, duration

log = logging.getLogger(__name__)


@dataclass
class AgentStatus:
    station: str
    state: str                        # online | offline
    agent: str | None
    received_at: datetime
    counters: dict = field(default_factory=dict)


class EdgeStatusBoard:
    """The newest status message per station, stamped with the receiving clock.

    ``update(station, payload)`` is the seam; ``start(mqtt_url)`` subscribes to
    ``fenwei/v1/+/+/+/status`` (retained) and feeds it.
    """

    def __init__(self, clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._by_station: dict[str, AgentStatus] = {}
        self._client = None

    def update(self, station: str, payload: bytes | str | dict) -> None:
        if not payload:
            return
        try:
            doc = payload if isinstance(payload, dict) else json.loads(payload)
        except ValueError:
            log.debug("station %s: unreadable status", station)
            return
        st = AgentStatus(station, str(doc.get("state", "online")), doc.get("agent"),
                         self.clock.now(), dict(doc.get("counters") or {}))
        with self._lock:
            self._by_station[station] = st

    def snapshot(self) -> dict[str, AgentStatus]:
        with self._lock:
            return dict(self._by_station)

    def start(self, mqtt_url: str, *, client_id: str | None = None,
              tls=None) -> "EdgeStatusBoard":
        """Subscribe in the background; ``tls``: the ``core.mqtt.TlsFiles`` (or None)."""
        import uuid

        from ..channels.mqtt import mqtt_client
        self.subscribed = threading.Event()
        c = mqtt_client(mqtt_url, client_id or f"fenwei-alerts-status-{uuid.uuid4().hex[:8]}",
                        clean=True, tls=tls)
        c.on_connect = lambda cl, *a: cl.subscribe(STATUS_FILTER, qos=1)
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_message = self._on_message
        c.loop_start()
        self._client = c
        return self

    def _on_message(self, client, userdata, msg) -> None:
        parts = parse_topic(msg.topic)
        if parts is not None:
            self.update(parts[2], msg.payload)

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


# ---------------------------------------------------------------------------- assessment
class LivenessConfig(RuleConfig):
    station_kind: str = "all"         # air | hydro | all
    cities: list[str] = []
    silent_intervals: float = 3.0     # silent after this many missed reporting intervals ...
    min_silence: str = "30m"          # ... and at least this long
    agent_silent_after: str = "10m"   # no status from an agent this long: site offline
    pipeline_fraction: float = 0.9    # this share of monitored stations silent: pipeline down
    pipeline_min_stations: int = 3
    level: str = "blue"
    every: str = "5m"


@dataclass
class Liveness:
    now: datetime
    last: dict[str, datetime]                     # monitored station -> newest reading
    silent: dict[str, float]                      # station -> seconds silent
    pipeline_down: bool
    sites_offline: dict[str, dict]                # agent -> evidence
    covered: dict[str, str] = field(default_factory=dict)  # station -> covering subject


def _latest(store, cat, kinds) -> dict[str, datetime]:
    last: dict[str, datetime] = {}
    for kind in kinds:
        frame = store.latest(kind)
        for sid, t in zip(frame.get("station", []), frame.get("time", [])):
            if sid in cat.stations:
                last[sid] = t.to_pydatetime() if hasattr(t, "to_pydatetime") else t
    return last


def assess(store, board: EdgeStatusBoard | None, cat, c: LivenessConfig,
           now: datetime) -> Liveness:
    kinds = ("air", "hydro") if c.station_kind == "all" else (c.station_kind,)
    last = {s: t for s, t in _latest(store, cat, kinds).items()
            if not c.cities or cat.stations[s].city in c.cities}
    silent = {}
    for sid, t in last.items():
        limit = max(c.silent_intervals * cat.stations[sid].interval_s,
                    duration(c.min_silence).total_seconds())
        if (now - t).total_seconds() > limit:
            silent[sid] = (now - t).total_seconds()
    down = len(last) >= c.pipeline_min_stations and \
        len(silent) >= c.pipeline_fraction * len(last)
    live = Liveness(now, last, silent, down, {})
    if down:
        live.covered = {s: "pipeline:ingest" for s in silent}
    statuses = board.snapshot() if board is not None else {}
    agents: dict[str, list] = {}
    for st in statuses.values():
        if st.agent and st.station in cat.stations and \
                (not c.cities or cat.stations[st.station].city in c.cities):
            agents.setdefault(st.agent, []).append(st)
    for agent, sts in sorted(agents.items()):
        offline = [s for s in sts if s.state == "offline"]
        newest = max(s.received_at for s in sts)
        quiet = now - newest > duration(c.agent_silent_after)
        if offline and len(offline) == len(sts) or (quiet and not down):
            stations = sorted(s.station for s in sts)
            live.sites_offline[agent] = {
                "agent": agent, "cause": "agent reports offline" if offline else
                "agent silent", "stations": stations,
                "last_status": newest.isoformat(),
                "cities": sorted({cat.stations[s].city for s in stations})}
            for s in stations:
                live.covered.setdefault(s, f"site:{agent}")
    return live


class _LivenessRule(PeriodicRule):
    config_model = LivenessConfig

    def __init__(self, config: LivenessConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.level)
        if config.station_kind not in ("air", "hydro", "all"):
            raise ValueError("station_kind must be air, hydro or all")
        self.every = duration(config.every)
        self.board: EdgeStatusBoard | None = None

    def bind(self, context: dict) -> None:
        """Platform hook: the edge status board (``context["edge_status"]``)."""
        self.board = context.get("edge_status", self.board)

    def assess(self, store, now: datetime) -> Liveness:
        return assess(store, self.board, self.cat, self.config, now)


class StationSilentRule(_LivenessRule):
    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        live, out = self.assess(store, now), []
        for sid, t in sorted(live.last.items()):
            ev = {"station": sid, "last_reading": t.isoformat(),
                  "interval_s": self.cat.stations[sid].interval_s}
            if sid in live.silent and sid not in live.covered:
                ev["silent_s"] = live.silent[sid]
                out.append((f"station:{sid}", Signal("firing", now, self.config.level, ev)))
            else:
                ev["covered_by"] = live.covered.get(sid)
                out.append((f"station:{sid}", Signal("clear", now, None, ev)))
        return out


class SiteOfflineRule(_LivenessRule):
    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        live, out = self.assess(store, now), []
        known = {s.agent for s in (self.board.snapshot().values() if self.board else ())
                 if s.agent}
        for agent in sorted(known):
            ev = live.sites_offline.get(agent)
            if ev is not None:
                out.append((f"site:{agent}", Signal("firing", now, self.config.level, ev,
                                                    tuple(ev["cities"]))))
            else:
                out.append((f"site:{agent}", Signal("clear", now, None, {"agent": agent})))
        return out


class PipelineDownRule(_LivenessRule):
    def evaluate(self, store, now: datetime) -> list[tuple[str, Signal]]:
        live = self.assess(store, now)
        newest = max(live.last.values(), default=None)
        ev = {"monitored": len(live.last), "silent": len(live.silent),
              "newest_reading": newest.isoformat() if newest else None,
              "agents_reporting": sorted({s.agent for s in (self.board.snapshot().values()
                                                             if self.board else ())
                                          if s.agent and s.state == "online"})}
        if not live.last:
            return [("pipeline:ingest", Signal("insufficient", now, None, ev))]
        sig = Signal("firing", now, self.config.level, ev) if live.pipeline_down else \
            Signal("clear", now, None, ev)
        return [("pipeline:ingest", sig)]


RULES = {"station_silent": StationSilentRule, "site_offline": SiteOfflineRule,
         "pipeline_down": PipelineDownRule}


def bind_rules(rules, **context) -> int:
    """Hand shared inputs to the rules that take them; returns how many rules took some.

    ``rules``: an ``AlertService`` or its ``RuleSet``. Keys: ``targets`` (a TargetStore or
    TargetTable, for ``ecoflow`` / ``ecoflow_forecast``), ``edge_status`` (an
    :class:`EdgeStatusBoard`, for the liveness rules, ``city_completeness`` and ``clock_skew``).
    """
    ruleset = getattr(rules, "rules", rules)
    table = getattr(ruleset, "rules", ruleset)
    n = 0
    for rule in table.values():
        if hasattr(rule, "bind"):
            rule.bind(context)
            n += 1
    return n
