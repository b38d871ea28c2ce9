"""Sample config, device table and configuration errors."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.localservers import free_port
from core.settings import load_settings
from edge.agent import (ConfigError, EdgeAgent, default_devices, device_password, device_table,
                        load_config, parse_config)

from .conftest import CST, Hj212Device

SAMPLE = Path(__file__).parents[3] / "edge" / "sample-config.toml"


def test_sample_config_covers_every_catalogue_station(catalogue):
    cfg = load_config(SAMPLE)
    table = device_table(cfg, catalogue)
    stations = {d.station.id for t in table.values() for d in t.values()}
    assert stations == set(catalogue.stations)
    assert (cfg.hj212.port, cfg.sl651.port) == (9212, 9651)
    assert load_settings(SAMPLE).mqtt_url.startswith("mqtt://")


def test_default_devices_match_the_simulator(catalogue):
    devs = {d.station: d for d in default_devices(catalogue)}
    assert devs["1462A"].mn == "1462A" and devs["1462A"].password == "123456"
    sec = next(s for s in catalogue.sections.values() if s.station == "lintong")
    assert devs["lintong"].address == sec.sl651_address


@pytest.mark.parametrize("doc, where", [
    ({"devices": [{"protocol": "hj212", "station": "nope", "mn": "X"}]}, "unknown station"),
    ({"devices": [{"protocol": "hj212", "station": "1462A"}]}, "needs mn"),
    ({"devices": [{"protocol": "hj212", "station": "1462A", "mn": "X",
                   "factors": {"a1": {"param": "stage"}}}]}, "not a air parameter"),
    ({"queue": {"policy": "keep_all"}}, "edge.queue.policy"),
    ({"mqtt": {"max_inflight": 5000}}, "edge.mqtt.max_inflight"),
], ids=["unknown-station", "no-mn", "wrong-kind", "bad-policy", "inflight-bound"])
def test_config_errors_name_the_setting(catalogue, doc, where):
    with pytest.raises(ConfigError, match=where):
        device_table(parse_config(doc), catalogue)


def test_listeners_default_to_loopback():
    cfg = parse_config({})
    assert (cfg.hj212.host, cfg.sl651.host) == ("127.0.0.1", "127.0.0.1")


SECRET = "a-site-secret-of-some-length"


@pytest.mark.parametrize("doc", [
    {"catalogue_devices": True},
    {"catalogue_devices": True, "demo": True, "device_secret": SECRET},
    {"catalogue_devices": True, "device_secret": "short"},
], ids=["neither-secret-nor-demo", "both", "short-secret"])
def test_catalogue_devices_need_a_secret_or_demo_mode(doc):
    with pytest.raises(ConfigError, match="device_secret"):
        parse_config(doc)


def test_catalogue_passwords_derive_from_the_site_secret(catalogue):
    cfg = parse_config({"catalogue_devices": True, "device_secret": SECRET})
    assert SECRET not in repr(cfg)
    table = device_table(cfg, catalogue)
    hj = {d.station.id: d.config.password for d in table["hj212"].values()}
    sl = {d.station.id: d.config.password for d in table["sl651"].values()}
    assert all(len(p) == 6 and p.isdigit() for p in hj.values())
    assert all(len(p) == 4 and int(p, 16) >= 0 for p in sl.values())
    assert "123456" not in hj.values() and "0000" not in sl.values()
    assert len(set(hj.values())) > len(hj) * 0.9            # one per device, not one per site
    assert hj["1462A"] == device_password(SECRET, "hj212", "1462A")
    other = device_table(parse_config({"catalogue_devices": True,
                                       "device_secret": SECRET + "2"}), catalogue)
    assert other["hj212"]["1462A"].config.password != hj["1462A"]


def test_demo_mode_accepts_the_simulator_and_says_so(catalogue, caplog):
    table = device_table(parse_config({"catalogue_devices": True, "demo": True}), catalogue)
    assert table["hj212"]["1462A"].config.password == "123456"
    assert "demo mode" in caplog.text


def test_an_agent_with_a_site_secret_refuses_the_well_known_password(tmp_path, catalogue):
    cfg = parse_config({"catalogue_devices": True, "device_secret": SECRET,
                        "data_dir": str(tmp_path), "hj212": {"port": 0}, "sl651": {"port": 0}})
    with EdgeAgent(cfg, mqtt_url=f"mqtt://127.0.0.1:{free_port()}", catalogue=catalogue) as agent:
        dev = Hj212Device(agent.ports["hj212"], "1462A", pw="123456")
        dev.connect()
        try:
            now = datetime.now(CST).replace(second=0, microsecond=0)
            reply = dev.upload(now, {"a34004": 10})
            assert (reply.cn, reply.cp["QnRtn"]) == ("9011", "3")
            reply = dev.upload(now, {"a34004": 10}, pw=device_password(SECRET, "hj212", "1462A"))
            assert reply.cn == "9014"
        finally:
            dev.close()
