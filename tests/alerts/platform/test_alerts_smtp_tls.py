"""SMTP over TLS verifies the server: a certificate no trusted CA signed gets no message (and
no credentials); with ``smtp_ca_file`` naming its CA the same server is trusted."""
from __future__ import annotations

import email
import shutil
import ssl
import subprocess
import threading
from email import policy

import pytest

from alerts.channels import Delivery, EmailChannel
from alerts.errors import DeliveryError
from core.localservers import free_port

BODY = {"text_zh": "测试。", "text_en": "Test.", "alert_id": "a1", "cap": ""}


@pytest.fixture
def cert(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    crt, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt, key


@pytest.fixture
def smtps(cert):
    """aiosmtpd on implicit TLS with the self-signed certificate."""
    from aiosmtpd.controller import Controller
    got: list = []
    cond = threading.Condition()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with cond:
                got.append(email.message_from_bytes(envelope.content, policy=policy.default))
                cond.notify_all()
            return "250 OK"

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=ctx)
    ctl.start()
    yield f"smtps://127.0.0.1:{port}", got
    ctl.stop()


def _delivery() -> Delivery:
    return Delivery(1, "k-1", "issued", "duty@xian.example", {"to": ["duty@xian.example"]},
                    dict(BODY))


def test_untrusted_certificate_is_refused(smtps):
    url, got = smtps
    with pytest.raises(DeliveryError, match="not trusted"):
        EmailChannel(url, "alerts@fenwei.example", 5).send(_delivery())
    assert got == []


def test_ca_file_trusts_the_server(smtps, cert):
    url, got = smtps
    rec = EmailChannel(url, "alerts@fenwei.example", 5, ca_file=cert[0]).send(_delivery())
    assert rec.status_code == 250
    assert got and got[0]["X-Fenwei-Idempotency-Key"] == "k-1"


def test_setting_reaches_the_channel(tmp_path, cert):
    from alerts import AlertService, AlertSettings
    s = AlertSettings(state_url=f"sqlite:///{tmp_path / 's.db'}", mqtt_enabled=False,
                      mqtt_url="mqtt://127.0.0.1:1", smtp_url="smtps://127.0.0.1:1",
                      smtp_ca_file=cert[0])
    svc = AlertService(s).start(dispatch=False, schedule=False)
    try:
        assert svc._channels["email"].ca_file == str(cert[0])
    finally:
        svc.stop()
