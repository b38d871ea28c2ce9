"""Every service speaks MQTT over TLS with a client certificate (``core.mqtt``), against a real
Mosquitto whose TLS listener requires one; a client without the right certificate, or not
trusting the broker's CA, gets nowhere.

The test makes its own CA, server certificate (127.0.0.1, localhost) and client certificates
with the ``openssl`` command. Under CI=true a broker that cannot start is a failure.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerts import AlertSettings
from alerts._ingest import ReadingSubscriber
from core.localservers import Mosquitto, ServerError, free_port, wait_port, which
from core.mqtt import TlsFiles, connect_args, make_client
from core.store import open_store
from core.wire import READINGS_FILTER
from edge.agent import EdgeAgent
from ingest import IngestConfig, Ingestor

from ..edge.agent.conftest import AIR, CST, Hj212Device, make_config

pytestmark = pytest.mark.services
IN_CI = os.environ.get("CI", "").lower() == "true"
MN1 = "MN0000000000000000000001"


def _unavailable(what: str, exc: Exception):
    if IN_CI:
        pytest.fail(f"{what} could not be started under CI: {exc}", pytrace=False)
    pytest.skip(f"{what} unavailable: {exc}")


# ------------------------------------------------------------------------------- certificates
@dataclass
class Pki:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]
    other_ca: Path
    other_client: tuple[Path, Path]       # signed by the other CA


def _openssl(d: Path, *args: str) -> None:
    subprocess.run([which("openssl"), *args], cwd=d, check=True, capture_output=True)


def _key_and_csr(d: Path, name: str, cn: str) -> None:
    _openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")


def _ca(d: Path, name: str) -> Path:
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN=Fenwei test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return d / f"{name}.pem"


def _leaf(d: Path, ca: str, name: str, cn: str, ext: str) -> tuple[Path, Path]:
    _key_and_csr(d, name, cn)
    (d / f"{name}.ext").write_text("basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\n"
                                   "authorityKeyIdentifier=keyid,issuer\n" + ext)
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
             f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
             "-extfile", f"{name}.ext")
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    client_ext = "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
    try:
        ca, other_ca = _ca(d, "ca"), _ca(d, "other-ca")
        server = _leaf(d, "ca", "server", "127.0.0.1",
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                       "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        client = _leaf(d, "ca", "client", "fenwei-test", client_ext)
        other_client = _leaf(d, "other-ca", "other-client", "fenwei-test", client_ext)
    except (ServerError, subprocess.CalledProcessError) as exc:
        _unavailable("openssl", exc)
    return Pki(ca, server, client, other_ca, other_client)


@pytest.fixture
def broker(tmp_path, pki):
    """Mosquitto with a plain listener and a TLS one (``broker.tls_url``) requiring a client
    certificate from our CA (its CN is the MQTT user name)."""
    tls_port = free_port()
    server = Mosquitto(tmp_path / "mosquitto", extra_config=[
        f"listener {tls_port} 127.0.0.1", f"cafile {pki.ca}", f"certfile {pki.server[0]}",
        f"keyfile {pki.server[1]}", "require_certificate true",
        "use_identity_as_username true"])
    try:
        server.start()
        wait_port(tls_port, 10, server.proc)
    except ServerError as exc:
        server.stop()
        _unavailable("Mosquitto with TLS", exc)
    server.tls_url = f"mqtts://127.0.0.1:{tls_port}"
    yield server
    server.stop()


@pytest.fixture
def tls_env(monkeypatch, pki):
    """The shared settings every service reads: FENWEI_MQTT_CA_FILE, _CERT_FILE, _KEY_FILE."""
    monkeypatch.delenv("FENWEI_CONFIG", raising=False)
    monkeypatch.setenv("FENWEI_MQTT_CA_FILE", str(pki.ca))
    monkeypatch.setenv("FENWEI_MQTT_CERT_FILE", str(pki.client[0]))
    monkeypatch.setenv("FENWEI_MQTT_KEY_FILE", str(pki.client[1]))
    return TlsFiles(pki.ca, *pki.client)


# ------------------------------------------------------------------------------------- tests
class _Clock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_agent_ingest_and_alerts_exchange_readings_over_tls(broker, tls_env, catalogue,
                                                          tmp_path):
    url = broker.tls_url
    cfg = IngestConfig.from_env(mqtt_url=url, store_url="duckdb://:memory:",
                                state_path=tmp_path / "ingest.sqlite", client_id="t-tls-ingest",
                                batch_ms=20)
    assert TlsFiles.from_settings(cfg) == tls_env
    store = open_store("duckdb://:memory:", catalogue)
    settings = AlertSettings(mqtt_url=url, state_url=f"sqlite:///{tmp_path}/alerts.db").resolved()
    assert TlsFiles.from_settings(settings) == tls_env
    got, lock = [], threading.Lock()

    def handle(readings):
        with lock:
            got.extend(readings)

    ing = Ingestor(cfg, catalogue=catalogue, store=store).start()
    sub = ReadingSubscriber(settings.mqtt_url, catalogue, handle, _Clock(),
                            topic=READINGS_FILTER, tls=TlsFiles.from_settings(settings))
    sub.start()
    try:
        assert ing.subscribed.wait(15), "ingest: no subscription over TLS"
        assert sub.subscribed.wait(15), "alerts subscriber: no subscription over TLS"
        base = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(minutes=10)
        with EdgeAgent(make_config(tmp_path), mqtt_url=url, catalogue=catalogue) as agent:
            dev = Hj212Device(agent.ports["hj212"], MN1)
            dev.connect()
            for i in range(5):
                assert dev.upload(base + timedelta(minutes=i), {"a34004": 40 + i}).cn == "9014"
            dev.close()
            assert _wait(lambda: agent.stats["agent"].get("published", 0) >= 5), agent.stats
        assert _wait(lambda: ing.stats()["stored"] >= 5), ing.stats()
        assert _wait(lambda: len(got) >= 5), got
    finally:
        sub.stop()
        ing.stop()
    assert sorted(r.values["pm25"] for r in got) == [40, 41, 42, 43, 44]
    assert {r.station for r in got} == {AIR[0]}
    latest = store.latest("air", [AIR[0]])
    assert len(latest) == 1 and float(latest["pm25"].iloc[0]) == 44
    store.close()


def _connects(url: str, tls: TlsFiles | None, timeout: float = 5.0) -> bool:
    """Whether the broker accepts an MQTT session from a client with these files."""
    accepted = threading.Event()
    client = make_client(url, client_id=f"t-tls-{time.time_ns()}", tls=tls)
    client.on_connect = lambda c, u, f, rc, p: rc.is_failure or accepted.set()
    try:
        client.connect(**connect_args(url, keepalive=10))
    except OSError:                       # ssl.SSLError included: the handshake failed
        return False
    client.loop_start()
    try:
        return accepted.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("case", ["right files", "no client certificate",
                                  "client certificate of another CA", "trusting another CA",
                                  "plain MQTT on the TLS port"])
def test_only_a_client_with_the_right_certificates_gets_in(case, broker, pki):
    url = broker.tls_url
    files = {
        "right files": TlsFiles(pki.ca, *pki.client),
        "no client certificate": TlsFiles(pki.ca),
        "client certificate of another CA": TlsFiles(pki.ca, *pki.other_client),
        "trusting another CA": TlsFiles(pki.other_ca, *pki.client),
        "plain MQTT on the TLS port": None,
    }[case]
    if files is None:
        url = url.replace("mqtts://", "mqtt://")
    assert _connects(url, files) is (case == "right files")


def test_a_ca_file_turns_tls_on_and_the_url_gives_credentials(pki):
    client = make_client("mqtt://fen%40wei:p%2Fss@broker.example", tls=TlsFiles(pki.ca))
    assert client._ssl and client._tls_insecure is False
    assert (client._username, client._password) == (b"fen@wei", b"p/ss")
    assert not make_client("mqtt://127.0.0.1")._ssl
    assert connect_args("mqtts://h")["port"] == 8883
    assert connect_args("wss://h:9443/mqtt") == {"host": "h", "port": 9443, "keepalive": 60}
