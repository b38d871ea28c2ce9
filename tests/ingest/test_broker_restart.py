"""Mosquitto restarted (persistence on) under load: nothing lost."""
from __future__ import annotations

import threading
import time

from ingest import IngestConfig, Ingestor
from ingest._loadgen import Publisher, messages

from .conftest import influx_count, wait_count

N_MSG, PER, RATE = 3_000, 10, 600


def test_broker_restart_under_load(mosquitto, influx_url, catalogue, tmp_path):
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, flood_rate=0,
                       state_path=tmp_path / "state.sqlite", client_id="t-restart")
    ing = Ingestor(cfg, catalogue=catalogue).start()
    try:
        assert ing.subscribed.wait(10)
        items = [(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER)]
        pub = Publisher(mosquitto.url, "t-restart-pub", max_inflight=500)
        sender = threading.Thread(target=pub.send, args=(items, RATE), daemon=True)
        sender.start()
        assert wait_count(influx_url, 1, timeout=20) > 0
        time.sleep(1.5)
        mosquitto.restart()
        assert influx_count(influx_url) < N_MSG * PER, "restart came too late"
        sender.join(60)
        assert pub.wait_acked(60)
        pub.close()
        assert wait_count(influx_url, N_MSG * PER, timeout=60) == N_MSG * PER
        assert ing.connected.is_set()
    finally:
        ing.stop()
