"""A step after the store write fails for a while (the dead-letter table or the tracker's
table refuses inserts): the batch is retried in-process, the stall shows in the gauge and the
health stats, and once the step works again every message is acknowledged and stored."""
from __future__ import annotations

import sqlite3
import time

import pytest

from ingest import IngestConfig, Ingestor, list_dead_letters
from ingest._loadgen import Publisher, messages

from .conftest import influx_count
from .conftest import wait_until as _wait

N_MSG, PER, BAD_EVERY = 60, 5, 10
TABLE = {"dead_letters": "dead_letters", "tracker": "tracker"}



@pytest.mark.parametrize("step", ["dead_letters", "tracker"])
def test_a_failing_step_after_the_write_stalls_visibly_then_finishes(
        step, mosquitto, influx_url, catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, state_path=state,
                       flood_rate=0, client_id=f"t-stall-{step}", batch_ms=50,
                       retry_initial_s=0.05, retry_max_s=0.5)
    ing = Ingestor(cfg, catalogue=catalogue).start()
    db = sqlite3.connect(state, timeout=30)
    try:
        assert ing.subscribed.wait(10)
        # the table made read-only from outside, as a full disk or a bad file would
        db.execute(f"CREATE TRIGGER t_refuse BEFORE INSERT ON {TABLE[step]} "
                   "BEGIN SELECT RAISE(ABORT, 'injected: read-only'); END")
        db.commit()
        items = [(t, p if m % BAD_EVERY else p[:-3])
                 for m, (_, _, t, p) in enumerate(messages(catalogue, N_MSG, PER))]
        n_bad = len(range(0, N_MSG, BAD_EVERY))
        pub = Publisher(mosquitto.url, f"t-stall-pub-{step}", max_inflight=100)
        pub.send(items)
        assert pub.wait_acked(10)
        assert _wait(lambda: ing.stats()["stalled"] == step, 15), ing.stats()
        s = ing.stats()
        assert s["status"] == "stalled" and s["acked"] < N_MSG
        assert ing.metrics.stalled._value.get() == 1.0
        assert "fenwei_ingest_stalled 1.0" in ing.metrics.text().decode()
        time.sleep(1.0)                                  # still stalled, still retrying
        assert ing.stats()["stalled"] == step
        db.execute("DROP TRIGGER t_refuse")
        db.commit()
        assert _wait(lambda: ing.stats()["acked"] == N_MSG, 20), ing.stats()
        good = (N_MSG - n_bad) * PER
        assert influx_count(influx_url) == good
        s = ing.stats()
        assert (s["stored"], s["dead_letters"], s["stalled"], s["status"]) == \
            (good, n_bad, None, "ok")
        assert ing.metrics.stalled._value.get() == 0.0
        assert {d["reason"] for d in list_dead_letters(state)} == {"malformed_json"}
        assert len(list_dead_letters(state)) == n_bad
    finally:
        db.close()
        ing.stop()
