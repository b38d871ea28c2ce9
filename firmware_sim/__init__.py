"""Firmware simulator: HJ 212 data loggers and SL 651 telemetry units over TCP, driven by a
deterministic, vectorised physics of the Fen-Wei Plain.

Layers, bottom up: physics (:func:`compute_truth`: time grid + seed -> hourly city and river
fields), scenarios (TOML in ``scenarios/``: episodes, fronts, hydrology, device settings,
faults), station samplers, devices (asyncio, one loop for thousands), :class:`Simulation`
(the API) and the CLI (``fenwei sim run``).

>>> sim = Simulation("winter-episode", seed=1)
>>> sim.city_daily("pm25").max().max() > 250
True
"""
from ._clock import SimClock
from ._collector import Collector
from ._device import DeviceStats
from ._faults import KINDS as FAULT_KINDS
from ._faults import INTERFERENCE_KINDS, TAMPER_KINDS, Fault
from ._forecast import MET_PARAMS, met_forecast
from ._hydro import Flood, HydroConfig
from ._logger import Hj212Logger
from ._physics import PhysicsConfig, Truth, compute_truth, rng_for
from ._rtu import Sl651Unit
from ._scenario import (AirDeviceConfig, HydroDeviceConfig, Scenario, load_scenario,
                        parse_scenario, scenario_names)
from ._sim import RunReport, Simulation, shift_scenario, with_lead
from ._stations import Sampler
from ._time import HourGrid, parse_duration, parse_time
from ._weather import Episode, Front
from .errors import ScenarioError, SimError, TargetError

__all__ = [
    "AirDeviceConfig", "Collector", "DeviceStats", "Episode", "FAULT_KINDS", "Fault", "Flood",
    "Front", "Hj212Logger", "INTERFERENCE_KINDS", "TAMPER_KINDS", "HourGrid", "HydroConfig", "HydroDeviceConfig", "MET_PARAMS",
    "PhysicsConfig", "RunReport", "Sampler", "Scenario", "ScenarioError", "SimClock",
    "SimError", "Simulation", "Sl651Unit", "TargetError", "Truth", "compute_truth",
    "load_scenario", "met_forecast", "parse_duration", "parse_scenario", "parse_time",
    "rng_for", "scenario_names", "shift_scenario", "with_lead",
]
