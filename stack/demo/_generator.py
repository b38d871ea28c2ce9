"""The walking skeleton's simple generator: plausible readings for every catalogued station.

Replaced by the firmware simulator (``--scenario``) once it is available; kept as the
fallback so the demo always runs.
"""
from __future__ import annotations

import math
import random
import threading
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt

from core.catalogue import Catalogue
from core.wire import encode, reading_dict, readings_topic

HOUR = 3600


def _air(rng: random.Random, t: datetime, base: float) -> dict[str, float]:
    h = (t.hour + 8) % 24
    diurnal = 1 + 0.35 * math.cos((h - 21) / 24 * 2 * math.pi)
    pm25 = max(1.0, base * diurnal * rng.lognormvariate(0, 0.15))
    return {"pm25": round(pm25, 1), "pm10": round(pm25 * 1.6, 1),
            "so2": round(12 * rng.lognormvariate(0, .2), 1),
            "no2": round(40 * diurnal * rng.lognormvariate(0, .2), 1),
            "o3": round(max(2.0, 60 * (1.2 - diurnal) + rng.gauss(0, 5)), 1),
            "co": round(0.9 * diurnal, 2), "temp": round(2 + 6 * math.sin((h - 9) / 24 * 6.28), 1),
            "rh": round(min(100.0, 60 * diurnal), 1), "pressure": 96.5,
            "wind_speed": round(abs(rng.gauss(1.5, 0.8)), 1), "wind_dir": float(rng.randrange(360))}


def _hydro(rng: random.Random, base: float) -> dict[str, float]:
    q = max(0.5, base * rng.lognormvariate(0, 0.03))
    return {"discharge": round(q, 2), "stage": round(330 + 0.4 * q ** 0.5, 3),
            "voltage": round(12.6 + rng.gauss(0, 0.05), 2)}


class Generator:
    """Publishes one hourly reading per station per simulated hour at ``speed`` x real time."""

    def __init__(self, cat: Catalogue, host: str, port: int, *, speed: float, seed: int,
                 start: datetime, end: datetime | None, stations: int | None) -> None:
        self.cat, self.speed, self.end = cat, speed, end
        self.rng = random.Random(seed)
        self.stations = list(cat.stations.values())[:stations]
        self.base = {s.id: self.rng.uniform(40, 120) if s.kind == "air" else
                     self.rng.uniform(8, 60) for s in self.stations}
        self.sim_t = start
        self.published = 0
        self.seq: dict[str, int] = {}
        self._stop = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fenwei-demo-gen")
        self.client.max_queued_messages_set(20_000)
        self.client.connect(host, port)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, name="demo-generator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _publish_hour(self, t: datetime) -> None:
        for s in self.stations:
            values = _air(self.rng, t, self.base[s.id]) if s.kind == "air" else \
                _hydro(self.rng, self.base[s.id])
            seq = self.seq.get(s.id, 0)
            payload = encode(s.id, seq, [reading_dict(t, "PT1H", values)])
            self.client.publish(readings_topic(s.city, s.kind, s.id), payload, qos=1)
            self.seq[s.id] = seq + 1
            self.published += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.end is not None and self.sim_t >= self.end:
                return
            self._publish_hour(self.sim_t)
            self.sim_t += timedelta(seconds=HOUR)
            self._stop.wait(HOUR / self.speed)

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


def default_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
