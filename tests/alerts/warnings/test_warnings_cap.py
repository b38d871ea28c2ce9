"""CAP of a heavy-pollution warning issued through the service (issue 16 item 6): onset is the
forecast onset, urgency follows the lead, expires is the episode's end; schema-valid."""
from __future__ import annotations

from xml.etree import ElementTree as ET

import xmlschema

from alerts._cap import schema_path

from .helpers import seq

NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
RULES = {"rule": [{"id": "air-warning", "type": "air_warning", "kind": "air.warning",
                   "title_zh": "重污染天气预警", "title_en": "Heavy-pollution warning",
                   "cities": ["xianyang"]}]}


def test_forecast_warning_cap_timing(make_service, forecasts):
    svc = make_service(RULES)
    # now = T0 = 2026-01-10 08:00 CST; window ends 47..70 above 200 -> yellow; the first
    # qualifying window starts at hour 47 - 23 = 24 (01-11 08:00 CST), the last ends after
    # hour 70 (T0 + 71 h = 01-13 07:00 CST)
    forecasts.set("xianyang", seq((100, 47), (201, 24)))
    svc.run_periodic()
    (a,) = svc.alerts()
    assert a["level"] == "yellow" and a["evidence"]["lead_h"] == 24.0
    xml = a["cap_refs"][0]["xml"]
    xmlschema.XMLSchema(str(schema_path())).validate(xml)
    for info in ET.fromstring(xml).findall("c:info", NS):
        assert info.findtext("c:onset", namespaces=NS) == "2026-01-11T08:00:00+08:00"
        assert info.findtext("c:expires", namespaces=NS) == "2026-01-13T07:00:00+08:00"
        assert info.findtext("c:effective", namespaces=NS) == "2026-01-10T08:00:00+08:00"
        assert info.findtext("c:urgency", namespaces=NS) == "Future"      # a day ahead
