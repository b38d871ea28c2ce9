"""MQTT topic names of wire format v1."""
from __future__ import annotations

PREFIX = "fenwei/v1"
READINGS_FILTER = f"{PREFIX}/+/+/+/readings"
STATUS_FILTER = f"{PREFIX}/+/+/+/status"
FILL_FILTER = f"{PREFIX}/+/+/+/fill"


def readings_topic(city: str, kind: str, station: str) -> str:
    return f"{PREFIX}/{city}/{kind}/{station}/readings"


def status_topic(city: str, kind: str, station: str) -> str:
    return f"{PREFIX}/{city}/{kind}/{station}/status"


def config_topic(city: str, kind: str, station: str) -> str:
    return f"{PREFIX}/{city}/{kind}/{station}/config"


def fill_topic(city: str, kind: str, station: str) -> str:
    """The station's gap-fill command topic (the ingest publishes, the station's agent reads)."""
    return f"{PREFIX}/{city}/{kind}/{station}/fill"


def alerts_topic(city: str) -> str:
    return f"{PREFIX}/alerts/{city}"


def parse_topic(topic: str) -> tuple[str, str, str, str] | None:
    """Split ``fenwei/v1/{city}/{kind}/{station}/{leaf}``; None when it is not one."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "fenwei" or parts[1] != "v1":
        return None
    _, _, city, kind, station, leaf = parts
    if kind not in ("air", "hydro") or not city or not station:
        return None
    return city, kind, station, leaf
