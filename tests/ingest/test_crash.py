"""kill -9 while 50,000 readings are in flight, restart: every reading stored exactly once."""
from __future__ import annotations

import signal
import threading
import time

from ingest._loadgen import Publisher, air_stations, messages

from .conftest import influx_count, wait_count

N_MSG, PER = 5_000, 10          # 50,000 readings


def test_kill_9_then_restart_stores_everything_once(mosquitto, influxdb_server, influx_url,
                                                   catalogue, ingest_process):
    ing = ingest_process(mosquitto.url, influx_url, "--flood-rate", "0").start()
    items = [(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER)]
    pub = Publisher(mosquitto.url, "t-crash-pub", max_inflight=2000)
    sender = threading.Thread(target=pub.send, args=(items,), daemon=True)
    sender.start()
    while influx_count(influx_url) == 0:
        time.sleep(0.02)
    # hold InfluxDB still so that the process is certain to hold messages it has taken and not
    # yet written (unacknowledged) when it is killed: without this the kill could fall in a
    # moment when it had acknowledged all it had, and nothing would be redelivered
    influxdb_server.proc.send_signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 30
        while (ing.metric("fenwei_ingest_messages_total") or 0) <= \
                (ing.metric("fenwei_ingest_acks_total") or 0):
            assert time.monotonic() < deadline, "the ingest took nothing while InfluxDB was held"
            time.sleep(0.02)
        ing.kill()
    finally:
        influxdb_server.proc.send_signal(signal.SIGCONT)
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
    # InfluxDB overwrites a point written twice, so its counts cannot show duplicates: the
    # restarted process must have been redelivered what the first left unacknowledged, and
    # have stored each message it took exactly once
    received = ing.metric("fenwei_ingest_messages_total")
    assert ing.metric("fenwei_ingest_redeliveries_total") >= 1
    assert ing.metric("fenwei_ingest_readings_stored_total") == received * PER
    assert ing.metric("fenwei_ingest_acks_total") == received
    # the first process acknowledged (the broker kept back) only messages it had written
    assert N_MSG - received <= at_kill // PER
    assert ing.terminate() == 0
