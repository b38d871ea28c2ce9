"""Sample config, device table and configuration errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import load_settings
from edge.agent import ConfigError, default_devices, device_table, load_config, parse_config

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
