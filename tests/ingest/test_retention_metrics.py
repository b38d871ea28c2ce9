"""Retention policy applied at start; old readings dead-lettered; metrics over HTTP."""
from __future__ import annotations

import time

import httpx

from core.localservers import free_port
from core.store import open_store
from ingest import IngestConfig, Ingestor, list_dead_letters
from ingest._loadgen import Publisher, messages


def test_retention_policy_and_metrics_endpoint(mosquitto, influx_url, catalogue, tmp_path):
    port = free_port()
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, retention="30d",
                       state_path=tmp_path / "state.sqlite", client_id="t-ret",
                       metrics_port=port, batch_ms=20)
    ing = Ingestor(cfg, catalogue=catalogue).start()
    try:
        assert ing.subscribed.wait(10)
        store = open_store(influx_url, catalogue)
        rps = store.select("SHOW RETENTION POLICIES")[0]
        row = dict(zip(rps["columns"], rps["values"][0]))
        assert (row["name"], row["duration"], row["default"]) == ("autogen", "720h0m0s", True)
        pub = Publisher(mosquitto.url, "t-ret-pub")
        pub.send([(t, p) for _, _, t, p in messages(catalogue, 3, 2)])   # 2025: too old
        assert pub.wait_acked(10)
        pub.close()
        deadline = time.monotonic() + 10
        while ing.stats()["acked"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        reasons = [d["reason"] for d in list_dead_letters(cfg.state_path)]
        assert reasons == ["beyond_retention"] * 6
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        for name in ("fenwei_ingest_messages_total 3.0", "fenwei_ingest_write_seconds_bucket",
                     'fenwei_ingest_dead_letters_total{reason="beyond_retention"} 6.0',
                     "fenwei_ingest_redeliveries_total", "fenwei_ingest_missing_seq_total",
                     "fenwei_ingest_buffer_readings", "fenwei_ingest_buffer_messages"):
            assert name in text, name
    finally:
        ing.stop()
