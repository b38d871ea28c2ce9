"""CAP 1.2 messages (OASIS Common Alerting Protocol) for issued, updated and lifted alerts.

Timing of forecast-driven alerts (heavy-pollution warnings, regional joint warnings and
prompts) comes from their evidence: ``onset`` is the forecast onset (a city warning's
``onset``, a regional ``window.start``), ``expires`` the end of what was forecast (``end``,
``window.end``, a prompt's ``valid_until``; for a held warning without an episode, the end of
the forecast hours graded), and ``urgency`` follows the lead from ``sent`` to the onset by the
CAP 1.2 definitions: ``Immediate`` (act now) once the onset is reached, ``Expected`` (act
within the next hour) when it is at most an hour away, ``Future`` (act in the near future)
beyond. Observed alerts keep ``onset`` = first observation and ``Immediate``; lifted and
cancelled ones are ``Past``.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from xml.etree import ElementTree as ET

from core.timeutil import CST

from ._levels import CAP_SEVERITY
from ._text import subject_names

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MSG_TYPE = {"issued": "Alert", "updated": "Update", "escalated": "Update",
            "lifted": "Cancel", "cancelled": "Cancel"}
CIRCLE_KM = 30.0
EXPECTED_WITHIN = timedelta(hours=1)    # CAP 1.2 "Expected": responsive action within the hour


def cap_time(ts: datetime) -> str:
    """CAP dateTime: seconds precision with an explicit offset (China Standard Time)."""
    return ts.astimezone(CST).replace(microsecond=0).isoformat()


def _when(v) -> datetime | None:
    if isinstance(v, datetime):
        return v
    try:
        return datetime.fromisoformat(v) if v else None
    except (TypeError, ValueError):
        return None


def _horizon(ev: dict) -> datetime | None:
    """End of the forecast hours a warning was graded on (``aqi.start`` + values)."""
    seq = ev.get("aqi")
    if "forecast" not in ev or not isinstance(seq, dict):
        return None
    start = _when(seq.get("start"))
    return start + timedelta(hours=len(seq.get("values") or ())) if start else None


def forecast_timing(ev: dict) -> tuple[datetime | None, datetime | None]:
    """(onset, expires) given by a forecast-driven alert's evidence (None when not)."""
    window = ev.get("window") if isinstance(ev.get("window"), dict) else {}
    onset = _when(ev.get("onset")) or _when(window.get("start"))
    ends = (ev.get("expires_at"), ev.get("valid_until"), ev.get("end"), window.get("end"))
    expires = next((t for t in map(_when, ends) if t is not None), None) or _horizon(ev)
    return onset, expires


def urgency_for(onset: datetime | None, sent: datetime) -> str:
    """CAP urgency of an alert whose forecast onset is ``onset`` (None: observed now)."""
    if onset is None or onset <= sent:
        return "Immediate"
    return "Expected" if onset - sent <= EXPECTED_WITHIN else "Future"


def schema_path():
    return resources.files(__package__).joinpath("data", "CAP-v1.2.xsd")


def _sub(parent, tag: str, text: str | None = None):
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def build_cap(cat, alert: dict, event: str, *, identifier: str, sender: str, sent: datetime,
              references: list[str], texts: tuple[str, str], title: tuple[str, str],
              expires: datetime | None = None) -> str:
    """One CAP ``<alert>`` for an alert event; ``references`` are earlier 'sender,id,sent'."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", identifier)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Exercise" if alert["exercise"] else "Actual")
    _sub(root, "msgType", MSG_TYPE[event])
    _sub(root, "scope", "Public")
    if alert["exercise"]:
        _sub(root, "note", "演练 / EXERCISE")
    if references:
        _sub(root, "references", " ".join(references))
    onset, until = forecast_timing(alert.get("evidence") or {})
    expires = expires or (until if until is not None and until > sent else None)
    timing = (onset, sent, expires)
    for lang, text, head in (("zh-CN", texts[0], title[0]), ("en-US", texts[1], title[1])):
        _info(root, cat, alert, event, lang, text, head or alert["kind"], timing)
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def _info(root, cat, alert, event, lang, text, headline, timing) -> None:
    onset, sent, expires = timing
    info = _sub(root, "info")
    _sub(info, "language", lang)
    _sub(info, "category", "Env")
    if alert["kind"].startswith("river."):
        _sub(info, "category", "Met")
    _sub(info, "event", headline)
    ended = event in ("lifted", "cancelled")
    _sub(info, "responseType", "AllClear" if ended else "Prepare")
    _sub(info, "urgency", "Past" if ended else urgency_for(onset, sent))
    _sub(info, "severity", CAP_SEVERITY.get(alert.get("level") or "", "Unknown"))
    _sub(info, "certainty", (alert.get("evidence") or {}).get("certainty") or "Observed")
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "fenwei-kind")
    _sub(code, "value", alert["kind"])
    _sub(info, "effective", cap_time(alert.get("activated_at") or alert["opened_at"]))
    _sub(info, "onset", cap_time(onset or alert["first_observed_at"]))
    if expires is not None:
        _sub(info, "expires", cap_time(expires))
    _sub(info, "senderName", "汾渭平原监测预警平台" if lang == "zh-CN" else "Fenwei alert platform")
    _sub(info, "headline", text[:160])
    _sub(info, "description", text)
    if not ended:
        _sub(info, "instruction", "请按应急预案处置并确认收到。" if lang == "zh-CN"
             else "Respond according to the emergency plan and acknowledge receipt.")
    param = _sub(info, "parameter")
    _sub(param, "valueName", "alert_id")
    _sub(param, "value", alert["id"])
    cities = [c for c in alert["cities"] if c in cat.cities]
    area = _sub(info, "area")
    zh, en = subject_names(cat, alert["subject"], tuple(cities))
    _sub(area, "areaDesc", zh if lang == "zh-CN" else en)
    for c in cities:
        city = cat.cities[c]
        _sub(area, "circle", f"{city.lat:.4f},{city.lon:.4f} {CIRCLE_KM:.1f}")
    for c in cities:
        geo = _sub(area, "geocode")
        _sub(geo, "valueName", "GB/T 2260")
        _sub(geo, "value", cat.cities[c].gb2260)
