"""kill -9 while 50,000 readings are in flight, restart: every reading stored exactly once."""
from __future__ import annotations

import threading
import time

from ingest._loadgen import Publisher, air_stations, messages

from .conftest import influx_count, wait_count

N_MSG, PER = 5_000, 10          # 50,000 readings


def test_kill_9_then_restart_stores_everything_once(mosquitto, influx_url, catalogue,
                                                   ingest_process):
    ing = ingest_process(mosquitto.url, influx_url, "--flood-rate", "0").start()
    items = [(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER)]
    pub = Publisher(mosquitto.url, "t-crash-pub", max_inflight=2000)
    sender = threading.Thread(target=pub.send, args=(items,), daemon=True)
    sender.start()
    while influx_count(influx_url) == 0:
        time.sleep(0.02)
    ing.kill()
    at_kill = influx_count(influx_url)
    assert at_kill < N_MSG * PER, "the crash came too late to test anything"
    ing.start()
    sender.join(60)
    assert pub.wait_acked(60)
    pub.close()
    assert wait_count(influx_url, N_MSG * PER, timeout=90) == N_MSG * PER
    # exactly once per (station, ts, period): per-station counts and distinct values agree
    per_station = influx_count(influx_url, group="GROUP BY station")
    stations = air_stations(catalogue)
    expected = {s.id: 0 for s in stations}
    for m in range(N_MSG):
        expected[stations[m % len(stations)].id] += PER
    assert per_station == expected
    assert ing.metric("fenwei_ingest_redeliveries_total") is not None
    assert ing.terminate() == 0
