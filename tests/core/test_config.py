"""One settings file: sections found through ``fenwei.settings``, unknown keys named, env over
file, values validated, docs listing every key; ``fenwei config check`` against real servers."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic_settings import BaseSettings

from core.config import ConfigError, env_name, load_config, section_models
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {"edge", "ingest", "alerts", "aqi", "forecast", "api", "clock", "stack"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("FENWEI_"):
            monkeypatch.delenv(k)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fenwei.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_every_section_is_registered():
    assert set(section_models()) == SECTIONS


UNKNOWN = [
    pytest.param("[ingest]\nbatch_sise = 3\n", "unknown key [ingest] batch_sise in {path}",
                 id="section-key"),
    pytest.param("[ingst]\n", "unknown section [ingst] in {path} (did you mean ingest?)",
                 id="section"),
    pytest.param("[fenwei]\nlog_levl = 'INFO'\n",
                 "unknown key [fenwei] log_levl in {path} (did you mean log_level?)",
                 id="shared-key"),
    pytest.param("[api]\nprt = 1\n", "unknown key [api] prt in {path} (did you mean port?)",
                 id="core-section-key"),
]


@pytest.mark.parametrize("text, expected", UNKNOWN)
def test_unknown_names_are_errors_naming_them(tmp_path, text, expected):
    path = toml(tmp_path, text)
    found = problems(path)
    assert any(p.startswith(expected.format(path=path)) for p in found), found


def test_every_problem_is_reported_at_once(tmp_path):
    path = toml(tmp_path, "[ingest]\nbatch_sise = 3\nbatch_ms = 'soon'\n[api]\nport = 0\n"
                          "[nope]\n")
    found = " | ".join(problems(path))
    for part in ("[ingest] batch_sise", "[ingest] batch_ms", "[api] port", "[nope]"):
        assert part in found


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = toml(tmp_path, '[fenwei]\nmqtt_url = "mqtt://file:1883"\n'
                          '[api]\nport = 8001\nhost = "0.0.0.0"\n[ingest]\nbatch_ms = 100\n')
    monkeypatch.setenv("FENWEI_API_PORT", "9000")
    monkeypatch.setenv("FENWEI_INGEST_BATCH_MS", "250")
    monkeypatch.setenv("FENWEI_MQTT_URL", "mqtt://env:1883")
    cfg = load_config(path)
    api = cfg.section("api")
    assert (api.host, api.port) == ("0.0.0.0", 9000)
    ingest = cfg.section("ingest")       # merged with [fenwei]: the shared broker
    assert (ingest.batch_ms, ingest.mqtt_url) == (250, "mqtt://env:1883")


def test_shared_values_fill_the_service_sections(tmp_path):
    path = toml(tmp_path, '[fenwei]\nstate_url = "postgresql://db/x"\ndata_dir = "/srv/f"\n'
                          '[alerts]\nsmtp_url = "smtp://mail:25"\n')
    cfg = load_config(path)
    alerts, forecast = cfg.section("alerts"), cfg.section("forecast")
    assert alerts.state_url == "postgresql://db/x" and "smtp://mail:25" in alerts.servers()
    assert forecast.registry_dir == Path("/srv/f/models")
    assert cfg.section("ingest").state_path == Path("/srv/f/ingest-state.sqlite")


BAD_VALUES = [
    pytest.param('[aqi]\nevery = "5 minutes"\n', {}, "bad value [aqi] every in", id="duration"),
    pytest.param('[clock]\nmode = "warped"\n', {}, 'bad value [clock] in', id="warped-start"),
    pytest.param('[clock]\nstart = "yesterday"\n', {}, "bad value [clock] start in",
                 id="instant"),
    pytest.param('[stack]\nnotify_webhook = "ftp://x"\n', {}, "bad value [stack] notify_webhook",
                 id="webhook"),
    pytest.param('[api]\nport = 8000\n', {"FENWEI_API_PORT": "lots"},
                 "bad value FENWEI_API_PORT:", id="from-env"),
    pytest.param('[fenwei]\nstore_url = "ftp://x/y"\n', {}, "bad value [fenwei] store_url in",
                 id="shared"),
    pytest.param('[alerts]\nenvironment = "production"\n', {}, "[alerts] ack_secret",
                 id="placeholder-secret"),
]


@pytest.mark.parametrize("text, env, expected", BAD_VALUES)
def test_bad_values_are_named(tmp_path, monkeypatch, text, env, expected):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    found = problems(toml(tmp_path, text))
    assert any(expected in p for p in found), found


def test_clock_values_for_core_clock(tmp_path):
    cfg = load_config(toml(tmp_path, '[clock]\nmode = "warped"\n'
                                     'start = 2025-01-01T00:00:00+08:00\nspeed = 60\n'
                                     'anchor = "@/run/fenwei/anchor"\n'))
    assert cfg.section("clock").clock_values() == {
        "mode": "warped", "speed": 60.0, "start": 1735660800.0, "anchor": "@/run/fenwei/anchor"}


def test_edge_section_points_to_the_agent_file(tmp_path):
    agent = tmp_path / "edge.toml"
    agent.write_text('[edge]\nagent_id = "a1"\n[edge.hj212]\nport = 1000\n', encoding="utf-8")
    cfg = load_config(toml(tmp_path, f'[edge]\nconfig = "{agent}"\nsl651_port = 2000\n'))
    conf = cfg.section("edge").agent_config()
    assert (conf.agent_id, conf.hj212.port, conf.sl651.port) == ("a1", 1000, 2000)


def test_section_variables_clash_with_no_shared_variable():
    shared = {env_name("fenwei", k) for k in Settings.model_fields}
    for name, model in section_models().items():
        assert not shared & {env_name(name, k) for k in model.model_fields}, name
        if issubclass(model, BaseSettings):    # the variables services read today still work
            assert model.model_config["env_prefix"] == f"FENWEI_{name.upper()}_"


def _all_sections():
    return {"fenwei": Settings, **section_models()}


def test_docs_list_every_key_of_every_section():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for name, model in _all_sections().items():
        part = doc.split(f"### [{name}]\n", 1)
        assert len(part) == 2, f"docs/configuration.md has no ### [{name}] table"
        table = part[1].split("\n### ", 1)[0]
        missing += [f"[{name}] {k}" for k in model.model_fields
                    if f"| `{k}` |" not in table or env_name(name, k) not in table]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_sample_file_shows_every_key_and_loads():
    path = ROOT / "docs" / "fenwei.sample.toml"
    text = path.read_text(encoding="utf-8")
    for name, model in _all_sections().items():
        table = text.split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
        assert all(f"# {k} =" in table for k in model.model_fields), name
    load_config(path)


def test_docs_example_loads(tmp_path):
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = re.search(r"## Example\n\n```toml\n(.*?)```", doc, re.S).group(1)
    cfg = load_config(toml(tmp_path, example))
    cfg.validate()
    assert cfg.section("api").host == "0.0.0.0"


# -- fenwei config check against real servers ---------------------------------------------------

def check(path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENWEI_")}
    return subprocess.run([sys.executable, "-m", "core.cli", "config", "check", "--config",
                           str(path), "--timeout", "3"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def influx_db(influxdb_server, influx_url):
    db = influx_url.rsplit("/", 1)[1]
    httpx.post(f"{influxdb_server.url}/query", params={"q": f'CREATE DATABASE "{db}"'},
               timeout=10).raise_for_status()
    return influx_url


@pytest.mark.services
def test_config_check_passes_with_every_server_up(tmp_path, mosquitto, influx_db, pg_url):
    pg = pg_url.replace("postgresql+psycopg2://", "postgresql://")
    path = toml(tmp_path, f'[fenwei]\nmqtt_url = "{mosquitto.url}"\nstore_url = "{influx_db}"\n'
                          f'state_url = "{pg}"\n')
    out = check(path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    for line in (f"ok   mqtt  {mosquitto.url}", f"ok   store {influx_db}", f"ok   state {pg}"):
        assert line in lines, out.stdout


@pytest.mark.services
def test_config_check_names_each_failing_server(tmp_path, mosquitto, pg_url):
    from core.localservers import free_port
    broker = f"mqtt://127.0.0.1:{free_port()}"
    store = f"influxdb://fenwei:pw-xyz@127.0.0.1:{free_port()}/fenwei"
    path = toml(tmp_path, f'[fenwei]\nmqtt_url = "{broker}"\nstore_url = "{store}"\n'
                          f'state_url = "{pg_url}"\n')
    out = check(path)
    assert out.returncode == 1, out.stdout + out.stderr
    masked = store.replace("pw-xyz", "***")
    assert f"FAIL mqtt  {broker}: connection refused" in out.stdout.splitlines(), out.stdout
    assert f"FAIL store {masked}: connection refused" in out.stdout.splitlines(), out.stdout
    assert f"ok   state {pg_url}" in out.stdout.splitlines()
    assert "pw-xyz" not in out.stdout + out.stderr


def test_config_check_exits_2_on_an_invalid_file(tmp_path):
    out = check(toml(tmp_path, "[ingest]\nbatch_sise = 3\n"))
    assert out.returncode == 2
    assert "FAIL config unknown key [ingest] batch_sise in" in out.stdout
