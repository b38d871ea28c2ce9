"""Malformed messages and a field-type conflict: good readings stored, exactly the bad
ones dead-lettered with their reasons; floods, oversize and unknown stations bounded."""
from __future__ import annotations

import json
import time

import pytest

from core.store import open_store
from core.wire import encode, readings_topic
from ingest import IngestConfig, Ingestor, list_dead_letters
from ingest._loadgen import Publisher, messages

from .conftest import wait_count

N_MSG, PER = 1_000, 5
CONFLICT_MSG, CONFLICT_IDX = 7, 2


def _corrupt(kind: str, station: str, topic: str, payload: bytes) -> tuple[str, bytes, str]:
    """A malformed variant of a good message: (topic, payload, expected reason)."""
    doc = json.loads(payload)
    if kind == "malformed_json":
        return topic, payload[:-7], kind
    if kind == "unknown_station":
        doc["station"] = "NOPE1"
        return topic.replace(f"/{station}/", "/NOPE1/"), encode("NOPE1", 1, doc["readings"]), kind
    if kind == "out_of_range":
        doc["readings"][0]["values"]["pm25"] = -5
    elif kind == "bad_version":
        doc["v"] = 2
    elif kind == "missing_offset":
        doc["readings"][1]["ts"] = doc["readings"][1]["ts"][:19]
    elif kind == "unknown_parameter":
        doc["readings"][0]["values"]["pm1"] = 3.0
    elif kind == "bad_flag":
        doc["readings"][0]["flags"] = {"pm25": "Z"}
    elif kind == "station_topic_mismatch":
        doc["station"] = "1463A" if station != "1463A" else "1462A"
    elif kind == "not_utf8":
        return topic, b"\xff\xfe" + payload, kind
    elif kind == "empty_readings":
        doc["readings"] = []
    return topic, json.dumps(doc).encode(), kind


KINDS = ["malformed_json", "unknown_station", "out_of_range", "bad_version", "missing_offset",
         "unknown_parameter", "bad_flag", "station_topic_mismatch", "not_utf8",
         "empty_readings"]


def test_bad_messages_and_type_conflict(mosquitto, influx_url, catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, state_path=state,
                       flood_rate=0, client_id="t-bad")
    ing = Ingestor(cfg, catalogue=catalogue).start()
    try:
        assert ing.subscribed.wait(10)
        items, expected_dead, conflict_ts = [], [], None
        for m, (station, seq, topic, payload) in enumerate(messages(catalogue, N_MSG, PER)):
            if m % 100 == 50:
                topic, payload, reason = _corrupt(KINDS[m // 100], station, topic, payload)
                expected_dead.append((reason, topic))
            elif m == CONFLICT_MSG:
                # a reading alone in its shard (InfluxDB types fields per shard), where
                # pm25_flag was first written as a float
                doc = json.loads(payload)
                conflict_ts = doc["readings"][CONFLICT_IDX]["ts"] = "2024-06-03T08:00:00+08:00"
                doc["readings"][CONFLICT_IDX]["flags"] = {"pm25": "M"}
                payload = json.dumps(doc).encode()
                expected_dead.append(("field_type_conflict", topic))
            items.append((topic, payload))
        store = open_store(influx_url, catalogue)
        from datetime import datetime
        ts = int(datetime.fromisoformat(conflict_ts).timestamp())
        store.write_lines([f"air,city=xian,period=PT1H,station=PRE pm25_flag=1.0 {ts}"])
        pub = Publisher(mosquitto.url, "t-bad-pub", max_inflight=500)
        pub.send(items)
        assert pub.wait_acked(30)
        pub.close()
        good = (N_MSG - 10) * PER - 1
        assert wait_count(influx_url, good, timeout=30) == good
        deadline = time.monotonic() + 10
        while ing.stats()["dead_letters"] < 11 and time.monotonic() < deadline:
            time.sleep(0.1)
        # a barrier: one more good message, taken after all the others; once it is
        # acknowledged, everything before it is finished (written, dead-lettered)
        barrier = [(t, p) for _, _, t, p in messages(catalogue, 1, PER, offset=N_MSG)]
        pub = Publisher(mosquitto.url, "t-bad-barrier")
        pub.send(barrier)
        assert pub.wait_acked(10)
        pub.close()
        deadline = time.monotonic() + 15
        while ing.stats()["acked"] < N_MSG + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ing.stats()["acked"] == N_MSG + 1
        assert wait_count(influx_url, good + PER, timeout=5) == good + PER   # nothing extra
        dead = list_dead_letters(state, limit=1000)
        assert sorted((d["reason"], d["topic"]) for d in dead) == sorted(expected_dead)
        conflict = next(d for d in dead if d["reason"] == "field_type_conflict")
        assert json.loads(conflict["payload"])["readings"][0]["flags"] == {"pm25": "M"}
        assert "pm25_flag" in conflict["detail"]
        assert "fenwei_ingest_dead_letters_total{reason=\"field_type_conflict\"} 1.0" in \
            ing.metrics.text().decode()
    finally:
        ing.stop()


@pytest.fixture
def duck_ingestor(mosquitto, catalogue, tmp_path):
    made = []

    def make(**kw):
        cfg = IngestConfig(mqtt_url=mosquitto.url, store_url="duckdb://:memory:",
                           state_path=tmp_path / "state.sqlite", client_id="t-adm",
                           batch_ms=20, **kw)
        ing = Ingestor(cfg, catalogue=catalogue,
                       store=open_store("duckdb://:memory:", catalogue)).start()
        made.append(ing)
        assert ing.subscribed.wait(10)
        return ing
    yield make
    for ing in made:
        ing.stop()


def _settle(ing, n_msgs: int, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while ing.stats()["acked"] < n_msgs and time.monotonic() < deadline:
        time.sleep(0.05)
    return ing.stats()


@pytest.mark.parametrize("case", ["flood", "oversize", "unknown_station"])
def test_admission_bounds(case, duck_ingestor, mosquitto, catalogue, tmp_path):
    if case == "flood":
        ing = duck_ingestor(flood_rate=0.001, flood_burst=5)
        items = [(t, p) for st, _, t, p in messages(catalogue, 20, 1, n_stations=1)]
        expect_stored, expect_dead = 5, 15
    elif case == "oversize":
        ing = duck_ingestor(max_payload_bytes=2_000, flood_rate=0)
        items = [(t, p) for _, _, t, p in messages(catalogue, 4, 20)]
        items += [(t, p) for _, _, t, p in messages(catalogue, 3, 1, seq_start=100)]
        expect_stored, expect_dead = 3, 4
    else:
        ing = duck_ingestor(flood_rate=0.001, flood_burst=3)
        items = [(readings_topic("xian", "air", f"X{i}"), encode(f"X{i}", 0, []))
                 for i in range(10)]
        expect_stored, expect_dead = 0, 10
    pub = Publisher(mosquitto.url, f"t-adm-{case}", max_inflight=100)
    pub.send(items)
    assert pub.wait_acked(10)
    pub.close()
    s = _settle(ing, len(items))
    assert (s["stored"], s["dead_letters"]) == (expect_stored, expect_dead)
    reasons = {d["reason"] for d in list_dead_letters(tmp_path / "state.sqlite")}
    assert reasons == ({"unknown_station", "flood"} if case == "unknown_station" else {case})
