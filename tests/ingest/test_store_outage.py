"""InfluxDB down for 60 s under load: nothing lost, memory bounded, resumes by itself."""
from __future__ import annotations

import threading
import time

from core.localservers import InfluxDB, ServerError
from ingest._loadgen import Publisher, messages

from ..conftest import _unavailable
from .conftest import influx_count, wait_count

OUTAGE_S = 60            # the figure; do not shorten
RATE, PER = 200, 5       # messages/s, readings per message
DURATION_S = 75          # publishing time (outage starts at 5 s)
MAX_BUFFER = 10_000      # readings the ingest may hold
RECEIVE_MAX = 500        # unacknowledged messages the broker may send it


def test_store_outage_loses_nothing_and_stays_bounded(mosquitto, tmp_path, catalogue,
                                                     ingest_process):
    influx = InfluxDB(tmp_path / "influx")
    try:
        influx.start()
    except ServerError as exc:
        _unavailable("InfluxDB", exc)
    url = influx.store_url("outage")
    try:
        ing = ingest_process(mosquitto.url, url, "--flood-rate", "0", "--mqtt-protocol", "5",
                             "--max-buffer-points", str(MAX_BUFFER), "--receive-maximum",
                             str(RECEIVE_MAX)).start()
        n = RATE * DURATION_S
        items = [(t, p) for _, _, t, p in messages(catalogue, n, PER)]
        pub = Publisher(mosquitto.url, "t-outage-pub", max_inflight=1000)
        sender = threading.Thread(target=pub.send, args=(items, RATE), daemon=True)
        sender.start()
        assert wait_count(url, 1, timeout=20) > 0
        time.sleep(3)
        influx.stop()
        t_down = time.monotonic()
        rss, buffered, down_seen = [], [], False
        while time.monotonic() - t_down < OUTAGE_S:
            rss.append(ing.rss_mb())
            buffered.append(ing.metric("fenwei_ingest_buffer_readings") or 0)
            down_seen |= ing.metric("fenwei_ingest_store_up") == 0.0
            time.sleep(1)
        influx.start()
        sender.join(DURATION_S + 30)
        assert pub.wait_acked(60)
        pub.close()
        assert wait_count(url, n * PER, timeout=90) == n * PER
        assert down_seen
        assert max(buffered) <= MAX_BUFFER
        assert max(rss) < 250, f"ingest RSS grew to {max(rss):.0f} MB"
        assert max(rss) - min(rss) < 60, f"RSS drifted {min(rss):.0f} → {max(rss):.0f} MB"
        assert ing.metric("fenwei_ingest_store_up") == 1.0
        assert ing.terminate() == 0
    finally:
        influx.stop()
