"""Two processes on one shared subscription; SIGTERM drains and acknowledges."""
from __future__ import annotations

import time

from ingest import list_dead_letters
from ingest._loadgen import Publisher, messages

from .conftest import influx_count, wait_count

N_MSG, PER = 2_000, 10


def test_two_processes_share_the_load_exactly_once(mosquitto, influx_url, catalogue,
                                                  ingest_process, tmp_path):
    procs = [ingest_process(mosquitto.url, influx_url, "--share-group", "ingest",
                            "--flood-rate", "0", client_id=f"t-shared-{i}",
                            state=tmp_path / f"state{i}.sqlite").start() for i in (1, 2)]
    pub = Publisher(mosquitto.url, "t-shared-pub", max_inflight=1000)
    pub.send([(t, p) for _, _, t, p in messages(catalogue, N_MSG, PER)])
    assert pub.wait_acked(30)
    pub.close()
    assert wait_count(influx_url, N_MSG * PER, timeout=60) == N_MSG * PER
    deadline = time.monotonic() + 10      # every message taken is acknowledged after its write
    while sum(p.metric("fenwei_ingest_acks_total") or 0 for p in procs) < N_MSG:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stored = [p.metric("fenwei_ingest_readings_stored_total") for p in procs]
    received = [p.metric("fenwei_ingest_messages_total") for p in procs]
    assert all(s > 0 for s in stored), stored            # both took part
    assert sum(stored) == N_MSG * PER                     # no reading written twice
    assert sum(received) == N_MSG
    for p in procs:
        assert p.terminate() == 0


def test_sigterm_drains_then_exits(mosquitto, influx_url, catalogue, ingest_process):
    ing = ingest_process(mosquitto.url, influx_url, "--flood-rate", "0",
                         "--batch-ms", "1000", "--batch-points", "100000").start()
    pub = Publisher(mosquitto.url, "t-term-pub", max_inflight=1000)
    pub.send([(t, p) for _, _, t, p in messages(catalogue, 300, 10)])
    assert pub.wait_acked(30)
    pub.close()
    deadline = time.monotonic() + 10
    while (ing.metric("fenwei_ingest_messages_total") or 0) < 300:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ing.terminate(30) == 0
    assert "(drained)" in ing.log.read_text()
    assert influx_count(influx_url) == 3000
    # everything was acknowledged: a restarted process gets no redelivery; a barrier
    # message published now comes after anything the broker still held for it
    ing.start()
    pub = Publisher(mosquitto.url, "t-term-barrier")
    pub.send([(t, p) for _, _, t, p in messages(catalogue, 1, 10, offset=300)])
    assert pub.wait_acked(10)
    pub.close()
    deadline = time.monotonic() + 10
    while (ing.metric("fenwei_ingest_acks_total") or 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ing.metric("fenwei_ingest_messages_total") == 1
    assert ing.metric("fenwei_ingest_redeliveries_total") == 0
    assert ing.terminate() == 0
    assert list_dead_letters(ing.argv[ing.argv.index("--state-path") + 1]) == []
