"""Dead letters are not a dead end: listed by reason and time, replayed into the store through
the intake path (rows stored are removed, the others kept), counted by a gauge, expired only
by an explicit age and refused, never pruned, at their size bound."""
from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from core.deadletters import DeadLetter, DeadLetters, DeadLettersFull, connect
from ingest import IngestConfig, Ingestor, list_dead_letters
from ingest._loadgen import Publisher, messages
from ingest.cli import app

from .conftest import influx_count
from .conftest import wait_until as _wait

PER = 4



def test_list_and_replay_through_the_cli(mosquitto, influx_url, catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    cfg = IngestConfig(mqtt_url=mosquitto.url, store_url=influx_url, state_path=state,
                       flood_rate=0.001, flood_burst=5, client_id="t-replay", batch_ms=50)
    ing = Ingestor(cfg, catalogue=catalogue).start()
    pub = Publisher(mosquitto.url, "t-replay-pub", max_inflight=100)
    try:
        assert ing.subscribed.wait(10)
        items = [(t, p) for _, _, t, p in messages(catalogue, 20, PER, n_stations=1)]
        other = list(messages(catalogue, 2, PER, n_stations=2))[1][2]   # its own bucket
        items.append((other, b"{not json"))
        pub.send(items)
        assert _wait(lambda: ing.stats()["acked"] == len(items), 15), ing.stats()
        assert influx_count(influx_url) == 5 * PER                  # the burst
        assert _wait(lambda: ing.metrics.dead_letters_kept._value.get() == 16, 10)
        assert ing.stats()["dead_letters_kept"] == 16
    finally:
        pub.close()
        ing.stop()
    run = CliRunner().invoke
    base = ["--state-path", str(state)]
    res = run(app, ["dead-letters", *base, "--limit", "100"])       # the old listing
    assert res.exit_code == 0, res.output
    assert len(res.output.splitlines()) == 16
    res = run(app, ["dead-letters", "list", *base, "--reason", "malformed_json",
                    "--since", "1h"])
    assert res.exit_code == 0 and len(res.output.splitlines()) == 1, res.output
    res = run(app, ["dead-letters", "list", *base, "--since", "2000-01-01T00:00:00+08:00",
                    "--limit", "100"])
    assert len(res.output.splitlines()) == 16
    assert run(app, ["dead-letters", "list", *base, "--since", "2000-01-01"]).exit_code == 2
    res = run(app, ["dead-letters", "replay", *base, "--store-url", influx_url,
                    "--reason", "flood"])
    assert res.exit_code == 0, res.output
    assert "15 rows stored (60 readings)" in res.output
    assert influx_count(influx_url) == 20 * PER
    assert [d["reason"] for d in list_dead_letters(state)] == ["malformed_json"]
    res = run(app, ["dead-letters", "replay", *base, "--store-url", influx_url])
    assert res.exit_code == 0 and "1 kept" in res.output, res.output
    assert len(list_dead_letters(state)) == 1                       # never decodes: kept


def test_retention_is_by_age_and_the_size_bound_refuses(tmp_path):
    db = connect(tmp_path / "s.sqlite")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    dl = DeadLetters(db, max_rows=100, max_age_s=86_400)
    now = time.time()
    dl.add([DeadLetter("t", "flood", "", b"x", received_at=now - 2 * 86_400)] * 30)
    dl.add([DeadLetter("t", "flood", "", b"x", received_at=now)] * 70)
    with pytest.raises(DeadLettersFull):
        dl.add([DeadLetter("t", "flood", "", b"x")])
    assert dl.count() == 100                                      # nothing pruned to fit
    assert dl.expire(now) == 30 and dl.count() == 70              # only the old ones
    assert dl.add([DeadLetter("t", "flood", "", b"x")]) == 1
