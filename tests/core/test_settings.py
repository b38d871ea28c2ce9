"""Settings: FENWEI_* variables over a TOML file, errors that name the variable, masked secrets."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings, mask_url

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os
    for k in list(os.environ):
        if k.startswith("FENWEI_"):
            monkeypatch.delenv(k)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fenwei.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults():
    s = load_settings()
    assert s.store_url.startswith("duckdb://") and s.store_url.endswith("fenwei.duckdb")
    assert s.mqtt_url == "mqtt://127.0.0.1:1883"
    assert s.log_level == "INFO" and s.store_max_rows == 1_000_000


def test_toml_file_then_environment_then_arguments(tmp_path, monkeypatch):
    path = toml(tmp_path, '[fenwei]\nstore_url = "influxdb://127.0.0.1:8086/file"\n'
                          'log_level = "debug"\nstore_max_rows = 5000\nunrelated = 1\n')
    s = load_settings(path)
    assert (s.store_url, s.log_level, s.store_max_rows) == (
        "influxdb://127.0.0.1:8086/file", "DEBUG", 5000)
    monkeypatch.setenv("FENWEI_STORE_URL", "duckdb:///env.duckdb")
    s = load_settings(path)
    assert (s.store_url, s.log_level) == ("duckdb:///env.duckdb", "DEBUG")  # env wins per key
    assert load_settings(path, store_url="duckdb:///arg.duckdb").store_url == "duckdb:///arg.duckdb"


def test_top_level_keys_and_fenwei_config_variable(tmp_path, monkeypatch):
    path = toml(tmp_path, 'mqtt_url = "mqtts://broker.example:8883"\n')
    monkeypatch.setenv("FENWEI_CONFIG", str(path))
    assert load_settings().mqtt_url == "mqtts://broker.example:8883"


BAD = [
    ("FENWEI_STORE_URL", "ftp://host/db"),
    ("FENWEI_MQTT_URL", "http://broker:1883"),
    ("FENWEI_MQTT_URL", "mqtt://broker:99999"),
    ("FENWEI_STATE_URL", "mysql://db"),
    ("FENWEI_LOG_LEVEL", "LOUD"),
    ("FENWEI_STORE_MAX_ROWS", "lots"),
]


@pytest.mark.parametrize("var,value", BAD, ids=[f"{v}={x}" for v, x in BAD])
def test_bad_setting_names_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        load_settings()


def test_bad_value_in_file_names_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="FENWEI_STATE_URL"):
        load_settings(toml(tmp_path, '[fenwei]\nstate_url = "oracle://x"\n'))


def test_unreadable_or_malformed_file_names_the_file(tmp_path):
    with pytest.raises(SettingsError, match="missing.toml"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(SettingsError, match="fenwei.toml"):
        load_settings(toml(tmp_path, "store_url = \n"))


URLS_WITH_SECRETS = [
    f"mqtt://user:{SECRET}@broker:1883",
    f"influxdb2://:{SECRET}@influx:8086/bucket?org=fenwei",
    f"postgresql://fenwei:{SECRET}@db/fenwei",
    f"mqtt://user:{SECRET}/x@broker:1883",  # unescaped "/" in the password
    f"mqtt://user:{SECRET}#x@broker:1883",  # unescaped "#"
    f"mqtt://user:{SECRET}@x@broker:1883",  # unescaped "@"
]


@pytest.mark.parametrize("url", URLS_WITH_SECRETS)
def test_mask_url_hides_the_secret(url):
    masked = mask_url(url)
    assert SECRET not in masked and "***" in masked
    assert masked.split("://")[0] == url.split("://")[0]


def test_mask_url_leaves_urls_without_secrets_alone():
    for url in ("mqtt://127.0.0.1:1883", "mqtt://user@host", "duckdb:///x.duckdb"):
        assert mask_url(url) == url
    assert mask_url(f"mqtt://user:{SECRET}@broker:1883") == "mqtt://user:***@broker:1883"


def test_secrets_masked_in_repr_and_str(monkeypatch):
    monkeypatch.setenv("FENWEI_MQTT_URL", f"mqtt://user:{SECRET}@broker:1883")
    monkeypatch.setenv("FENWEI_STORE_URL", f"influxdb2://:{SECRET}@influx:8086/b?org=o")
    monkeypatch.setenv("FENWEI_STATE_URL", f"postgresql://fenwei:{SECRET}@db/fenwei")
    s = load_settings()
    assert s.mqtt_url.endswith("@broker:1883")  # the value itself is intact
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert SECRET not in text and "***" in text


@pytest.mark.parametrize("var,url", [
    ("FENWEI_STORE_URL", f"ftp://u:{SECRET}@host/db"),
    ("FENWEI_MQTT_URL", f"http://u:{SECRET}@broker"),
    ("FENWEI_MQTT_URL", f"mqtt://u:{SECRET}/x@broker:1883"),  # urlsplit sees port "s3cr3t-Pa55"
    ("FENWEI_MQTT_URL", f"mqtt://u:{SECRET}@broker:notaport"),
    ("FENWEI_STATE_URL", f"fenwei:{SECRET}@db"),  # no scheme at all
])
def test_secrets_masked_in_errors(monkeypatch, var, url):
    monkeypatch.setenv(var, url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert var in str(info.value)
    chain, exc = [], info.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    assert not any(SECRET in text for text in chain)


def test_settings_class_validates_directly():
    with pytest.raises(ValueError, match="FENWEI_LOG_LEVEL"):
        Settings(log_level="chatty")
