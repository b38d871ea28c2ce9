"""Throughput of real-time (2011) packet generation, encode included, no network.

``run_bench`` builds ``stations`` simulated micro-stations on one scenario's physics, then
for ``seconds`` generates one 2011 frame per station per simulated minute, exactly as the
loggers do (sample + noise + faults + encode + CRC). With ``workers`` > 1 the stations are
split over that many processes and the rates add up.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from ._sim import Simulation


def _worker(scenario: str, stations: int, seconds: float, seed: int) -> tuple[int, float, int]:
    sim = Simulation(scenario, seed=seed, stations=stations, micro_stations=stations,
                     duration="1d")
    devices = [d for d in sim.devices(("air",))]
    t0 = sim.start.timestamp()
    frames = nbytes = 0
    started = time.perf_counter()
    deadline = started + seconds
    step = 0
    while time.perf_counter() < deadline:
        t = t0 + 60.0 * step
        for d in devices:
            frame = d._realtime(t)[0][0]
            nbytes += len(frame)
        frames += len(devices)
        step += 1
    return frames, time.perf_counter() - started, nbytes


def run_bench(seconds: float = 5.0, *, stations: int = 1000, workers: int = 1,
              scenario: str = "winter-episode", seed: int = 1) -> dict:
    """{"stations_per_s": frames per second, "frames", "seconds", "workers", "bytes_per_frame"}."""
    if workers <= 1:
        results = [_worker(scenario, stations, seconds, seed)]
    else:
        per = max(stations // workers, 1)
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_worker, [scenario] * workers, [per] * workers,
                                    [seconds] * workers, range(seed, seed + workers)))
    frames = sum(r[0] for r in results)
    rate = sum(r[0] / r[1] for r in results)
    return {"stations_per_s": rate, "frames": frames, "seconds": max(r[1] for r in results),
            "workers": max(workers, 1), "stations": stations, "cpus": os.cpu_count(),
            "bytes_per_frame": sum(r[2] for r in results) / max(frames, 1)}


if __name__ == "__main__":  # pragma: no cover
    print(run_bench())
