"""`fenwei alerts run` as an operator starts it: the standalone service wires the edge status
board and the audited target table, so the liveness and eco-flow rules work outside the demo.
Real Mosquitto, InfluxDB (store), PostgreSQL (state), a real edge agent, a real HTTP receiver."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from core.ecoflow import TargetStore
from core.store import open_store
from core.timeutil import CST
from core.wire import Reading

from .river_helpers import Receiver, site_agent

SITE = ["SIM-TONGCH-01", "SIM-TONGCH-02"]
RULES = """
[[rule]]
id = "ecoflow-daily"
type = "ecoflow"
kind = "river.ecoflow"
sections = ["huaxian"]
every = "2s"

[[rule]]
id = "site-offline"
type = "site_offline"
kind = "liveness.site_offline"
level = "yellow"
every = "1s"
"""


def _agent(tmp_path, mqtt_url):
    return site_agent(tmp_path, mqtt_url, "gw-tongchuan-cli", SITE)


def _huaxian_days(store, catalogue, q: float, days: int = 3) -> None:
    """Hourly valid discharge ``q`` at Huaxian for the last ``days`` completed CST days."""
    today = datetime.now(timezone.utc).astimezone(CST).replace(hour=0, minute=0, second=0,
                                                               microsecond=0)
    city = catalogue.stations["huaxian"].city
    store.write([Reading("huaxian", city, "hydro", today - timedelta(hours=h), "PT1H",
                         {"discharge": q, "stage": 330.0}, {}) for h in range(1, 24 * days + 1)])


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _gateway_says_offline(port: int, agent: str, city: str, kind: str, station: str) -> None:
    """A gateway's retained status message saying it went offline."""
    import json

    import paho.mqtt.client as mqtt

    from core.wire import status_topic
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{agent}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(status_topic(city, kind, station), json.dumps(
            {"state": "offline", "agent": agent}), qos=1, retain=True).wait_for_publish(5)
    finally:
        c.loop_stop()
        c.disconnect()


def _is(kind: str, event: str, subject: str):
    return lambda b: (b["kind"], b["event"], b["subject"]["id"]) == (kind, event, subject)


def test_alerts_run_wires_targets_and_edge_status(catalogue, mosquitto, influx_url, pg_url,
                                                  receiver, tmp_path):
    # an authorised change of the target table, in the service's state database: only a
    # service that reads this table (not the packaged 12 m³/s) sees 20 m³/s as red
    TargetStore(pg_url, catalogue).set({"section": "huaxian", "valid_from": "2020-01-01",
                                        "target_m3s": 50.0, "source": "raised (test)"},
                                       who="test")
    _huaxian_days(open_store(influx_url, catalogue), catalogue, 20.0)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    agent = _agent(tmp_path, mosquitto.url)
    agent.start()
    port_file = tmp_path / "health.port"   # port 0: a port picked here may be taken first
    env = {**os.environ, "FENWEI_MQTT_URL": mosquitto.url, "FENWEI_STORE_URL": influx_url,
           "PYTHONUNBUFFERED": "1", "FENWEI_HEALTH_PORT": "0",
           "FENWEI_HEALTH_PORT_FILE": str(port_file),
           # not about grouping: with the default 30 s wait the catch-all's "lifted" copy
           # would wait the group interval (5 min) after the group's "issued" message
           "FENWEI_ALERTS_GROUP_WAIT": "0s"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "alerts", "run", "--rules", str(rules),
         "--state-url", pg_url, "--notify-webhook", receiver.url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    try:
        (red,) = receiver.wait_for(_is("river.ecoflow", "issued", "section:huaxian"), 90)[:1]
        assert red["level"] == "red"
        ev = red["evidence"]
        assert (ev["target_m3s"], ev["target_source"]) == (50.0, "raised (test)")
        known = [r["q"] for r in ev["recent"] if r["q"] is not None]   # (a CST midnight may
        assert known and known[-1] == pytest.approx(20.0)                # have passed since)
        health = f"http://127.0.0.1:{port_file.read_text()}"   # written before intake starts
        stats = httpx.get(f"{health}/health", timeout=5).json()
        assert stats["intake_stalled"] is False and stats["dead_notifications"] == 0
        assert stats["intake"]["client_id"] == "fenwei-alerts-alerts"     # a stable session
        metrics = httpx.get(f"{health}/metrics", timeout=5).text
        assert "fenwei_alerts_intake_stalled 0.0" in metrics
        assert "fenwei_alerts_dead_notifications 0.0" in metrics

        # barrier: another site's gateway says offline (published after the agent's status
        # rounds); once its alert arrives, a site-offline pass has seen both gateways
        _gateway_says_offline(mosquitto.port, "gw-barrier", "xian", "air", "1462A")
        assert receiver.wait_for(_is("liveness.site_offline", "issued", "site:gw-barrier"), 60)
        assert not receiver.wait_for(lambda b: b["kind"].startswith("liveness.") and
                                     b["subject"]["id"] != "site:gw-barrier", 0)
        agent.stop()              # clean stop: the agent's status says offline
        offline = receiver.wait_for(_is("liveness.site_offline", "issued",
                                        "site:gw-tongchuan-cli"), 60)
        assert offline and offline[0]["evidence"]["stations"] == SITE
        assert offline[0]["subject"]["cities"] == ["tongchuan"]
        agent = _agent(tmp_path, mosquitto.url)
        agent.start()             # restart: online again, the alert is lifted
        assert receiver.wait_for(_is("liveness.site_offline", "lifted",
                                     "site:gw-tongchuan-cli"), 60)
        sites = {b["alert_id"] for b in receiver.bodies if b["kind"] == "liveness.site_offline"
                 and b["subject"]["id"] == "site:gw-tongchuan-cli"}
        assert len(sites) == 1    # one alert for the site, not one per device
    finally:
        agent.stop()
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "alerts: running" in out and "alerts: stopped" in out
