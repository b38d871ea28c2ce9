"""Faults while the whole system runs: ``fenwei stack up`` replays the winter episode through
Mosquitto, ingest, InfluxDB and alerts (state in PostgreSQL) while the test, one after another:
drops and recreates the InfluxDB database, stops InfluxDB for 60 s, makes the ingest's step
after the store write fail for a while, stops PostgreSQL for 60 s, restarts Mosquitto and kills
the alert service with SIGKILL. At the end every station-hour of the period is stored, no dead
letter holds a reading (every simulated reading is valid), every notification the alert
service queued was delivered (none dead) and arrived exactly once per idempotency key, and
city warnings were delivered. Servers of its own (the test stops them).
"""
from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import Counter
from datetime import timedelta, timezone
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from core.localservers import InfluxDB, Mosquitto, PostgreSQL, ServerError

from .conftest import IN_CI, fresh_pg_database
from .test_end_to_end import StackRun, city_levels

pytestmark = [pytest.mark.services, pytest.mark.e2e]
SPEED = 1200.0          # 3 simulated days in 216 real seconds: room for two 60 s outages
DAYS = 3


def _start(server):
    try:
        return server.start(timeout=60)
    except ServerError as exc:
        if IN_CI:
            pytest.fail(f"{server.name} could not be started under CI: {exc}", pytrace=False)
        pytest.skip(f"{server.name} unavailable: {exc}")


def _influx(url: str, q: str) -> None:
    u = urlsplit(url)
    r = httpx.post(f"http://{u.hostname}:{u.port}/query", params={"q": q}, timeout=30)
    r.raise_for_status()


def _text(path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        return repr(exc)


def _points(store_url: str, start, days: int) -> dict[tuple[str, str], set]:
    """(measurement, station) -> the times stored in the period, counted in InfluxDB."""
    u = urlsplit(store_url)
    end = start + timedelta(days=days)
    q = (f"SELECT * FROM air, hydro WHERE time >= '{start:%Y-%m-%dT%H:%M:%SZ}' "
         f"AND time < '{end:%Y-%m-%dT%H:%M:%SZ}'")
    r = httpx.get(f"http://{u.hostname}:{u.port}/query", timeout=60,
                  params={"db": u.path.strip("/"), "q": q, "epoch": "s"})
    r.raise_for_status()
    out: dict = {}
    for series in r.json()["results"][0].get("series", []):
        cols = series["columns"]
        st, t = cols.index("station"), cols.index("time")
        for v in series["values"]:
            out.setdefault((series["name"], v[st]), set()).add(v[t])
    return out


@pytest.mark.timeout(1500)
def test_the_stack_loses_nothing_through_outages_and_kills(tmp_path):
    from firmware_sim import Simulation
    influx = _start(InfluxDB(tmp_path / "influxdb"))
    pg = _start(PostgreSQL(tmp_path / "postgresql"))
    broker = _start(Mosquitto(tmp_path / "mosquitto"))
    db = f"faults{os.getpid()}"
    store_url = influx.store_url(db)
    run = None
    try:
        with fresh_pg_database(pg.url, "faults") as state_url:
            run = StackRun(tmp_path / "stack", mqtt_url=broker.url, store_url=store_url,
                           state_url=state_url, scenario="winter-episode", duration=f"{DAYS}d",
                           seed=2, models=tmp_path / "models", speed=SPEED)
            run.line(r"^Process sim pid \d+$", 400)
            t0 = time.monotonic()

            def at(s: float) -> None:
                time.sleep(max(0.0, t0 + s - time.monotonic()))
            at(5)
            _influx(store_url, f'DROP DATABASE "{db}"')       # an operator's mistake
            time.sleep(2)
            _influx(store_url, f'CREATE DATABASE "{db}"')
            at(15)
            influx.stop()                                      # InfluxDB down 60 s
            at(75)
            _start(influx)
            at(85)
            state = sqlite3.connect(tmp_path / "stack" / "ingest-state.sqlite", timeout=30)
            state.execute("CREATE TRIGGER t_refuse BEFORE INSERT ON tracker BEGIN "
                          "SELECT RAISE(ABORT, 'injected: the step after the write'); END")
            state.commit()                                     # the step after the write
            at(95)
            state.execute("DROP TRIGGER t_refuse")
            state.commit()
            state.close()
            at(100)
            pg.stop()                                          # PostgreSQL down 60 s
            at(160)
            _start(pg)
            at(165)
            broker.restart()                                   # Mosquitto restarted
            at(175)
            pid = run.pids()["alerts"][-1]                     # the alert service killed
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            stopped = run.finish(900)
            assert len(run.pids()["alerts"]) >= 2, run.pids()

            # every station-hour is stored: each air station's hourly means and each
            # gauge's hourly readings run without a gap through the period (the outages
            # fell in its middle), short only of the last hour or two still being measured
            # when the period ended
            sim = Simulation("winter-episode", seed=2, stations=42)
            start = sim.start.astimezone(timezone.utc)
            stored = _points(store_url, start, DAYS)
            hours = DAYS * 24
            want = {("air" if s.kind == "air" else "hydro", s.id) for s in sim.stations}
            assert set(stored) >= want, (want - set(stored), stopped)
            gaps = {}
            for key in want:
                times = sorted(stored[key])
                steps = {b - a for a, b in zip(times, times[1:])}
                if steps != {3600} or len(times) < hours - 2 or \
                        times[0] > start.timestamp() + 2 * 3600:
                    gaps[key] = (len(times), sorted(steps)[:5])
            assert not gaps, (gaps, stopped)

            # no dead letter holds a reading: every simulated reading is valid
            dl = sqlite3.connect(tmp_path / "stack" / "ingest-state.sqlite")
            dead = dl.execute("SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason")
            assert dead.fetchall() == []
            dl.close()

            # every notification queued was delivered, once per idempotency key: the
            # receiver unfolds a group message into its alerts, each with its row's own key
            # (an alert in two group messages is a repeated key)
            eng = sa.create_engine(state_url)
            with eng.connect() as c:
                rows = c.execute(sa.text("SELECT idempotency_key, status FROM outbox "
                                         "WHERE channel = 'webhook'")).all()
                left = c.execute(sa.text(
                    "SELECT idempotency_key, status, attempts, next_attempt_at, group_key, "
                    "claimed_by, claimed_until, created_at, last_error FROM outbox "
                    "WHERE channel = 'webhook' AND status <> 'delivered'")).all()
            eng.dispose()
            assert rows and {s for _, s in rows} == {"delivered"}, "\n".join(
                [str(Counter(s for _, s in rows)), *(repr(tuple(r)) for r in left[:10]),
                 stopped, _text(run.folder / "logs" / "stack.log"), run.logs_tail()])
            got = Counter(k for k in run.receiver.keys if k)
            repeated = run.receiver.repeated_keys(killed_at)
            assert not repeated, repeated
            assert set(got) == {k for k, _ in rows}, (len(got), len(rows))
            assert city_levels(run.receiver.bodies), "no city warning delivered"
    finally:
        if run is not None:
            run.close()
        for server in (broker, pg, influx):
            server.stop()
