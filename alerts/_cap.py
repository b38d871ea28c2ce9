"""CAP 1.2 messages (OASIS Common Alerting Protocol) for issued, updated and lifted alerts."""
from __future__ import annotations

from datetime import datetime
from importlib import resources
from xml.etree import ElementTree as ET

from core.timeutil import CST

from ._levels import CAP_SEVERITY
from ._text import subject_names

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MSG_TYPE = {"issued": "Alert", "updated": "Update", "escalated": "Update",
            "lifted": "Cancel", "cancelled": "Cancel"}
CIRCLE_KM = 30.0


def cap_time(ts: datetime) -> str:
    """CAP dateTime: seconds precision with an explicit offset (China Standard Time)."""
    return ts.astimezone(CST).replace(microsecond=0).isoformat()


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
    for lang, text, head in (("zh-CN", texts[0], title[0]), ("en-US", texts[1], title[1])):
        _info(root, cat, alert, event, lang, text, head or alert["kind"], expires)
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def _info(root, cat, alert, event, lang, text, headline, expires) -> None:
    info = _sub(root, "info")
    _sub(info, "language", lang)
    _sub(info, "category", "Env")
    if alert["kind"].startswith("river."):
        _sub(info, "category", "Met")
    _sub(info, "event", headline)
    ended = event in ("lifted", "cancelled")
    _sub(info, "responseType", "AllClear" if ended else "Prepare")
    _sub(info, "urgency", "Past" if ended else "Immediate")
    _sub(info, "severity", CAP_SEVERITY.get(alert.get("level") or "", "Unknown"))
    _sub(info, "certainty", (alert.get("evidence") or {}).get("certainty") or "Observed")
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "fenwei-kind")
    _sub(code, "value", alert["kind"])
    _sub(info, "effective", cap_time(alert.get("activated_at") or alert["opened_at"]))
    _sub(info, "onset", cap_time(alert["first_observed_at"]))
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
