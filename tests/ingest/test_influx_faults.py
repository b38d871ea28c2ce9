"""InfluxDB faults that are not bad data: the database dropped during intake is an outage
(retried with back-pressure, nothing dead-lettered, everything stored once it exists again);
a field typed otherwise by another writer refuses only the readings that conflict."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from core.store import InfluxStore
from ingest import IngestConfig, Ingestor, list_dead_letters
from ingest._loadgen import BASE, Publisher, messages

from .conftest import influx_count
from .conftest import wait_until as _wait

N_MSG, PER = 100, 5



def _query(server, q: str) -> None:
    httpx.post(f"{server.url}/query", data={"q": q}, timeout=30).raise_for_status()


@pytest.mark.parametrize("who", ["adapter", "operator"])
def test_dropped_database_is_an_outage_not_bad_data(who, mosquitto, influxdb_server,
                                                   influx_url, catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, state_path=state,
                       flood_rate=0, client_id=f"t-drop-{who}", batch_ms=50,
                       retry_initial_s=0.05, retry_max_s=0.5)
    # the adapter recreates a missing database, as at start; one opened with
    # create_db=False leaves that to the operator and retries until then
    store = InfluxStore(influx_url, catalogue, create_db=who == "adapter")
    db = store.db
    _query(influxdb_server, f'CREATE DATABASE "{db}"')
    ing = Ingestor(cfg, catalogue=catalogue, store=store).start()
    pub = Publisher(mosquitto.url, f"t-drop-pub-{who}", max_inflight=200)
    try:
        assert ing.subscribed.wait(10)
        first = [(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER)]
        pub.send(first)
        assert _wait(lambda: ing.stats()["acked"] == N_MSG, 20)
        _query(influxdb_server, f'DROP DATABASE "{db}"')
        later = [(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER, offset=N_MSG)]
        pub.send(later)
        assert pub.wait_acked(10)
        if who == "operator":
            assert _wait(lambda: ing.stats()["store_down"], 15)
            time.sleep(1.0)                       # retrying, holding every message
            s = ing.stats()
            assert s["acked"] == N_MSG and s["status"] == "store_down"
            assert ing.metrics.store_up._value.get() == 0.0
            _query(influxdb_server, f'CREATE DATABASE "{db}"')
        assert _wait(lambda: ing.stats()["acked"] == 2 * N_MSG, 30), ing.stats()
        assert influx_count(influx_url) == N_MSG * PER     # all the later ones
        s = ing.stats()
        assert (s["dead_letters"], s["store_down"]) == (0, False)
        assert list_dead_letters(state) == []
        assert ing.metrics.store_retries._value.get() >= 1
    finally:
        pub.close()
        ing.stop()
        store.close()


def test_a_foreign_field_type_refuses_only_the_conflicting_readings(
        mosquitto, influx_url, catalogue, tmp_path):
    """Another writer typed pm25_flag as a float in the shard of the whole stream: readings
    flagged N there are stored (absent = N), the one with a real flag is dead-lettered."""
    state = tmp_path / "state.sqlite"
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, state_path=state,
                       flood_rate=0, client_id="t-foreign", batch_ms=50)
    ing = Ingestor(cfg, catalogue=catalogue).start()
    pub = Publisher(mosquitto.url, "t-foreign-pub", max_inflight=200)
    try:
        assert ing.subscribed.wait(10)
        store = InfluxStore(influx_url, catalogue)
        store.write_lines([f"air,city=xian,period=PT1H,station=PRE pm25_flag=1.0 "
                           f"{int(BASE.timestamp())}"])
        store.close()
        items = [(t, p) for _, _, t, p in messages(catalogue, 20, PER)]
        doc = json.loads(items[3][1])
        doc["readings"][1]["flags"] = {"pm25": "M"}
        items[3] = (items[3][0], json.dumps(doc).encode())
        pub.send(items)
        assert _wait(lambda: ing.stats()["acked"] == len(items), 20), ing.stats()
        assert influx_count(influx_url) == 20 * PER - 1
        dead = list_dead_letters(state)
        assert [d["reason"] for d in dead] == ["field_type_conflict"]
        assert json.loads(dead[0]["payload"])["readings"][0]["flags"] == {"pm25": "M"}
    finally:
        pub.close()
        ing.stop()
