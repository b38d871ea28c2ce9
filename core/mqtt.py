"""One way to build an MQTT client, for every service: URL, credentials, TLS, reconnects.

``FENWEI_MQTT_URL`` names the broker: ``mqtt://`` (1883), ``mqtts://`` (TLS, 8883),
``ws://`` (80) and ``wss://`` (TLS, 443), with optional ``user:pass@`` (percent-encoded) and,
for websockets, a path (default ``/mqtt``). TLS is on for ``mqtts``/``wss`` and whenever a TLS
file is given (``FENWEI_MQTT_CA_FILE``, ``FENWEI_MQTT_CERT_FILE``, ``FENWEI_MQTT_KEY_FILE``):
the broker's certificate is always verified (against the CA file, else the system's CAs) and
its name checked against the URL's host. Every client reconnects with the same policy.

MQTT 5 helpers: :func:`session_properties` (a persistent session's CONNECT properties) and
:func:`refused` (whether an acknowledgement's reason code refuses, e.g. PUBACK 135 "not
authorized": with MQTT 5 a broker says so, with 3.1.1 it acknowledges a denied publish).
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.settings import SettingsError

__all__ = ["DEFAULT_PORTS", "RECONNECT_DELAY_S", "SESSION_NEVER_EXPIRES", "TlsFiles",
           "connect_args", "make_client", "reason_name", "refused", "session_properties"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}
RECONNECT_DELAY_S = (0.2, 5.0)      # paho doubles the wait from the first to the second
_PROTOCOLS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}
SESSION_NEVER_EXPIRES = 0xFFFFFFFF  # MQTT 5 session expiry of a 3.1.1 persistent session


@dataclass(frozen=True)
class TlsFiles:
    """The CA bundle the broker's certificate must chain to, and our client certificate."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "TlsFiles | None":
        """From anything with ``mqtt_ca_file``, ``mqtt_cert_file``, ``mqtt_key_file``
        (``core.settings.Settings``, the services' settings); None when none is set."""
        files = cls(*(getattr(settings, f"mqtt_{n}_file", None) for n in ("ca", "cert", "key")))
        return files if files.any else None

    @property
    def any(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file))


def make_client(url: str, *, client_id: str = "", clean_session: bool = True,
                protocol: str = "3.1.1", manual_ack: bool = False,
                tls: TlsFiles | None = None, userdata: Any = None,
                client_class: type[mqtt.Client] = mqtt.Client) -> mqtt.Client:
    """A paho client (callback API 2) configured from ``url`` and ``tls``; not connected.

    ``clean_session`` is for MQTT 3.1.1; with ``protocol="5"`` pass ``clean_start`` (and
    the session expiry) to ``connect``. Raises ``SettingsError`` for a bad URL or TLS file.
    """
    u = urlsplit(url)
    if u.scheme not in DEFAULT_PORTS:
        raise SettingsError("MQTT URL must start with mqtt://, mqtts://, ws:// or wss://")
    v5 = _PROTOCOLS[protocol] == mqtt.MQTTv5
    client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                          clean_session=None if v5 else clean_session,
                          userdata=userdata, protocol=_PROTOCOLS[protocol],
                          transport="websockets" if u.scheme in ("ws", "wss") else "tcp",
                          manual_ack=manual_ack)
    if u.username:
        client.username_pw_set(unquote(u.username),
                               None if u.password is None else unquote(u.password))
    if u.scheme in ("ws", "wss") and u.path not in ("", "/"):
        client.ws_set_options(path=u.path)
    if u.scheme in ("mqtts", "wss") or (tls is not None and tls.any):
        _tls(client, tls or TlsFiles())
    client.reconnect_delay_set(*RECONNECT_DELAY_S)
    return client


def _tls(client: mqtt.Client, files: TlsFiles) -> None:
    def name(p: Path | None) -> str | None:
        return None if p is None else str(p)
    try:
        client.tls_set(ca_certs=name(files.ca_file), certfile=name(files.cert_file),
                       keyfile=name(files.key_file), cert_reqs=ssl.CERT_REQUIRED)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise SettingsError(f"MQTT TLS files (FENWEI_MQTT_CA_FILE, _CERT_FILE, _KEY_FILE): "
                            f"{exc}") from exc


def connect_args(url: str, *, keepalive: int = 60) -> dict:
    """``host``, ``port`` and ``keepalive`` for ``client.connect``/``connect_async``."""
    u = urlsplit(url)
    port = u.port or DEFAULT_PORTS.get(u.scheme, 1883)
    return {"host": u.hostname or "127.0.0.1", "port": port, "keepalive": keepalive}


def session_properties(expiry_s: int = SESSION_NEVER_EXPIRES) -> Properties:
    """CONNECT properties of an MQTT 5 session kept ``expiry_s`` after a disconnect; pass
    with ``clean_start=False`` to ``connect``/``connect_async``."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


def refused(reason_code: Any) -> bool:
    """True when an MQTT 5 acknowledgement's reason code (paho ``ReasonCode`` or int) refuses:
    0x80 and above (PUBACK 135 not authorized, 151 quota exceeded, ...). MQTT 3.1.1 PUBACKs
    carry no reason: paho reports success, so a 3.1.1 client cannot see a denied publish."""
    value = getattr(reason_code, "value", reason_code)
    return isinstance(value, int) and value >= 0x80


def reason_name(reason_code: Any) -> str:
    """A reason code as a counter-friendly name: ``not_authorized``, ``quota_exceeded``."""
    text = str(getattr(reason_code, "getName", lambda: reason_code)())
    return "_".join(text.lower().replace("-", " ").split()) or "unknown"
